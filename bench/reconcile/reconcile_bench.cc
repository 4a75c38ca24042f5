// Set reconciliation (reconcile/): the cost of finding d differences among
// n records, in bytes, round trips and time, beside the binary manifest
// (24 bytes an entry) that a full comparison would send; and the cost of
// one range fingerprint.
//
//   build/release/bench/reconcile/reconcile_bench
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>

#include "syncstack/reconcile/reconcile.h"

namespace syncstack {
namespace {

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

// n items on the server; the device has them with d of them changed
// (an update is one difference: the versions travel with the ids).
void BM_Reconcile(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t d = static_cast<size_t>(state.range(1));
  std::vector<ReconcileItem> server = RandomItems(n, 1);
  std::vector<ReconcileItem> device = server;
  std::mt19937_64 rng(2);
  for (size_t i = 0; i < d; ++i) {
    device[rng() % n].timestamp += 1 + static_cast<int64_t>(i);
  }
  auto theirs = NewSortedItemSource(server);
  auto mine = NewSortedItemSource(device);
  size_t bytes = 0, rounds = 0, found = 0;
  for (auto _ : state) {
    ReconcileClient client(*mine);
    bytes = rounds = 0;
    std::string message = client.Initiate();
    while (!message.empty()) {
      ++rounds;
      bytes += message.size();
      auto answer = ReconcileRespond(*theirs, message);
      if (!answer.ok()) state.SkipWithError("respond failed");
      bytes += answer->size();
      auto next = client.Process(*answer);
      if (!next.ok()) state.SkipWithError("process failed");
      message = std::move(next).value();
    }
    found = client.differences().size();
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["round_trips"] = static_cast<double>(rounds);
  state.counters["found"] = static_cast<double>(found);
  state.counters["manifest_bytes"] = static_cast<double>(n * 24);
  state.counters["bytes_vs_manifest"] =
      static_cast<double>(bytes) / static_cast<double>(n * 24);
}
BENCHMARK(BM_Reconcile)
    ->Args({1'000'000, 0})
    ->Args({1'000'000, 10})
    ->Args({1'000'000, 1'000})
    ->Args({1'000'000, 100'000})
    ->Unit(benchmark::kMillisecond);

void BM_RangeFingerprint(benchmark::State& state) {
  auto source = NewSortedItemSource(RandomItems(1'000'000, 3));
  std::mt19937_64 rng(4);
  for (auto _ : state) {
    RecordId a = RandomId(rng), b = RandomId(rng);
    if (b < a) std::swap(a, b);
    IdRange r;
    r.begin = a;
    r.end = b;
    r.has_end = true;
    benchmark::DoNotOptimize(source->RangeFingerprint(r));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RangeFingerprint);

}  // namespace
}  // namespace syncstack

BENCHMARK_MAIN();
