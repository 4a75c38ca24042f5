// syncstack serve: the HTTP server (and the exchange folder).
#include <arpa/inet.h>
#include <signal.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>
#include <thread>

#include "commands.h"
#include "config_file.h"
#include "remote_common.h"
#include "server_log.h"
#include "syncstack/codec.h"
#include "syncstack/file/file_transport.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/http/web_handler.h"
#include "syncstack/login_throttle.h"
#include "syncstack/metadata_keys.h"
#ifdef SYNCSTACK_HAS_PROMETHEUS
#include "syncstack/observability/prometheus_observer.h"
#endif
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/policies/registry.h"
#include "syncstack/service.h"
#include "syncstack/users.h"

namespace syncstack::cli {
namespace {

// Splits "HOST:PORT". Errors name the bad part.
Status ParseListen(const std::string& text, std::string& host, uint16_t& port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("--listen wants HOST:PORT, not \"" + text +
                                   "\"");
  }
  host = text.substr(0, colon);
  char* end = nullptr;
  long value = std::strtol(text.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || end == text.c_str() + colon + 1 || value < 0 ||
      value > 65535) {
    return Status::InvalidArgument("--listen: bad port in \"" + text + "\"");
  }
  port = static_cast<uint16_t>(value);
  return Status::Ok();
}

int stop_pipe[2] = {-1, -1};  // written by the stop-signal handler

// Each connection is a file descriptor: lifts the soft RLIMIT_NOFILE
// towards the hard one so that `connections` (plus the store's and the
// exchange folder's own) fit. Warns when the hard limit is too low.
void RaiseDescriptorLimit(size_t connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  rlim_t wanted = static_cast<rlim_t>(connections) + 256;
  if (limit.rlim_cur >= wanted) return;
  rlim_t raised = limit.rlim_max == RLIM_INFINITY
                      ? wanted
                      : std::min(wanted, limit.rlim_max);
  if (raised > limit.rlim_cur) {
    limit.rlim_cur = raised;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < wanted) {
    std::fprintf(stderr,
                 "syncstack: warning: RLIMIT_NOFILE is %llu, below "
                 "--max-connections %zu; new connections fail beyond it\n",
                 static_cast<unsigned long long>(limit.rlim_cur), connections);
  }
}

// --reconcile-cache-mb's largest value: 1 TiB.
constexpr int64_t kMaxReconcileCacheMb = int64_t{1} << 20;

// --tls-cert and --tls-key, straight into `http`.
void AddTlsOptions(po::options_description& options, HttpServerOptions& http) {
  options.add_options()(
      "tls-cert", po::value(&http.tls_cert_file),
      "serve HTTPS: PEM file with the server's certificate, then any "
      "intermediate certificates (needs --tls-key)")(
      "tls-key", po::value(&http.tls_key_file),
      "PEM file with the private key of --tls-cert (unencrypted)");
}

// --max-clock-ahead: "off" (no bound), or a whole number with an optional
// unit: ms, s (the default), m, h or d, e.g. "300", "300s", "5m".
Result<std::chrono::milliseconds> ParseClockBound(const std::string& text) {
  using std::chrono::milliseconds;
  if (text == "off") return milliseconds::max();
  const std::string bad =
      "--max-clock-ahead wants a duration such as 300s, "
      "5m or 2h (or \"off\"), not \"" +
      text + "\"";
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data() || n < 0) {
    return Status::InvalidArgument(bad);
  }
  const std::string_view unit(end, text.data() + text.size() - end);
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"", 1000},       {"s", 1000},        {"ms", 1},
      {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000}};
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    if (n > std::numeric_limits<int64_t>::max() / scale / 2) break;
    return milliseconds(n * scale);
  }
  return Status::InvalidArgument(bad);
}

// The metrics of GET /metrics: Prometheus when built with it, else none
// (the observer that does nothing; /metrics answers 404).
Result<std::unique_ptr<ServiceObserver>> NewMetrics(
    const std::atomic<HttpServer*>& http_server, std::string_view policy) {
#ifdef SYNCSTACK_HAS_PROMETHEUS
  PrometheusObserverOptions options;
  options.policies.emplace_back(policy);
  options.active_connections = [&http_server]() -> size_t {
    HttpServer* server = http_server.load();
    return server != nullptr ? server->open_connections() : 0;
  };
  return NewPrometheusObserver(std::move(options));
#else
  (void)http_server;
  (void)policy;
  return std::make_unique<ServiceObserver>();
#endif
}

