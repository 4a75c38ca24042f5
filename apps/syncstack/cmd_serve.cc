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
#include <optional>
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

// serve's flags, as parsed and then checked by CheckServeFlags.
struct ServeFlags {
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
  // Set by CheckServeFlags from the text flags above.
  std::chrono::milliseconds clock_bound{0};
  LogFormat log_format = LogFormat::kText;
};

// --store, --listen, --exchange and what the service does with requests.
void AddServiceOptions(po::options_description& options, ServeFlags& f) {
  options.add_options()("store", po::value(&f.uri)->required(),
                        "server store URI, e.g. sqlite:server.db")(
      "listen", po::value(&f.listen),
      "HOST:PORT to listen on (port 0: any free port, printed)")(
      "exchange", po::value(&f.exchange),
      "answer request files in this exchange folder (devices sync with "
      "--remote dir:PATH); with or without --listen")(
      "exchange-poll-ms", po::value(&f.poll_ms),
      "how often the exchange folder is looked at (default: 200)")(
      "token-ttl-seconds", po::value(&f.token_ttl),
      "login token lifetime (default: 3600; raise it, and --lease-seconds, "
      "for hand-carried exchange folders)")(
      "schema", po::value(&f.schema_file),
      "schema file: the collections and their id keys")(
      "policy", po::value(&f.policy_name),
      ("conflict policy: " + PolicyNamesHelp() +
       " (default: lww; devices learn it at login)")
          .c_str())("max-body", po::value(&f.max_body),
                    "largest request body in bytes (default: 64 MiB)")(
      "lease-seconds", po::value(&f.lease_seconds),
      "sync lock lease length (default: 30)")(
      "collect-tombstones-every", po::value(&f.gc_every),
      "collect the tombstones of the accounts served since start every N "
      "seconds (default: 0, never; needs --device-ttl-days)")(
      "device-ttl-days", po::value(&f.ttl_days),
      "for --collect-tombstones-every: a device not seen for longer is gone")(
      "journal-days", po::value(&f.journal_days),
      "keep conflict journal entries this many days; older ones are dropped "
      "as new ones are written (default: 30; 0: only the journal's 100000 "
      "entries bound it)");
}

// --threads, --max-connections and the other limits of the HTTP server
// and the service.
void AddLimitOptions(po::options_description& options, ServeFlags& f) {
  options.add_options()(
      "threads", po::value(&f.http.max_threads),
      "HTTP worker threads that run requests; idle and slow connections "
      "hold none (default: 16)")(
      "max-connections", po::value(&f.max_connections),
      "HTTP connections open at once; beyond it a new one gets a 503 "
      "(default: 10000)")(
      "max-clock-ahead", po::value(&f.max_clock_ahead),
      "a write stamped further ahead of the server's clock is restamped "
      "with it: 300s, 5m, 2h, 1d, or off (default: 5m)")(
      "reconcile-cache-mb", po::value(&f.reconcile_cache_mb),
      "memory the reconcile item indexes kept between requests may take, "
      "in MiB; 0 keeps none (default: 256)");
}

// The log, the metrics, the web front and the proxies.
void AddEdgeOptions(po::options_description& options, ServeFlags& f) {
  options.add_options()(
      "log-format", po::value(&f.log_format_name),
      "the log on stderr: text, or json (one object a line: time, level, "
      "request_id, endpoint, status, duration_ms, user, device, message); "
      "default: text")(
      "log-requests", po::value(&f.log_requests),
      "on: a log line per answered request; off: only the service's events "
      "(default: on)")(
      "metrics-token", po::value(&f.metrics_token),
      "GET /metrics then wants \"Authorization: Bearer TOKEN\" (default: "
      "none; /healthz and /readyz never want one)")(
      "metrics-token-file", po::value(&f.metrics_token_file),
      "--metrics-token read from this file's first line")(
      "web", po::value(&f.web.dir),
      "also serve this folder's static files (a web app, e.g. web/app) at "
      "/ on the same port (GET only; docs/web.md)")(
      "cors-origin", po::value(&f.web.cors_origins)->composing(),
      "let pages of this origin (e.g. http://localhost:8080) call the API; "
      "repeatable (default: none)")(
      "trusted-proxy", po::value(&f.http.trusted_proxies)->composing(),
      "a reverse proxy's address (e.g. 127.0.0.1) whose X-Forwarded-For "
      "names the client, for login throttling by address; repeatable "
      "(default: none: the header is ignored)");
  AddTlsOptions(options, f.http);
}

