// The idempotency ring (framework/src/service/idempotency.h): a key is
// found with the answer recorded for it, the slots are reused oldest first,
// a key is never matched by a prefix of it or a longer key, and a key is
// bound to the hash of its request.
#include "service/idempotency.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "sha256.h"
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

  // A request hash that tells requests apart.
  static std::string HashOf(int n) {
    std::string hash = std::to_string(n);
    return std::string(64 - hash.size(), '0') + hash;
  }

  // Records `key` as a request's answer, as the write path does: found or
  // not first, then recorded in the slot it was given.
  void Record(const std::string& key, int n) {
    auto slot = FindIdempotencyKey(*store_, key);
    ASSERT_TRUE(slot.ok());
    ASSERT_FALSE(slot->answer) << key << " is already recorded";
    ChangeBatch batch;
    RecordIdempotencyKey(*slot, key, HashOf(n), AnswerFor(n), schema_, batch);
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

TEST_F(IdempotencyRing, AKeyIsBoundToItsRequest) {
  Record("k", 7);
  auto slot = FindIdempotencyKey(*store_, "k");
  ASSERT_TRUE(slot.ok());
  ASSERT_TRUE(slot->answer);
  EXPECT_EQ(slot->request_hash, HashOf(7));
  EXPECT_TRUE(CheckSameRequest(*slot, "k", HashOf(7)).ok());
  Status other = CheckSameRequest(*slot, "k", HashOf(8));
  EXPECT_EQ(other.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(other.message().find("Idempotency-Key \"k\""), std::string::npos)
      << other.message();
  // A key never seen binds nothing yet.
  auto fresh = FindIdempotencyKey(*store_, "new");
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(CheckSameRequest(*fresh, "new", HashOf(8)).ok());
}

// A slot written before keys were bound ("<key>\n<answer>") still answers
// a repeat, whatever the request.
TEST_F(IdempotencyRing, SlotsFromBeforeBindingStillAnswer) {
  std::string answer;
  EncodeSyncResponse(AnswerFor(5), schema_, answer);
  ChangeBatch batch;
  batch.SetMeta(meta::IdemSlot(0), "old\n" + answer);
  batch.SetMeta(std::string(meta::kIdemNext), "1");
  ASSERT_TRUE(store_->Apply(WriteOptions{}, batch).ok());
  auto slot = FindIdempotencyKey(*store_, "old");
  ASSERT_TRUE(slot.ok());
  ASSERT_TRUE(slot->answer);
  EXPECT_EQ(*slot->answer, answer);
  EXPECT_EQ(slot->request_hash, "");
  EXPECT_TRUE(CheckSameRequest(*slot, "old", HashOf(1)).ok());
  EXPECT_EQ(Recorded("old"), 5);
}

TEST(RequestHash, SameRequestSameHashOtherwiseNot) {
  Schema schema;
  SyncRequest a;
  a.add.push_back({"todo", {WireRecord{kId, 1000, R"({"t":"a"})"}}});
  SyncRequest b = a;
  EXPECT_EQ(RequestHash(a, schema), RequestHash(b, schema));
  EXPECT_EQ(RequestHash(a, schema).size(), 64u);
  b.add[0].records[0].payload = R"({"t":"b"})";
  EXPECT_NE(RequestHash(a, schema), RequestHash(b, schema));
  SyncRequest c = a;
  c.want_versions = true;
  EXPECT_NE(RequestHash(a, schema), RequestHash(c, schema));
  SyncRequest d = a;  // the same record as an update, not an add
  d.update = std::move(d.add);
  d.add.clear();
  EXPECT_NE(RequestHash(a, schema), RequestHash(d, schema));
}

// The published FIPS 180-4 examples, one-shot and fed in pieces.
TEST(Sha256, KnownDigests) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  EXPECT_EQ(Sha256Hex(million),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  Sha256 pieces;
  size_t at = 0;
  for (size_t n = 1; at < million.size(); n = n % 131 + 1) {
    size_t take = std::min(n, million.size() - at);
    pieces.Update(std::string_view(million).substr(at, take));
    at += take;
  }
  std::array<uint8_t, 32> digest = pieces.Finish();
  EXPECT_EQ(digest[0], 0xcd);
  EXPECT_EQ(digest[31], 0xd0);
  Sha256 whole;
  whole.Update(million);
  EXPECT_EQ(whole.Finish(), digest);
}

}  // namespace
}  // namespace syncstack::service
