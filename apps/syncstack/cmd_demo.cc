// demo: the seed's story on embedded SQLite. A server and two devices of
// one user (a phone and a laptop) edit offline, sync over the loopback
// transport, and end holding the same records.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "commands.h"
#include "syncstack/clock.h"
#include "syncstack/codec.h"
#include "syncstack/loopback/in_process_server.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/replica.h"
#include "syncstack/sqlite/sqlite_store.h"

namespace syncstack::cli {
namespace {

namespace fs = std::filesystem;

// What a store holds, canonically: (collection, id) -> payload @ version.
using Dump = std::map<std::pair<std::string, RecordId>, std::string>;

Result<Dump> DumpStore(Store& store) {
  Dump dump;
  SYNCSTACK_ASSIGN_OR_RETURN(std::vector<std::string> names,
                             store.Collections());
  ScanOptions live;
  live.include_tombstones = false;
  for (const auto& name : names) {
    SYNCSTACK_RETURN_IF_ERROR(
        ScanRecords(store, name, live, [&](const Record& r) {
          dump[{name, r.id}] =
              r.payload + " @ " + FormatTimestamp(r.version.timestamp);
        }));
  }
  return dump;
}

struct Device {
  std::string name;
  std::unique_ptr<Database> database;
  std::shared_ptr<Store> store;
  std::unique_ptr<Replica> replica;
  std::unique_ptr<SyncEngine> engine;
};

class Demo {
 public:
  explicit Demo(fs::path dir) : dir_(std::move(dir)), clock_(Start()) {}

  int Main() {
    Status s = Setup();
    if (!s.ok()) return Fail(s);
    s = Story();
    if (!s.ok()) return Fail(s);
    return Verdict();
  }

 private:
  static Timestamp Start() { return SystemClock().Now() / 1000 * 1000; }

  Result<std::unique_ptr<Database>> OpenDb(const char* file) {
    SqliteDatabaseOptions options;
    options.path = (dir_ / file).string();
    return OpenSqliteDatabase(options);
  }

  Status Setup() {
    Schema schema;
    schema.Set("todo", "id");
    schema.Set("budget", "bid");
    schema.MakeStrict();
    InProcessServerOptions server;
    SYNCSTACK_ASSIGN_OR_RETURN(server.database, OpenDb("server.db"));
    server.policy = NewLastWriteWinsPolicy();
    server.clock = &clock_;
    server.schema = schema;
    server_ = std::make_unique<InProcessServer>(std::move(server));
    const ConflictPolicy& policy = server_->policy();
    for (const char* name : {"phone", "laptop"}) {
      Device d;
      d.name = name;
      SYNCSTACK_ASSIGN_OR_RETURN(d.database,
                                 OpenDb((std::string(name) + ".db").c_str()));
      SYNCSTACK_ASSIGN_OR_RETURN(d.store,
                                 d.database->OpenAccount(kLocalAccount));
      d.replica = std::make_unique<Replica>(*d.store, policy, clock_);
      d.engine = std::make_unique<SyncEngine>(*d.store, server_->transport(),
                                              policy, schema);
      devices_.push_back(std::move(d));
    }
    return Status::Ok();
  }

  Device& phone() { return devices_[0]; }
  Device& laptop() { return devices_[1]; }

  // A local write one second after the previous event.
  Status Put(Device& d, const char* collection, const RecordId& id,
             const std::string& json) {
    clock_.Advance(1000);
    return d.replica->Put(collection, id, json);
  }

  Status Sync(Device& d) {
    clock_.Advance(1000);
    SyncOptions options;
    options.user = "alice";
    options.device = d.name;
    SYNCSTACK_ASSIGN_OR_RETURN(SyncReport report, d.engine->Run(options));
    std::printf("   %-6s sync: %s\n", d.name.c_str(),
                DescribeReport(report).c_str());
    for (const auto& c : report.conflicts) {
      std::printf("          conflict on %s/%s: %s; kept the %s's version\n",
                  c.collection.c_str(), c.id.ToString().substr(0, 8).c_str(),
                  c.what.c_str(), std::string(KeptName(c.kept)).c_str());
    }
    return Status::Ok();
  }

