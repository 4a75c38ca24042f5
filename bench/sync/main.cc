// syncstack-bench-sync: the end-to-end sync benchmark. It sets everything up
// itself (run.h) around the `syncstack` program's `serve` and prints a
// JSON line of figures per change count (report.h). scripts/bench-sync.sh
// runs a matrix.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "run.h"

namespace syncstack::bench {
namespace {

namespace fs = std::filesystem;
namespace po = boost::program_options;

constexpr char kProgram[] = "syncstack-bench-sync";
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // the benchmark failed
constexpr int kExitUsage = 2;    // bad command line

constexpr char kUsage[] =
    "syncstack-bench-sync --store sqlite|lmdb --records N --changes D[,D...] "
    "--mode full|reconcile|changes|auto|all "
    "[--server-store sqlite|lmdb|postgres] [--postgres CONNINFO] "
    "[--no-analyze] "
    "[--repeat K] [--payload-bytes 100] [--seed 1] [--dir TMPDIR] [--keep] "
    "[--login-every-sync] [--syncstack PATH]";

// The build tree's syncstack, when this program was built beside it.
#ifdef SYNCSTACK_BENCH_DEFAULT_SYNCSTACK
constexpr char kDefaultSyncstack[] = SYNCSTACK_BENCH_DEFAULT_SYNCSTACK;
#else
constexpr char kDefaultSyncstack[] = "";
#endif

struct CommandLine {
  std::string store, server_store, mode, syncstack = kDefaultSyncstack, parent;
  std::string changes, postgres;
  int64_t records = 0, repeat = 1, payload_bytes = 100;
  uint64_t seed = 1;
  bool keep = false;
  bool login_every_sync = false;
  bool no_analyze = false;
};

int Fail(std::string_view message, int code) {
  std::fprintf(stderr, "%s: %.*s\n", kProgram, static_cast<int>(message.size()),
               message.data());
  return code;
}

int UsageError(std::string_view message) {
  return Fail(std::string(message) + " (see --help)", kExitUsage);
}

po::options_description Options(CommandLine& c) {
  po::options_description options("options");
  auto add = options.add_options();
  add("store", po::value(&c.store)->required(),
      "sqlite or lmdb: the device's store (and the server's unless "
      "--server-store)");
  add("server-store", po::value(&c.server_store),
      "sqlite, lmdb or postgres: the server's store (default: --store). "
      "postgres makes a database on the server --postgres names and drops "
      "it afterwards");
  add("postgres", po::value(&c.postgres),
      "libpq conninfo of the PostgreSQL server for --server-store postgres "
      "(default: $SYNCSTACK_PG_CONNINFO, which scripts/with-postgres.sh "
      "sets)");
  add("no-analyze", po::bool_switch(&c.no_analyze),
      "do not ANALYZE the PostgreSQL server database after the fill (the "
      "planner then has no statistics when the syncs start)");
  add("records", po::value(&c.records)->required(),
      "records on the server (at least 1)");
  add("changes", po::value(&c.changes)->required(),
      "records changed before each incremental sync, half on each side "
      "(0 to N); a comma list (0,10,1000) runs each in turn after one fill "
      "and one cold sync, a JSON line each");
  add("mode", po::value(&c.mode)->required(),
      "sync mode: auto, full, reconcile, changes, or all (a round in each "
      "of changes, auto, reconcile and full, in one run)");
  add("repeat", po::value(&c.repeat),
      "rounds per mode and change count, every one reported (default: 1)");
  add("payload-bytes", po::value(&c.payload_bytes),
      "size of each record's JSON payload (16 to 1048576; default: 100)");
  add("seed", po::value(&c.seed), "seed of the record ids (default: 1)");
  add("dir", po::value(&c.parent),
      "make the working directory under this one (default: the system's "
      "temp dir)");
  add("keep", po::bool_switch(&c.keep),
      "keep the working directory (and a PostgreSQL server database)");
  add("login-every-sync", po::bool_switch(&c.login_every_sync),
      "log in with the password at every sync (default: the device keeps "
      "its login token between syncs)");
  const std::string server_default =
      *kDefaultSyncstack ? kDefaultSyncstack : "none: required";
  add("syncstack", po::value(&c.syncstack),
      ("the syncstack program whose `serve` is the server (default: " +
       server_default + ")")
          .c_str());
  add("help,h", "show this help");
  return options;
}

// Parses argv into `c`. Returns an exit code when the program should stop
// (--help, or a usage error already reported), nullopt to go on.
std::optional<int> Parse(int argc, char** argv, CommandLine& c) {
  po::options_description options = Options(c);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << kUsage << "\n\n" << options << "\n";
      return kExitOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return UsageError(e.what());
  }
  return std::nullopt;
}

// The change counts of "D[,D...]", each 0 to `records`; nullopt when the
// list does not hold.
std::optional<std::vector<uint64_t>> ParseChanges(const std::string& list,
                                                  int64_t records) {
  std::vector<uint64_t> out;
  std::istringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    long long d = -1;
    try {
      d = std::stoll(item, &used);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (used != item.size() || d < 0 || d > records) return std::nullopt;
    out.push_back(static_cast<uint64_t>(d));
  }
  if (out.empty() || list.back() == ',') return std::nullopt;
  return out;
}

// The cold sync's mode and each round set's modes for --mode `name`.
// Returns false for an unknown name.
bool ParseMode(const std::string& name, RunOptions& o) {
  o.mode = SyncMode::kAuto;
  if (name == "all") {
    // A round in each mode: the changes feed and auto first, then the two
    // that compare every record.
    o.modes = {SyncMode::kChanges, SyncMode::kAuto, SyncMode::kReconcile,
               SyncMode::kFull};
    return true;
  }
  if (name == "auto") {
    o.mode = SyncMode::kAuto;
  } else if (name == "full") {
    o.mode = SyncMode::kFull;
  } else if (name == "reconcile") {
    o.mode = SyncMode::kReconcile;
  } else if (name == "changes") {
    o.mode = SyncMode::kChanges;
  } else {
    return false;
  }
  // The mode asked, then the full manifest beside it.
  o.modes = {o.mode};
  if (o.mode != SyncMode::kFull) o.modes.push_back(SyncMode::kFull);
  return true;
}

// The stores of both sides, and the PostgreSQL server when the server's
// is PostgreSQL. Returns an exit code (a usage error, reported) when they
// do not hold.
std::optional<int> ValidateStores(const CommandLine& c, RunOptions& o) {
  std::optional<StoreKind> store = ParseStoreKind(c.store);
  if (!store || *store == StoreKind::kPostgres) {
    return UsageError("--store must be sqlite or lmdb, not \"" + c.store +
                      "\"");
  }
  std::optional<StoreKind> server =
      c.server_store.empty() ? store : ParseStoreKind(c.server_store);
  if (!server) {
    return UsageError(
        "--server-store must be sqlite, lmdb or postgres, not "
        "\"" +
        c.server_store + "\"");
  }
  o.store = *store;
  o.server_store = *server;
  o.postgres = c.postgres;
  if (o.postgres.empty()) {
    const char* env = std::getenv("SYNCSTACK_PG_CONNINFO");
    if (env != nullptr) o.postgres = env;
  }
  if (o.server_store == StoreKind::kPostgres && o.postgres.empty()) {
    return UsageError(
        "--server-store postgres needs a PostgreSQL server: run under "
        "scripts/with-postgres.sh (it sets SYNCSTACK_PG_CONNINFO) or pass "
        "--postgres CONNINFO");
  }
  return std::nullopt;
}

// Checks the command line and turns it into run options (all but dir).
// Returns an exit code (a usage error, reported) when it does not hold.
std::optional<int> Validate(const CommandLine& c, RunOptions& o) {
  if (auto code = ValidateStores(c, o)) return code;
  if (c.records < 1) return UsageError("--records must be at least 1");
  std::optional<std::vector<uint64_t>> changes =
      ParseChanges(c.changes, c.records);
  if (!changes) {
    return UsageError(
        "--changes must be a number, or a comma list of "
        "numbers, each between 0 and --records (" +
        std::to_string(c.records) + "), not \"" + c.changes + "\"");
  }
  if (!ParseMode(c.mode, o)) {
    return UsageError(
        "--mode must be auto, full, reconcile, changes or all, not \"" +
        c.mode + "\"");
  }
  if (c.repeat < 1 || c.repeat > 1000) {
    return UsageError("--repeat must be between 1 and 1000");
  }
  if (c.payload_bytes < 16 || c.payload_bytes > (1 << 20)) {
    return UsageError("--payload-bytes must be between 16 and 1048576");
  }
  if (c.syncstack.empty() || access(c.syncstack.c_str(), X_OK) != 0) {
    return UsageError("--syncstack: \"" + c.syncstack +
                      "\" is not an executable syncstack program");
  }
  o.changes = std::move(*changes);
  o.repeat = static_cast<int>(c.repeat);
  o.workload.records = static_cast<uint64_t>(c.records);
  o.workload.payload_bytes = static_cast<size_t>(c.payload_bytes);
  o.workload.seed = c.seed;
  o.syncstack = c.syncstack;
  o.login_every_sync = c.login_every_sync;
  o.keep = c.keep;
  o.analyze = !c.no_analyze;
  return std::nullopt;
}

int Main(int argc, char** argv) {
  CommandLine c;
  RunOptions o;
  if (auto code = Parse(argc, argv, c)) return *code;
  if (auto code = Validate(c, o)) return *code;
  fs::path parent =
      c.parent.empty() ? fs::temp_directory_path() : fs::path(c.parent);
  std::string pattern = (parent / "syncstack-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return Fail("cannot make a directory under " + parent.string() + ": " +
                    std::strerror(errno),
                kExitFailure);
  }
  o.dir = pattern;
  std::fprintf(stderr, "%s: working in %s\n", kProgram, o.dir.c_str());
  Result<RunFigures> figures = RunSyncBenchmark(o);
  std::error_code ec;
  if (c.keep) {
    std::fprintf(stderr, "%s: kept %s\n", kProgram, o.dir.c_str());
  } else {
    fs::remove_all(o.dir, ec);
  }
  if (!figures.ok()) return Fail(figures.status().message(), kExitFailure);
  for (const std::string& line : ReportLines(*figures)) {
    std::printf("%s\n", line.c_str());
  }
  return kExitOk;
}

}  // namespace
}  // namespace syncstack::bench

int main(int argc, char** argv) { return syncstack::bench::Main(argc, argv); }
