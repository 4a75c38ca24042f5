// serve --trusted-proxy (issue 14, item 7): behind a reverse proxy every
// request comes from the proxy's address, so login throttling by address
// would count every client together. X-Forwarded-For names the client,
// but only a listed proxy is believed; from anyone else the header is
// ignored, and a malformed entry stops the walk at the hop that added it.
#include <gtest/gtest.h>

#include <mutex>
#include <string>

#include "raw_http.h"
#include "syncstack/http/http_transport.h"

namespace syncstack {
namespace {

// Answers with the client address the server gave the request.
class PeerHandler final : public Handler {
 public:
  Response Handle(const Request& r) noexcept override {
    return {200, "\"" + r.peer + "\"", -1};
  }
};

std::string PeerSeen(const std::vector<std::string>& trusted,
                     const std::string& header) {
  PeerHandler handler;
  HttpServerOptions options;
  options.trusted_proxies = trusted;
  auto server = StartHttpServer(handler, options);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  if (!server.ok()) return "";
  RawResponse r =
      RawExchange((*server)->port(), "GET /x HTTP/1.1\r\nHost: h\r\n" + header +
                                         "Connection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  return r.body;
}

TEST(TrustedProxy, WithoutTrustedProxiesTheHeaderIsIgnored) {
  EXPECT_EQ(PeerSeen({}, "X-Forwarded-For: 203.0.113.9\r\n"), "\"127.0.0.1\"");
}

TEST(TrustedProxy, ATrustedProxyNamesTheClient) {
  EXPECT_EQ(PeerSeen({"127.0.0.1"}, "X-Forwarded-For: 203.0.113.9\r\n"),
            "\"203.0.113.9\"");
  EXPECT_EQ(PeerSeen({"127.0.0.1"}, ""), "\"127.0.0.1\"");
}

TEST(TrustedProxy, AnAddressTheClientMadeUpIsNotBelieved) {
  // The client sent "X-Forwarded-For: 192.0.2.1" itself; the proxy added
  // the address it saw. Only the right-most untrusted hop counts.
  EXPECT_EQ(
      PeerSeen({"127.0.0.1"}, "X-Forwarded-For: 192.0.2.1, 198.51.100.2\r\n"),
      "\"198.51.100.2\"");
  // Two trusted proxies in a row.
  EXPECT_EQ(PeerSeen({"127.0.0.1", "10.0.0.5"},
                     "X-Forwarded-For: 198.51.100.2, 10.0.0.5\r\n"),
            "\"198.51.100.2\"");
  // Several header fields are one list, in order.
  EXPECT_EQ(PeerSeen({"127.0.0.1", "10.0.0.5"},
                     "X-Forwarded-For: 198.51.100.2\r\n"
                     "X-Forwarded-For: 10.0.0.5\r\n"),
            "\"198.51.100.2\"");
}

TEST(TrustedProxy, AMalformedEntryStopsAtTheHopThatAddedIt) {
  EXPECT_EQ(PeerSeen({"127.0.0.1"}, "X-Forwarded-For: not-an-address\r\n"),
            "\"127.0.0.1\"");
  EXPECT_EQ(PeerSeen({"127.0.0.1"}, "X-Forwarded-For: 2001:db8::7\r\n"),
            "\"2001:db8::7\"");
}

}  // namespace
}  // namespace syncstack
