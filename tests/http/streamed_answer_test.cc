// Streamed answers over HTTP (issue 14, item 6): fetch.json goes out in
// chunks as the store is read. The chunked coding round-trips and a cut
// body is told from a whole one; 50k records arrive equal to the answer
// built whole; a failure midway cuts the connection without the last
// chunk; a slow reader holds one piece and no worker thread; the small
// endpoints refuse a large body before reading it.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "http/raw_http.h"
#include "http_chunked.h"
#include "syncstack/codec.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/registry.h"
#include "syncstack/protocol.h"
#include "syncstack/service.h"

namespace syncstack {
namespace {

using namespace std::chrono_literals;
using http_internal::AppendChunk;
using http_internal::ChunkedDecoder;
using http_internal::kLastChunk;
using SteadyClock = std::chrono::steady_clock;

// --- the chunked coding ---

std::string Chunked(const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& piece : pieces) AppendChunk(piece, out);
  out += kLastChunk;
  return out;
}

TEST(Chunked, WrittenChunksReadBackWholeFedAByteAtATime) {
  std::string big(70000, 'x');  // a size of several hex digits
  std::vector<std::string> pieces = {"{", "\"a\":[1,2]", big, "}"};
  std::string wire = Chunked(pieces);
  EXPECT_EQ(wire.substr(0, 5), "1\r\n{\r");
  EXPECT_NE(wire.find("11170\r\n"), std::string::npos);  // 70000 in hex
  ChunkedDecoder decoder;
  std::string body;
  for (char c : wire) {
    ASSERT_FALSE(decoder.done());
    ASSERT_EQ(decoder.Feed(std::string_view(&c, 1), body), 1u);
  }
  EXPECT_TRUE(decoder.done());
  EXPECT_TRUE(decoder.Finish().ok());
  EXPECT_EQ(body, "{\"a\":[1,2]" + big + "}");
}

TEST(Chunked, EveryCutBeforeTheLastChunkIsToldApart) {
  std::string wire = Chunked({"{\"todo\":[", "1,2,3", "]}"});
  for (size_t cut = 0; cut < wire.size(); ++cut) {
    ChunkedDecoder decoder;
    std::string body;
    decoder.Feed(std::string_view(wire).substr(0, cut), body);
    EXPECT_FALSE(decoder.Finish().ok()) << "cut at " << cut;
  }
}

TEST(Chunked, MalformedFramingIsAnError) {
  for (std::string wire : {"zz\r\nab\r\n0\r\n\r\n", "2\r\nabc\r\n0\r\n\r\n",
                           "-1\r\n", "1234567890abcdef0\r\n"}) {
    ChunkedDecoder decoder;
    std::string body;
    decoder.Feed(wire, body);
    EXPECT_EQ(decoder.Finish().code(), Status::Code::kInvalidArgument) << wire;
  }
  ChunkedDecoder extensions;  // chunk extensions are ignored
  std::string body;
  extensions.Feed("3;x=1\r\nabc\r\n0\r\nTrailer: t\r\n\r\n", body);
  EXPECT_TRUE(extensions.Finish().ok());
  EXPECT_EQ(body, "abc");
}

// --- handlers with made-up sources ---

// `pieces` pieces of `size` bytes of `fill`, then the end, or a failure
// in place of piece `fail_at` (when < pieces). Counts the bytes it made.
class MadeUpSource final : public BodySource {
 public:
  MadeUpSource(size_t pieces, size_t size, size_t fail_at,
               std::atomic<size_t>& made)
      : pieces_(pieces), size_(size), fail_at_(fail_at), made_(made) {}
  Result<bool> Next(size_t max, std::string& out) noexcept override {
    if (given_ == fail_at_) return Status::IOError("disk gone");
    if (given_ == pieces_) return false;
    size_t n = std::min(max, size_);
    out.append(n, static_cast<char>('a' + given_ % 26));
    made_ += n;
    ++given_;
    return true;
  }

 private:
  size_t pieces_, size_, fail_at_, given_ = 0;
  std::atomic<size_t>& made_;
};

// GET /stream: a streamed answer as configured; anything else: {}.
class StreamingHandler final : public Handler {
 public:
  StreamingHandler(size_t pieces, size_t size, size_t fail_at)
      : pieces_(pieces), size_(size), fail_at_(fail_at) {}
  Response Handle(const Request& r) noexcept override {
    Response response;
    if (r.path != "/stream") {
      response.body = "{}";
      return response;
    }
    response.source =
        std::make_shared<MadeUpSource>(pieces_, size_, fail_at_, made_);
    if (!r.accepts_source) (void)ReadWholeBody(response);
    return response;
  }
  size_t made() const { return made_.load(); }

