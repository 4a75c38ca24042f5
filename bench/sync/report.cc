#include "report.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <string_view>

namespace syncstack::bench {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Key(Writer& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

void String(Writer& w, std::string_view key, std::string_view value) {
  Key(w, key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void Count(Writer& w, std::string_view key, uint64_t value) {
  Key(w, key);
  w.Uint64(value);
}

// A figure; negative (unknown) or not finite is null.
void Number(Writer& w, std::string_view key, double value) {
  Key(w, key);
  if (value < 0 || !std::isfinite(value)) {
    w.Null();
  } else {
    w.Double(value);
  }
}

// One phase's object. `cold_of`: for the cold phase, the run whose record
// count and baseline give its rates; nullptr for the others.
void Phase(Writer& w, std::string_view key, const PhaseFigures& f,
           const RunFigures* cold_of) {
  Key(w, key);
  w.StartObject();
  Number(w, "seconds", f.seconds);
  Number(w, "fetch_seconds", f.fetch_seconds);
  Number(w, "plan_seconds", f.plan_seconds);
  Number(w, "exchange_seconds", f.exchange_seconds);
  Number(w, "login_seconds", f.login_seconds);
  Number(w, "lock_seconds", f.lock_seconds);
  Number(w, "verify_seconds", f.verify_seconds);
  Number(w, "finish_seconds", f.finish_seconds);
  w.Key("login_reused");
  w.Bool(f.login_reused);
  if (cold_of != nullptr) {
    double rate = static_cast<double>(cold_of->workload.records) / f.seconds;
    Number(w, "rows_per_s", rate);
    Number(w, "ratio_to_raw", rate / cold_of->baseline_rows_per_s);
    Count(w, "cold_records", f.cold_records);
  }
  Count(w, "bytes_sent", f.traffic.bytes_sent);
  Count(w, "bytes_received", f.traffic.bytes_received);
  Count(w, "round_trips", f.traffic.calls);
  String(w, "mode", f.mode);
  String(w, "reason", f.reason);
  Count(w, "pulled", f.pulled);
  Count(w, "pushed", f.pushed);
  Number(w, "client_peak_rss_mb", f.client_peak_rss_mb);
  Number(w, "server_peak_rss_mb", f.server_peak_rss_mb);
  Number(w, "client_rss_before_trim_mb", f.client_before_trim.rss);
  Number(w, "client_anon_before_trim_mb", f.client_before_trim.anon);
  Number(w, "client_rss_start_mb", f.client_start.rss);
  Number(w, "client_anon_start_mb", f.client_start.anon);
  Number(w, "client_anon_end_mb", f.client_anon_end_mb);
  Number(w, "server_rss_start_mb", f.server_start.rss);
  Number(w, "server_anon_start_mb", f.server_start.anon);
  Number(w, "server_anon_end_mb", f.server_anon_end_mb);
  Number(w, "load_1m", f.load_1m);
  w.EndObject();
}

void Rounds(Writer& w, const std::vector<RoundFigures>& rounds) {
  Key(w, "rounds");
  w.StartArray();
  for (const RoundFigures& round : rounds) {
    w.StartObject();
    String(w, "asked", SyncModeName(round.asked));
    Count(w, "repeat", static_cast<uint64_t>(round.repeat));
    Phase(w, "sync", round.sync, nullptr);
    w.EndObject();
  }
  w.EndArray();
}

// The line of change count `d` of run `r`.
std::string Line(const RunFigures& r, const ChangeFigures& d) {
  rapidjson::StringBuffer out;
  Writer w(out);
  w.StartObject();
  String(w, "store", StoreName(r.store));
  String(w, "server_store", StoreName(r.server_store));
  Count(w, "records", r.workload.records);
  Count(w, "changes", d.changes);
  Count(w, "changed_json_bytes", d.changed_json_bytes);
  Key(w, "changes_in_run");
  w.StartArray();
  for (const ChangeFigures& other : r.changes) w.Uint64(other.changes);
  w.EndArray();
  String(w, "mode", SyncModeName(r.mode));
  Count(w, "repeat", static_cast<uint64_t>(r.repeat));
  Count(w, "payload_bytes", r.workload.payload_bytes);
  Count(w, "seed", r.workload.seed);
  Number(w, "baseline_rows_per_s", r.baseline_rows_per_s);
  Number(w, "server_fill_seconds", r.server_fill_seconds);
  Number(w, "server_fill_rows_per_s",
         static_cast<double>(r.workload.records) / r.server_fill_seconds);
  Phase(w, "cold", r.cold, &r);
  Phase(w, "incremental", d.incremental, nullptr);
  Phase(w, "full", d.full, nullptr);
  Rounds(w, d.rounds);
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace

std::vector<std::string> ReportLines(const RunFigures& r) {
  std::vector<std::string> lines;
  for (const ChangeFigures& d : r.changes) lines.push_back(Line(r, d));
  return lines;
}

}  // namespace syncstack::bench
