// Idempotency keys through the service (issue 14, item 2): the same key and
// the same request get the first answer and apply once; the same key with a
// different request is refused naming the key, and nothing of it is stored.
#include <gtest/gtest.h>

#include "memory_server.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/policies/registry.h"
#include "syncstack/protocol.h"
#include "syncstack/service.h"

namespace syncstack {
namespace {

const RecordId kA = *RecordId::Parse("10000000-0000-4000-8000-00000000000a");
const RecordId kB = *RecordId::Parse("10000000-0000-4000-8000-00000000000b");
constexpr Timestamp kNow = 1796169600000;  // 2026-12-02 00:00:00 UTC

class IdempotencyThroughService : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = testing::NewMemoryServer(clock_, "lww");
    ASSERT_NE(server_, nullptr);
    service_ = &server_->service();
  }

  static SyncRequest Add(const RecordId& id, std::string payload) {
    SyncRequest request;
    request.add.push_back(
        {"todo", {WireRecord{id, kNow - 1000, std::move(payload)}}});
    return request;
  }

  // The ids the account's "todo" holds.
  std::vector<RecordId> Stored() {
    auto manifest = service_->Fetch("alice", {"todo"});
    EXPECT_TRUE(manifest.ok());
    std::vector<RecordId> ids;
    if (!manifest.ok()) return ids;
    for (const Stamp& s : manifest->collections.at(0).entries) {
      ids.push_back(s.id);
    }
    return ids;
  }

  std::string Sequence() {
    auto store = server_->database().OpenAccount("alice");
    EXPECT_TRUE(store.ok());
    auto seq = (*store)->GetMeta(meta::kSequence);
    EXPECT_TRUE(seq.ok());
    return seq.ok() && *seq ? **seq : "";
  }

  ManualClock clock_{kNow};
  std::unique_ptr<InProcessServer> server_;
  SyncService* service_ = nullptr;  // server_'s
};

TEST_F(IdempotencyThroughService, TheSameRequestGetsTheFirstAnswer) {
  auto first =
      service_->Synchronise("alice", Add(kA, R"({"t":"a"})"), "", "key-1");
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->stamps.size(), 1u);
  const std::string seq = Sequence();
  clock_.Advance(5000);
  auto again =
      service_->Synchronise("alice", Add(kA, R"({"t":"a"})"), "", "key-1");
  ASSERT_TRUE(again.ok()) << again.status().message();
  ASSERT_EQ(again->stamps.size(), 1u);
  EXPECT_EQ(again->stamps[0].stamps, first->stamps[0].stamps);
  EXPECT_EQ(Sequence(), seq) << "the repeat wrote";
  EXPECT_EQ(Stored(), std::vector<RecordId>{kA});
}

TEST_F(IdempotencyThroughService, ADifferentRequestUnderAUsedKeyIsRefused) {
  ASSERT_TRUE(
      service_->Synchronise("alice", Add(kA, R"({"t":"a"})"), "", "key-1")
          .ok());
  const std::string seq = Sequence();
  auto other =
      service_->Synchronise("alice", Add(kB, R"({"t":"b"})"), "", "key-1");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(HttpStatusFor(other.status().code()), 400);
  EXPECT_NE(other.status().message().find("\"key-1\""), std::string::npos)
      << other.status().message();
  EXPECT_EQ(Stored(), std::vector<RecordId>{kA}) << "the refused write landed";
  EXPECT_EQ(Sequence(), seq);
  // The same payload edited is a different request too.
  auto edited =
      service_->Synchronise("alice", Add(kA, R"({"t":"a2"})"), "", "key-1");
  EXPECT_EQ(edited.status().code(), Status::Code::kInvalidArgument);
  // A new key applies it.
  auto fresh =
      service_->Synchronise("alice", Add(kB, R"({"t":"b"})"), "", "key-2");
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_EQ(Stored(), (std::vector<RecordId>{kA, kB}));
}

// Through Handle, as the HTTP server and the file processor call it.
TEST_F(IdempotencyThroughService, TheRefusalIsA400NamingTheKey) {
  Request login;
  login.method = "POST";
  login.path = std::string(kLoginPath);
  login.body = R"({"user":"alice","password":""})";
  Response logged = service_->Handle(login);
  ASSERT_EQ(logged.status, 200) << logged.body;
  auto token = DecodeLoginResponse(logged.body);
  ASSERT_TRUE(token.ok());
  Request lock;
  lock.method = "POST";
  lock.path = std::string(kLockPath);
  lock.token = token->token;
  lock.body = R"({"device":"phone"})";
  Response locked = service_->Handle(lock);
  ASSERT_EQ(locked.status, 200) << locked.body;
  auto lease = DecodeLockResponse(locked.body);
  ASSERT_TRUE(lease.ok());

  Request sync;
  sync.method = "POST";
  sync.path = std::string(kSynchronisePath);
  sync.token = token->token;
  sync.lease = lease->lease;
  sync.idempotency_key = "k-http";
  sync.body = R"({"add":{"todo":[{"id":")" + kA.ToString() +
              R"(","t":"a"}]},"update":{},"delete":{},"get":{}})";
  Response first = service_->Handle(sync);
  ASSERT_EQ(first.status, 200) << first.body;
  sync.body.insert(sync.body.find("{\"id\""), "  ");  // whitespace only
  Response repeat = service_->Handle(sync);
  EXPECT_EQ(repeat.status, 200) << repeat.body;
  EXPECT_EQ(repeat.body, first.body);
  sync.body = R"({"add":{"todo":[{"id":")" + kB.ToString() +
              R"(","t":"b"}]},"update":{},"delete":{},"get":{}})";
  Response other = service_->Handle(sync);
  EXPECT_EQ(other.status, 400) << other.body;
  EXPECT_NE(other.body.find("bad_request"), std::string::npos) << other.body;
  EXPECT_NE(other.body.find("k-http"), std::string::npos) << other.body;
  EXPECT_EQ(Stored(), std::vector<RecordId>{kA});
}

}  // namespace
}  // namespace syncstack
