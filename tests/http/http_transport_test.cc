// The HTTP adapter on 127.0.0.1: header and query mapping, body limits
// enforced while reading, slow and broken clients, client errors and
// retries, and a full sync of two devices through the real service.
#include "syncstack/http/http_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/raw_http.h"
#include "syncstack/codec.h"
#include "syncstack/conformance/transport_conformance.h"
#include "syncstack/engine.h"
#include "syncstack/loopback/in_process_server.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/protocol.h"
#include "syncstack/replica.h"
#include "syncstack/service.h"

namespace syncstack {
namespace {

// A server over a memory database with last-write-wins, on `clock`.
InProcessServerOptions MemoryServerOptions(Clock& clock) {
  InProcessServerOptions options;
  options.database = std::move(OpenMemoryDatabase()).value();
  options.policy = NewLastWriteWinsPolicy();
  options.clock = &clock;
  return options;
}

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Remembers every request and answers with what the test set.
class RecordingHandler final : public Handler {
 public:
  Response Handle(const Request& r) noexcept override {
    std::lock_guard lock(mu_);
    requests_.push_back(r);
    if (r.path == "/echo") return {200, r.body, -1};
    return answer_;
  }
  void Answer(Response answer) {
    std::lock_guard lock(mu_);
    answer_ = std::move(answer);
  }
  std::vector<Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t calls() {
    std::lock_guard lock(mu_);
    return requests_.size();
  }

 private:
  std::mutex mu_;
  std::vector<Request> requests_;
  Response answer_{200, "{}", -1};
};

std::unique_ptr<HttpServer> Start(Handler& handler,
                                  HttpServerOptions options = {}) {
  auto server = StartHttpServer(handler, options);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

std::string UrlOf(uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

std::unique_ptr<Transport> Client(uint16_t port,
                                  HttpClientOptions options = {}) {
  options.url = UrlOf(port);
  auto client = NewHttpTransport(options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

// --- mapping ---

TEST(HttpServer, MapsHeadersQueryAndBodyToTheRequest) {
  RecordingHandler handler;
  auto server = Start(handler);
  RawResponse r =
      RawExchange(server->port(),
                  "POST /v1/fetch.json?collections=a%2Cb&x=c+d%20e HTTP/1.1\r\n"
                  "Host: 127.0.0.1\r\nAuthorization: Bearer  tok-1 \r\n"
                  "X-Sync-Lease: lease-2\r\nIdempotency-Key: key-3\r\n"
                  "Content-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}");
  EXPECT_EQ(r.status, 200);
  auto requests = handler.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/v1/fetch.json");
  EXPECT_EQ(requests[0].query, "collections=a,b&x=c d e");
  EXPECT_EQ(requests[0].token, "tok-1");
  EXPECT_EQ(requests[0].lease, "lease-2");
  EXPECT_EQ(requests[0].idempotency_key, "key-3");
  EXPECT_EQ(requests[0].body, "{\"a\":1}");
}

TEST(HttpServer, OtherAuthorizationSchemesGiveNoToken) {
  RecordingHandler handler;
  auto server = Start(handler);
  RawExchange(server->port(),
              "GET /v1/fetch.json HTTP/1.1\r\nHost: x\r\n"
              "Authorization: Basic YWxpY2U6cHc=\r\nConnection: close\r\n\r\n");
  auto requests = handler.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].token, "");
  EXPECT_EQ(requests[0].query, "");
  EXPECT_EQ(requests[0].body, "");
}

TEST(HttpServer, MapsTheResponse) {
  RecordingHandler handler;
  auto server = Start(handler);
  const std::string get =
      "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

  handler.Answer({423, R"({"error":"locked"})", 7});
  RawResponse locked = RawExchange(server->port(), get);
  EXPECT_EQ(locked.status, 423);
  EXPECT_EQ(locked.headers["retry-after"], "7");
  EXPECT_EQ(locked.headers["content-type"], "application/json");
  EXPECT_EQ(locked.body, R"({"error":"locked"})");

  handler.Answer({204, "", -1});
  RawResponse no_content = RawExchange(server->port(), get);
  EXPECT_EQ(no_content.status, 204);
  EXPECT_EQ(no_content.body, "");
  EXPECT_EQ(no_content.headers.count("content-type"), 0u);
  EXPECT_EQ(no_content.headers.count("retry-after"), 0u);

  handler.Answer({200, "{}", -1});
  RawResponse ok = RawExchange(server->port(), get);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.headers["content-type"], "application/json");
  EXPECT_EQ(ok.headers["content-length"], "2");

  // And through the client.
  auto client = Client(server->port());
  handler.Answer({204, "", -1});
  auto answer = client->Call({"DELETE", "/v1/lock", "", "t", "l", "", ""});
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->status, 204);
  EXPECT_EQ(answer->body, "");
  EXPECT_EQ(answer->retry_after, -1);
  handler.Answer({423, "{}", 3});
  answer = client->Call({"POST", "/v1/lock", "", "t", "", "", "{}"});
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->retry_after, 3);
}

TEST(HttpServer, ClientEncodesTheQueryAndTheServerDecodesIt) {
  RecordingHandler handler;
  auto server = Start(handler);
  auto client = Client(server->port());
  auto answer =
      client->Call({"GET", "/p", "collections=a b+c,ü&y=1", "", "", "", ""});
  ASSERT_TRUE(answer.ok());
  ASSERT_EQ(handler.calls(), 1u);
  EXPECT_EQ(handler.requests()[0].query, "collections=a b+c,ü&y=1");
}

TEST(HttpServer, UnknownPathReachesTheHandler) {
  ManualClock clock(1'700'000'000'000);
  InProcessServer sync_server(MemoryServerOptions(clock));
  auto server = Start(sync_server.service());
  auto client = Client(server->port());
  auto answer = client->Call({"GET", "/v2/nothing", "", "", "", "", ""});
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->status, 404);
  EXPECT_EQ(DecodeError(404, answer->body).code(), Status::Code::kNotFound);
}

