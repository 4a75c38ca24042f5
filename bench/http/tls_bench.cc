// Requests per second through the library's own client Transport against a
// running `syncstack serve`, plain or TLS: C client threads log in once,
// then send GET /v1/fetch.json with the token for T seconds, either on
// kept-alive connections or on a new connection (and, for https, a full
// handshake) per request. It prints one JSON line: requests/s, latency
// p50/p99/max and the count of failed calls (docs/benchmarks.md,
// "HTTP with and without TLS"; bench/http/tls_compare.sh runs the grid).
//
//   tls_bench --url https://127.0.0.1:PORT [--ca-file FILE] --user U
//             --password P [--clients 4] [--seconds 5] [--new-connections]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "syncstack/codec.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/protocol.h"

namespace syncstack {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  HttpClientOptions http;
  std::string user;
  std::string password;
  int clients = 4;
  int seconds = 5;
  bool new_connections = false;
};

bool ParseOptions(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--new-connections") {
      o.new_connections = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    std::string value = argv[++i];
    if (flag == "--url") {
      o.http.url = value;
    } else if (flag == "--ca-file") {
      o.http.ca_file = value;
    } else if (flag == "--user") {
      o.user = value;
    } else if (flag == "--password") {
      o.password = value;
    } else if (flag == "--clients") {
      o.clients = std::atoi(value.c_str());
    } else if (flag == "--seconds") {
      o.seconds = std::atoi(value.c_str());
    } else {
      return false;
    }
  }
  return !o.http.url.empty() && !o.user.empty() && o.clients > 0 &&
         o.seconds > 0;
}

struct ClientResult {
  uint64_t answers = 0;
  uint64_t failures = 0;
  std::vector<uint32_t> latency_us;
};

// One client thread: its own Transport (so its own connections).
void RunClient(const Options& o, const std::string& token,
               Clock::time_point end, ClientResult& out) {
  HttpClientOptions http = o.http;
  http.max_retries = 0;  // a failure must show
  if (o.new_connections) http.max_idle_connections = 0;
  auto transport = NewHttpTransport(http);
  if (!transport.ok()) {
    std::fprintf(stderr, "tls_bench: %s\n",
                 transport.status().ToString().c_str());
    std::exit(1);
  }
  const Request request{"GET", "/v1/fetch.json", "", token, "", "", ""};
  while (Clock::now() < end) {
    auto start = Clock::now();
    auto answer = (*transport)->Call(request);
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(
        Clock::now() - start);
    if (!answer.ok() || answer->status != 200) {
      ++out.failures;
      continue;
    }
    ++out.answers;
    out.latency_us.push_back(static_cast<uint32_t>(took.count()));
  }
}

std::string Login(const Options& o) {
  auto transport = NewHttpTransport(o.http);
  if (!transport.ok()) {
    std::fprintf(stderr, "tls_bench: %s\n",
                 transport.status().ToString().c_str());
    std::exit(1);
  }
  std::string body;
  EncodeLoginRequest({o.user, o.password}, body);
  auto answer =
      (*transport)
          ->Call({"POST", std::string(kLoginPath), "", "", "", "", body});
  if (!answer.ok() || answer->status != 200) {
    std::fprintf(stderr, "tls_bench: login failed: %s\n",
                 answer.ok() ? answer->body.c_str()
                             : answer.status().ToString().c_str());
    std::exit(1);
  }
  return DecodeLoginResponse(answer->body)->token;
}

int Main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: tls_bench --url URL [--ca-file FILE] --user U "
                 "--password P [--clients N] [--seconds S] "
                 "[--new-connections]\n");
    return 2;
  }
  const std::string token = Login(o);
  std::vector<ClientResult> results(static_cast<size_t>(o.clients));
  std::vector<std::thread> threads;
  auto start = Clock::now();
  auto end = start + std::chrono::seconds(o.seconds);
  for (auto& result : results) {
    threads.emplace_back([&, end] { RunClient(o, token, end, result); });
  }
  for (auto& thread : threads) thread.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ClientResult all;
  for (auto& r : results) {
    all.answers += r.answers;
    all.failures += r.failures;
    all.latency_us.insert(all.latency_us.end(), r.latency_us.begin(),
                          r.latency_us.end());
  }
  std::sort(all.latency_us.begin(), all.latency_us.end());
  auto percentile = [&](double p) -> double {
    if (all.latency_us.empty()) return 0;
    size_t at =
        static_cast<size_t>(p * static_cast<double>(all.latency_us.size() - 1));
    return all.latency_us[at] / 1000.0;
  };
  std::printf(
      "{\"url\":\"%s\",\"clients\":%d,\"new_connections\":%s,"
      "\"requests_per_second\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
      "\"max_ms\":%.2f,\"answers\":%llu,\"failures\":%llu}\n",
      o.http.url.c_str(), o.clients, o.new_connections ? "true" : "false",
      static_cast<double>(all.answers) / elapsed, percentile(0.5),
      percentile(0.99), percentile(1.0),
      static_cast<unsigned long long>(all.answers),
      static_cast<unsigned long long>(all.failures));
  return 0;
}

}  // namespace
}  // namespace syncstack

int main(int argc, char** argv) { return syncstack::Main(argc, argv); }
