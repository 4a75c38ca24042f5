// The C API's sync: options checked before anything is sent, the HTTP
// transport, the server's policy adopted and remembered, progress
// forwarded, and the report as JSON.
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "c_api_internal.h"
#include "syncstack/codec.h"
#include "syncstack/engine.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/policies/registry.h"

namespace syncstack::capi {
namespace {

// Forwards engine progress to the app's callback.
class ProgressForwarder final : public SyncObserver {
 public:
  ProgressForwarder(syncstack_progress_fn fn, void* context)
      : fn_(fn), context_(context) {}
  void OnProgress(const SyncProgress& p) override {
    fn_(context_, PhaseName(p.phase), p.done, p.total);
  }

 private:
  static const char* PhaseName(SyncProgress::Phase phase) {
    switch (phase) {
      case SyncProgress::Phase::kLock:
        return "lock";
      case SyncProgress::Phase::kFetch:
        return "fetch";
      case SyncProgress::Phase::kPlan:
        return "plan";
      case SyncProgress::Phase::kExchange:
        return "exchange";
      case SyncProgress::Phase::kDone:
        return "done";
    }
    return "unknown";
  }

  syncstack_progress_fn fn_;
  void* context_;
};

bool Given(const char* text) { return text != nullptr && *text != '\0'; }

// The app's options as SyncOptions and a transport, or the first problem.
struct Prepared {
  SyncOptions sync;
  std::unique_ptr<Transport> transport;
};

Result<SyncMode> ParseMode(const char* mode) {
  if (!Given(mode)) return SyncMode::kAuto;
  std::string_view m = mode;
  if (m == "auto") return SyncMode::kAuto;
  if (m == "full") return SyncMode::kFull;
  if (m == "reconcile") return SyncMode::kReconcile;
  if (m == "changes") return SyncMode::kChanges;
  return Status::InvalidArgument(
      "mode: must be auto, full, reconcile or changes, not \"" +
      std::string(m) + "\"");
}

Result<std::vector<std::string>> ParseCollections(const char* list) {
  std::vector<std::string> out;
  if (!Given(list)) return out;
  std::string_view text = list;
  for (size_t start = 0; start <= text.size();) {
    size_t comma = std::min(text.find(',', start), text.size());
    std::string name(text.substr(start, comma - start));
    if (!name.empty()) {
      Status s = ValidateCollectionName(name);
      if (!s.ok()) return s.WithContext("collections");
      out.push_back(std::move(name));
    }
    start = comma + 1;
  }
  return out;
}

Result<Prepared> Prepare(const syncstack_sync_options& o) {
  if (o.struct_size < sizeof(syncstack_sync_options)) {
    return Status::InvalidArgument(
        "options: call syncstack_sync_options_init first (struct_size is " +
        std::to_string(o.struct_size) + ")");
  }
  if (Given(o.token)) {
    return Status(Status::Code::kNotSupported,
                  "token: this version logs in with the password only");
  }
  if (!Given(o.remote)) return Status::InvalidArgument("remote is required");
  if (!Given(o.user)) return Status::InvalidArgument("user is required");
  if (o.password == nullptr) {
    return Status::InvalidArgument("password is required");
  }
  if (o.lock_wait_ms < 0) {
    return Status::InvalidArgument("lock_wait_ms must be 0 or more");
  }
  Prepared out;
  SYNCSTACK_ASSIGN_OR_RETURN(out.sync.mode, ParseMode(o.mode));
  SYNCSTACK_ASSIGN_OR_RETURN(out.sync.collections,
                             ParseCollections(o.collections));
  HttpClientOptions http;
  http.url = o.remote;
  if (Given(o.ca_file)) http.ca_file = o.ca_file;
  auto transport = NewHttpTransport(http);
  if (!transport.ok()) return transport.status().WithContext("remote");
  out.transport = std::move(transport).value();
  out.sync.user = o.user;
  out.sync.password = o.password;
  out.sync.lock_wait = std::chrono::milliseconds(o.lock_wait_ms);
  out.sync.allow_mass_delete = o.allow_mass_delete != 0;
  return out;
}

// The device's name: given, else kept in the store, else made up and kept.
Result<std::string> DeviceName(Store& store, const char* given) {
  if (Given(given)) return std::string(given);
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> kept,
                             store.GetMeta(meta::kDevice));
  if (kept) return *kept;
  std::string name = "device-" + RecordId::Random().ToString().substr(0, 8);
  ChangeBatch batch;
  batch.SetMeta(std::string(meta::kDevice), name);
  SYNCSTACK_RETURN_IF_ERROR(store.Apply(WriteOptions{}, batch));
  return name;
}

void Member(std::string& out, std::string_view name, uint64_t value) {
  out += '"';
  out += name;
  out += "\":";
  out += std::to_string(value);
  out += ',';
}

void AppendCases(const CaseCounts& c, std::string& out) {
  out += "\"cases\":{";
  Member(out, "fetched_new", c.fetched_new);
  Member(out, "pulled", c.pulled);
  Member(out, "pushed_updates", c.pushed_updates);
  Member(out, "unchanged", c.unchanged);
  Member(out, "pushed_adds", c.pushed_adds);
  Member(out, "deleted_here", c.deleted_here);
  Member(out, "pushed_deletes", c.pushed_deletes);
  Member(out, "dropped_tombstones", c.dropped_tombstones);
  Member(out, "repushed", c.repushed);
  out.back() = '}';
  out += ',';
}

void AppendConflicts(const std::vector<ConflictRecord>& conflicts,
                     std::string& out) {
  out += "\"conflicts\":[";
  for (const ConflictRecord& c : conflicts) {
    if (out.back() != '[') out += ',';
    out += "{\"collection\":";
    AppendJsonString(c.collection, out);
    out += ",\"id\":\"" + c.id.ToString() + "\",\"what\":";
    AppendJsonString(c.what, out);
    out += ",\"kept\":";
    AppendJsonString(KeptName(c.kept), out);
    out += '}';
  }
  out += "],";
}

std::string ReportJson(const SyncReport& r) {
  std::string out = "{\"mode\":";
  AppendJsonString(SyncModeName(r.mode), out);
  out += ",\"mode_reason\":";
  AppendJsonString(r.mode_reason, out);
  out += ',';
  AppendCases(r.cases, out);
  AppendConflicts(r.conflicts, out);
  Member(out, "skipped_local_edits", r.skipped_local_edits);
  Member(out, "calls", r.traffic.calls);
  Member(out, "bytes_sent", r.traffic.bytes_sent);
  Member(out, "bytes_received", r.traffic.bytes_received);
  Member(out, "synchronise_calls", r.synchronise_calls);
  Member(out, "cold_records", r.cold_records);
  out += std::string("\"resynced\":") + (r.resynced ? "true" : "false") + ',';
  out += std::string("\"server_restored\":") +
         (r.server_restored ? "true" : "false") + ',';
  out += "\"clock_offset_ms\":";
  out += r.clock_offset_ms == kNoTimestamp ? std::string("null")
                                           : std::to_string(r.clock_offset_ms);
  out += ',';
  Member(out, "restamped", r.restamped);
  out += "\"time_us\":{";
  auto us = [](std::chrono::microseconds t) {
    return static_cast<uint64_t>(std::max<int64_t>(0, t.count()));
  };
  Member(out, "lock", us(r.lock_time));
  Member(out, "fetch", us(r.fetch_time));
  Member(out, "plan", us(r.plan_time));
  Member(out, "exchange", us(r.exchange_time));
  Member(out, "total", us(r.total_time));
  out.back() = '}';
  out += '}';
  return out;
}

syncstack_status Sync(syncstack_device& device, const syncstack_sync_options& o,
                      char** report_json_out) {
  auto prepared = Prepare(o);
  if (!prepared.ok()) return Fail(prepared.status());
  std::lock_guard one_sync(device.sync_mu);
  SyncOptions& sync = prepared->sync;
  auto name = DeviceName(*device.store, o.device);
  if (!name.ok()) return Fail(name.status());
  sync.device = *name;
  std::shared_ptr<const ConflictPolicy> planned;
  Schema schema;
  {
    std::lock_guard lock(device.state_mu);
    planned = device.writer->policy;
    schema = device.schema;
  }
  // The server names its policy at login: plan with it, and keep it.
  std::shared_ptr<ConflictPolicy> adopted;
  sync.adopt_policy = [&adopted](std::string_view policy) {
    auto p = NewPolicyByName(policy);
    adopted = p.ok() ? std::shared_ptr<ConflictPolicy>(std::move(*p)) : nullptr;
    return adopted.get();
  };
  SyncEngine engine(*device.store, *prepared->transport, *planned, schema);
  std::unique_ptr<ProgressForwarder> progress;
  if (o.progress != nullptr) {
    progress =
        std::make_unique<ProgressForwarder>(o.progress, o.progress_context);
  }
  auto report = engine.Run(sync, progress.get());
  if (adopted) {
    ChangeBatch remember;
    remember.SetMeta(std::string(meta::kPolicy), std::string(adopted->name()));
    (void)device.store->Apply(WriteOptions{}, remember);
  }
  {
    auto learned = LoadSchema(*device.store);
    std::lock_guard lock(device.state_mu);
    if (adopted) {
      device.writer = std::make_shared<DeviceWriter>(*device.store, adopted);
    }
    if (learned.ok()) device.schema = std::move(*learned);
  }
  if (!report.ok()) return Fail(report.status());
  if (report_json_out != nullptr) {
    return Hand(ReportJson(*report), report_json_out);
  }
  return Ok();
}

}  // namespace
}  // namespace syncstack::capi

extern "C" {

syncstack_status syncstack_sync_options_init(syncstack_sync_options* options) {
  return syncstack::capi::Guard([&] {
    SYNCSTACK_REQUIRE(options);
    *options = syncstack_sync_options{};
    options->struct_size = sizeof(syncstack_sync_options);
    options->lock_wait_ms = 60000;
    return syncstack::capi::Ok();
  });
}

syncstack_status syncstack_sync(syncstack_device* device,
                                const syncstack_sync_options* options,
                                char** report_json_out) {
  return syncstack::capi::Guard([&] {
    if (report_json_out != nullptr) *report_json_out = nullptr;
    SYNCSTACK_REQUIRE(device);
    SYNCSTACK_REQUIRE(options);
    return syncstack::capi::Sync(*device, *options, report_json_out);
  });
}

}  // extern "C"