// Checks where serve listens and its limits. Returns kExitOk, or the exit
// code after saying what is wrong.
int CheckListenFlags(ServeFlags& f) {
  if (f.listen.empty() && f.exchange.empty()) {
    return Fail("serve needs --listen HOST:PORT, --exchange DIR, or both");
  }
  if (f.http.tls_cert_file.empty() != f.http.tls_key_file.empty()) {
    return Fail("--tls-cert and --tls-key go together");
  }
  if (!f.http.tls_cert_file.empty() && f.listen.empty()) {
    return Fail("--tls-cert needs --listen HOST:PORT");
  }
  if (f.poll_ms < 1) return Fail("--exchange-poll-ms must be at least 1");
  if (f.token_ttl < 1) return Fail("--token-ttl-seconds must be at least 1");
  if (f.http.max_threads < 1) return Fail("--threads must be at least 1");
  if (f.max_connections < 1) {
    return Fail("--max-connections must be at least 1");
  }
  f.http.max_connections = static_cast<size_t>(f.max_connections);
  if (!f.listen.empty()) {
    Status s = ParseListen(f.listen, f.http.host, f.http.port);
    if (!s.ok()) return Fail(s);
  }
  if (f.lease_seconds < 1) return Fail("--lease-seconds must be at least 1");
  if (f.max_body < 1024) return Fail("--max-body must be at least 1024");
  return kExitOk;
}

// Checks the tombstone, clock, journal and cache flags (after
// CheckListenFlags). Returns kExitOk, or the exit code after saying what
// is wrong.
int CheckServiceFlags(ServeFlags& f) {
  if (f.gc_every < 0) {
    return Fail("--collect-tombstones-every must not be negative");
  }
  if (f.gc_every > 0 && f.ttl_days < 0) {
    return Fail(
        "--collect-tombstones-every needs --device-ttl-days N (N >= 0)");
  }
  if (f.ttl_days > 100 * 365) return Fail("--device-ttl-days is too large");
  auto clock_bound = ParseClockBound(f.max_clock_ahead);
  if (!clock_bound.ok()) return Fail(clock_bound.status());
  f.clock_bound = *clock_bound;
  if (f.journal_days < 0) return Fail("--journal-days must not be negative");
  if (f.journal_days > 100 * 365) return Fail("--journal-days is too large");
  if (f.reconcile_cache_mb < 0 || f.reconcile_cache_mb > kMaxReconcileCacheMb) {
    return Fail("--reconcile-cache-mb must be between 0 and " +
                std::to_string(kMaxReconcileCacheMb) + " (MiB), not " +
                std::to_string(f.reconcile_cache_mb));
  }
  f.http.max_body = f.max_body;
  return kExitOk;
}

// Checks the proxies, the log and the metrics token (after
// CheckServiceFlags). Returns kExitOk, or the exit code after saying what
// is wrong.
int CheckEdgeFlags(ServeFlags& f) {
  for (const std::string& proxy : f.http.trusted_proxies) {
    unsigned char address[sizeof(in6_addr)];
    if (inet_pton(AF_INET, proxy.c_str(), address) != 1 &&
        inet_pton(AF_INET6, proxy.c_str(), address) != 1) {
      return Fail(
          "--trusted-proxy wants a numeric IPv4 or IPv6 address, "
          "not \"" +
          proxy + "\"");
    }
  }
  auto log_format = ParseLogFormat(f.log_format_name);
  if (!log_format.ok()) return Fail(log_format.status());
  f.log_format = *log_format;
  if (f.log_requests != "on" && f.log_requests != "off") {
    return Fail("--log-requests wants on or off, not \"" + f.log_requests +
                "\"");
  }
  if (!f.metrics_token_file.empty()) {
    if (!f.metrics_token.empty()) {
      return Fail("give --metrics-token or --metrics-token-file, not both");
    }
    auto read = ReadTokenFile(f.metrics_token_file);
    if (!read.ok()) return Fail(read.status());
    f.metrics_token = std::move(*read);
    if (f.metrics_token.empty()) return Fail("--metrics-token-file is empty");
  }
  return kExitOk;
}

