// Streamed manifests at scale: the binary manifest page against fetch.json
// for the same 1M entries; the planning merge-join on pre-sorted arrays
// beside a bandwidth-bound pass over the same arrays; and the engine's real
// d=0 cost (kFull vs kReconcile) over the loopback transport, with heap
// allocations per operation (bench/common/alloc_counter.h) everywhere. Figures
// are meant as ratios against baselines measured in the same run.
//
//   build/release/bench/pages/pages_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "syncstack/clock.h"
#include "syncstack/codec.h"
#include "syncstack/engine.h"
#include "syncstack/loopback/in_process_server.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/pages.h"
#include "syncstack/policies/last_write_wins.h"
#include "workload.h"  // bench/common

namespace syncstack {
namespace {

constexpr size_t kEntries = 1'000'000;       // parts 1 and 2
constexpr int64_t kEngineRecords = 200'000;  // part 3

// Counts the allocations of the measured calls only (not the benchmark
// library's own), reported per iteration.
class AllocCounter {
 public:
  explicit AllocCounter(benchmark::State& state) : state_(state) {}
  ~AllocCounter() {
    if (meter_.running()) meter_.Stop();  // a loop left between the two
    state_.counters["allocs/op"] =
        benchmark::Counter(static_cast<double>(meter_.total()),
                           benchmark::Counter::kAvgIterations);
  }
  void Start() noexcept { meter_.Start(); }
  void Stop() noexcept { meter_.Stop(); }

 private:
  benchmark::State& state_;
  bench::AllocationMeter meter_;
};

// 1M random ids, sorted; timestamps 2013..2023 at ms precision; no
// version data (bench/common/workload.h).
const std::vector<Stamp>& Entries() { return bench::SortedStamps(kEntries); }

const ManifestPage& Page() {
  static const ManifestPage* page = [] {
    auto* p = new ManifestPage;
    p->collection = "todo";
    p->id_key = "id";
    p->entries = Entries();
    p->seq = 123456789;
    return p;
  }();
  return *page;
}

const Manifest& JsonManifest() {
  static const Manifest* m = [] {
    auto* out = new Manifest;
    out->collections.push_back(Manifest::Collection{"todo", "id", Entries()});
    return out;
  }();
  return *m;
}

const std::string& BinaryBody() {
  static const std::string* s = [] {
    auto* out = new std::string;
    EncodeManifestPageBinary(Page(), *out);
    return out;
  }();
  return *s;
}

const std::string& JsonBody() {
  static const std::string* s = [] {
    auto* out = new std::string;
    EncodeManifest(JsonManifest(), *out);
    return out;
  }();
  return *s;
}

void Throughput(benchmark::State& state, size_t body_bytes) {
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * body_bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kEntries));
  state.counters["bytes/entry"] =
      static_cast<double>(body_bytes) / static_cast<double>(kEntries);
}

// --- 1. manifest bodies: binary page vs fetch.json ---------------------------

void BM_BinaryManifestEncode(benchmark::State& state) {
  const ManifestPage& page = Page();
  std::string out;
  EncodeManifestPageBinary(page, out);  // warm: out keeps its capacity
  AllocCounter allocs(state);
  for (auto _ : state) {
    allocs.Start();
    EncodeManifestPageBinary(page, out);
    allocs.Stop();
    benchmark::DoNotOptimize(out.data());
  }
  Throughput(state, out.size());
}

void BM_BinaryManifestDecode(benchmark::State& state) {
  const std::string& body = BinaryBody();
  AllocCounter allocs(state);
  for (auto _ : state) {
    allocs.Start();
    auto page = DecodeManifestPageBinary(body);
    allocs.Stop();
    if (!page.ok()) {
      state.SkipWithError(page.status().ToString().c_str());
      break;
    }
    if (page->entries.size() != kEntries) state.SkipWithError("wrong count");
    benchmark::DoNotOptimize(page);
  }
  Throughput(state, body.size());
}

void BM_JsonManifestEncode(benchmark::State& state) {
  const Manifest& m = JsonManifest();
  std::string out;
  EncodeManifest(m, out);
  AllocCounter allocs(state);
  for (auto _ : state) {
    allocs.Start();
    EncodeManifest(m, out);
    allocs.Stop();
    benchmark::DoNotOptimize(out.data());
  }
  Throughput(state, out.size());
}

void BM_JsonManifestDecode(benchmark::State& state) {
  const std::string& body = JsonBody();
  AllocCounter allocs(state);
  for (auto _ : state) {
    allocs.Start();
    auto m = DecodeManifest(body);
    allocs.Stop();
    if (!m.ok()) {
      state.SkipWithError(m.status().ToString().c_str());
      break;
    }
    if (m->collections[0].entries.size() != kEntries) {
      state.SkipWithError("wrong count");
    }
    benchmark::DoNotOptimize(m);
  }
  Throughput(state, body.size());
}

