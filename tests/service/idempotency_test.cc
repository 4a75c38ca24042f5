// The idempotency ring (framework/src/service/idempotency.h): a key is
// found with the answer recorded for it, the slots are reused oldest first,
// and a key is never matched by a prefix of it or a longer key.
#include "service/idempotency.h"

#include <gtest/gtest.h>

#include "syncstack/memory/memory_store.h"
#include "syncstack/metadata_keys.h"

namespace syncstack::service {
namespace {

const RecordId kId = *RecordId::Parse("10000000-0000-4000-8000-000000000001");

class IdempotencyRing : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenMemoryDatabase();
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    auto store = db_->OpenAccount("alice");
    ASSERT_TRUE(store.ok());
    store_ = *store;
  }

  // An answer that tells keys apart: one stamp at `n` ms.
  static SyncResponse AnswerFor(int n) {
    SyncResponse response;
    response.stamps.push_back({"todo", {Stamp{kId, 1000 + n}}});
    return response;
  }

  // Records `key` as a request's answer, as the write path does: found or
  // not first, then recorded in the slot it was given.
  void Record(const std::string& key, int n) {
    auto slot = FindIdempotencyKey(*store_, key);
    ASSERT_TRUE(slot.ok());
    ASSERT_FALSE(slot->answer) << key << " is already recorded";
    ChangeBatch batch;
    RecordIdempotencyKey(*slot, key, AnswerFor(n), schema_, batch);
    ASSERT_TRUE(store_->Apply(WriteOptions{}, batch).ok());
  }

  // The stamp of the answer recorded for `key`, or -1 when it is unknown.
  int64_t Recorded(const std::string& key) {
    auto slot = FindIdempotencyKey(*store_, key);
    EXPECT_TRUE(slot.ok());
    if (!slot.ok() || !slot->answer) return -1;
    auto answer = DecodeSyncResponse(*slot->answer, schema_);
    EXPECT_TRUE(answer.ok()) << *slot->answer;
    if (!answer.ok()) return -1;
    return answer->stamps.at(0).stamps.at(0).last_update - 1000;
  }

  int Next() {
    auto slot = FindIdempotencyKey(*store_, "none");
    EXPECT_TRUE(slot.ok());
    return slot.ok() ? slot->next : -1;
  }

  Schema schema_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Store> store_;
};

TEST_F(IdempotencyRing, AnUnknownKeyGoesInTheFirstSlot) {
  auto slot = FindIdempotencyKey(*store_, "k");
  ASSERT_TRUE(slot.ok());
  EXPECT_EQ(slot->next, 0);
  EXPECT_FALSE(slot->answer);
}

TEST_F(IdempotencyRing, AKeyFindsItsOwnAnswer) {
  Record("k1", 1);
  Record("k2", 2);
  EXPECT_EQ(Recorded("k1"), 1);
  EXPECT_EQ(Recorded("k2"), 2);
  EXPECT_EQ(Recorded("k3"), -1);
  EXPECT_EQ(Next(), 2);
}

TEST_F(IdempotencyRing, PrefixesAndLongerKeysDoNotMatch) {
  Record("abc", 1);
  EXPECT_EQ(Recorded("ab"), -1);
  EXPECT_EQ(Recorded("abcd"), -1);
  EXPECT_EQ(Recorded("abc"), 1);
}

TEST_F(IdempotencyRing, TheOldestSlotIsReusedAfterAFullRing) {
  for (int i = 0; i < kIdempotencySlots; ++i) {
    Record("key-" + std::to_string(i), i);
  }
  EXPECT_EQ(Next(), 0);  // the ring wrapped
  for (int i = 0; i < kIdempotencySlots; ++i) {
    EXPECT_EQ(Recorded("key-" + std::to_string(i)), i) << i;
  }
  Record("key-new", 99);  // takes slot 0: key-0 is forgotten
  EXPECT_EQ(Recorded("key-0"), -1);
  EXPECT_EQ(Recorded("key-1"), 1);
  EXPECT_EQ(Recorded("key-new"), 99);
  EXPECT_EQ(Next(), 1);
  auto slot0 = store_->GetMeta(meta::IdemSlot(0));
  ASSERT_TRUE(slot0.ok());
  ASSERT_TRUE(*slot0);
  EXPECT_TRUE((*slot0)->starts_with("key-new\n")) << **slot0;
}

}  // namespace
}  // namespace syncstack::service
