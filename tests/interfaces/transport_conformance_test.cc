// The Transport contract, for every implementation: a request arrives at
// the server's Handler exactly as sent, and the answer (any status) comes
// back exactly as given. HTTP and file exchange join this suite.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <thread>

#include "syncstack/codec.h"
#include "syncstack/file/file_transport.h"
#if SYNCSTACK_HAS_HTTP
#include "syncstack/http/http_transport.h"
#endif
#include "syncstack/loopback/loopback_transport.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/protocol.h"
#include "syncstack/service.h"

namespace syncstack {
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

// A transport to `handler`, plus whatever it needs to stay alive.
struct Harness {
  std::vector<std::shared_ptr<void>> keep;
  Transport* transport = nullptr;
};

struct TransportFactory {
  std::string name;
  std::function<Harness(Handler&)> make;
};

class TransportConformance : public ::testing::TestWithParam<TransportFactory> {
};

TEST_P(TransportConformance, RequestArrivesExactly) {
  EchoHandler echo;
  Harness h = GetParam().make(echo);
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
  Harness h = GetParam().make(echo);
  Request r{"POST", "/status/423", "", "", "", "", "{}"};
  auto answer = h.transport->Call(r);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->status, 423);
  EXPECT_EQ(answer->retry_after, 7);
}

TEST_P(TransportConformance, LargeBodiesCrossIntact) {
  EchoHandler echo;
  Harness h = GetParam().make(echo);
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
  Harness h = GetParam().make(echo);
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
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(db.ok());
  auto policy = NewLastWriteWinsPolicy();
  ManualClock clock(1'700'000'000'000);
  auto lock = NewMemorySyncLock(clock, std::chrono::seconds(30));
  auto auth = NewInProcessAuthenticator();
  SyncService service(**db, *policy, clock, *lock, *auth, Schema());
  Harness h = GetParam().make(service);

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

std::vector<TransportFactory> AllTransports() {
  std::vector<TransportFactory> all;
  all.push_back(TransportFactory{"loopback", [](Handler& handler) {
                                   std::shared_ptr<Transport> loopback =
                                       NewLoopbackTransport(handler);
                                   return Harness{{loopback}, loopback.get()};
                                 }});
  all.push_back(TransportFactory{
      "wrapper_over_loopback", [](Handler& handler) {
        std::shared_ptr<Transport> inner = NewLoopbackTransport(handler);
        auto outer = std::make_shared<TransportWrapper>(*inner);
        return Harness{{inner, outer}, outer.get()};
      }});
  all.push_back(TransportFactory{
      "file", [](Handler& handler) {
        // An exchange folder with a processor answering it from a thread.
        struct Exchange {
          std::string dir;
          std::unique_ptr<ExchangeProcessor> processor;
          std::atomic<bool> stop{false};
          std::thread thread;
          ~Exchange() {
            stop = true;
            thread.join();
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
          }
        };
        auto x = std::make_shared<Exchange>();
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "syncstack-xchg-XXXXXX")
                .string();
        if (mkdtemp(tmpl.data()) == nullptr) std::abort();
        x->dir = tmpl;
        x->processor = std::move(
            NewExchangeProcessor(handler, {x->dir, 64u << 20, {}}).value());
        x->thread = std::thread([raw = x.get()] {
          while (!raw->stop) {
            auto n = raw->processor->ProcessPending();
            if (!n.ok()) std::abort();
            if (*n == 0)
              std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
        });
        FileTransportOptions options;
        options.dir = x->dir;
        options.client = "conformance";
        options.poll = std::chrono::milliseconds(1);
        std::shared_ptr<Transport> client =
            std::move(NewFileTransport(options).value());
        return Harness{{x, client}, client.get()};
      }});
#if SYNCSTACK_HAS_HTTP
  all.push_back(TransportFactory{
      "http", [](Handler& handler) {
        HttpServerOptions server_options;  // 127.0.0.1:0
        std::shared_ptr<HttpServer> server =
            std::move(StartHttpServer(handler, server_options).value());
        HttpClientOptions client_options;
        client_options.url =
            "http://127.0.0.1:" + std::to_string(server->port());
        std::shared_ptr<Transport> client =
            std::move(NewHttpTransport(client_options).value());
        return Harness{{server, client}, client.get()};
      }});
#endif
  return all;
}

INSTANTIATE_TEST_SUITE_P(Transports, TransportConformance,
                         ::testing::ValuesIn(AllTransports()),
                         [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace syncstack
