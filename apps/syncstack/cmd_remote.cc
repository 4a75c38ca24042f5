// serve, user add, sync: a real server and real devices over HTTP.
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "syncstack/codec.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/service.h"
#include "syncstack/users.h"

namespace syncstack::cli {
namespace {

// The password from, in order: --password, --password-file, the
// SYNCSTACK_PASSWORD environment variable, a prompt on a terminal.
Result<std::string> GetPassword(const po::variables_map& vm) {
  if (vm.count("password")) return vm["password"].as<std::string>();
  if (vm.count("password-file")) {
    std::string path = vm["password-file"].as<std::string>();
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) {
      return Status::InvalidArgument("cannot read a password from " + path);
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  if (const char* env = std::getenv("SYNCSTACK_PASSWORD")) {
    return std::string(env);
  }
  if (isatty(STDIN_FILENO)) {
    std::fprintf(stderr, "password: ");
    termios old{};
    bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (restore) tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
    return line;
  }
  return Status::InvalidArgument(
      "no password: give --password-file FILE, set SYNCSTACK_PASSWORD, or "
      "run on a terminal to be asked");
}

void AddPasswordOptions(po::options_description& options) {
  options.add_options()("password", po::value<std::string>(),
                        "the password (visible to other local users; prefer "
                        "the next two)")(
      "password-file", po::value<std::string>(),
      "read the password from the first line of this file")(
      "user", po::value<std::string>()->required(), "user name");
}

Result<std::unique_ptr<ConflictPolicy>> PolicyByName(std::string_view name) {
  if (name == "lww") return NewLastWriteWinsPolicy();
  return Status::InvalidArgument("unknown policy \"" + std::string(name) +
                                 "\"; this build knows: lww");
}

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

// Progress for people, once a sync has taken over a second: a bar with
// exact totals on a terminal, plain lines (one per tenth) otherwise.
class ProgressPrinter final : public SyncObserver {
 public:
  ProgressPrinter() : tty_(isatty(STDERR_FILENO)), start_(Now()) {}
  ~ProgressPrinter() override { Finish(); }

  void OnProgress(const SyncProgress& p) override {
    using Phase = SyncProgress::Phase;
    if (p.phase == Phase::kDone) return Finish();
    if (p.phase != Phase::kExchange) return;
    last_ = p;
    if (Now() - start_ < std::chrono::seconds(1)) return;
    Draw();
  }

 private:
  static std::chrono::steady_clock::time_point Now() {
    return std::chrono::steady_clock::now();
  }

  void Draw() {
    const auto done = static_cast<unsigned long long>(last_.done);
    const auto total = static_cast<unsigned long long>(last_.total);
    if (tty_) {
      constexpr int kWidth = 30;
      int filled =
          total == 0 ? kWidth : static_cast<int>(done * kWidth / total);
      std::fprintf(stderr, "\r[%.*s%.*s] %llu/%llu records", filled,
                   "==============================", kWidth - filled,
                   "                              ", done, total);
      drawn_ = true;
    } else {
      unsigned long long tenth = total == 0 ? 10 : done * 10 / total;
      if (tenth == last_tenth_) return;
      last_tenth_ = tenth;
      std::fprintf(stderr, "syncstack: exchanged %llu of %llu records\n", done,
                   total);
    }
  }

  void Finish() {
    if (!drawn_) return;
    Draw();  // the final count
    std::fprintf(stderr, "\n");
    drawn_ = false;
  }

  bool tty_;
  std::chrono::steady_clock::time_point start_;
  SyncProgress last_;
  bool drawn_ = false;
  unsigned long long last_tenth_ = 11;
};

int stop_pipe[2] = {-1, -1};  // written by the stop-signal handler

}  // namespace

int RunServe(int argc, char** argv) {
  po::options_description options("serve options");
  std::string uri, listen, schema_file, policy_name = "lww";
  size_t max_body = 64u << 20;
  int lease_seconds = 30;
  options.add_options()("store", po::value(&uri)->required(),
                        "server store URI, e.g. sqlite:server.db")(
      "listen", po::value(&listen)->required(),
      "HOST:PORT to listen on (port 0: any free port, printed)")(
      "schema", po::value(&schema_file),
      "schema file: the collections and their id keys")(
      "policy", po::value(&policy_name), "conflict policy (default: lww)")(
      "max-body", po::value(&max_body),
      "largest request body in bytes (default: 64 MiB)")(
      "lease-seconds", po::value(&lease_seconds),
      "sync lock lease length (default: 30)");
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc, argv,
                 "syncstack serve --store URI --listen HOST:PORT [--schema "
                 "FILE] [--policy NAME] [--max-body BYTES] [--lease-seconds N]",
                 options, vm, exit_code)) {
    return exit_code;
  }
  HttpServerOptions http;
  Status s = ParseListen(listen, http.host, http.port);
  if (!s.ok()) return Fail(s);
  if (lease_seconds < 1) return Fail("--lease-seconds must be at least 1");
  if (max_body < 1024) return Fail("--max-body must be at least 1024");
  http.max_body = max_body;
  Schema schema;
  if (!schema_file.empty()) {
    auto loaded = Schema::Load(schema_file);
    if (!loaded.ok()) return Fail(loaded.status().WithContext(schema_file));
    schema = std::move(*loaded);
  }
  auto policy = PolicyByName(policy_name);
  if (!policy.ok()) return Fail(policy.status());
  DatabaseRegistry registry;
  RegisterBuiltins(registry);
  auto database = registry.Open(uri);
  if (!database.ok()) return Fail(database.status());
  auto lock =
      NewMemorySyncLock(SystemClock(), std::chrono::seconds(lease_seconds));
  auto authenticator = NewDatabaseAuthenticator(**database);
  SyncServiceOptions service_options;
  service_options.max_body = max_body;
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
  auto server = StartHttpServer(service, http);
  if (!server.ok()) return Fail(server.status());
  std::printf("syncstack: serving %s on http://%s:%u (policy %s)\n",
              uri.c_str(), http.host.c_str(), (*server)->port(),
              policy_name.c_str());
  std::fflush(stdout);
  char byte;
  while (read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
  (*server)->Stop();
  std::printf("syncstack: stopped\n");
  return kExitOk;
}

int RunUser(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "add") {
    if (argc >= 2 && (std::string_view(argv[1]) == "--help" ||
                      std::string_view(argv[1]) == "-h")) {
      std::printf(
          "usage: syncstack user add --store URI --user NAME [--password PW "
          "| --password-file FILE]\n");
      return kExitOk;
    }
    return Fail("usage: syncstack user add --store URI --user NAME ...");
  }
  po::options_description options("user add options");
  std::string uri;
  options.add_options()("store", po::value(&uri)->required(),
                        "server store URI, e.g. sqlite:server.db")(
      "replace", "change the password of an existing user");
  AddPasswordOptions(options);
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc - 1, argv + 1,
                 "syncstack user add --store URI --user NAME [--password PW | "
                 "--password-file FILE]  (or SYNCSTACK_PASSWORD, or a prompt)",
                 options, vm, exit_code)) {
    return exit_code;
  }
  std::string user = vm["user"].as<std::string>();
  Status valid = ValidateUserName(user);
  if (!valid.ok()) return Fail(valid);
  auto password = GetPassword(vm);
  if (!password.ok()) return Fail(password.status());
  DatabaseRegistry registry;
  RegisterBuiltins(registry);
  auto database = registry.Open(uri);
  if (!database.ok()) return Fail(database.status());
  Status s = AddUser(**database, user, *password, vm.count("replace") > 0);
  if (!s.ok()) return Fail(s);
  std::printf("syncstack: user \"%s\" %s\n", user.c_str(),
              vm.count("replace") ? "updated" : "added");
  return kExitOk;
}

