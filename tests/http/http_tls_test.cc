// The HTTP transport over TLS on 127.0.0.1, with a self-signed certificate
// made by the `openssl` command at run time (nothing committed): calls
// through the library's client, stalled handshakes that starve nobody and
// end at the head deadline, plain HTTP on the TLS port, and the errors of
// bad files. The bounds are generous (seconds): they tell "answered" from
// "starved", not fast from slow; throughput is in bench/http.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/raw_http.h"
#include "syncstack/conformance/transport_conformance.h"
#include "syncstack/http/http_transport.h"

namespace syncstack {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

class EchoHandler final : public Handler {
 public:
  Response Handle(const Request& r) noexcept override {
    calls_++;
    return {200, r.body.empty() ? std::string("{}") : r.body, -1};
  }
  int calls() const { return calls_.load(); }

 private:
  std::atomic<int> calls_{0};
};

// A temporary folder with cert.pem / key.pem for 127.0.0.1 (self-signed,
// so it is its own CA) and other_key.pem, a key that matches nothing; made
// once for the whole program.
class Certificates final : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "syncstack-tls-XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    std::string d = dir_.string();
    std::string make =
        "cd " + d +
        " && openssl req -x509 -newkey ec -pkeyopt "
        "ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem "
        "-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
        ">/dev/null 2>&1 && openssl genpkey -algorithm EC -pkeyopt "
        "ec_paramgen_curve:P-256 -out other_key.pem >/dev/null 2>&1";
    ASSERT_EQ(std::system(make.c_str()), 0) << "openssl failed in " << d;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string File(const char* name) { return (dir_ / name).string(); }

 private:
  static std::filesystem::path dir_;
};

std::filesystem::path Certificates::dir_;
::testing::Environment* const kCertificates =
    ::testing::AddGlobalTestEnvironment(new Certificates);

class HttpTls : public ::testing::Test {
 protected:
  static std::string File(const char* name) { return Certificates::File(name); }

  HttpServerOptions TlsOptions() {
    HttpServerOptions options;
    options.tls_cert_file = File("cert.pem");
    options.tls_key_file = File("key.pem");
    return options;
  }

  std::unique_ptr<HttpServer> Start(HttpServerOptions options) {
    auto server = StartHttpServer(handler_, options);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(server).value() : nullptr;
  }