  Status Story() {
    std::printf(
        "syncstack demo: one server and two devices of user \"alice\" (a "
        "phone and a laptop),\n"
        "each on embedded SQLite in %s, syncing over the loopback "
        "transport\n"
        "with last-write-wins.\n\n",
        dir_.c_str());
    RecordId milk = RecordId::Random(), florist = RecordId::Random(),
             invites = RecordId::Random(), venue = RecordId::Random(),
             rings = RecordId::Random();

    std::printf(
        "1. The phone, offline, creates three todos and a budget "
        "line, then syncs.\n");
    SYNCSTACK_RETURN_IF_ERROR(
        Put(phone(), "todo", milk, R"({"title":"buy milk","done":false})"));
    SYNCSTACK_RETURN_IF_ERROR(Put(phone(), "todo", florist,
                                  R"({"title":"call florist","done":false})"));
    SYNCSTACK_RETURN_IF_ERROR(
        Put(phone(), "todo", invites,
            R"({"title":"send invitations","done":false})"));
    SYNCSTACK_RETURN_IF_ERROR(Put(
        phone(), "budget", rings,
        R"({"expense_title":"Wedding rings","cost":300,"note":"ΓΙΑ ΤΗ ΝΥΦΗ 💍"})"));
    SYNCSTACK_RETURN_IF_ERROR(Sync(phone()));

    std::printf("\n2. The laptop syncs for the first time.\n");
    SYNCSTACK_RETURN_IF_ERROR(Sync(laptop()));

    std::printf(
        "\n3. Both go offline. The phone ticks off \"buy milk\" and adds "
        "\"book venue\";\n   the laptop edits \"call florist\" and deletes "
        "\"send invitations\".\n");
    SYNCSTACK_RETURN_IF_ERROR(
        Put(phone(), "todo", milk, R"({"title":"buy milk","done":true})"));
    SYNCSTACK_RETURN_IF_ERROR(
        Put(phone(), "todo", venue, R"({"title":"book venue","done":false})"));
    SYNCSTACK_RETURN_IF_ERROR(
        Put(laptop(), "todo", florist,
            R"({"title":"call florist at 9","done":false})"));
    clock_.Advance(1000);
    SYNCSTACK_RETURN_IF_ERROR(laptop().replica->Remove("todo", invites));
    SYNCSTACK_RETURN_IF_ERROR(Sync(phone()));
    SYNCSTACK_RETURN_IF_ERROR(Sync(laptop()));
    SYNCSTACK_RETURN_IF_ERROR(Sync(phone()));

    std::printf(
        "\n4. A conflict: both edit \"book venue\" offline; the laptop's "
        "edit is later.\n");
    SYNCSTACK_RETURN_IF_ERROR(
        Put(phone(), "todo", venue, R"({"title":"book venue","done":true})"));
    SYNCSTACK_RETURN_IF_ERROR(
        Put(laptop(), "todo", venue,
            R"({"title":"book the old mill","done":false})"));
    SYNCSTACK_RETURN_IF_ERROR(Sync(laptop()));
    SYNCSTACK_RETURN_IF_ERROR(Sync(phone()));
    SYNCSTACK_RETURN_IF_ERROR(Sync(laptop()));
    return Status::Ok();
  }

  int Verdict() {
    auto server_store = server_->database().OpenAccount("alice");
    if (!server_store.ok()) return Fail(server_store.status());
    auto server = DumpStore(**server_store);
    if (!server.ok()) return Fail(server.status());
    std::printf("\nThe server now holds:\n");
    for (const auto& [key, value] : *server) {
      std::printf("   %-6s %s  %s\n", key.first.c_str(),
                  key.second.ToString().substr(0, 8).c_str(), value.c_str());
    }
    bool converged = true;
    for (auto& d : devices_) {
      auto dump = DumpStore(*d.store);
      if (!dump.ok()) return Fail(dump.status());
      if (*dump != *server) {
        converged = false;
        std::printf("%s differs from the server\n", d.name.c_str());
      }
    }
    if (!converged) return Fail("the devices did not converge");
    std::printf(
        "\nConverged: the phone, the laptop and the server hold the "
        "same %zu records.\n",
        server->size());
    return kExitOk;
  }

  fs::path dir_;
  ManualClock clock_;
  std::unique_ptr<InProcessServer> server_;
  std::vector<Device> devices_;  // destroyed before the server
};

}  // namespace

int RunDemo(int argc, char** argv) {
  po::options_description options("demo options");
  std::string dir;
  options.add_options()("dir", po::value(&dir),
                        "keep the databases in this folder (default: a new "
                        "temporary folder, removed afterwards)");
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc, argv, "syncstack demo [--dir DIR]", options, vm,
                 exit_code)) {
    return exit_code;
  }
  bool temporary = dir.empty();
  std::error_code ec;
  if (temporary) {
    std::string pattern =
        (fs::temp_directory_path(ec) / "syncstack-demo-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return Fail("cannot create a temporary folder in " +
                  fs::temp_directory_path(ec).string());
    }
    dir = pattern;
  } else {
    fs::create_directories(dir, ec);
    if (ec) return Fail("cannot create " + dir + ": " + ec.message());
    if (!fs::is_empty(dir, ec)) {
      return Fail("--dir " + dir + " is not empty");
    }
  }
  int result = Demo(dir).Main();
  if (temporary) fs::remove_all(dir, ec);
  return result;
}

}  // namespace syncstack::cli
