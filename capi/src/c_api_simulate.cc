// The C API's simulator: options as a JSON object, rows as a JSON array.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cmath>

#include "c_api_internal.h"
#include "syncstack/codec.h"
#include "syncstack/simulator/simulator.h"

namespace syncstack::capi {
namespace {

using rapidjson::Value;

// A run's options: the simulator's own, the skews and the policies.
struct SimulateRequest {
  sim::SimulationOptions base;
  std::vector<double> skews{0};
  std::vector<const sim::PolicyFactory*> policies;
};

Status Bad(std::string_view member, std::string_view what) {
  return Status::InvalidArgument(std::string(member) + ": " +
                                 std::string(what));
}

Result<double> Number(const Value& v, std::string_view member) {
  if (!v.IsNumber()) return Bad(member, "must be a number");
  double d = v.GetDouble();
  if (!std::isfinite(d)) return Bad(member, "must be finite");
  return d;
}

// A whole number in [min, max].
Result<int64_t> Whole(const Value& v, std::string_view member, int64_t min,
                      int64_t max) {
  if (!v.IsInt64() || v.GetInt64() < min || v.GetInt64() > max) {
    return Bad(member, "must be a whole number from " + std::to_string(min) +
                           " to " + std::to_string(max));
  }
  return v.GetInt64();
}

Result<std::vector<double>> Skews(const Value& v) {
  std::vector<double> out;
  if (!v.IsArray()) {
    SYNCSTACK_ASSIGN_OR_RETURN(double one, Number(v, "skew"));
    out.push_back(one);
  } else {
    for (const Value& item : v.GetArray()) {
      SYNCSTACK_ASSIGN_OR_RETURN(double one, Number(item, "skew"));
      out.push_back(one);
    }
  }
  if (out.empty()) return Bad("skew", "needs at least one value");
  for (double s : out) {
    if (s < 0) return Bad("skew", "must be >= 0");
  }
  return out;
}

Result<std::vector<const sim::PolicyFactory*>> Policies(const Value& v) {
  std::vector<const sim::PolicyFactory*> out;
  if (v.IsString() && std::string_view(v.GetString()) == "all") {
    for (const auto& f : sim::AvailablePolicies()) out.push_back(&f);
    return out;
  }
  if (!v.IsArray() || v.Empty()) {
    return Bad("policies", "must be \"all\" or an array of policy names");
  }
  for (const Value& item : v.GetArray()) {
    if (!item.IsString()) return Bad("policies", "names must be strings");
    auto found = sim::FindPolicy(item.GetString());
    if (!found.ok()) {
      return Status::InvalidArgument("policies: " + found.status().message());
    }
    out.push_back(*found);
  }
  return out;
}

// Sets one member `name` of the request from `v`.
Status SetMember(std::string_view name, const Value& v, SimulateRequest& r) {
  sim::SimulationOptions& o = r.base;
  if (name == "devices") {
    SYNCSTACK_ASSIGN_OR_RETURN(int64_t n, Whole(v, name, 1, 1000));
    o.devices = static_cast<int>(n);
  } else if (name == "records") {
    SYNCSTACK_ASSIGN_OR_RETURN(int64_t n, Whole(v, name, 1, 1'000'000));
    o.records = static_cast<int>(n);
  } else if (name == "ops") {
    SYNCSTACK_ASSIGN_OR_RETURN(o.ops, Whole(v, name, 0, 100'000'000));
  } else if (name == "interval_ms") {
    SYNCSTACK_ASSIGN_OR_RETURN(o.op_interval_ms, Whole(v, name, 1, 86'400'000));
  } else if (name == "seed") {
    SYNCSTACK_ASSIGN_OR_RETURN(int64_t n, Whole(v, name, 0, INT64_MAX));
    o.seed = static_cast<uint64_t>(n);
  } else if (name == "offline") {
    SYNCSTACK_ASSIGN_OR_RETURN(o.offline, Number(v, name));
  } else if (name == "loss") {
    SYNCSTACK_ASSIGN_OR_RETURN(o.loss, Number(v, name));
  } else if (name == "drift_ppm") {
    SYNCSTACK_ASSIGN_OR_RETURN(o.drift_ppm, Number(v, name));
  } else if (name == "clock_jump_years") {
    SYNCSTACK_ASSIGN_OR_RETURN(o.clock_jump_years, Number(v, name));
  } else if (name == "max_clock_ahead_seconds") {
    if (v.IsNull()) {
      o.max_clock_ahead_seconds = -1;
    } else {
      SYNCSTACK_ASSIGN_OR_RETURN(o.max_clock_ahead_seconds, Number(v, name));
      if (o.max_clock_ahead_seconds < 0)
        return Bad(name, "must be >= 0 or null");
    }
  } else if (name == "store") {
    std::string_view s = v.IsString() ? v.GetString() : "";
    if (s == "memory") {
      o.store = sim::SimStore::kMemory;
    } else if (s == "sqlite") {
      o.store = sim::SimStore::kSqlite;
    } else {
      return Bad(name, "must be \"memory\" or \"sqlite\"");
    }
  } else if (name == "skew") {
    SYNCSTACK_ASSIGN_OR_RETURN(r.skews, Skews(v));
  } else if (name == "policies") {
    SYNCSTACK_ASSIGN_OR_RETURN(r.policies, Policies(v));
  } else {
    return Status::InvalidArgument("unknown option \"" + std::string(name) +
                                   "\"");
  }
  return Status::Ok();
}

Result<SimulateRequest> ParseRequest(const char* json) {
  SimulateRequest r;
  for (const auto& f : sim::AvailablePolicies()) r.policies.push_back(&f);
  if (json == nullptr) return r;
  rapidjson::Document doc;
  doc.Parse(json);
  if (doc.HasParseError()) {
    return Status::InvalidArgument(
        std::string("options: bad JSON at offset ") +
        std::to_string(doc.GetErrorOffset()) + ": " +
        rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) {
    return Status::InvalidArgument("options: must be a JSON object");
  }
  for (const auto& m : doc.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    SYNCSTACK_RETURN_IF_ERROR(
        SetMember(name, m.value, r).WithContext("options"));
  }
  sim::SimulationOptions check = r.base;
  for (double skew : r.skews) {
    check.skew_seconds = skew;
    SYNCSTACK_RETURN_IF_ERROR(
        sim::ValidateOptions(check).WithContext("options"));
  }
  return r;
}

void AppendRow(const sim::SimulationResult& r, std::string& out) {
  auto count = [&](const char* name, uint64_t v) {
    out += ",\"";
    out += name;
    out += "\":" + std::to_string(v);
  };
  out += "{\"policy\":";
  AppendJsonString(r.policy, out);
  char skew[40];
  std::snprintf(skew, sizeof skew, "%.17g", r.skew_seconds);
  out += ",\"skew_seconds\":";
  out += skew;
  out += std::string(",\"converged\":") + (r.converged ? "true" : "false");
  count("quiescence_rounds", static_cast<uint64_t>(r.quiescence_rounds));
  count("writes", r.writes);
  count("deletes", r.deletes);
  count("lost_updates", r.lost_updates);
  count("silent_lost_updates", r.silent_lost_updates);
  count("conflicts", r.conflicts);
  count("resurrected_deletes", r.resurrected_deletes);
  count("bytes", r.bytes);
  count("messages", r.messages);
  count("sync_calls", r.sync_calls);
  count("failed_syncs", r.failed_syncs);
  count("restamped", r.restamped);
  out += ",\"first_error\":";
  AppendJsonString(r.first_error, out);
  out += '}';
}

syncstack_status Simulate(const char* options_json, char** rows_json_out) {
  auto request = ParseRequest(options_json);
  if (!request.ok()) return Fail(request.status());
  std::string out = "[";
  for (double skew : request->skews) {
    for (const sim::PolicyFactory* policy : request->policies) {
      sim::SimulationOptions o = request->base;
      o.skew_seconds = skew;
      auto result = sim::Simulate(o, *policy);
      if (!result.ok()) return Fail(result.status().WithContext(policy->name));
      if (out.size() > 1) out += ',';
      AppendRow(*result, out);
    }
  }
  out += ']';
  return Hand(out, rows_json_out);
}

}  // namespace
}  // namespace syncstack::capi

extern "C" {

syncstack_status syncstack_simulate(const char* options_json,
                                    char** rows_json_out) {
  return syncstack::capi::Guard([&] {
    SYNCSTACK_REQUIRE(rows_json_out);
    *rows_json_out = nullptr;
    return syncstack::capi::Simulate(options_json, rows_json_out);
  });
}

}  // extern "C"