  std::unique_ptr<Transport> Client(uint16_t port) {
    HttpClientOptions options;
    options.url = "https://127.0.0.1:" + std::to_string(port);
    options.ca_file = File("cert.pem");
    options.max_retries = 0;
    auto client = NewHttpTransport(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  EchoHandler handler_;
};

TEST_F(HttpTls, CallsGoThroughAndConnectionsAreReused) {
  auto server = Start(TlsOptions());
  auto client = Client(server->port());
  std::string big(3u << 20, 'x');  // many TLS records, partial writes
  big = "\"" + big + "\"";
  for (int i = 0; i < 5; ++i) {
    auto answer = client->Call({"POST", "/echo", "", "", "", "", big});
    ASSERT_TRUE(answer.ok()) << i << ": " << answer.status().ToString();
    EXPECT_EQ(answer->status, 200);
    EXPECT_EQ(answer->body, big);
  }
  auto small = client->Call({"GET", "/x", "", "", "", "", ""});
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(small->body, "{}");
  EXPECT_EQ(handler_.calls(), 6);
}

// Answers 8 MiB after a pause, so that an impatient client is gone when
// the server writes.
class SlowBigHandler final : public Handler {
 public:
  Response Handle(const Request&) noexcept override {
    std::this_thread::sleep_for(300ms);
    return {200, "\"" + std::string(8u << 20, 'y') + "\"", -1};
  }
};

// OpenSSL writes with write(2): a client gone mid-answer must not raise a
// SIGPIPE that ends the process (this test's process is the server's).
TEST_F(HttpTls, AClientGoneMidAnswerDoesNotKillTheServer) {
  SlowBigHandler slow;
  auto server = StartHttpServer(slow, TlsOptions());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  for (int i = 0; i < 3; ++i) {
    HttpClientOptions options;
    options.url = "https://127.0.0.1:" + std::to_string((*server)->port());
    options.ca_file = File("cert.pem");
    options.max_retries = 0;
    options.read_timeout = 100ms;  // gives up before the answer comes
    auto client = NewHttpTransport(options);
    ASSERT_TRUE(client.ok());
    EXPECT_FALSE((*client)->Call({"GET", "/x", "", "", "", "", ""}).ok());
  }
  std::this_thread::sleep_for(500ms);  // the server writes into the void
  auto client = Client((*server)->port());
  auto answer = client->Call({"GET", "/x", "", "", "", "", ""});
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->body.size(), (8u << 20) + 2);
}

TEST_F(HttpTls, StalledHandshakesStarveNobody) {
  auto server = Start(TlsOptions());  // default deadlines: 10 s for a head
  std::vector<std::unique_ptr<RawSocket>> stalled;
  for (int i = 0; i < 256; ++i) {
    stalled.push_back(std::make_unique<RawSocket>(server->port()));
    ASSERT_TRUE(stalled.back()->connected()) << i;
    // Half of them send the start of a ClientHello record and stop.
    if (i % 2 == 0) {
      ASSERT_TRUE(stalled.back()->Send("\x16\x03\x01\x02"));
    }
  }
  auto client = Client(server->port());
  for (int i = 0; i < 20; ++i) {
    auto start = SteadyClock::now();
    auto answer = client->Call({"POST", "/echo", "", "", "", "", "{}"});
    ASSERT_TRUE(answer.ok()) << i << ": " << answer.status().ToString();
    EXPECT_EQ(answer->status, 200);
    EXPECT_LT(SteadyClock::now() - start, 5s) << i;
  }
  // A fresh client (a new connection and handshake) too.
  auto fresh = Client(server->port());
  auto answer = fresh->Call({"GET", "/x", "", "", "", "", ""});
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  int open = 0;
  for (auto& s : stalled) open += s->Readable(0) ? 0 : 1;
  EXPECT_EQ(open, 256);  // their head deadline has not come
}

TEST_F(HttpTls, AStalledHandshakeEndsAtTheHeadDeadline) {
  HttpServerOptions options = TlsOptions();
  options.head_timeout = 300ms;
  options.read_timeout = 10s;
  auto server = Start(options);
  RawSocket silent(server->port());
  RawSocket half(server->port());
  ASSERT_TRUE(half.Send("\x16\x03\x01\x02"));
  auto start = SteadyClock::now();
  EXPECT_TRUE(silent.WaitClosed(5s));
  EXPECT_TRUE(half.WaitClosed(5s));
  EXPECT_LT(SteadyClock::now() - start, 3s);
}

TEST_F(HttpTls, PlainHttpOnTheTlsPortIsToldAndClosed) {
  auto server = Start(TlsOptions());
  RawSocket plain(server->port());
  ASSERT_TRUE(plain.Send("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  auto start = SteadyClock::now();
  RawResponse answer = ParseResponse(plain.ReadAll(5s));
  EXPECT_LT(SteadyClock::now() - start, 3s);  // closed, not timed out
  EXPECT_EQ(answer.status, 400);
  EXPECT_NE(answer.body.find("https://"), std::string::npos) << answer.body;
  // Garbage that is not HTTP either: closed without an answer.
  RawSocket junk(server->port());
  ASSERT_TRUE(junk.Send(std::string(64, '\x01')));
  EXPECT_TRUE(junk.WaitClosed(3s));
  EXPECT_EQ(handler_.calls(), 0);
}

TEST_F(HttpTls, BadFilesAreRefusedBeforeListening) {
  struct Case {
    std::string cert, key, says;
  };
  std::vector<Case> cases = {
      {File("missing.pem"), File("key.pem"), "No such file"},
      {File("key.pem"), File("key.pem"), "not a PEM certificate chain"},
      {File("cert.pem"), File("cert.pem"), "not an unencrypted PEM"},
      {File("cert.pem"), File("other_key.pem"), "does not match"},
      {File("cert.pem"), "", "both"},
  };
  for (const auto& c : cases) {
    HttpServerOptions options;
    options.tls_cert_file = c.cert;
    options.tls_key_file = c.key;
    auto server = StartHttpServer(handler_, options);
    ASSERT_FALSE(server.ok()) << c.cert << " " << c.key;
    EXPECT_EQ(server.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(server.status().message().find(c.says), std::string::npos)
        << server.status().ToString();
  }
}

TEST_F(HttpTls, TheClientChecksItsOptions) {
  HttpClientOptions options;
  options.url = "http://127.0.0.1:1";
  options.ca_file = File("cert.pem");
  EXPECT_EQ(NewHttpTransport(options).status().code(),
            Status::Code::kInvalidArgument);  // a CA file without https
  options.url = "https://127.0.0.1:1";
  options.ca_file = File("missing.pem");
  auto missing = NewHttpTransport(options);
  EXPECT_EQ(missing.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("missing.pem"), std::string::npos);
  options.ca_file = File("other_key.pem");  // no certificate in it
  EXPECT_EQ(NewHttpTransport(options).status().code(),
            Status::Code::kInvalidArgument);
}

TEST_F(HttpTls, AnUntrustedServerIsRefusedWithTheReasonAndNotRetried) {
  auto server = Start(TlsOptions());
  HttpClientOptions options;
  options.url = "https://127.0.0.1:" + std::to_string(server->port());
  options.max_retries = 3;
  options.retry_backoff = 2s;  // a retry would show in the time taken
  auto client = NewHttpTransport(options);  // the system's trust store
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto start = SteadyClock::now();
  auto answer = (*client)->Call({"GET", "/x", "", "", "", "", ""});
  EXPECT_LT(SteadyClock::now() - start, 2s);
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), Status::Code::kIOError);
  EXPECT_NE(answer.status().message().find(
                "certificate verify failed: self-signed certificate"),
            std::string::npos)
      << answer.status().ToString();
  EXPECT_EQ(handler_.calls(), 0);
}

// https:// to a plain-HTTP server: the server closes at the ClientHello,
// the client says so at once and does not retry.
TEST_F(HttpTls, HttpsToAPlainServerFailsAtOnce) {
  auto server = Start(HttpServerOptions{});
  HttpClientOptions options;
  options.url = "https://127.0.0.1:" + std::to_string(server->port());
  options.ca_file = File("cert.pem");
  options.max_retries = 3;
  options.retry_backoff = 2s;
  auto client = NewHttpTransport(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto start = SteadyClock::now();
  auto answer = (*client)->Call({"GET", "/x", "", "", "", "", ""});
  EXPECT_LT(SteadyClock::now() - start, 2s);
  ASSERT_FALSE(answer.ok());
  EXPECT_NE(answer.status().message().find("TLS handshake failed"),
            std::string::npos)
      << answer.status().ToString();
  EXPECT_EQ(handler_.calls(), 0);
}

// The Transport conformance kit over HTTPS on 127.0.0.1.
conformance::TransportFactory HttpsTransportFactory() {
  return conformance::TransportFactory{
      "https", [](Handler& handler) {
        HttpServerOptions server_options;  // 127.0.0.1:0
        server_options.tls_cert_file = Certificates::File("cert.pem");
        server_options.tls_key_file = Certificates::File("key.pem");
        std::shared_ptr<HttpServer> server =
            std::move(StartHttpServer(handler, server_options).value());
        HttpClientOptions client_options;
        client_options.url =
            "https://127.0.0.1:" + std::to_string(server->port());
        client_options.ca_file = Certificates::File("cert.pem");
        std::shared_ptr<Transport> client =
            std::move(NewHttpTransport(client_options).value());
        return conformance::TransportHarness{{server, client}, client.get()};
      }};
}

using conformance::TransportConformance;

INSTANTIATE_TEST_SUITE_P(Transports, TransportConformance,
                         ::testing::Values(HttpsTransportFactory()),
                         conformance::TransportFactoryName);

}  // namespace
}  // namespace syncstack
