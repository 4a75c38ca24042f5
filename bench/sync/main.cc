// syncstack-bench-sync: the end-to-end sync benchmark. It sets everything up
// itself (run.h) around the `syncstack` program's `serve` and prints one
// JSON line of figures (report.h). scripts/bench-sync.sh runs a matrix.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

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
    "syncstack-bench-sync --store sqlite|lmdb --records N --changes D "
    "--mode full|reconcile|changes|auto|all [--payload-bytes 100] [--seed 1] "
    "[--dir TMPDIR] [--keep] [--login-every-sync] [--syncstack PATH]";

// The build tree's syncstack, when this program was built beside it.
#ifdef SYNCSTACK_BENCH_DEFAULT_SYNCSTACK
constexpr char kDefaultSyncstack[] = SYNCSTACK_BENCH_DEFAULT_SYNCSTACK;
#else
constexpr char kDefaultSyncstack[] = "";
#endif

struct CommandLine {
  std::string store, mode, syncstack = kDefaultSyncstack, parent;
  int64_t records = 0, changes = 0, payload_bytes = 100;
  uint64_t seed = 1;
  bool keep = false;
  bool login_every_sync = false;
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
      "sqlite or lmdb: the server's and the device's store");
  add("records", po::value(&c.records)->required(),
      "records on the server (at least 1)");
  add("changes", po::value(&c.changes)->required(),
      "records changed before each incremental sync, half on each side "
      "(0 to N)");
  add("mode", po::value(&c.mode)->required(),
      "sync mode: auto, full, reconcile, changes, or all (a round in each "
      "of changes, auto, reconcile and full, in one run)");
  add("payload-bytes", po::value(&c.payload_bytes),
      "size of each record's JSON payload (16 to 1048576; default: 100)");
  add("seed", po::value(&c.seed), "seed of the record ids (default: 1)");
  add("dir", po::value(&c.parent),
      "make the working directory under this one (default: the system's "
      "temp dir)");
  add("keep", po::bool_switch(&c.keep), "keep the working directory");
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

// Checks the command line and turns it into run options (all but dir).
// Returns an exit code (a usage error, reported) when it does not hold.
std::optional<int> Validate(const CommandLine& c, RunOptions& o) {
  std::optional<StoreKind> store = ParseStoreKind(c.store);
  if (!store) {
    return UsageError("--store must be sqlite or lmdb, not \"" + c.store +
                      "\"");
  }
  if (c.records < 1) return UsageError("--records must be at least 1");
  if (c.changes < 0 || c.changes > c.records) {
    return UsageError("--changes must be between 0 and --records (" +
                      std::to_string(c.records) + ")");
  }
  if (c.mode == "auto") {
    o.mode = SyncMode::kAuto;
  } else if (c.mode == "full") {
    o.mode = SyncMode::kFull;
  } else if (c.mode == "reconcile") {
    o.mode = SyncMode::kReconcile;
  } else if (c.mode == "changes") {
    o.mode = SyncMode::kChanges;
  } else if (c.mode == "all") {
    // The cold sync in auto, then a round in each mode: the changes feed
    // and auto first, while the device's checkpoint is fresh.
    o.mode = SyncMode::kAuto;
    o.modes = {SyncMode::kChanges, SyncMode::kAuto, SyncMode::kReconcile,
               SyncMode::kFull};
  } else {
    return UsageError(
        "--mode must be auto, full, reconcile, changes or all, not \"" +
        c.mode + "\"");
  }
  if (c.payload_bytes < 16 || c.payload_bytes > (1 << 20)) {
    return UsageError("--payload-bytes must be between 16 and 1048576");
  }
  if (c.syncstack.empty() || access(c.syncstack.c_str(), X_OK) != 0) {
    return UsageError("--syncstack: \"" + c.syncstack +
                      "\" is not an executable syncstack program");
  }
  o.store = *store;
  o.workload.records = static_cast<uint64_t>(c.records);
  o.workload.changes = static_cast<uint64_t>(c.changes);
  o.workload.payload_bytes = static_cast<size_t>(c.payload_bytes);
  o.workload.seed = c.seed;
  o.syncstack = c.syncstack;
  o.login_every_sync = c.login_every_sync;
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
  std::printf("%s\n", ReportLine(*figures).c_str());
  return kExitOk;
}

}  // namespace
}  // namespace syncstack::bench

int main(int argc, char** argv) { return syncstack::bench::Main(argc, argv); }