// Loads --schema into `schema` (empty without one) and warns about mapped
// tables. Returns kExitOk, or the exit code after saying what is wrong.
int LoadServeSchema(const std::string& file, const std::string& uri,
                    Schema& schema) {
  if (!file.empty()) {
    auto loaded = Schema::Load(file);
    if (!loaded.ok()) return Fail(loaded.status().WithContext(file));
    schema = std::move(*loaded);
  }
  // Mapped collections: with an "account" column the server keeps them
  // in its own tables, on PostgreSQL only; without one, in its own store
  // (docs/mapped-tables.md, "The server"). Said out loud, never silently.
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
    }
  }
  return kExitOk;
}

// Whether a collection of `schema` keeps its records in the server's own
// tables (a mapping with an "account" column; PostgreSQL only).
bool KeepsServerTables(const Schema& schema) {
  for (const auto& [collection, mapping] : schema.mappings()) {
    if (!mapping.account.empty()) return true;
  }
  return false;
}

// Everything a running serve holds, in the order it is built (each part
// refers to the ones before it, so they are torn down in reverse).
struct ServeParts {
  std::unique_ptr<ConflictPolicy> policy;
  std::unique_ptr<Database> database;
  std::unique_ptr<SyncLock> lock;
  std::unique_ptr<Authenticator> users;
  std::unique_ptr<Authenticator> authenticator;
  std::optional<ServerLog> log;
  std::atomic<HttpServer*> http_server{nullptr};  // for the metrics
  std::unique_ptr<ServiceObserver> metrics;
  std::optional<RequestLogger> observer;
  std::optional<SyncService> service;
};

// Opens the store and builds the service of `flags` in `parts`. Returns
// kExitOk, or the exit code after saying what failed.
int BuildService(ServeFlags& flags, Schema schema, ServeParts& parts) {
  auto policy = PolicyByName(flags.policy_name);
  if (!policy.ok()) return Fail(policy.status());
  parts.policy = std::move(*policy);
  DatabaseRegistry registry;
  RegisterBuiltins(registry, KeepsServerTables(schema) ? schema : Schema());
  auto database = registry.Open(flags.uri);
  if (!database.ok()) return Fail(database.status());
  parts.database = std::move(*database);
  const auto lease = std::chrono::seconds(flags.lease_seconds);
  // A database shared by several serve processes (PostgreSQL) keeps the
  // lock in the database; otherwise this process's lock table is the lock.
  parts.lock = parts.database->NewSyncLock(SystemClock(), lease);
  if (parts.lock == nullptr) {
    parts.lock = NewMemorySyncLock(SystemClock(), lease);
  }
  parts.users = NewDatabaseAuthenticator(*parts.database);
  parts.authenticator = NewThrottledAuthenticator(*parts.users, SystemClock());
  const ServerLog& log = parts.log.emplace(flags.log_format);
  auto metrics = NewMetrics(parts.http_server, parts.policy->name());
  if (!metrics.ok()) return Fail(metrics.status());
  parts.metrics = std::move(*metrics);
  parts.observer.emplace(*parts.metrics, log, flags.log_requests == "on");
  SyncServiceOptions options;
  options.max_body = flags.max_body;
  options.log = [&log](const std::string& line) { log.Event("info", line); };
  options.observer = &*parts.observer;
  options.metrics_token = flags.metrics_token;
  options.token_ttl = std::chrono::seconds(flags.token_ttl);
  options.max_clock_ahead = flags.clock_bound;
  options.journal_retention = std::chrono::hours(24 * flags.journal_days);
  options.reconcile_cache_bytes = static_cast<size_t>(flags.reconcile_cache_mb)
                                  << 20;
  parts.service.emplace(*parts.database, *parts.policy, SystemClock(),
                        *parts.lock, *parts.authenticator, std::move(schema),
                        options);
  return kExitOk;
}