int RunSync(int argc, char** argv) {
  po::options_description options("sync options");
  std::string uri, remote, device, collections;
  int lock_wait = 60;
  options.add_options()("store", po::value(&uri)->required(),
                        "this device's store URI, e.g. sqlite:phone.db")(
      "remote", po::value(&remote)->required(), "the server, http://HOST:PORT")(
      "device", po::value(&device),
      "this device's name (default: one made up once and kept in the store)")(
      "collections", po::value(&collections),
      "sync only these, comma-separated")(
      "lock-wait", po::value(&lock_wait),
      "seconds to wait while another device syncs (default: 60)")(
      "allow-mass-delete",
      "delete local records even when the server lacks most of them");
  AddPasswordOptions(options);
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc, argv,
                 "syncstack sync --store URI --remote URL --user NAME "
                 "[--password PW | --password-file FILE] [--device NAME]",
                 options, vm, exit_code)) {
    return exit_code;
  }
  if (remote.rfind("dir:", 0) == 0) {
    return Fail(
        "--remote dir:PATH (file exchange) is not in this build yet; "
        "use http://HOST:PORT");
  }
  HttpClientOptions http;
  http.url = remote;
  auto transport = NewHttpTransport(http);
  if (!transport.ok()) return Fail(transport.status().WithContext("--remote"));
  auto password = GetPassword(vm);
  if (!password.ok()) return Fail(password.status());
  auto local = OpenLocalStore(uri);
  if (!local.ok()) return Fail(local.status());

  if (device.empty()) {
    auto kept = local->store->GetMeta("device");
    if (!kept.ok()) return Fail(kept.status());
    if (*kept) {
      device = **kept;
    } else {
      device = "device-" + RecordId::Random().ToString().substr(0, 8);
      ChangeBatch batch;
      batch.SetMeta("device", device);
      Status s = local->store->Apply(WriteOptions{}, batch);
      if (!s.ok()) return Fail(s);
    }
  }
  SyncOptions sync;
  sync.user = vm["user"].as<std::string>();
  sync.password = *password;
  sync.device = device;
  sync.allow_mass_delete = vm.count("allow-mass-delete") > 0;
  sync.lock_wait = std::chrono::seconds(std::max(0, lock_wait));
  for (size_t start = 0; start < collections.size();) {
    size_t comma = collections.find(',', start);
    if (comma == std::string::npos) comma = collections.size();
    if (comma > start) {
      sync.collections.push_back(collections.substr(start, comma - start));
    }
    start = comma + 1;
  }
  auto policy = NewLastWriteWinsPolicy();
  SyncEngine engine(*local->store, **transport, *policy, local->schema);
  ProgressPrinter progress;
  auto report = engine.Run(sync, &progress);
  if (!report.ok()) {
    const Status& st = report.status();
    if (st.code() == Status::Code::kAborted) {
      return Fail(st.message() + " (--allow-mass-delete)");
    }
    return Fail(st);
  }
  std::printf("syncstack: synced %s as \"%s\": %s\n", uri.c_str(),
              device.c_str(), DescribeReport(*report).c_str());
  for (const auto& c : report->conflicts) {
    std::printf("syncstack: conflict on %s/%s: %s; kept the %s's version\n",
                c.collection.c_str(), c.id.ToString().c_str(), c.what.c_str(),
                std::string(KeptName(c.kept)).c_str());
  }
  return kExitOk;
}

}  // namespace syncstack::cli