 private:
  size_t pieces_, size_, fail_at_;
  std::atomic<size_t> made_{0};
};

std::unique_ptr<HttpServer> Start(Handler& handler, int threads = 16) {
  HttpServerOptions options;
  options.max_threads = threads;
  auto server = StartHttpServer(handler, options);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

std::unique_ptr<Transport> Client(uint16_t port) {
  HttpClientOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(port);
  options.max_retries = 0;
  auto client = NewHttpTransport(options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

Request Get(std::string path, std::string token = "") {
  Request r;
  r.method = "GET";
  r.path = std::move(path);
  r.token = std::move(token);
  return r;
}

TEST(StreamedAnswer, AFailureMidwayCutsTheConnectionWithoutTheLastChunk) {
  StreamingHandler handler(10, 1000, /*fail_at=*/3);
  auto server = Start(handler);
  ASSERT_NE(server, nullptr);
  RawSocket raw(server->port());
  ASSERT_TRUE(raw.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string wire = raw.ReadAll(5s);  // ends when the server closes
  RawResponse r = ParseResponse(wire);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(r.headers.count("content-length"), 0u);
  ChunkedDecoder decoder;
  std::string body;
  decoder.Feed(r.body, body);
  EXPECT_EQ(body.size(), 3000u);  // the three pieces made before it failed
  EXPECT_FALSE(decoder.Finish().ok()) << "the cut body looked complete";

  auto client = Client(server->port());
  auto answer = client->Call(Get("/stream"));
  ASSERT_FALSE(answer.ok()) << "a cut answer came back as " << answer->status;
  EXPECT_EQ(answer.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(answer.status().message().find("cut short"), std::string::npos)
      << answer.status().ToString();
}

TEST(StreamedAnswer, AWholeOneReadsBackOverKeepAliveAndHttp10) {
  StreamingHandler handler(20, 100000, /*fail_at=*/size_t(-1));
  auto server = Start(handler);
  ASSERT_NE(server, nullptr);
  auto client = Client(server->port());
  for (int i = 0; i < 2; ++i) {  // the second reuses the connection
    auto answer = client->Call(Get("/stream"));
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    EXPECT_EQ(answer->body.size(), 2000000u);
    EXPECT_EQ(answer->body.substr(0, 3), "aaa");
  }
  auto small = client->Call(Get("/other"));
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->body, "{}");
  // HTTP/1.0 cannot read chunks: the same answer, whole, with a length.
  RawResponse old = RawExchange(server->port(), "GET /stream HTTP/1.0\r\n\r\n");
  EXPECT_EQ(old.status, 200);
  EXPECT_EQ(old.headers["content-length"], "2000000");
  EXPECT_EQ(old.body.size(), 2000000u);
}

// One worker thread, a reader taking 16 bytes every 100 ms of a 256 MiB
// answer: another client is still answered within a second, and the
// server made only what the sockets hold, not the answer.
TEST(StreamedAnswer, ASlowReaderHoldsNoWorkerAndLittleMemory) {
  StreamingHandler handler(2048, 128 << 10, /*fail_at=*/size_t(-1));
  auto server = Start(handler, /*threads=*/1);
  ASSERT_NE(server, nullptr);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int small = 16 << 10;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string get = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, get.data(), get.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(get.size()));
  auto client = Client(server->port());
  size_t read = 0;
  for (int i = 0; i < 12; ++i) {  // 1.2 s of slow reading
    char bytes[16];
    ssize_t n = ::recv(fd, bytes, sizeof bytes, 0);
    ASSERT_GT(n, 0);
    read += static_cast<size_t>(n);
    if (i == 5) {
      auto start = SteadyClock::now();
      auto answer = client->Call(Get("/other"));
      auto took = SteadyClock::now() - start;
      ASSERT_TRUE(answer.ok()) << answer.status().ToString();
      EXPECT_EQ(answer->body, "{}");
      EXPECT_LT(took, 1s) << "the only worker was held by the slow reader";
    }
    std::this_thread::sleep_for(100ms);
  }
  std::printf("slow reader took %zu bytes; the server made %zu of 256 MiB\n",
              read, handler.made());
  EXPECT_LT(handler.made(), size_t{16} << 20);
  ::close(fd);
}

// --- fetch.json from a SyncService ---

constexpr Timestamp kNow = 1796169600000;  // 2026-12-02 00:00:00 UTC

class StreamedFetch : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::move(OpenMemoryDatabase()).value();
    policy_ = std::move(NewPolicyByName("lww")).value();
    lock_ = NewMemorySyncLock(clock_, std::chrono::seconds(30));
    auth_ = NewInProcessAuthenticator();
    service_ = std::make_unique<SyncService>(*db_, *policy_, clock_, *lock_,
                                             *auth_, Schema());
    server_ = Start(*service_);
    ASSERT_NE(server_, nullptr);
    client_ = Client(server_->port());
    Request login;
    login.method = "POST";
    login.path = std::string(kLoginPath);
    login.body = R"({"user":"alice","password":""})";
    auto logged = client_->Call(login);
    ASSERT_TRUE(logged.ok());
    token_ = DecodeLoginResponse(logged->body)->token;
  }

  // Adds `n` records to `collection` in batches of 5000.
  void Fill(const std::string& collection, size_t n) {
    for (size_t start = 0; start < n; start += 5000) {
      SyncRequest request;
      CollectionRecords records{collection, {}};
      for (size_t i = start; i < std::min(n, start + 5000); ++i) {
        char id[48];
        std::snprintf(id, sizeof id, "20000000-0000-4000-8000-%012zx", i);
        records.records.push_back(WireRecord{
            *RecordId::Parse(id), kNow - static_cast<Timestamp>(i), "{}"});
      }
      request.add.push_back(std::move(records));
      ASSERT_TRUE(service_->Synchronise("alice", request, "", "").ok());
    }
  }

  ManualClock clock_{kNow};
  std::unique_ptr<Database> db_;
  std::unique_ptr<ConflictPolicy> policy_;
  std::unique_ptr<SyncLock> lock_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<SyncService> service_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<Transport> client_;
  std::string token_;
};

TEST_F(StreamedFetch, FiftyThousandRecordsArriveEqualToTheWholeBuild) {
  Fill("todo", 50000);
  Fill("budget", 3);
  auto manifest = service_->Fetch("alice", {});
  ASSERT_TRUE(manifest.ok());
  std::string whole;
  EncodeManifest(*manifest, whole);
  ASSERT_GT(whole.size(), 2000000u);  // many chunks of 128 KiB

  auto streamed = client_->Call(Get(std::string(kFetchPath), token_));
  ASSERT_TRUE(streamed.ok()) << streamed.status().ToString();
  EXPECT_EQ(streamed->status, 200);
  EXPECT_TRUE(streamed->body == whole)
      << "sizes " << streamed->body.size() << " and " << whole.size();
  // In process (no source accepted) the service gives the same bytes.
  Response in_process = service_->Handle(Get(std::string(kFetchPath), token_));
  EXPECT_EQ(in_process.source, nullptr);
  EXPECT_TRUE(in_process.body == whole);
  // On the wire it is chunked.
  RawSocket raw(server_->port());
  ASSERT_TRUE(
      raw.Send("GET /v1/fetch.json HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer " +
               token_ + "\r\nConnection: close\r\n\r\n"));
  RawResponse r = ParseResponse(raw.ReadAll(10s));
  EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
  ChunkedDecoder decoder;
  std::string body;
  decoder.Feed(r.body, body);
  EXPECT_TRUE(decoder.Finish().ok());
  EXPECT_TRUE(body == whole);
}

TEST_F(StreamedFetch, ErrorsFoundBeforeTheFirstPieceAreOrdinaryAnswers) {
  auto unknown = client_->Call(Get(std::string(kFetchPath), "not-a-token"));
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 401);
  Request empty = Get(std::string(kFetchPath), token_);
  empty.query = "collections=";
  auto bad = client_->Call(empty);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);
}

