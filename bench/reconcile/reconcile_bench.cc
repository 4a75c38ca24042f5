// Set reconciliation (reconcile/): the cost of finding d differences among
// n records, in bytes, round trips and time, beside the binary manifest
// (24 bytes an entry) that a full comparison would send; and the cost of
// one range fingerprint; and the ItemIndex a server keeps up to date
// (build, upsert, range fingerprint beside the sorted source's, a
// reconciliation answered by it), with heap allocations per operation.
//
//   build/release/bench/reconcile/reconcile_bench
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>

#include "alloc_counter.h"
#include "syncstack/reconcile/item_index.h"
#include "syncstack/reconcile/reconcile.h"

namespace syncstack {

namespace {

void ReportAllocations(benchmark::State& state,
                       const bench::AllocationMeter& meter) {
  state.counters["allocs_per_op"] = benchmark::Counter(
      static_cast<double>(meter.total()), benchmark::Counter::kAvgIterations);
}

RecordId RandomId(std::mt19937_64& rng) {
  std::array<uint8_t, 16> b;
  uint64_t x = rng(), y = rng();
  std::memcpy(b.data(), &x, 8);
  std::memcpy(b.data() + 8, &y, 8);
  return RecordId(b);
}

std::vector<ReconcileItem> RandomItems(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<ReconcileItem> items(n);
  for (auto& item : items) {
    item.id = RandomId(rng);
    item.timestamp = 1'700'000'000'000 + static_cast<int64_t>(rng() % 1000000);
  }
  return items;
}

// A full reconciliation; the client's messages until it is done.
struct RunResult {
  size_t bytes = 0, rounds = 0, found = 0;
};
bool RunReconcile(ItemSource& mine, ItemSource& theirs, RunResult& r,
                  benchmark::State& state) {
  ReconcileClient client(mine);
  r = {};
  std::string message = client.Initiate();
  while (!message.empty()) {
    ++r.rounds;
    r.bytes += message.size();
    auto answer = ReconcileRespond(theirs, message);
    if (!answer.ok()) {
      state.SkipWithError("respond failed");
      return false;
    }
    r.bytes += answer->size();
    auto next = client.Process(*answer);
    if (!next.ok()) {
      state.SkipWithError("process failed");
      return false;
    }
    message = std::move(next).value();
  }
  r.found = client.differences().size();
  return true;
}

// n items on the server; the device has them with d of them changed
// (an update is one difference: the versions travel with the ids).
// Arg 2: the server's source, 0 a sorted vector, 1 an ItemIndex.
void BM_Reconcile(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t d = static_cast<size_t>(state.range(1));
  const bool index = state.range(2) == 1;
  std::vector<ReconcileItem> server = RandomItems(n, 1);
  std::vector<ReconcileItem> device = server;
  std::mt19937_64 rng(2);
  for (size_t i = 0; i < d; ++i) {
    device[rng() % n].timestamp += 1 + static_cast<int64_t>(i);
  }
  std::unique_ptr<ItemSource> theirs;
  if (index) {
    theirs = std::make_unique<ItemIndex>(server);
  } else {
    theirs = NewSortedItemSource(server);
  }
  auto mine = NewSortedItemSource(device);
  RunResult r;
  for (auto _ : state) {
    if (!RunReconcile(*mine, *theirs, r, state)) break;
  }
  state.SetLabel(index ? "server=ItemIndex" : "server=sorted");
  state.counters["bytes"] = static_cast<double>(r.bytes);
  state.counters["round_trips"] = static_cast<double>(r.rounds);
  state.counters["found"] = static_cast<double>(r.found);
  state.counters["manifest_bytes"] = static_cast<double>(n * 24);
  state.counters["bytes_vs_manifest"] =
      static_cast<double>(r.bytes) / static_cast<double>(n * 24);
}
BENCHMARK(BM_Reconcile)
    ->Args({1'000'000, 0, 0})
    ->Args({1'000'000, 10, 0})
    ->Args({1'000'000, 1'000, 0})
    ->Args({1'000'000, 100'000, 0})
    ->Args({1'000'000, 10, 1})
    ->Args({1'000'000, 1'000, 1})
    ->Unit(benchmark::kMillisecond);

IdRange RandomRange(std::mt19937_64& rng) {
  RecordId a = RandomId(rng), b = RandomId(rng);
  if (b < a) std::swap(a, b);
  IdRange r;
  r.begin = a;
  r.end = b;
  r.has_end = true;
  return r;
}

// Random ranges over 1M items. Arg 0: the source, 0 a sorted vector, 1 an
// ItemIndex; the ratio of the two is the index's cost of being writable.
void BM_RangeFingerprint(benchmark::State& state) {
  std::vector<ReconcileItem> items = RandomItems(1'000'000, 3);
  std::unique_ptr<ItemSource> source;
  if (state.range(0) == 1) {
    source = std::make_unique<ItemIndex>(std::move(items));
  } else {
    source = NewSortedItemSource(std::move(items));
  }
  std::mt19937_64 rng(4);
  bench::AllocationMeter allocations;
  allocations.Start();
  for (auto _ : state) {
    benchmark::DoNotOptimize(source->RangeFingerprint(RandomRange(rng)));
  }
  allocations.Stop();
  ReportAllocations(state, allocations);
  state.SetLabel(state.range(0) == 1 ? "ItemIndex" : "sorted");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RangeFingerprint)->Arg(0)->Arg(1);

// Building an ItemIndex from 1M items in random order (the sort included).
void BM_ItemIndexBuild(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<ReconcileItem> items = RandomItems(n, 5);
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<ReconcileItem> copy = items;
    state.ResumeTiming();
    ItemIndex index(std::move(copy));
    benchmark::DoNotOptimize(index.size());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_ItemIndexBuild)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// Upserts into an index of 1M items. Arg 0: 0 new random ids, 1 new
// versions of present ids. Arg 1: 1 asks for a range fingerprint after
// every write (paying the lazy prefix rebuild each time).
void BM_ItemIndexUpsert(benchmark::State& state) {
  const bool replace = state.range(0) == 1;
  const bool query = state.range(1) == 1;
  std::vector<ReconcileItem> items = RandomItems(1'000'000, 6);
  ItemIndex index(items);
  std::mt19937_64 rng(7);
  bench::AllocationMeter allocations;
  allocations.Start();
  int64_t ts = 0;
  for (auto _ : state) {
    ReconcileItem item;
    if (replace) {
      item = items[rng() % items.size()];
      item.timestamp = ++ts;
    } else {
      item.id = RandomId(rng);
      item.timestamp = ++ts;
    }
    index.Upsert(item);
    if (query) {
      benchmark::DoNotOptimize(index.RangeFingerprint(RandomRange(rng)));
    }
  }
  allocations.Stop();
  ReportAllocations(state, allocations);
  state.counters["chunks"] = static_cast<double>(index.chunk_count());
  state.SetLabel(std::string(replace ? "replace" : "insert") +
                 (query ? "+query" : ""));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ItemIndexUpsert)
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1});

// Erase and re-insert of present ids: the size stays at 1M.
void BM_ItemIndexEraseInsert(benchmark::State& state) {
  std::vector<ReconcileItem> items = RandomItems(1'000'000, 8);
  ItemIndex index(items);
  std::mt19937_64 rng(9);
  bench::AllocationMeter allocations;
  allocations.Start();
  for (auto _ : state) {
    const ReconcileItem& item = items[rng() % items.size()];
    index.Erase(item.id);
    index.Upsert(item);
  }
  allocations.Stop();
  ReportAllocations(state, allocations);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ItemIndexEraseInsert);

}  // namespace
}  // namespace syncstack

BENCHMARK_MAIN();
