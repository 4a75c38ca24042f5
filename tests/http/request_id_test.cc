// X-Request-Id on the HTTP server (issue 15, item 4): every answer carries
// one, the handler's and the server's own (a malformed request, too many
// connections); a sane id from the client is kept and reaches the handler,
// an insane one (too long, a space, a control character) is replaced. And
// open_connections() follows the connections.
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <thread>

#include "raw_http.h"
#include "syncstack/http/http_transport.h"

namespace syncstack {
namespace {

using namespace std::chrono_literals;

// Answers {} and remembers the request ids it saw.
class IdHandler final : public Handler {
 public:
  Response Handle(const Request& r) noexcept override {
    std::lock_guard<std::mutex> guard(mu_);
    seen_ = r.request_id;
    return {200, "{}", -1};
  }
  std::string seen() {
    std::lock_guard<std::mutex> guard(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::string seen_;
};

std::unique_ptr<HttpServer> Start(Handler& handler,
                                  HttpServerOptions options = {}) {
  auto server = StartHttpServer(handler, options);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

RawResponse Get(uint16_t port, const std::string& extra_header) {
  return RawExchange(port, "GET /x HTTP/1.1\r\nHost: h\r\n" + extra_header +
                               "Connection: close\r\n\r\n");
}

TEST(RequestId, ASaneIdIsKeptAndReachesTheHandler) {
  IdHandler handler;
  auto server = Start(handler);
  ASSERT_NE(server, nullptr);
  RawResponse r = Get(server->port(), "X-Request-Id: abc-123_XYZ.7\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-request-id"], "abc-123_XYZ.7");
  EXPECT_EQ(handler.seen(), "abc-123_XYZ.7");
}

TEST(RequestId, AnInsaneIdIsReplacedAndMadeIdsDiffer) {
  IdHandler handler;
  auto server = Start(handler);
  ASSERT_NE(server, nullptr);
  std::string previous;
  for (const std::string& bad :
       {std::string(129, 'a'), std::string("two words"),
        std::string("tab\there"), std::string("")}) {
    RawResponse r = Get(server->port(), "X-Request-Id: " + bad + "\r\n");
    EXPECT_EQ(r.status, 200);
    const std::string id = r.headers["x-request-id"];
    EXPECT_FALSE(id.empty());
    EXPECT_NE(id, bad);
    EXPECT_LE(id.size(), 128u);
    EXPECT_EQ(handler.seen(), id);
    EXPECT_NE(id, previous);
    previous = id;
  }
  RawResponse none = Get(server->port(), "");
  EXPECT_FALSE(none.headers["x-request-id"].empty());
}

TEST(RequestId, TheServersOwnErrorsCarryOne) {
  IdHandler handler;
  auto server = Start(handler);
  ASSERT_NE(server, nullptr);
  RawResponse malformed =
      RawExchange(server->port(), "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_FALSE(malformed.headers["x-request-id"].empty());

  HttpServerOptions one;
  one.max_connections = 1;
  auto small = Start(handler, one);
  ASSERT_NE(small, nullptr);
  RawSocket busy(small->port());  // holds the one connection, mid-request
  ASSERT_TRUE(busy.Send("GET /x HTTP/1.1\r\n"));
  std::this_thread::sleep_for(100ms);
  RawResponse refused = RawExchange(small->port(), "GET /x HTTP/1.1\r\n\r\n");
  EXPECT_EQ(refused.status, 503);
  EXPECT_FALSE(refused.headers["x-request-id"].empty());
}

TEST(OpenConnections, FollowsTheConnections) {
  IdHandler handler;
  auto server = Start(handler);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->open_connections(), 0u);
  {
    RawSocket a(server->port());
    RawSocket b(server->port());
    ASSERT_TRUE(a.connected() && b.connected());
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (server->open_connections() < 2 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(server->open_connections(), 2u);
  }
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (server->open_connections() > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(server->open_connections(), 0u);
}

}  // namespace
}  // namespace syncstack
