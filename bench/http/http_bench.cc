// Requests per second over HTTP on 127.0.0.1, through our client Transport:
//   (a) BM_PocoCeiling: a bare Poco HTTPServer answering "{}" — what the
//       transport can do with no work behind it;
//   (b) BM_EmptySyncRound: lock, fetch.json, synchronise {}, unlock through
//       HttpServer + SyncService over a memory database (4 requests/round);
//   (c) BM_Push1000: one synchronise.json adding 1,000 records.
// The items_per_second column counts requests (records for (c)).
//
//   build/helper-http-release/bench/http/http_bench
//   --benchmark_counters_tabular=true
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <benchmark/benchmark.h>

#include <atomic>
#include <limits>
#include <memory>
#include <string>

#include "syncstack/codec.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/loopback/in_process_server.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/protocol.h"
#include "syncstack/service.h"

namespace syncstack {
namespace {

constexpr int kServerThreads = 16;

class EmptyJson final : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    request.stream().ignore(std::numeric_limits<std::streamsize>::max());
    response.setContentType("application/json");
    response.setContentLength(2);
    response.send() << "{}";
  }
};

class EmptyJsonFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new EmptyJson;
  }
};

// The bare Poco server, started once per process.
struct Ceiling {
  Ceiling() {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(kServerThreads);
    params->setMaxQueued(64);
    params->setKeepAlive(true);
    server = std::make_unique<Poco::Net::HTTPServer>(new EmptyJsonFactory, pool,
                                                     socket, params);
    server->start();
    port = socket.address().port();
  }
  Poco::ThreadPool pool{2, kServerThreads};
  std::unique_ptr<Poco::Net::HTTPServer> server;
  uint16_t port = 0;
};

// HttpServer over SyncService over a memory database, started once.
struct World {
  World() {
    InProcessServerOptions sync_options;
    sync_options.database = std::move(OpenMemoryDatabase()).value();
    sync_options.policy = NewLastWriteWinsPolicy();
    sync = std::make_unique<InProcessServer>(std::move(sync_options));
    HttpServerOptions options;
    options.max_threads = kServerThreads;
    server = std::move(StartHttpServer(sync->service(), options)).value();
  }
  std::unique_ptr<InProcessServer> sync;
  std::unique_ptr<HttpServer> server;
};

Ceiling& TheCeiling() {
  static auto* ceiling = new Ceiling;  // lives until exit
  return *ceiling;
}
World& TheWorld() {
  static auto* world = new World;
  return *world;
}

std::unique_ptr<Transport> ClientTo(uint16_t port) {
  HttpClientOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(port);
  return std::move(NewHttpTransport(options)).value();
}

// Logs in as a user of this thread's own (so threads do not share a lock).
std::string Login(Transport& transport, const std::string& user) {
  std::string body;
  EncodeLoginRequest({user, "pw"}, body);
  auto answer =
      transport.Call({"POST", std::string(kLoginPath), "", "", "", "", body});
  if (!answer.ok() || answer->status != 200) std::abort();
  return DecodeLoginResponse(answer->body)->token;
}

std::atomic<int> next_user{0};

void BM_PocoCeiling(benchmark::State& state) {
  auto client = ClientTo(TheCeiling().port);
  const Request request{"GET", "/v1/fetch.json", "", "tok", "", "", ""};
  for (auto _ : state) {
    auto answer = client->Call(request);
    if (!answer.ok() || answer->status != 200) {
      state.SkipWithError("call failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_EmptySyncRound(benchmark::State& state) {
  auto client = ClientTo(TheWorld().server->port());
  const std::string user = "user" + std::to_string(next_user++);
  const std::string token = Login(*client, user);
  std::string lock_body;
  EncodeLockRequest({"bench"}, lock_body);
  for (auto _ : state) {
    auto lock = client->Call(
        {"POST", std::string(kLockPath), "", token, "", "", lock_body});
    if (!lock.ok() || lock->status != 200) {
      state.SkipWithError("lock failed");
      break;
    }
    std::string lease = DecodeLockResponse(lock->body)->lease;
    auto fetch = client->Call(
        {"GET", std::string(kFetchPath), "", token, lease, "", ""});
    auto sync = client->Call(
        {"POST", std::string(kSynchronisePath), "", token, lease, "", "{}"});
    auto unlock = client->Call(
        {"DELETE", std::string(kLockPath), "", token, lease, "", ""});
    if (!fetch.ok() || fetch->status != 200 || !sync.ok() ||
        sync->status != 200 || !unlock.ok() || unlock->status != 204) {
      state.SkipWithError("round failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * 4);
  state.counters["rounds/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_Push1000(benchmark::State& state) {
  auto client = ClientTo(TheWorld().server->port());
  const std::string user = "pusher" + std::to_string(next_user++);
  const std::string token = Login(*client, user);
  std::string lock_body;
  EncodeLockRequest({"bench"}, lock_body);
  auto lock = client->Call(
      {"POST", std::string(kLockPath), "", token, "", "", lock_body});
  if (!lock.ok() || lock->status != 200) std::abort();
  const std::string lease = DecodeLockResponse(lock->body)->lease;
  std::string body = R"({"add":{"todo":[)";
  for (int i = 0; i < 1000; ++i) {
    if (i > 0) body += ',';
    body += R"({"id":")" + RecordId::Random().ToString() +
            R"(","title":"a todo item of typical size","done":false,)"
            R"("n":12345,"tags":["home","errands"],"note":null})";
  }
  body += "]}}";
  for (auto _ : state) {
    auto answer = client->Call(
        {"POST", std::string(kSynchronisePath), "", token, lease, "", body});
    if (!answer.ok() || answer->status != 200) {
      state.SkipWithError("push failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * 1000);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(body.size()));
  state.counters["requests/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  (void)client->Call(
      {"DELETE", std::string(kLockPath), "", token, lease, "", ""});
}

BENCHMARK(BM_PocoCeiling)->Threads(1)->Threads(16)->UseRealTime();
BENCHMARK(BM_EmptySyncRound)->Threads(1)->Threads(16)->UseRealTime();
BENCHMARK(BM_Push1000)->Threads(1)->Threads(16)->UseRealTime();

}  // namespace
}  // namespace syncstack

BENCHMARK_MAIN();
