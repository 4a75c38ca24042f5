// FaultStore's own behaviour: what a simulated crash does. (How each store
// rolls back a write that fails mid-batch is the Store conformance kit's
// WriteFailingMidBatchLeavesNothing, which reaches every store beneath.)
#include "syncstack/faults/fault_store.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "syncstack/memory/memory_store.h"

namespace syncstack {
namespace {

RecordId IdN(uint8_t n) {
  std::array<uint8_t, 16> b{};
  b[3] = n;
  return RecordId(b);
}

Record MakeRecord(RecordId id) {
  Record r;
  r.collection = "todo";
  r.id = id;
  r.version.timestamp = 10;
  r.payload = "{}";
  return r;
}

std::vector<RecordId> ScanIds(Store& store) {
  std::vector<RecordId> ids;
  auto it = store.Scan("todo", ScanOptions());
  for (; it->Valid(); it->Next()) ids.push_back(it->entry().id);
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return ids;
}

// A crash before commit loses the batch; the store is down until restarted.
TEST(FaultStore, CrashBeforeCommitLosesOnlyThatBatch) {
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(db.ok());
  auto store = (*db)->OpenAccount(kLocalAccount);
  ASSERT_TRUE(store.ok());
  FaultStore faulty(**store);
  bool crashed = false;
  faulty.CrashAtApply(2, [&] { crashed = true; });
  ChangeBatch first;
  first.Put(MakeRecord(IdN(1)));
  ASSERT_TRUE(faulty.Apply(WriteOptions(), first).ok());
  ChangeBatch second;
  second.Put(MakeRecord(IdN(2)));
  second.SetMeta("checkpoint", "2");
  EXPECT_EQ(faulty.Apply(WriteOptions(), second).code(),
            Status::Code::kIOError);
  EXPECT_TRUE(crashed);
  EXPECT_TRUE(faulty.crashed());
  EXPECT_EQ(faulty.GetMeta("checkpoint").status().code(),
            Status::Code::kIOError);
  EXPECT_EQ(faulty.Scan("todo", ScanOptions())->status().code(),
            Status::Code::kIOError);
  // The store beneath never saw the lost batch, even while "down".
  EXPECT_EQ(ScanIds(**store), std::vector<RecordId>{IdN(1)});
  EXPECT_FALSE((*store)->GetMeta("checkpoint")->has_value());
  faulty.Restart();
  EXPECT_EQ(ScanIds(faulty), std::vector<RecordId>{IdN(1)});
  EXPECT_FALSE(faulty.GetMeta("checkpoint")->has_value());
}

}  // namespace
}  // namespace syncstack
