// The Transport conformance suite (see transport_conformance.h), written
// once over TransportFactory.
#include "syncstack/conformance/transport_conformance.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "syncstack/codec.h"
#include "syncstack/loopback/in_process_server.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/protocol.h"
#include "syncstack/service.h"

namespace syncstack::conformance {

std::string TransportFactoryName(
    const ::testing::TestParamInfo<TransportFactory>& info) {
  return info.param.name;
}

void PrintTo(const TransportFactory& factory, std::ostream* os) {
  *os << factory.name;
}

namespace {

// Answers with what it received, so the test sees what crossed the wire.
class EchoHandler final : public Handler {
 public:
  Response Handle(const Request& r) noexcept override {
    Response out;
    out.status = r.path == "/status/423" ? 423 : 200;
    if (out.status == 423) out.retry_after = 7;
    out.body = r.method + "\n" + r.path + "\n" + r.query + "\n" + r.token +
               "\n" + r.lease + "\n" + r.idempotency_key + "\n" + r.body;
    return out;
  }
};

TEST_P(TransportConformance, RequestArrivesExactly) {
  EchoHandler echo;
  TransportHarness h = GetParam().make(echo);
  Request r{"POST",
            "/v1/synchronise.json",
            "collections=a,b",
            "tok",
            "lease-1",
            "key-9",
            "{\"ü\":\"\\u00fc 💍\",\"n\":12345678901234567890}"};
  auto answer = h.transport->Call(r);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body,
            "POST\n/v1/synchronise.json\ncollections=a,b\ntok\n"
            "lease-1\nkey-9\n" +
                r.body);
}

TEST_P(TransportConformance, ErrorAnswersAreResponsesNotFailures) {
  EchoHandler echo;
  TransportHarness h = GetParam().make(echo);
  Request r{"POST", "/status/423", "", "", "", "", "{}"};
  auto answer = h.transport->Call(r);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->status, 423);
  EXPECT_EQ(answer->retry_after, 7);
}

TEST_P(TransportConformance, LargeBodiesCrossIntact) {
  EchoHandler echo;
  TransportHarness h = GetParam().make(echo);
  std::string big(8 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  Request r{"POST", "/x", "", "", "", "", big};
  auto answer = h.transport->Call(r);
  ASSERT_TRUE(answer.ok());
  ASSERT_GE(answer->body.size(), big.size());
  EXPECT_EQ(answer->body.substr(answer->body.size() - big.size()), big);
}

TEST_P(TransportConformance, ConcurrentCalls) {
  EchoHandler echo;
  TransportHarness h = GetParam().make(echo);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string body = std::to_string(t) + ":" + std::to_string(i);
        Request r{"GET", "/p", "", "", "", "", body};
        auto a = h.transport->Call(r);
        if (a.ok() && a->body.ends_with("\n" + body)) good++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(good.load(), 800);
}

TEST_P(TransportConformance, SpeaksTheProtocolWithTheRealService) {
  ManualClock clock(1'700'000'000'000);
  InProcessServerOptions options;
  options.database = std::move(OpenMemoryDatabase()).value();
  options.policy = NewLastWriteWinsPolicy();
  options.clock = &clock;
  InProcessServer server(std::move(options));
  TransportHarness h = GetParam().make(server.service());

  std::string body;
  EncodeLoginRequest({"alice", "pw"}, body);
  auto login = h.transport->Call(
      {"POST", std::string(kLoginPath), "", "", "", "", body});
  ASSERT_TRUE(login.ok());
  ASSERT_EQ(login->status, 200) << login->body;
  std::string token = DecodeLoginResponse(login->body)->token;
  auto fetch = h.transport->Call(
      {"GET", std::string(kFetchPath), "", token, "", "", ""});
  ASSERT_TRUE(fetch.ok());
  EXPECT_EQ(fetch->status, 200);
  EXPECT_EQ(fetch->body, "{}");
  auto unauthorized = h.transport->Call(
      {"GET", std::string(kFetchPath), "", "wrong", "", "", ""});
  ASSERT_TRUE(unauthorized.ok());
  EXPECT_EQ(unauthorized->status, 401);
  EXPECT_EQ(DecodeError(401, unauthorized->body).code(),
            Status::Code::kUnauthorized);
}

// Answers with the content type it was sent, and the one the query asks
// for ("as=<type>", "" when absent).
class ContentTypeHandler final : public Handler {
 public:
  Response Handle(const Request& r) noexcept override {
    Response out;
    out.body = "request:" + r.content_type;
    constexpr std::string_view kAs = "as=";
    if (r.query.starts_with(kAs)) out.content_type = r.query.substr(kAs.size());
    return out;
  }
};

// "" means application/json, on every transport.
std::string Normal(const std::string& content_type) {
  return content_type.empty() ? "application/json" : content_type;
}

TEST_P(TransportConformance, ContentTypesCrossBothWays) {
  ContentTypeHandler handler;
  TransportHarness h = GetParam().make(handler);
  const std::string kTypes[] = {"", "application/json",
                                "application/octet-stream"};
  for (const std::string& sent : kTypes) {
    for (const std::string& answered : kTypes) {
      SCOPED_TRACE("sent '" + sent + "', answered '" + answered + "'");
      Request r{"POST",
                "/v1/reconcile.bin",
                "as=" + answered,
                "",
                "",
                "",
                std::string("\0\x01\xff binary", 10),
                sent};
      auto answer = h.transport->Call(r);
      ASSERT_TRUE(answer.ok()) << answer.status().ToString();
      ASSERT_EQ(answer->status, 200);
      ASSERT_TRUE(answer->body.starts_with("request:")) << answer->body;
      EXPECT_EQ(Normal(answer->body.substr(8)), Normal(sent));
      EXPECT_EQ(Normal(answer->content_type), Normal(answered));
    }
  }
}

}  // namespace
}  // namespace syncstack::conformance