// --- hostile and broken clients ---

TEST(HttpServer, MalformedHttpGetsAJson400) {
  RecordingHandler handler;
  auto server = Start(handler);
  const std::string long_name =
      "GET /x HTTP/1.1\r\n" + std::string(300, 'n') + ": v\r\n\r\n";
  for (const std::string& junk : std::vector<std::string>{
           "GARBAGE\r\n\r\n", long_name,
           "GET /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
           "2\r\n{}xx\r\n",
           "POST /x HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
           "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    RawResponse r = RawExchange(server->port(), junk);
    EXPECT_EQ(r.status, 400) << junk;
    EXPECT_EQ(r.headers["content-type"], "application/json") << junk;
    EXPECT_EQ(DecodeError(r.status, r.body).code(),
              Status::Code::kInvalidArgument)
        << r.body;
    EXPECT_EQ(r.body.find("<html"), std::string::npos);
  }
  EXPECT_EQ(handler.calls(), 0u);
}

TEST(HttpServer, ContentLengthOverTheLimitIs413WithoutReadingTheBody) {
  RecordingHandler handler;
  HttpServerOptions options;
  options.max_body = 1000;
  auto server = Start(handler, options);
  RawSocket s(server->port());
  // Announces 1 GB and sends nothing of it: the answer must not wait.
  s.Send(
      "POST /v1/synchronise.json HTTP/1.1\r\nHost: x\r\n"
      "Content-Length: 1000000000\r\n\r\n");
  RawResponse r = ParseResponse(s.ReadAll(3000ms));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(DecodeError(413, r.body).code(), Status::Code::kTooLarge);
  EXPECT_EQ(handler.calls(), 0u);

  // At the limit it passes.
  RawResponse fits =
      RawExchange(server->port(),
                  "POST /echo HTTP/1.1\r\nContent-Length: 1000\r\n"
                  "Connection: close\r\n\r\n" +
                      std::string(1000, 'x'));
  EXPECT_EQ(fits.status, 200);
  EXPECT_EQ(fits.body.size(), 1000u);
}

TEST(HttpServer, ChunkedBodyIsRefusedAsSoonAsItCrossesTheLimit) {
  RecordingHandler handler;
  HttpServerOptions options;
  options.max_body = 1 << 20;
  auto server = Start(handler, options);
  RawSocket s(server->port());
  ASSERT_TRUE(
      s.Send("POST /v1/synchronise.json HTTP/1.1\r\nHost: x\r\n"
             "Transfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk =
      "10000\r\n" + std::string(0x10000, 'a') + "\r\n";  // 64 KiB
  const size_t total = size_t{200} << 20;
  size_t sent = 0;
  while (sent < total && !s.Readable() && s.Send(chunk)) sent += 0x10000;
  RawResponse r = ParseResponse(s.ReadAll(3000ms));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(DecodeError(413, r.body).code(), Status::Code::kTooLarge);
  EXPECT_EQ(handler.calls(), 0u);
  // Refused soon after the limit, not after 200 MB.
  EXPECT_LT(sent, total / 4) << "sent " << sent << " bytes";
}

TEST(HttpServer, ChunkedBodyUnderTheLimitArrivesIntact) {
  RecordingHandler handler;
  auto server = Start(handler);
  RawResponse r = RawExchange(
      server->port(),
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
      "Connection: close\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"a\":1}");
}

TEST(HttpServer, StalledClientsAreDroppedAndBlockNobody) {
  RecordingHandler handler;
  HttpServerOptions options;
  options.read_timeout = 300ms;
  options.max_threads = 4;
  auto server = Start(handler, options);
  RawSocket half_head(server->port());
  half_head.Send("POST /echo HTTP/1.1\r\nContent-Le");
  RawSocket half_body(server->port());
  half_body.Send("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  RawSocket silent(server->port());

  // Others are served meanwhile.
  auto client = Client(server->port());
  for (int i = 0; i < 20; ++i) {
    auto answer = client->Call({"POST", "/echo", "", "", "", "", "{}"});
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    EXPECT_EQ(answer->status, 200);
  }
  // Dropped by the 300 ms read timeout (a wait of seconds allows for load).
  EXPECT_TRUE(half_head.WaitClosed(3s));
  EXPECT_TRUE(half_body.WaitClosed(3s));
  EXPECT_TRUE(silent.WaitClosed(3s));
  EXPECT_EQ(handler.calls(), 20u);
}

TEST(HttpServer, TricklingClientIsDroppedAtTheRequestDeadline) {
  RecordingHandler handler;
  HttpServerOptions options;
  options.read_timeout = 1000ms;
  options.request_timeout = 400ms;
  auto server = Start(handler, options);
  RawSocket s(server->port());
  s.Send("POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n");
  auto start = SteadyClock::now();
  bool closed = false;
  while (SteadyClock::now() - start < 3s) {
    if (!s.Send("x") || s.Readable()) {
      closed = s.WaitClosed(1s);
      break;
    }
    std::this_thread::sleep_for(50ms);  // always faster than read_timeout
  }
  // Every byte came well inside the read timeout, and the whole body would
  // take 5 s: only the request deadline closes it within the loop.
  EXPECT_TRUE(closed);
  EXPECT_EQ(handler.calls(), 0u);
}

TEST(HttpServer, SixteenConcurrentClients) {
  RecordingHandler handler;
  auto server = Start(handler);
  auto client = Client(server->port());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      auto own = Client(server->port());  // half share one client
      Transport& transport = t % 2 == 0 ? *client : *own;
      for (int i = 0; i < 50; ++i) {
        std::string body =
            "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}";
        auto answer = transport.Call({"POST", "/echo", "", "", "", "", body});
        if (answer.ok() && answer->status == 200 && answer->body == body) {
          good++;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(good.load(), 16 * 50);
}

TEST(HttpServer, StopClosesIdleKeepAliveConnectionsPromptly) {
  RecordingHandler handler;
  auto server = Start(handler);
  auto client = Client(server->port());
  ASSERT_TRUE(client->Call({"GET", "/x", "", "", "", "", ""}).ok());
  auto start = SteadyClock::now();
  server->Stop();
  // Not after the 10 s keep-alive timeout of the idle connection.
  EXPECT_LT(SteadyClock::now() - start, 8s);
  server->Stop();  // idempotent
}

TEST(HttpServer, PortInUseIsUnavailable) {
  RecordingHandler handler;
  auto first = Start(handler);
  HttpServerOptions options;
  options.port = first->port();
  auto second = StartHttpServer(handler, options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kUnavailable);
}

// --- client ---

TEST(HttpClient, BadUrlsAreInvalidArguments) {
  for (const char* url :
       {"", "127.0.0.1:80", "http://", "https://", "http://:80", "http://h:0",
        "http://h:99999", "http://h:x", "http://h:1/v1", "ftp://h"}) {
    HttpClientOptions options;
    options.url = url;
    auto client = NewHttpTransport(options);
    ASSERT_FALSE(client.ok()) << url;
    EXPECT_EQ(client.status().code(), Status::Code::kInvalidArgument) << url;
  }
  HttpClientOptions options;
  options.url = "ftp://example.com";
  EXPECT_NE(NewHttpTransport(options).status().message().find(
                "only http:// and https://"),
            std::string::npos);
  for (const char* url :
       {"http://127.0.0.1:8080", "http://127.0.0.1:8080/", "http://localhost",
        "http://[::1]:9", "https://example.com", "https://127.0.0.1:8443/"}) {
    options.url = url;
    EXPECT_TRUE(NewHttpTransport(options).ok()) << url;
  }
}

uint16_t FreePort() {
  RecordingHandler handler;
  auto server = Start(handler);
  return server->port();  // closed again when `server` goes
}

TEST(HttpClient, UnreachableServerIsUnavailableNamingHostAndPort) {
  uint16_t port = FreePort();
  HttpClientOptions options;
  options.max_retries = 1;
  options.retry_backoff = 10ms;
  auto client = Client(port, options);
  auto answer = client->Call({"GET", "/v1/fetch.json", "", "", "", "", ""});
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(answer.status().message().find("127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << answer.status().message();
}

// Accepts connections and closes them unanswered, counting them: the
// answer to every request sent to it is lost.
class BlackHole {
 public:
  BlackHole() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        char buffer[4096];
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 1000) > 0) (void)::recv(c, buffer, sizeof buffer, 0);
        accepted_++;
        ::close(c);
      }
    });
  }
  ~BlackHole() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  int fd_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST(HttpClient, RetriesOnlyWhatIsSafeToRepeat) {
  struct Case {
    Request request;
    int attempts;
  };
  const Case cases[] = {
      {{"GET", "/v1/fetch.json", "", "t", "", "", ""}, 3},
      {{"POST", "/v1/login", "", "", "", "", "{}"}, 3},
      {{"POST", "/v1/lock", "", "t", "", "", "{}"}, 3},
      {{"DELETE", "/v1/lock", "", "t", "l", "", ""}, 3},
      {{"POST", "/v1/synchronise.json", "", "t", "l", "k", "{}"}, 3},
      {{"POST", "/v1/synchronise.json", "", "t", "l", "", "{}"}, 1},
      {{"POST", "/v1/other", "", "t", "l", "", "{}"}, 1},
  };
  for (const Case& c : cases) {
    BlackHole hole;
    HttpClientOptions options;
    options.max_retries = 2;
    options.retry_backoff = 5ms;
    auto client = Client(hole.port(), options);
    auto answer = client->Call(c.request);
    ASSERT_FALSE(answer.ok());
    EXPECT_EQ(answer.status().code(), Status::Code::kUnavailable);
    EXPECT_EQ(hole.accepted(), c.attempts)
        << c.request.method << " " << c.request.path << " key "
        << c.request.idempotency_key;
  }
}

TEST(HttpClient, SurvivesAServerRestartBetweenCalls) {
  RecordingHandler handler;
  auto server = Start(handler);
  const uint16_t port = server->port();
  HttpClientOptions client_options;
  client_options.retry_backoff = 100ms;
  client_options.max_retries = 4;
  auto client = Client(port, client_options);
  ASSERT_TRUE(client->Call({"GET", "/x", "", "", "", "", ""}).ok());

  // Restarted at once: the kept-alive connection is stale, and replaced.
  server->Stop();
  HttpServerOptions same_port;
  same_port.port = port;
  server = Start(handler, same_port);
  auto answer =
      client->Call({"POST", "/v1/synchronise.json", "", "t", "l", "", "{}"});
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->status, 200);

  // Down for a moment: GET waits it out with backoff...
  server->Stop();
  std::thread restart([&] {
    std::this_thread::sleep_for(150ms);
    server = Start(handler, same_port);
  });
  answer = client->Call({"GET", "/x", "", "", "", "", ""});
  restart.join();
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->status, 200);

  // ...a synchronise without an idempotency key is not repeated.
  server->Stop();
  auto start = SteadyClock::now();
  answer =
      client->Call({"POST", "/v1/synchronise.json", "", "t", "l", "", "{}"});
  EXPECT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), Status::Code::kUnavailable);
  // Retrying would add at least 200 + 400 + 800 ms of backoff.
  EXPECT_LT(SteadyClock::now() - start, 1000ms);
}

