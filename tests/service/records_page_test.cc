// JSON /v1/records pages are bounded by bytes (issue 14, item 6): a page
// whose records pass the body limit is refused with 413 naming the remedy,
// never cut short (a JSON client takes a short page for the last one); a
// smaller limit, or the binary form, reads the same records.
#include <gtest/gtest.h>

#include "memory_server.h"
#include "syncstack/codec.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/registry.h"
#include "syncstack/protocol.h"
#include "syncstack/service.h"

namespace syncstack {
namespace {

constexpr Timestamp kNow = 1796169600000;  // 2026-12-02 00:00:00 UTC

class RecordsPageBytes : public ::testing::Test {
 protected:
  void SetUp() override {
    SyncServiceOptions options;
    options.max_body = 64 << 10;
    server_ = testing::NewMemoryServer(clock_, "lww", std::move(options));
    ASSERT_NE(server_, nullptr);
    service_ = &server_->service();
    // Ten records of 10 KB: 100 KB, over the 64 KiB limit together.
    SyncRequest request;
    CollectionRecords todo{"todo", {}};
    for (int i = 0; i < 10; ++i) {
      std::string id =
          "10000000-0000-4000-8000-00000000000" + std::to_string(i);
      todo.records.push_back(
          WireRecord{*RecordId::Parse(id), kNow - 1000,
                     R"({"t":")" + std::string(10000, 'x') + R"("})"});
    }
    request.add.push_back(std::move(todo));
    ASSERT_TRUE(service_->Synchronise("alice", request, "", "").ok());
    Request login;
    login.method = "POST";
    login.path = std::string(kLoginPath);
    login.body = R"({"user":"alice","password":""})";
    Response logged = service_->Handle(login);
    ASSERT_EQ(logged.status, 200) << logged.body;
    token_ = DecodeLoginResponse(logged.body)->token;
  }

  Response Records(const std::string& query) {
    Request request;
    request.method = "GET";
    request.path = "/v1/records";
    request.query = query;
    request.token = token_;
    return service_->Handle(request);
  }

  ManualClock clock_{kNow};
  std::unique_ptr<InProcessServer> server_;
  SyncService* service_ = nullptr;  // server_'s
  std::string token_;
};

TEST_F(RecordsPageBytes, AJsonPageOverTheLimitIsRefused) {
  Response all = Records("collection=todo");
  EXPECT_EQ(all.status, 413) << all.body.substr(0, 200);
  EXPECT_NE(all.body.find("ask for a smaller limit"), std::string::npos)
      << all.body.substr(0, 200);
  EXPECT_LT(all.body.size(), 1000u);
}

TEST_F(RecordsPageBytes, SmallerPagesAndTheBinaryFormReadItAll) {
  Response five = Records("collection=todo&limit=5");
  ASSERT_EQ(five.status, 200) << five.body.substr(0, 200);
  EXPECT_GT(five.body.size(), 50000u);
  Response binary = Records("collection=todo&format=binary");
  ASSERT_EQ(binary.status, 200) << binary.body.substr(0, 200);
  EXPECT_GT(binary.body.size(), 100000u);
}

// A synchronise.json answer is bounded by the same limit: its get stops
// once the records pass it (at least one record always comes) and lists
// the ids left out under `_get_left`; asking for those reads the rest.
TEST_F(RecordsPageBytes, ASynchroniseAnswerStopsAtTheLimitAndListsTheRest) {
  SyncRequest ask;
  CollectionIds todo{"todo", {}};
  for (int i = 0; i < 10; ++i) {
    todo.ids.push_back(*RecordId::Parse("10000000-0000-4000-8000-00000000000" +
                                        std::to_string(i)));
  }
  ask.get.push_back(todo);
  auto answer = service_->Synchronise("alice", ask, "", "");
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  ASSERT_EQ(answer->get.size(), 1u);
  ASSERT_EQ(answer->get_left.size(), 1u);
  const size_t got = answer->get[0].records.size();
  const size_t left = answer->get_left[0].ids.size();
  EXPECT_EQ(got + left, 10u);
  EXPECT_GE(got, 1u);
  EXPECT_LT(got, 10u);
  size_t bytes = 0;
  for (const auto& r : answer->get[0].records) bytes += r.payload.size();
  EXPECT_LT(bytes, (64u << 10) + 10100u);  // the limit plus one record

  std::string json;
  EncodeSyncResponse(*answer, Schema(), json);
  EXPECT_NE(json.find("\"_get_left\":{\"todo\":[\""), std::string::npos)
      << json.substr(json.size() - 300);
  auto decoded = DecodeSyncResponse(json, Schema());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->get_left[0].ids, answer->get_left[0].ids);

  SyncRequest rest;
  rest.get.push_back(answer->get_left[0]);
  auto more = service_->Synchronise("alice", rest, "", "");
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  ASSERT_EQ(more->get.size(), 1u);
  EXPECT_EQ(more->get[0].records.size(), left);
  EXPECT_TRUE(more->get_left.empty());
}

}  // namespace
}  // namespace syncstack