// SIGINT/SIGTERM may land on any thread (Poco's among them): the handler
// only writes to a pipe that the main thread waits on (WaitForStop).
// Returns false if the pipe cannot be made.
bool CatchStopSignals() {
  if (pipe(stop_pipe) != 0) return false;
  struct sigaction on_stop {};
  on_stop.sa_handler = [](int) {
    char byte = 1;
    (void)!write(stop_pipe[1], &byte, 1);
  };
  sigemptyset(&on_stop.sa_mask);
  sigaction(SIGINT, &on_stop, nullptr);
  sigaction(SIGTERM, &on_stop, nullptr);
  return true;
}

void WaitForStop() {
  char byte;
  while (read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
}

// --exchange: the processor of the folder (null without the flag).
// Returns kExitOk, or the exit code after saying what failed.
int OpenExchange(const ServeFlags& flags, SyncService& service,
                 std::unique_ptr<ExchangeProcessor>& processor) {
  if (flags.exchange.empty()) return kExitOk;
  ExchangeOptions options;
  options.dir = flags.exchange;
  options.max_body = flags.max_body;
  options.log = [](const std::string& line) {
    std::printf("syncstack: exchange: %s\n", line.c_str());
    std::fflush(stdout);
  };
  auto opened = NewExchangeProcessor(service, options);
  if (!opened.ok()) return Fail(opened.status().WithContext("--exchange"));
  processor = std::move(opened).value();
  return kExitOk;
}

// --listen: the front handler (--web / --cors-origin put static files and
// CORS in front of the API) and the HTTP server, its address printed.
// `server` stays null without --listen. Returns kExitOk, or the exit code
// after saying what failed.
int StartListening(ServeFlags& flags, ServeParts& parts,
                   std::unique_ptr<Handler>& web_handler,
                   std::unique_ptr<HttpServer>& server) {
  Handler* front = &*parts.service;
  if (!flags.web.dir.empty() || !flags.web.cors_origins.empty()) {
    if (flags.listen.empty()) {
      return Fail("--web and --cors-origin need --listen");
    }
    auto made = NewWebHandler(*parts.service, flags.web);
    if (!made.ok()) return Fail(made.status());
    web_handler = std::move(made).value();
    front = web_handler.get();
  }
  if (flags.listen.empty()) return kExitOk;
  const HttpServerOptions& http = flags.http;
  RaiseDescriptorLimit(http.max_connections);
  auto started = StartHttpServer(*front, http);
  if (!started.ok()) return Fail(started.status());
  server = std::move(started).value();
  parts.http_server.store(server.get());
  const char* scheme = http.tls_cert_file.empty() ? "http" : "https";
  std::printf("syncstack: serving %s on %s://%s:%u (policy %s)\n",
              flags.uri.c_str(), scheme, http.host.c_str(), server->port(),
              flags.policy_name.c_str());
  if (!flags.web.dir.empty()) {
    std::printf("syncstack: web app from %s at %s://%s:%u/\n",
                flags.web.dir.c_str(), scheme, http.host.c_str(),
                server->port());
  }
  return kExitOk;
}

// The exchange thread's loop: answers the folder's requests until
// `stopping`. A folder that fails (full disk, unwritable) is logged and
// tried again, waiting twice as long each time up to a minute; the rest of
// the server keeps serving.
void ServeExchange(ExchangeProcessor& processor, int64_t poll_ms,
                   const ServerLog& log, const std::atomic<bool>& stopping) {
  int64_t pause_ms = poll_ms;
  while (!stopping) {
    auto answered = processor.ProcessPending();
    if (!answered.ok()) {
      pause_ms =
          std::min<int64_t>(std::max<int64_t>(pause_ms, 500) * 2, 60'000);
      log.Event("warn", "exchange: " + answered.status().ToString() +
                            "; trying again in " + std::to_string(pause_ms) +
                            " ms");
    } else {
      pause_ms = poll_ms;
      if (*answered > 0) continue;
    }
    for (int64_t slept = 0; slept < pause_ms && !stopping; slept += poll_ms) {
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
    }
  }
}

// --collect-tombstones-every: collects every served account's tombstones
// every `every` until Stop.
class TombstoneCollector {
 public:
  TombstoneCollector(SyncService& service, const ServerLog& log)
      : service_(service), log_(log) {}

  void Start(std::chrono::seconds every, std::chrono::hours device_ttl) {
    thread_ = std::thread([this, every, device_ttl] {
      std::unique_lock<std::mutex> guard(mu_);
      while (!wake_.wait_for(guard, every, [&] { return stopping_; })) {
        CollectAll(device_ttl);
      }
    });
  }

  // Wakes the thread and waits for it (if it was started).
  void Stop() {
    {
      std::lock_guard<std::mutex> guard(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void CollectAll(std::chrono::hours device_ttl) {
    for (const auto& account : service_.Accounts()) {
      auto report = service_.CollectTombstones(account, device_ttl);
      // kLocked: a device is syncing; the next round gets it.
      if (!report.ok() && report.status().code() != Status::Code::kLocked) {
        log_.Event("warn", "collecting \"" + account +
                               "\": " + report.status().ToString());
      }
    }
  }

  SyncService& service_;
  const ServerLog& log_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

constexpr char kServeUsage[] =
    "syncstack serve [--config FILE] --store URI (--listen "
    "HOST:PORT | --exchange DIR) [--schema FILE] [--policy NAME] "
    "[--max-body BYTES] "
    "[--lease-seconds N] [--collect-tombstones-every SECONDS "
    "--device-ttl-days N] [--journal-days N] [--threads N] "
    "[--max-connections N] [--max-clock-ahead DURATION] "
    "[--reconcile-cache-mb N] [--log-format text|json] "
    "[--log-requests on|off] "
    "[--metrics-token TOKEN] [--tls-cert FILE --tls-key FILE] "
    "[--web DIR] [--cors-origin ORIGIN]... [--trusted-proxy ADDR]...";

// Parses and checks serve's command line into `flags`. Returns false when
// serve must end with `exit_code` (after printing help or what is wrong).
bool ParseServeFlags(int argc, char** argv, ServeFlags& flags, int& exit_code) {
  po::options_description options("serve options");
  AddServiceOptions(options, flags);
  AddLimitOptions(options, flags);
  AddEdgeOptions(options, flags);
  po::variables_map vm;
  exit_code = kExitOk;
  if (!ParseArgsWithConfig(argc, argv, kServeUsage, options, vm, exit_code)) {
    return false;
  }
  for (auto check : {CheckListenFlags, CheckServiceFlags, CheckEdgeFlags}) {
    exit_code = check(flags);
    if (exit_code != kExitOk) return false;
  }
  return true;
}

}  // namespace

int RunServe(int argc, char** argv) {
  ServeFlags flags;
  if (int exit_code; !ParseServeFlags(argc, argv, flags, exit_code)) {
    return exit_code;
  }
  Schema schema;
  if (int rc = LoadServeSchema(flags.schema_file, flags.uri, schema);
      rc != kExitOk) {
    return rc;
  }
  ServeParts parts;
  if (int rc = BuildService(flags, std::move(schema), parts); rc != kExitOk) {
    return rc;
  }
  SyncService& service = *parts.service;
  if (!CatchStopSignals()) return Fail("cannot create a pipe");
  std::unique_ptr<ExchangeProcessor> processor;
  if (int rc = OpenExchange(flags, service, processor); rc != kExitOk) {
    return rc;
  }
  std::unique_ptr<Handler> web_handler;
  std::unique_ptr<HttpServer> server;
  if (int rc = StartListening(flags, parts, web_handler, server);
      rc != kExitOk) {
    return rc;
  }
  std::atomic<bool> stopping{false};
  std::thread exchange_thread;
  if (processor) {
    std::printf(
        "syncstack: serving %s through the exchange folder %s "
        "(policy %s)\n",
        flags.uri.c_str(), flags.exchange.c_str(), flags.policy_name.c_str());
    exchange_thread =
        std::thread(ServeExchange, std::ref(*processor), int64_t{flags.poll_ms},
                    std::cref(*parts.log), std::cref(stopping));
  }
  TombstoneCollector collector(service, *parts.log);
  if (flags.gc_every > 0) {
    collector.Start(std::chrono::seconds(flags.gc_every),
                    std::chrono::hours(24) * static_cast<int>(flags.ttl_days));
  }
  std::fflush(stdout);
  WaitForStop();
  stopping = true;
  collector.Stop();
  if (exchange_thread.joinable()) exchange_thread.join();
  if (server) server->Stop();
  parts.http_server.store(nullptr);
  std::printf("syncstack: stopped\n");
  return kExitOk;
}

}  // namespace syncstack::cli
