// The HTTP server under stalled, idle and many connections, and against
// ambiguous request framing, on 127.0.0.1. The bounds here are generous
// (seconds): they tell "answered" from "starved", not fast from slow; the
// throughput figures are in bench/http/http_load.cc.
#include <gtest/gtest.h>
#include <strings.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/raw_http.h"
#include "syncstack/codec.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/protocol.h"

namespace syncstack {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Answers {} and counts its calls; "/echo" echoes the body.
class CountingHandler final : public Handler {
 public:
  Response Handle(const Request& r) noexcept override {
    calls_++;
    if (r.path == "/echo") return {200, r.body, -1};
    return {200, "{}", -1};
  }
  int calls() const { return calls_.load(); }

 private:
  std::atomic<int> calls_{0};
};

std::unique_ptr<HttpServer> Start(Handler& handler,
                                  HttpServerOptions options = {}) {
  auto server = StartHttpServer(handler, options);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

std::unique_ptr<Transport> Client(uint16_t port) {
  HttpClientOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(port);
  options.max_retries = 0;  // a refused or reset connection must show
  auto client = NewHttpTransport(options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

// Raises the soft descriptor limit to `wanted` if the hard one allows.
bool EnsureDescriptors(rlim_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur >= wanted) return true;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < wanted) return false;
  limit.rlim_cur = wanted;
  return setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

const std::string kGet =
    "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";  // keep-alive

TEST(HttpServerLimits, StalledHalfRequestLinesStarveNobody) {
  CountingHandler handler;
  auto server = Start(handler);  // default deadlines: 10 s for a head
  std::vector<std::unique_ptr<RawSocket>> stalled;
  for (int i = 0; i < 256; ++i) {
    stalled.push_back(std::make_unique<RawSocket>(server->port()));
    ASSERT_TRUE(stalled.back()->connected()) << i;
    ASSERT_TRUE(stalled.back()->Send("GET /v1/fetch.js"));
  }
  auto client = Client(server->port());
  for (int i = 0; i < 20; ++i) {
    auto start = SteadyClock::now();
    auto answer = client->Call({"POST", "/echo", "", "", "", "", "{}"});
    ASSERT_TRUE(answer.ok()) << i << ": " << answer.status().ToString();
    EXPECT_EQ(answer->status, 200);
    EXPECT_EQ(answer->body, "{}");
    EXPECT_LT(SteadyClock::now() - start, 5s) << i;
  }
  // A fresh raw connection too, beside the stalled ones.
  RawSocket fresh(server->port());
  ASSERT_TRUE(fresh.Send(kGet));
  EXPECT_EQ(ParseResponse(fresh.ReadOne()).status, 200);
  // The stalled ones are still open (their head deadline has not come).
  int open = 0;
  for (auto& s : stalled) open += s->Readable(0) ? 0 : 1;
  EXPECT_EQ(open, 256);
  EXPECT_EQ(handler.calls(), 21);
}

TEST(HttpServerLimits, TwoThousandIdleKeepAliveConnectionsAreHeld) {
  constexpr int kIdle = 2000;
  if (!EnsureDescriptors(2 * kIdle + 256)) {
    GTEST_SKIP() << "RLIMIT_NOFILE's hard limit is below " << 2 * kIdle + 256;
  }
  CountingHandler handler;
  HttpServerOptions options;
  options.max_threads = 2;  // far fewer workers than connections
  options.keep_alive_timeout = 120s;
  options.head_timeout = 120s;
  auto server = Start(handler, options);
  std::vector<std::unique_ptr<RawSocket>> idle;
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(std::make_unique<RawSocket>(server->port()));
    ASSERT_TRUE(idle.back()->connected()) << i;
    ASSERT_TRUE(idle.back()->Send(kGet)) << i;
    ASSERT_EQ(ParseResponse(idle.back()->ReadOne()).status, 200) << i;
  }
  // All 2,000 are idle keep-alive connections now; others are served.
  auto client = Client(server->port());
  for (int i = 0; i < 50; ++i) {
    auto answer = client->Call({"POST", "/echo", "", "", "", "", "{}"});
    ASSERT_TRUE(answer.ok()) << i << ": " << answer.status().ToString();
    EXPECT_EQ(answer->status, 200);
  }
  // None was closed or reset, and each still answers on the same socket.
  for (int i = 0; i < kIdle; ++i) {
    ASSERT_FALSE(idle[static_cast<size_t>(i)]->Readable(0)) << i;
  }
  for (int i = 0; i < kIdle; ++i) {
    RawSocket& s = *idle[static_cast<size_t>(i)];
    ASSERT_TRUE(s.Send(kGet)) << i;
    ASSERT_EQ(ParseResponse(s.ReadOne()).status, 200) << i;
  }
  EXPECT_EQ(handler.calls(), 2 * kIdle + 50);
}

TEST(HttpServerLimits, StalledHeadIsClosedAtTheHeadDeadline) {
  CountingHandler handler;
  HttpServerOptions options;
  options.head_timeout = 300ms;
  options.read_timeout = 10s;  // every byte comes well inside it
  auto server = Start(handler, options);
  RawSocket silent(server->port());
  RawSocket trickle(server->port());
  trickle.Send("GET /x HTTP/1.1\r\n");
  auto start = SteadyClock::now();
  bool closed = false;
  while (SteadyClock::now() - start < 5s) {
    if (!trickle.Send("X-A: b\r\n") || trickle.Readable()) {
      closed = trickle.WaitClosed(1s);
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(closed);
  EXPECT_TRUE(silent.WaitClosed(3s));
  EXPECT_EQ(handler.calls(), 0);
}

TEST(HttpServerLimits, IdleKeepAliveConnectionIsClosedAfterItsTimeout) {
  CountingHandler handler;
  HttpServerOptions options;
  options.keep_alive_timeout = 200ms;
  auto server = Start(handler, options);
  RawSocket s(server->port());
  ASSERT_TRUE(s.Send(kGet));
  ASSERT_EQ(ParseResponse(s.ReadOne()).status, 200);
  EXPECT_TRUE(s.WaitClosed(3s));
}

TEST(HttpServerLimits, AmbiguousFramingIs400) {
  CountingHandler handler;
  auto server = Start(handler);
  const std::string post = "POST /echo HTTP/1.1\r\nHost: x\r\n";
  for (const std::string& head : std::vector<std::string>{
           "Transfer-Encoding: gzip\r\n",
           "Transfer-Encoding: identity\r\n",
           "Transfer-Encoding: gzip, chunked\r\n",
           "Transfer-Encoding: chunked, chunked\r\n",
           "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
           "Transfer-Encoding: xchunked\r\n",
           "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n",
           "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
           "Content-Length: 6\r\nContent-Length: 7\r\n",
           "Content-Length: 6, 7\r\n",
           "Content-Length: 6 7\r\n",
           "Content-Length: +6\r\n",
           "Content-Length:\r\n",
       }) {
    RawResponse r =
        RawExchange(server->port(), post + head + "\r\n1\r\nx\r\n0\r\n\r\n");
    EXPECT_EQ(r.status, 400) << head;
    EXPECT_EQ(r.headers["content-type"], "application/json") << head;
    EXPECT_EQ(DecodeError(r.status, r.body).code(),
              Status::Code::kInvalidArgument)
        << head << r.body;
  }
  EXPECT_EQ(handler.calls(), 0);
  // Repeating one length is not a conflict; "chunked" is case-insensitive.
  RawResponse same = RawExchange(
      server->port(), post +
                          "Content-Length: 2\r\nContent-Length: 2\r\n"
                          "Connection: close\r\n\r\n{}");
  EXPECT_EQ(same.status, 200);
  EXPECT_EQ(same.body, "{}");
  RawResponse chunked = RawExchange(
      server->port(), post +
                          "Transfer-Encoding: Chunked\r\nConnection: close\r\n"
                          "\r\n2\r\n{}\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.status, 200);
  EXPECT_EQ(chunked.body, "{}");
}

TEST(HttpServerLimits, OversizedHeadIs400) {
  CountingHandler handler;
  HttpServerOptions options;
  options.max_head = 4096;
  auto server = Start(handler, options);
  std::string head = "GET /x HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i)
    head += "X-F" + std::to_string(i) + ": " + std::string(100, 'v') + "\r\n";
  RawSocket s(server->port());
  s.Send(head);  // no end of head yet: refused once it passes 4 KiB
  RawResponse r = ParseResponse(s.ReadAll(3000ms));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(handler.calls(), 0);
}

TEST(HttpServerLimits, PipelinedRequestsAreAnsweredInOrder) {
  CountingHandler handler;
  auto server = Start(handler);
  RawSocket s(server->port());
  ASSERT_TRUE(
      s.Send("POST /echo HTTP/1.1\r\nContent-Length: 1\r\n\r\na"
             "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
             "1\r\nb\r\n0\r\n\r\n"
             "POST /echo HTTP/1.1\r\nContent-Length: 1\r\n\r\nc"));
  EXPECT_EQ(ParseResponse(s.ReadOne()).body, "a");
  EXPECT_EQ(ParseResponse(s.ReadOne()).body, "b");
  EXPECT_EQ(ParseResponse(s.ReadOne()).body, "c");
}

TEST(HttpServerLimits, RequestsSplitAnywhereArriveIntact) {
  CountingHandler handler;
  auto server = Start(handler);
  const std::string two =
      "\r\nPOST /echo?a=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
      "\r\n\r\n3;ext=1\r\n{\"a\r\n4\r\n\":1}\r\n0\r\nX-T: 1\r\n\r\n"
      "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
  const unsigned seed = 20261202;
  std::printf("seed %u\n", seed);
  std::srand(seed);
  for (int round = 0; round < 5; ++round) {
    RawSocket s(server->port());
    for (size_t at = 0; at < two.size();) {
      size_t piece = 1 + static_cast<size_t>(std::rand() % 7);
      ASSERT_TRUE(s.Send(std::string_view(two).substr(at, piece)));
      at += piece;
      std::this_thread::sleep_for(1ms);
    }
    RawResponse first = ParseResponse(s.ReadOne());
    EXPECT_EQ(first.status, 200) << round;
    EXPECT_EQ(first.body, "{\"a\":1}") << round;
    RawResponse second = ParseResponse(s.ReadOne());
    EXPECT_EQ(second.body, "hello") << round;
  }
}

TEST(HttpServerLimits, Http10ClosesUnlessAskedToKeepAlive) {
  CountingHandler handler;
  auto server = Start(handler);
  RawSocket plain(server->port());
  ASSERT_TRUE(plain.Send("GET /x HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(ParseResponse(plain.ReadOne()).status, 200);
  EXPECT_TRUE(plain.WaitClosed(3s));
  RawSocket kept(server->port());
  const std::string get = "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  ASSERT_TRUE(kept.Send(get));
  RawResponse first = ParseResponse(kept.ReadOne());
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(strcasecmp(first.headers["connection"].c_str(), "keep-alive"), 0)
      << first.headers["connection"];
  ASSERT_TRUE(kept.Send(get));
  EXPECT_EQ(ParseResponse(kept.ReadOne()).status, 200);
}

TEST(HttpServerLimits, ConnectionsBeyondTheLimitAreRefusedCleanly) {
  CountingHandler handler;
  HttpServerOptions options;
  options.max_connections = 8;
  auto server = Start(handler, options);
  // Eight connections in the middle of a head: none is idle.
  std::vector<std::unique_ptr<RawSocket>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<RawSocket>(server->port()));
    ASSERT_TRUE(held.back()->Send("GET /x HTTP/1.1\r\nHo"));
  }
  RawSocket over(server->port());  // the kernel accepts; the server refuses
  RawResponse refused = ParseResponse(over.ReadAll(3000ms));
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.headers["retry-after"], "1");
  EXPECT_EQ(DecodeError(503, refused.body).code(), Status::Code::kUnavailable);
  // A freed slot is usable again.
  held.pop_back();
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    RawSocket again(server->port());
    again.Send(kGet);
    served = ParseResponse(again.ReadOne(1000ms)).status == 200;
    if (!served) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(served);
  EXPECT_EQ(handler.calls(), 1);
}

TEST(HttpServerLimits, AtTheLimitTheLongestIdleConnectionGivesWay) {
  CountingHandler handler;
  HttpServerOptions options;
  options.max_connections = 8;
  auto server = Start(handler, options);
  std::vector<std::unique_ptr<RawSocket>> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(std::make_unique<RawSocket>(server->port()));
    ASSERT_TRUE(idle.back()->Send(kGet));
    ASSERT_EQ(ParseResponse(idle.back()->ReadOne()).status, 200) << i;
    std::this_thread::sleep_for(5ms);  // distinct idle times
  }
  RawSocket fresh(server->port());
  ASSERT_TRUE(fresh.Send(kGet));
  EXPECT_EQ(ParseResponse(fresh.ReadOne()).status, 200);
  EXPECT_TRUE(idle.front()->WaitClosed(3s));  // idle longest
  for (size_t i = 1; i < idle.size(); ++i) {
    EXPECT_FALSE(idle[i]->Readable(0)) << i;
  }
}

}  // namespace
}  // namespace syncstack