// The small endpoints take at most 64 KiB: a 4 MiB lock body is refused
// from its head, before a byte of it is read; a normal lock still works.
TEST_F(StreamedFetch, ALargeLockBodyIsRefusedBeforeItIsRead) {
  RawSocket raw(server_->port());
  auto start = SteadyClock::now();
  ASSERT_TRUE(
      raw.Send("POST /v1/lock HTTP/1.1\r\nHost: x\r\nAuthorization: "
               "Bearer " +
               token_ +
               "\r\nContent-Type: application/json\r\n"
               "Content-Length: 4194304\r\n\r\n{\"device\":\""));
  RawResponse r = ParseResponse(raw.ReadOne(5s));
  EXPECT_LT(SteadyClock::now() - start, 2s);
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("65536 bytes for POST /v1/lock"), std::string::npos)
      << r.body;
  EXPECT_EQ(service_->MaxBody("POST", kSynchronisePath), size_t{64} << 20);

  Request lock;
  lock.method = "POST";
  lock.path = std::string(kLockPath);
  lock.token = token_;
  lock.body = R"({"device":"phone"})";
  auto locked = client_->Call(lock);
  ASSERT_TRUE(locked.ok());
  EXPECT_EQ(locked->status, 200) << locked->body;
  // In process the service refuses the same body too.
  lock.body = R"({"device":")" + std::string(4 << 20, 'x') + "\"}";
  EXPECT_EQ(service_->Handle(lock).status, 413);
}

}  // namespace
}  // namespace syncstack
