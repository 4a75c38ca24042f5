#include "cli_common.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "syncstack/metadata_keys.h"
#include "syncstack/sqlite/mapped_store.h"
#include "syncstack/users.h"

namespace syncstack::cli {

int Fail(std::string_view message) {
  std::fprintf(stderr, "syncstack: %.*s\n", static_cast<int>(message.size()),
               message.data());
  return kExitFailure;
}

int Fail(const Status& status) { return Fail(status.message()); }

Result<std::unique_ptr<Database>> OpenServerDatabase(std::string_view uri) {
  for (std::string_view scheme : {"sqlite:", "lmdb:"}) {
    if (!uri.starts_with(scheme)) continue;
    std::string path(uri.substr(scheme.size()));
    std::error_code ec;
    if (!path.empty() && !std::filesystem::exists(path, ec)) {
      return Status::NotFound("no store at " + path);
    }
  }
  DatabaseRegistry registry;
  RegisterBuiltins(registry);
  return registry.Open(uri);
}

Result<ServerAccount> OpenServerAccount(std::string_view uri,
                                        std::string_view user) {
  ServerAccount out;
  SYNCSTACK_ASSIGN_OR_RETURN(out.database, OpenServerDatabase(uri));
  SYNCSTACK_ASSIGN_OR_RETURN(bool known, HasUser(*out.database, user));
  SYNCSTACK_ASSIGN_OR_RETURN(out.store, out.database->OpenAccount(user));
  if (!known) {
    // Servers with an in-process authenticator (the demo) have no users.
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> seq,
                               out.store->GetMeta(meta::kSequence));
    SYNCSTACK_ASSIGN_OR_RETURN(std::vector<std::string> names,
                               out.store->Collections());
    if (!seq && names.empty()) {
      return Status::NotFound("no user \"" + std::string(user) +
                              "\" in this store");
    }
  }
  return out;
}

bool ParseArgs(int argc, char** argv, std::string_view usage,
               const po::options_description& options, po::variables_map& vm,
               int& exit_code) {
  po::options_description all(options);
  all.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << usage << "\n\n" << all << "\n";
      exit_code = kExitOk;
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "syncstack: %s (see --help)\n", e.what());
    exit_code = kExitUsage;
    return false;
  }
  return true;
}

namespace {

// The app's database behind a `sqlite:` URI when it is to be opened as a
// mapped store (a schema with tables, or attached before); else nullptr.
Result<std::unique_ptr<Database>> OpenMapped(std::string_view uri,
                                             const Schema& given) {
  constexpr std::string_view kScheme = "sqlite:";
  if (!uri.starts_with(kScheme)) {
    if (!given.mappings().empty()) {
      return Status::InvalidArgument(
          "a schema that maps collections to tables needs a sqlite: store "
          "(the app's database), not " +
          std::string(uri));
    }
    return std::unique_ptr<Database>();
  }
  MappedSqliteOptions options;
  options.path = std::string(uri.substr(kScheme.size()));
  if (given.mappings().empty()) {
    SYNCSTACK_ASSIGN_OR_RETURN(bool attached,
                               IsMappedSqliteDatabase(options.path));
    if (!attached) return std::unique_ptr<Database>();
  }
  options.schema = given;
  return OpenMappedSqliteDatabase(options);
}

}  // namespace

Result<LocalStore> OpenLocalStore(std::string_view uri,
                                  const std::string& schema_file) {
  Schema given;
  if (!schema_file.empty()) {
    auto loaded = Schema::Load(schema_file);
    if (!loaded.ok()) return loaded.status().WithContext("--schema");
    given = std::move(*loaded);
  }
  LocalStore local;
  SYNCSTACK_ASSIGN_OR_RETURN(local.database, OpenMapped(uri, given));
  if (!local.database) {
    DatabaseRegistry registry;
    RegisterBuiltins(registry);
    SYNCSTACK_ASSIGN_OR_RETURN(local.database, registry.Open(uri));
  }
  SYNCSTACK_ASSIGN_OR_RETURN(local.store,
                             local.database->OpenAccount(kLocalAccount));
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> learned,
                             local.store->GetMeta(meta::kSchema));
  if (learned) {
    auto parsed = Schema::Parse(*learned);
    if (!parsed.ok()) {
      return parsed.status().WithContext("the store's learned schema");
    }
    for (const auto& [name, key] : parsed->collections()) {
      local.schema.Set(name, key);
    }
  }
  for (const auto& [name, key] : given.collections()) {
    if (given.Mapping(name) == nullptr) local.schema.Set(name, key);
  }
  for (const std::string& name : given.ParentsFirst()) {  // parents first
    SYNCSTACK_RETURN_IF_ERROR(local.schema.SetMapped(
        name, given.collections().at(name), *given.Mapping(name)));
  }
  return local;
}