// --metrics-token-file: the file's first line.
Result<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token)) {
    return Status::InvalidArgument("--metrics-token-file: cannot read " + path);
  }
  if (!token.empty() && token.back() == '\r') token.pop_back();
  return token;
}

}  // namespace

int RunServe(int argc, char** argv) {
  po::options_description options("serve options");
  std::string uri, listen, schema_file, policy_name = "lww";
  size_t max_body = 64u << 20;
  int lease_seconds = 30;
  std::string exchange;
  int poll_ms = 200;
  int64_t token_ttl = 3600;
  int64_t gc_every = 0;
  int64_t ttl_days = -1;
  int64_t journal_days = 30;
  HttpServerOptions http;
  int64_t max_connections = static_cast<int64_t>(http.max_connections);
  std::string max_clock_ahead = "5m";
  int64_t reconcile_cache_mb = 256;
  std::string log_format_name = "text";
  std::string log_requests = "on";
  std::string metrics_token, metrics_token_file;
  WebHandlerOptions web;
  options.add_options()("store", po::value(&uri)->required(),
                        "server store URI, e.g. sqlite:server.db")(
      "listen", po::value(&listen),
      "HOST:PORT to listen on (port 0: any free port, printed)")(
      "exchange", po::value(&exchange),
      "answer request files in this exchange folder (devices sync with "
      "--remote dir:PATH); with or without --listen")(
      "exchange-poll-ms", po::value(&poll_ms),
      "how often the exchange folder is looked at (default: 200)")(
      "token-ttl-seconds", po::value(&token_ttl),
      "login token lifetime (default: 3600; raise it, and --lease-seconds, "
      "for hand-carried exchange folders)")(
      "schema", po::value(&schema_file),
      "schema file: the collections and their id keys")(
      "policy", po::value(&policy_name),
      ("conflict policy: " + PolicyNamesHelp() +
       " (default: lww; devices learn it at login)")
          .c_str())("max-body", po::value(&max_body),
                    "largest request body in bytes (default: 64 MiB)")(
      "lease-seconds", po::value(&lease_seconds),
      "sync lock lease length (default: 30)")(
      "collect-tombstones-every", po::value(&gc_every),
      "collect the tombstones of the accounts served since start every N "
      "seconds (default: 0, never; needs --device-ttl-days)")(
      "device-ttl-days", po::value(&ttl_days),
      "for --collect-tombstones-every: a device not seen for longer is gone")(
      "journal-days", po::value(&journal_days),
      "keep conflict journal entries this many days; older ones are dropped "
      "as new ones are written (default: 30; 0: only the journal's 100000 "
      "entries bound it)")(
      "threads", po::value(&http.max_threads),
      "HTTP worker threads that run requests; idle and slow connections "
      "hold none (default: 16)")(
      "max-connections", po::value(&max_connections),
      "HTTP connections open at once; beyond it a new one gets a 503 "
      "(default: 10000)")(
      "max-clock-ahead", po::value(&max_clock_ahead),
      "a write stamped further ahead of the server's clock is restamped "
      "with it: 300s, 5m, 2h, 1d, or off (default: 5m)")(
      "reconcile-cache-mb", po::value(&reconcile_cache_mb),
      "memory the reconcile item indexes kept between requests may take, "
      "in MiB; 0 keeps none (default: 256)")(
      "log-format", po::value(&log_format_name),
      "the log on stderr: text, or json (one object a line: time, level, "
      "request_id, endpoint, status, duration_ms, user, device, message); "
      "default: text")(
      "log-requests", po::value(&log_requests),
      "on: a log line per answered request; off: only the service's events "
      "(default: on)")(
      "metrics-token", po::value(&metrics_token),
      "GET /metrics then wants \"Authorization: Bearer TOKEN\" (default: "
      "none; /healthz and /readyz never want one)")(
      "metrics-token-file", po::value(&metrics_token_file),
      "--metrics-token read from this file's first line")(
      "web", po::value(&web.dir),
      "also serve this folder's static files (a web app, e.g. web/app) at "
      "/ on the same port (GET only; docs/web.md)")(
      "cors-origin", po::value(&web.cors_origins)->composing(),
      "let pages of this origin (e.g. http://localhost:8080) call the API; "
      "repeatable (default: none)")(
      "trusted-proxy", po::value(&http.trusted_proxies)->composing(),
      "a reverse proxy's address (e.g. 127.0.0.1) whose X-Forwarded-For "
      "names the client, for login throttling by address; repeatable "
      "(default: none: the header is ignored)");
  AddTlsOptions(options, http);
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgsWithConfig(
          argc, argv,
          "syncstack serve [--config FILE] --store URI (--listen "
          "HOST:PORT | --exchange DIR) [--schema FILE] [--policy NAME] "
          "[--max-body BYTES] "
          "[--lease-seconds N] [--collect-tombstones-every SECONDS "
          "--device-ttl-days N] [--journal-days N] [--threads N] "
          "[--max-connections N] [--max-clock-ahead DURATION] "
          "[--reconcile-cache-mb N] [--log-format text|json] "
          "[--log-requests on|off] "
          "[--metrics-token TOKEN] [--tls-cert FILE --tls-key FILE] "
          "[--web DIR] [--cors-origin ORIGIN]... [--trusted-proxy ADDR]...",
          options, vm, exit_code)) {
    return exit_code;
  }
  if (listen.empty() && exchange.empty()) {
    return Fail("serve needs --listen HOST:PORT, --exchange DIR, or both");
  }
  if (http.tls_cert_file.empty() != http.tls_key_file.empty()) {
    return Fail("--tls-cert and --tls-key go together");
  }
  if (!http.tls_cert_file.empty() && listen.empty()) {
    return Fail("--tls-cert needs --listen HOST:PORT");
  }
  if (poll_ms < 1) return Fail("--exchange-poll-ms must be at least 1");
  if (token_ttl < 1) return Fail("--token-ttl-seconds must be at least 1");
  if (http.max_threads < 1) return Fail("--threads must be at least 1");
  if (max_connections < 1) return Fail("--max-connections must be at least 1");
  http.max_connections = static_cast<size_t>(max_connections);
  if (!listen.empty()) {
    Status s = ParseListen(listen, http.host, http.port);
    if (!s.ok()) return Fail(s);
  }
  if (lease_seconds < 1) return Fail("--lease-seconds must be at least 1");
  if (max_body < 1024) return Fail("--max-body must be at least 1024");
  if (gc_every < 0) {
    return Fail("--collect-tombstones-every must not be negative");
  }
  if (gc_every > 0 && ttl_days < 0) {
    return Fail(
        "--collect-tombstones-every needs --device-ttl-days N (N >= 0)");
  }
  if (ttl_days > 100 * 365) return Fail("--device-ttl-days is too large");
  auto clock_bound = ParseClockBound(max_clock_ahead);
  if (!clock_bound.ok()) return Fail(clock_bound.status());
  if (journal_days < 0) return Fail("--journal-days must not be negative");
  if (journal_days > 100 * 365) return Fail("--journal-days is too large");
  if (reconcile_cache_mb < 0 || reconcile_cache_mb > kMaxReconcileCacheMb) {
    return Fail("--reconcile-cache-mb must be between 0 and " +
                std::to_string(kMaxReconcileCacheMb) + " (MiB), not " +
                std::to_string(reconcile_cache_mb));
  }
  http.max_body = max_body;
  for (const std::string& proxy : http.trusted_proxies) {
    unsigned char address[sizeof(in6_addr)];
    if (inet_pton(AF_INET, proxy.c_str(), address) != 1 &&
        inet_pton(AF_INET6, proxy.c_str(), address) != 1) {
      return Fail(
          "--trusted-proxy wants a numeric IPv4 or IPv6 address, "
          "not \"" +
          proxy + "\"");
    }
  }
  auto log_format = ParseLogFormat(log_format_name);
  if (!log_format.ok()) return Fail(log_format.status());
  if (log_requests != "on" && log_requests != "off") {
    return Fail("--log-requests wants on or off, not \"" + log_requests + "\"");
  }
  if (!metrics_token_file.empty()) {
    if (!metrics_token.empty()) {
      return Fail("give --metrics-token or --metrics-token-file, not both");
    }
    auto read = ReadTokenFile(metrics_token_file);
    if (!read.ok()) return Fail(read.status());
    metrics_token = std::move(*read);
    if (metrics_token.empty()) return Fail("--metrics-token-file is empty");
  }
  Schema schema;
  if (!schema_file.empty()) {
    auto loaded = Schema::Load(schema_file);
    if (!loaded.ok()) return Fail(loaded.status().WithContext(schema_file));
    schema = std::move(*loaded);
  }
  // Mapped collections: with an "account" column the server keeps them
  // in its own tables, on PostgreSQL only; without one, in its own store
  // (docs/mapped-tables.md, "The server"). Said out loud, never silently.
  Schema server_tables;
  for (const auto& [collection, mapping] : schema.mappings()) {
    if (mapping.account.empty()) {
      std::fprintf(stderr,
                   "syncstack: warning: collection \"%s\" maps table \"%s\" "
                   "without an \"account\" column: the server keeps its "
                   "records in its own store, not in that table\n",
                   collection.c_str(), mapping.table.c_str());
    } else if (!uri.starts_with("postgres:")) {
      return Fail("--schema: collection \"" + collection +
                  "\" keeps its "
                  "records in table \"" +
                  mapping.table +
                  "\" (it names an \"account\" column), which needs "
                  "--store postgres:...; leave \"account\" out to keep "
                  "them in this store");
    } else {
      server_tables = schema;
    }
  }
  auto policy = PolicyByName(policy_name);
  if (!policy.ok()) return Fail(policy.status());
  DatabaseRegistry registry;
  RegisterBuiltins(registry, server_tables);
  auto database = registry.Open(uri);
  if (!database.ok()) return Fail(database.status());
  // A database shared by several serve processes (PostgreSQL) keeps the
  // lock in the database; otherwise this process's lock table is the lock.
  auto lock = (*database)->NewSyncLock(SystemClock(),
                                       std::chrono::seconds(lease_seconds));
  if (lock == nullptr) {
    lock =
        NewMemorySyncLock(SystemClock(), std::chrono::seconds(lease_seconds));
  }
  auto users = NewDatabaseAuthenticator(**database);
  auto authenticator = NewThrottledAuthenticator(*users, SystemClock());
  const ServerLog log(*log_format);
  std::atomic<HttpServer*> http_server{nullptr};  // for the metrics
  auto metrics = NewMetrics(http_server, (*policy)->name());
  if (!metrics.ok()) return Fail(metrics.status());
  RequestLogger observer(**metrics, log, log_requests == "on");
  SyncServiceOptions service_options;
  service_options.max_body = max_body;
  service_options.log = [&log](const std::string& line) {
    log.Event("info", line);
  };
  service_options.observer = &observer;
  service_options.metrics_token = metrics_token;
  service_options.token_ttl = std::chrono::seconds(token_ttl);
  service_options.max_clock_ahead = *clock_bound;
  service_options.journal_retention = std::chrono::hours(24 * journal_days);
  service_options.reconcile_cache_bytes =
      static_cast<size_t>(reconcile_cache_mb) << 20;
  SyncService service(**database, **policy, SystemClock(), *lock,
                      *authenticator, std::move(schema), service_options);

  // SIGINT/SIGTERM may land on any thread (Poco's among them): the handler
  // only writes to a pipe that the main thread waits on.
  if (pipe(stop_pipe) != 0) return Fail("cannot create a pipe");
  struct sigaction on_stop {};
  on_stop.sa_handler = [](int) {
    char byte = 1;
    (void)!write(stop_pipe[1], &byte, 1);
  };
  sigemptyset(&on_stop.sa_mask);
  sigaction(SIGINT, &on_stop, nullptr);
  sigaction(SIGTERM, &on_stop, nullptr);
  std::unique_ptr<ExchangeProcessor> processor;
  if (!exchange.empty()) {
    ExchangeOptions exchange_options;
    exchange_options.dir = exchange;
    exchange_options.max_body = max_body;
    exchange_options.log = [](const std::string& line) {
      std::printf("syncstack: exchange: %s\n", line.c_str());
      std::fflush(stdout);
    };
    auto opened = NewExchangeProcessor(service, exchange_options);
    if (!opened.ok()) return Fail(opened.status().WithContext("--exchange"));
    processor = std::move(opened).value();
  }
  // --web / --cors-origin: static files and CORS in front of the API.
  Handler* front = &service;
  std::unique_ptr<Handler> web_handler;
  if (!web.dir.empty() || !web.cors_origins.empty()) {
    if (listen.empty()) return Fail("--web and --cors-origin need --listen");
    auto made = NewWebHandler(service, web);
    if (!made.ok()) return Fail(made.status());
    web_handler = std::move(made).value();
    front = web_handler.get();
  }
  std::unique_ptr<HttpServer> server;
  if (!listen.empty()) {
    RaiseDescriptorLimit(http.max_connections);
    auto started = StartHttpServer(*front, http);
    if (!started.ok()) return Fail(started.status());
    server = std::move(started).value();
    http_server.store(server.get());
    const char* scheme = http.tls_cert_file.empty() ? "http" : "https";
    std::printf("syncstack: serving %s on %s://%s:%u (policy %s)\n",
                uri.c_str(), scheme, http.host.c_str(), server->port(),
                policy_name.c_str());
    if (!web.dir.empty()) {
      std::printf("syncstack: web app from %s at %s://%s:%u/\n",
                  web.dir.c_str(), scheme, http.host.c_str(), server->port());
    }
  }
  std::atomic<bool> stopping{false};
  std::thread exchange_thread;
  if (processor) {
    std::printf(
        "syncstack: serving %s through the exchange folder %s "
        "(policy %s)\n",
        uri.c_str(), exchange.c_str(), policy_name.c_str());
    exchange_thread = std::thread([&] {
      // A folder that fails (full disk, unwritable) is logged and tried
      // again, waiting twice as long each time up to a minute; the rest of
      // the server keeps serving.
      int64_t pause_ms = poll_ms;
      while (!stopping) {
        auto answered = processor->ProcessPending();
        if (!answered.ok()) {
          pause_ms =
              std::min<int64_t>(std::max<int64_t>(pause_ms, 500) * 2, 60'000);
          log.Event("warn", "exchange: " + answered.status().ToString() +
                                "; trying again in " +
                                std::to_string(pause_ms) + " ms");
        } else {
          pause_ms = poll_ms;
          if (*answered > 0) continue;
        }
        for (int64_t slept = 0; slept < pause_ms && !stopping;
             slept += poll_ms) {
          std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
        }
      }
    });
  }
  std::thread gc_thread;
  std::mutex gc_mu;
  std::condition_variable gc_wake;
  if (gc_every > 0) {
    const auto ttl = std::chrono::hours(24) * static_cast<int>(ttl_days);
    gc_thread = std::thread([&, ttl] {
      std::unique_lock<std::mutex> guard(gc_mu);
      while (!gc_wake.wait_for(guard, std::chrono::seconds(gc_every),
                               [&] { return stopping.load(); })) {
        for (const auto& account : service.Accounts()) {
          auto report = service.CollectTombstones(account, ttl);
          // kLocked: a device is syncing; the next round gets it.
          if (!report.ok() && report.status().code() != Status::Code::kLocked) {
            log.Event("warn", "collecting \"" + account +
                                  "\": " + report.status().ToString());
          }
        }
      }
    });
  }
  std::fflush(stdout);
  char byte;
  while (read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
  {
    std::lock_guard<std::mutex> guard(gc_mu);
    stopping = true;
  }
  gc_wake.notify_all();
  if (gc_thread.joinable()) gc_thread.join();
  if (exchange_thread.joinable()) exchange_thread.join();
  if (server) server->Stop();
  http_server.store(nullptr);
  std::printf("syncstack: stopped\n");
  return kExitOk;
}

}  // namespace syncstack::cli