TEST(HttpClient, OversizedBodyGetsThe413) {
  RecordingHandler handler;
  HttpServerOptions options;
  options.max_body = 64 << 10;
  auto server = Start(handler, options);
  auto client = Client(server->port());
  std::string big(4 << 20, 'x');
  auto answer = client->Call({"POST", "/echo", "", "", "", "", big});
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->status, 413);
  EXPECT_EQ(handler.calls(), 0u);
  // The client carries on over a new connection.
  answer = client->Call({"POST", "/echo", "", "", "", "", "{}"});
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->body, "{}");
}

// --- the real thing ---

struct Device {
  std::unique_ptr<Database> database;
  std::shared_ptr<Store> store;
  std::unique_ptr<Replica> replica;
  std::unique_ptr<SyncEngine> engine;
  SyncOptions options;
};

TEST(HttpSync, TwoDevicesConvergeOverHttp) {
  ManualClock clock(1'700'000'000'000);
  InProcessServer sync_server(MemoryServerOptions(clock));
  const ConflictPolicy& policy = sync_server.policy();
  auto server = Start(sync_server.service());
  auto transport = Client(server->port());

  Device devices[2];
  for (int i = 0; i < 2; ++i) {
    auto db = OpenMemoryDatabase();
    ASSERT_TRUE(db.ok());
    devices[i].database = std::move(db).value();
    auto store = devices[i].database->OpenAccount(kLocalAccount);
    ASSERT_TRUE(store.ok());
    devices[i].store = *store;
    devices[i].replica =
        std::make_unique<Replica>(*devices[i].store, policy, clock);
    devices[i].engine =
        std::make_unique<SyncEngine>(*devices[i].store, *transport, policy);
    devices[i].options.user = "alice";
    devices[i].options.device = "device-" + std::to_string(i);
  }
  const RecordId a = *RecordId::Parse("10000000-0000-4000-8000-000000000001");
  const RecordId b = *RecordId::Parse("20000000-0000-4000-8000-000000000002");
  const RecordId c = *RecordId::Parse("30000000-0000-4000-8000-000000000003");
  ASSERT_TRUE(devices[0].replica->Put("todo", a, R"({"t":"from 0"})").ok());
  ASSERT_TRUE(devices[0].replica->Put("todo", c, R"({"t":"doomed"})").ok());
  clock.Advance(10);
  ASSERT_TRUE(devices[1].replica->Put("todo", b, R"({"t":"from 1 ü"})").ok());

  for (int round = 0; round < 2; ++round) {
    for (auto& d : devices) {
      auto report = d.engine->Run(d.options);
      ASSERT_TRUE(report.ok()) << report.status().ToString();
    }
    clock.Advance(10);
  }
  ASSERT_TRUE(devices[1].replica->Remove("todo", c).ok());
  ASSERT_TRUE(devices[1].replica->Put("todo", a, R"({"t":"edited"})").ok());
  clock.Advance(10);
  for (int round = 0; round < 2; ++round) {
    for (auto& d : devices) {
      auto report = d.engine->Run(d.options);
      ASSERT_TRUE(report.ok()) << report.status().ToString();
    }
    clock.Advance(10);
  }
  for (auto& d : devices) {
    auto ra = d.store->GetOne("todo", a);
    auto rb = d.store->GetOne("todo", b);
    auto rc = d.store->GetOne("todo", c);
    ASSERT_TRUE(ra.ok() && rb.ok() && rc.ok());
    ASSERT_TRUE(ra->has_value());
    ASSERT_TRUE(rb->has_value());
    EXPECT_NE((*ra)->payload.find("edited"), std::string::npos);
    EXPECT_NE((*rb)->payload.find("from 1 ü"), std::string::npos);
    EXPECT_TRUE(!rc->has_value() || (*rc)->deleted);
  }
}

// The Transport conformance kit over an HTTP server on 127.0.0.1 and the HTTP
// client.
using conformance::TransportConformance;

conformance::TransportFactory HttpTransportFactory() {
  return conformance::TransportFactory{
      "http", [](Handler& handler) {
        HttpServerOptions server_options;  // 127.0.0.1:0
        std::shared_ptr<HttpServer> server =
            std::move(StartHttpServer(handler, server_options).value());
        HttpClientOptions client_options;
        client_options.url =
            "http://127.0.0.1:" + std::to_string(server->port());
        std::shared_ptr<Transport> client =
            std::move(NewHttpTransport(client_options).value());
        return conformance::TransportHarness{{server, client}, client.get()};
      }};
}

INSTANTIATE_TEST_SUITE_P(Transports, TransportConformance,
                         ::testing::Values(HttpTransportFactory()),
                         conformance::TransportFactoryName);

}  // namespace
}  // namespace syncstack