std::string DescribeReport(const SyncReport& report) {
  const CaseCounts& c = report.cases;
  std::string out;
  auto item = [&](uint64_t n, const char* what) {
    if (n == 0) return;
    out += out.empty() ? "" : ", ";
    out += std::to_string(n) + " " + what;
  };
  item(c.fetched_new, "fetched (case 1: new on the server)");
  item(c.pulled, "pulled (case 2: newer on the server)");
  item(c.pushed_updates, "pushed (case 2: newer here)");
  item(c.pushed_adds, "added (case 3: created offline)");
  item(c.deleted_here, "deleted here (case 3: deleted on the server)");
  item(c.pushed_deletes, "local deletes pushed");
  item(c.dropped_tombstones, "deleted on both sides");
  if (out.empty()) out = "nothing to do";
  if (report.server_restored) {
    out += "; the server's history went back (restored from a backup?): " +
           std::to_string(c.repushed) + " record" +
           (c.repushed == 1 ? "" : "s") + " it had lost pushed again";
  } else if (c.repushed > 0) {
    out += "; " + std::to_string(c.repushed) +
           " records the server had lost pushed again";
  }
  if (report.resynced) {
    out +=
        "; a full resync (the server collected tombstones newer than "
        "this device's last complete sync)";
  }
  if (!report.changes_refused.empty()) {
    out += "; the server refused this device's checkpoint (" +
           report.changes_refused + "): falling back to reconcile";
  }
  if (!report.fingerprint_mismatch.empty()) {
    out += "; fingerprint mismatch: " + report.fingerprint_mismatch +
           ": falling back to reconcile";
  }
  if (!report.conflicts.empty()) {
    out += "; " + std::to_string(report.conflicts.size()) + " conflict" +
           (report.conflicts.size() == 1 ? "" : "s");
  }
  return out;
}

namespace {

// `ms` (>= 0) in the largest unit that keeps it readable.
std::string DescribeDuration(int64_t ms) {
  const double s = static_cast<double>(ms) / 1000.0;
  struct Unit {
    double seconds;
    const char* name;
  };
  static constexpr Unit kUnits[] = {
      {365.25 * 86400, "years"}, {86400, "days"}, {3600, "h"}, {60, "min"}};
  char text[64];
  for (const Unit& u : kUnits) {
    if (s >= 2 * u.seconds) {
      std::snprintf(text, sizeof text, "%.1f %s", s / u.seconds, u.name);
      return text;
    }
  }
  std::snprintf(text, sizeof text, "%.1f s", s);
  return text;
}

}  // namespace

std::string DescribeClock(const SyncReport& report) {
  std::string offset;
  const char* side = "ahead of";
  if (report.clock_offset_ms != kNoTimestamp &&
      std::llabs(report.clock_offset_ms) >= 1000) {
    offset = DescribeDuration(std::llabs(report.clock_offset_ms));
    if (report.clock_offset_ms < 0) side = "behind";
  }
  std::string out;
  if (report.restamped > 0) {
    out += "syncstack: " + std::to_string(report.restamped) +
           (report.restamped == 1 ? " write" : " writes") +
           " restamped with the server's clock: ";
    out += offset.empty() ? std::string("this device's clock was too far ahead")
                          : "this device's clock is " + offset + " " + side +
                                " the server's";
    out += " (serve --max-clock-ahead)\n";
  } else if (!offset.empty()) {
    out += "syncstack: this device's clock is " + offset + " " + side +
           " the server's\n";
  }
  return out;
}

}  // namespace syncstack::cli