// --- 2. the merge-join kernel on pre-sorted arrays ---------------------------

// Remote: the server's stamps. Local: the device's manifest entries, synced
// at the server's timestamps (base), except `diff_ppm` per million of the
// ids, a third each: changed on the server (both, differ), absent locally
// (only remote), absent on the server (only local).
struct JoinInput {
  std::vector<Stamp> remote;
  std::vector<ManifestEntry> local;
};

const JoinInput& Join(int64_t diff_ppm) {
  static std::map<int64_t, std::unique_ptr<JoinInput>> inputs;
  auto& slot = inputs[diff_ppm];
  if (slot) return *slot;
  slot = std::make_unique<JoinInput>();
  const std::vector<Stamp>& all = Entries();
  size_t diffs = static_cast<size_t>(static_cast<double>(kEntries) *
                                     static_cast<double>(diff_ppm) / 1e6);
  size_t stride = diffs == 0 ? kEntries + 1 : kEntries / diffs;
  slot->remote.reserve(kEntries);
  slot->local.reserve(kEntries);
  size_t k = 0;
  for (size_t i = 0; i < kEntries; ++i) {
    const Stamp& s = all[i];
    ManifestEntry l;
    l.id = s.id;
    l.version.timestamp = s.last_update;
    l.base = s.last_update;
    int kind = -1;
    if (diffs != 0 && i % stride == stride / 2)
      kind = static_cast<int>(k++ % 3);
    if (kind == 0) l.base = s.last_update - 1;  // the server moved on
    if (kind != 1) slot->local.push_back(l);
    if (kind != 2) slot->remote.push_back(s);
  }
  return *slot;
}

struct JoinCounts {
  uint64_t only_remote = 0, equal = 0, differ = 0, only_local = 0;
};

[[gnu::noinline]] JoinCounts MergeJoin(std::span<const Stamp> remote,
                                       std::span<const ManifestEntry> local) {
  JoinCounts c;
  size_t i = 0, j = 0;
  while (i < remote.size() && j < local.size()) {
    const Stamp& s = remote[i];
    const ManifestEntry& l = local[j];
    if (s.id < l.id) {
      ++c.only_remote;  // case 1
      ++i;
    } else if (l.id < s.id) {
      ++c.only_local;  // case 3
      ++j;
    } else {
      if (s.last_update == l.base) {  // case 2
        ++c.equal;
      } else {
        ++c.differ;
      }
      ++i;
      ++j;
    }
  }
  c.only_remote += remote.size() - i;
  c.only_local += local.size() - j;
  return c;
}

// The baseline: one linear pass over both arrays, summing timestamps.
[[gnu::noinline]] int64_t SumTimestamps(std::span<const Stamp> remote,
                                        std::span<const ManifestEntry> local) {
  int64_t sum = 0;
  for (const Stamp& s : remote) sum += s.last_update;
  for (const ManifestEntry& l : local) sum += l.base;
  return sum;
}

void JoinCounters(benchmark::State& state, const JoinInput& in) {
  // Entries read: both arrays.
  state.SetItemsProcessed(static_cast<int64_t>(
      state.iterations() * (in.remote.size() + in.local.size())));
  state.SetBytesProcessed(static_cast<int64_t>(
      state.iterations() * (in.remote.size() * sizeof(Stamp) +
                            in.local.size() * sizeof(ManifestEntry))));
}

void BM_MergeJoin(benchmark::State& state) {
  const JoinInput& in = Join(state.range(0));
  JoinCounts c;
  AllocCounter allocs(state);
  for (auto _ : state) {
    allocs.Start();
    c = MergeJoin(in.remote, in.local);
    allocs.Stop();
    benchmark::DoNotOptimize(c);
  }
  JoinCounters(state, in);
  state.counters["only_remote"] = static_cast<double>(c.only_remote);
  state.counters["both_equal"] = static_cast<double>(c.equal);
  state.counters["both_differ"] = static_cast<double>(c.differ);
  state.counters["only_local"] = static_cast<double>(c.only_local);
}

void BM_SumBaseline(benchmark::State& state) {
  const JoinInput& in = Join(state.range(0));
  AllocCounter allocs(state);
  for (auto _ : state) {
    allocs.Start();
    int64_t sum = SumTimestamps(in.remote, in.local);
    allocs.Stop();
    benchmark::DoNotOptimize(sum);
  }
  JoinCounters(state, in);
}

// --- 3. the engine: d=0 syncs of a 200k-record device ------------------------

constexpr char kPayload[] =
    R"({"title":"a todo item of typical size","done":false,"n":12345,)"
    R"("tags":["home","errands"],"note":null})";

