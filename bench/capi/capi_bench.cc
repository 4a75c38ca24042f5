// The C API's overhead on a sync: the same N-record sync through
// syncstack_sync (libsyncstack.so) and through SyncEngine::Run, both over
// HTTP to one real `syncstack serve` on 127.0.0.1, alternating, each run
// on its own collection. Device stores are in memory so the store's cost
// does not hide the API's. Also the per-record cost of syncstack_put
// against Replica::Put.
//
// usage: syncstack-bench-capi [RECORDS] [RUNS] [SYNCSTACK]
//   (default 10000 records, 5 runs of each, this build's syncstack)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "kits/run_command.h"
#include "kits/serve_process.h"
#include "syncstack/engine.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/policies/registry.h"
#include "syncstack/replica.h"
#include "syncstack/syncstack.h"

namespace {

using Clock = std::chrono::steady_clock;
using syncstack::Status;

constexpr const char* kUser = "bench";
constexpr const char* kPassword = "bench-pw";

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "syncstack-bench-capi: %s\n", what.c_str());
  std::exit(1);
}

void Must(syncstack_status s, const char* what) {
  if (s != SYNCSTACK_OK) Die(std::string(what) + ": " + syncstack_last_error());
}

std::string Payload(int i) {
  return R"({"title":"todo number )" + std::to_string(i) +
         R"(","done":false,"note":"a few words of text in every record"})";
}

struct Timing {
  double push_ms;  // first sync of a device holding N new records
  double pull_ms;  // first sync of an empty device fetching them
  // Of those, the time outside SyncEngine::Run (its report's total_time):
  // what the API adds around the engine.
  double push_outside_ms;
  double pull_outside_ms;
  double put_us;  // one local put, averaged over N
};

// total_time of a C API report, in ms.
double EngineMs(const char* report) {
  const char* at = std::strstr(report, "\"total\":");
  if (at == nullptr) Die(std::string("no total in the report: ") + report);
  return std::strtod(at + 8, nullptr) / 1000.0;
}

// One run through the C API.
Timing RunC(const std::string& url, const std::string& collection, int n) {
  syncstack_device* device = nullptr;
  Must(syncstack_open("memory:", &device), "open");
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    Must(syncstack_put(device, collection.c_str(), nullptr, Payload(i).c_str(),
                       nullptr),
         "put");
  }
  Timing t{};
  t.put_us = Ms(Clock::now() - start) * 1000.0 / n;
  syncstack_sync_options o;
  Must(syncstack_sync_options_init(&o), "options");
  o.remote = url.c_str();
  o.user = kUser;
  o.password = kPassword;
  o.collections = collection.c_str();
  o.device = "bench-c";
  char* report = nullptr;
  start = Clock::now();
  Must(syncstack_sync(device, &o, &report), "sync");
  t.push_ms = Ms(Clock::now() - start);
  t.push_outside_ms = t.push_ms - EngineMs(report);
  syncstack_free(report);
  Must(syncstack_close(device), "close");
  Must(syncstack_open("memory:", &device), "open");
  o.device = "bench-c-pull";
  start = Clock::now();
  Must(syncstack_sync(device, &o, &report), "sync");
  t.pull_ms = Ms(Clock::now() - start);
  t.pull_outside_ms = t.pull_ms - EngineMs(report);
  syncstack_free(report);
  Must(syncstack_close(device), "close");
  return t;
}

// The same sync as the C API makes it, called in C++.
// Returns the wall time; sets `outside` to the part outside the engine.
double SyncCpp(syncstack::Store& store, const std::string& url,
               const std::string& collection, const std::string& device,
               double& outside) {
  syncstack::HttpClientOptions http;
  http.url = url;
  auto transport = syncstack::NewHttpTransport(http);
  if (!transport.ok()) Die(transport.status().ToString());
  auto lww = syncstack::NewLastWriteWinsPolicy();
  std::unique_ptr<syncstack::ConflictPolicy> adopted;
  syncstack::SyncOptions o;
  o.user = kUser;
  o.password = kPassword;
  o.device = device;
  o.collections = {collection};
  o.lock_wait = std::chrono::seconds(60);
  o.adopt_policy = [&adopted](std::string_view name) {
    auto p = syncstack::NewPolicyByName(name);
    adopted = p.ok() ? std::move(*p) : nullptr;
    return adopted.get();
  };
  syncstack::SyncEngine engine(store, **transport, *lww);
  auto start = Clock::now();
  auto report = engine.Run(o);
  double ms = Ms(Clock::now() - start);
  if (!report.ok()) Die(report.status().ToString());
  outside =
      ms -
      std::chrono::duration<double, std::milli>(report->total_time).count();
  return ms;
}