// A server (memory database) with n records and a device (memory store)
// that cold-synced them; set up once.
struct EngineWorld {
  ManualClock clock{1'700'000'000'000};
  InProcessServer server{ServerOptions(clock)};
  std::unique_ptr<Database> device_db = OpenMemoryDatabase().value();
  std::shared_ptr<Store> device;
  std::unique_ptr<SyncEngine> engine;
  uint64_t cold_records = 0;

  static InProcessServerOptions ServerOptions(Clock& clock) {
    InProcessServerOptions o;
    o.database = OpenMemoryDatabase().value();
    o.policy = NewLastWriteWinsPolicy();
    o.clock = &clock;
    return o;
  }

  EngineWorld() {
    auto account = server.database().OpenAccount("alice").value();
    std::mt19937_64 rng(7);
    ChangeBatch batch;
    for (int64_t i = 0; i < kEngineRecords; ++i) {
      Record r;
      r.collection = "todo";
      r.id = bench::RandomId(rng);
      r.version.timestamp = bench::RandomTimestamp(rng);
      r.payload = kPayload;
      batch.Put(std::move(r));
      if (batch.size() == 10'000 || i + 1 == kEngineRecords) {
        if (!account->Apply(WriteOptions{}, batch).ok()) std::abort();
        batch.Clear();
      }
    }
    device = device_db->OpenAccount(kLocalAccount).value();
    engine = std::make_unique<SyncEngine>(*device, server.transport(),
                                          server.policy());
    auto cold = engine->Run(Options(SyncMode::kAuto));
    if (!cold.ok()) {
      std::fprintf(stderr, "cold sync: %s\n", cold.status().ToString().c_str());
      std::abort();
    }
    cold_records = std::max(cold->cold_records, cold->cases.fetched_new);
  }

  SyncOptions Options(SyncMode mode) {
    SyncOptions o;
    o.user = "alice";
    o.device = "bench";
    o.clock = &clock;
    o.mode = mode;
    return o;
  }
};

EngineWorld& World() {
  static EngineWorld* world = new EngineWorld;
  return *world;
}

void EngineSync(benchmark::State& state, SyncMode mode) {
  EngineWorld& w = World();
  const SyncOptions options = w.Options(mode);
  uint64_t received = 0, sent = 0, calls = 0, unchanged = 0;
  uint64_t plan_us = 0, fetch_us = 0;
  SyncMode used = mode;
  AllocCounter allocs(state);
  for (auto _ : state) {
    allocs.Start();
    auto report = w.engine->Run(options);
    allocs.Stop();
    if (!report.ok()) {
      state.SkipWithError(report.status().ToString().c_str());
      break;
    }
    received += report->traffic.bytes_received;
    sent += report->traffic.bytes_sent;
    calls += report->traffic.calls;
    unchanged += report->cases.unchanged;
    plan_us += static_cast<uint64_t>(report->plan_time.count());
    fetch_us += static_cast<uint64_t>(report->fetch_time.count());
    used = report->mode;
    const CaseCounts& c = report->cases;
    if (c.fetched_new + c.pulled + c.pushed_updates + c.pushed_adds +
            c.deleted_here + c.pushed_deletes + c.dropped_tombstones !=
        0) {
      state.SkipWithError("d=0 sync found changes");
      break;
    }
  }
  double iters = static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          kEngineRecords);
  state.counters["rx_bytes/sync"] = static_cast<double>(received) / iters;
  state.counters["tx_bytes/sync"] = static_cast<double>(sent) / iters;
  state.counters["calls/sync"] = static_cast<double>(calls) / iters;
  state.counters["unchanged/sync"] = static_cast<double>(unchanged) / iters;
  state.counters["fetch_ms"] = static_cast<double>(fetch_us) / iters / 1e3;
  state.counters["plan_ms"] = static_cast<double>(plan_us) / iters / 1e3;
  state.counters["cold_records"] = static_cast<double>(w.cold_records);
  state.counters["mode_used"] = static_cast<double>(used);  // 1 full, 2 rec.
}

void BM_EngineSyncD0_Full(benchmark::State& state) {
  EngineSync(state, SyncMode::kFull);
}
void BM_EngineSyncD0_Reconcile(benchmark::State& state) {
  EngineSync(state, SyncMode::kReconcile);
}

BENCHMARK(BM_BinaryManifestEncode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BinaryManifestDecode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JsonManifestEncode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JsonManifestDecode)->Unit(benchmark::kMillisecond);
// Differences per million: 0, 0.1%, 10%.
BENCHMARK(BM_SumBaseline)
    ->Arg(0)
    ->Arg(1'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MergeJoin)
    ->Arg(0)
    ->Arg(1'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EngineSyncD0_Full)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EngineSyncD0_Reconcile)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace syncstack

BENCHMARK_MAIN();