Timing RunCpp(const std::string& url, const std::string& collection, int n) {
  auto database = syncstack::OpenMemoryDatabase();
  if (!database.ok()) Die(database.status().ToString());
  auto store = (*database)->OpenAccount(syncstack::kLocalAccount);
  if (!store.ok()) Die(store.status().ToString());
  auto lww = syncstack::NewLastWriteWinsPolicy();
  syncstack::Replica replica(**store, *lww, syncstack::SystemClock());
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    Status s =
        replica.Put(collection, syncstack::RecordId::Random(), Payload(i));
    if (!s.ok()) Die(s.ToString());
  }
  Timing t{};
  t.put_us = Ms(Clock::now() - start) * 1000.0 / n;
  t.push_ms = SyncCpp(**store, url, collection, "bench-cpp", t.push_outside_ms);
  auto empty = syncstack::OpenMemoryDatabase();
  if (!empty.ok()) Die(empty.status().ToString());
  auto empty_store = (*empty)->OpenAccount(syncstack::kLocalAccount);
  if (!empty_store.ok()) Die(empty_store.status().ToString());
  t.pull_ms = SyncCpp(**empty_store, url, collection, "bench-cpp-pull",
                      t.pull_outside_ms);
  return t;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void Row(const char* what, const std::vector<double>& c,
         const std::vector<double>& cpp) {
  double mc = Median(c), mcpp = Median(cpp);
  char share[16] = "";  // a share of a near-zero time means nothing
  if (mcpp >= 1.0) {
    std::snprintf(share, sizeof share, "%+7.1f%%", 100.0 * (mc - mcpp) / mcpp);
  }
  std::printf(
      "%-22s %10.3f %10.3f %+9.3f %8s   (C: %.3f-%.3f, C++: "
      "%.3f-%.3f)\n",
      what, mc, mcpp, mc - mcpp, share, *std::min_element(c.begin(), c.end()),
      *std::max_element(c.begin(), c.end()),
      *std::min_element(cpp.begin(), cpp.end()),
      *std::max_element(cpp.begin(), cpp.end()));
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  std::string binary = argc > 3 ? argv[3] : SYNCSTACK_BENCH_DEFAULT_SYNCSTACK;
  if (n < 1 || runs < 1) Die("usage: syncstack-bench-capi [RECORDS] [RUNS]");
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("syncstack-bench-capi-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string store = "sqlite:" + (dir / "server.db").string();
  auto added = syncstack::testing::RunCommand(binary + " user add --store " +
                                                  store + " --user " + kUser +
                                                  " --password " + kPassword,
                                              dir);
  if (added.exit_code != 0) Die("user add: " + added.err);
  auto serve = syncstack::testing::ServeProcess::Start(
      {binary, {"--store", store, "--listen", "127.0.0.1:0"}});
  if (!serve.ok()) Die(serve.status().ToString());
  const std::string url = (*serve)->url();

  std::vector<double> c_push, c_pull, c_put, cpp_push, cpp_pull, cpp_put;
  std::vector<double> c_push_out, c_pull_out, cpp_push_out, cpp_pull_out;
  for (int r = 0; r < runs; ++r) {
    // Alternate which goes first, so drift in the machine's load is shared.
    for (int k = 0; k < 2; ++k) {
      bool c_first = r % 2 == 0;
      bool c_now = (k == 0) == c_first;
      std::string collection =
          std::string(c_now ? "c" : "cpp") + std::to_string(r);
      Timing t = c_now ? RunC(url, collection, n) : RunCpp(url, collection, n);
      (c_now ? c_push : cpp_push).push_back(t.push_ms);
      (c_now ? c_pull : cpp_pull).push_back(t.pull_ms);
      (c_now ? c_put : cpp_put).push_back(t.put_us);
      (c_now ? c_push_out : cpp_push_out).push_back(t.push_outside_ms);
      (c_now ? c_pull_out : cpp_pull_out).push_back(t.pull_outside_ms);
    }
  }
  std::printf(
      "syncstack-bench-capi: %d records, %d runs each, serve at %s, "
      "device stores in memory (medians; ranges in brackets)\n",
      n, runs, url.c_str());
  std::printf("%-22s %10s %10s %9s %8s\n", "", "C API", "C++", "diff", "diff%");
  Row("first sync, push (ms)", c_push, cpp_push);
  Row("  outside engine (ms)", c_push_out, cpp_push_out);
  Row("first sync, pull (ms)", c_pull, cpp_pull);
  Row("  outside engine (ms)", c_pull_out, cpp_pull_out);
  Row("local put (us/record)", c_put, cpp_put);
  int stopped = (*serve)->Stop();
  std::filesystem::remove_all(dir);
  return stopped == 0 ? 0 : 1;
}
