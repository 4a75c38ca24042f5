// A write the app makes by plain SQL on a mapped table is stamped by the
// collection's policy, exactly as Replica::Put stamps one on syncstack's
// own store: for every policy the registry knows, the same edits race
// against another device's, once with device A writing SQL on its mapped
// table and once with A writing through Replica::Put on an unmapped
// collection, and both worlds must end alike (the server's record, both
// devices' records, the conflicts each sync reported).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "app_db.h"
#include "engine/world.h"
#include "syncstack/policies/registry.h"
#include "syncstack/sqlite/mapped_store.h"

namespace syncstack::testing {
namespace {

constexpr const char* kTable =
    "CREATE TABLE items(id TEXT PRIMARY KEY, title TEXT, n INTEGER);";
constexpr const char* kMapped =
    R"({"collections": {"items": {"id": "id", "table": "items"}}})";
constexpr const char* kUnmapped = R"({"collections": {"items": {"id": "id"}}})";
const std::string kId = "00000000-0000-4000-8000-0000000000a1";

// One step of a scenario: "A:title=x", "B:n=7", "A:del", "A:sync", ...
using Steps = std::vector<std::string>;

struct Scenario {
  const char* name;
  Steps steps;
};

const Scenario kScenarios[] = {
    // B edits one field, A later another; A reaches the server first.
    {"OtherFieldEarlier", {"B:n=7", "A:title=a", "A:sync", "B:sync"}},
    // B edits and syncs before A edits the same field, unaware.
    {"SameFieldAfterTheirSync", {"B:title=b", "B:sync", "A:title=a", "A:sync"}},
    // B edits, A deletes later.
    {"DeleteAfterTheirEdit", {"B:title=b", "A:del", "A:sync", "B:sync"}},
    // A edits, B deletes later and syncs first.
    {"EditBeforeTheirDelete", {"A:title=a", "B:del", "B:sync", "A:sync"}},
    // A edits twice around B's edit of another field.
    {"TwoEditsAroundTheirs",
     {"A:title=a", "B:n=7", "B:sync", "A:title=a2", "A:sync"}},
};

// A device: its writes go by SQL on the app's table (`app` set) or by
// Replica::Put on its store.
struct Device {
  std::unique_ptr<AppDb> app;
  std::unique_ptr<Database> database;
  std::shared_ptr<Store> store;
  std::unique_ptr<Replica> replica;
  std::unique_ptr<SyncEngine> engine;
  SyncOptions options;
  std::string title = "base";
  int n = 0;
};

// The outcome compared between the two worlds.
struct Outcome {
  std::vector<std::string> records;  // server, A, B: canonical text
  std::vector<size_t> conflicts;     // per sync, in order
};

class World {
 public:
  World(const std::string& policy, bool a_by_sql) {
    InProcessServerOptions options;
    options.database = std::move(OpenMemoryDatabase()).value();
    options.policy = std::move(NewPolicyByName(policy)).value();
    options.schema = *Schema::Parse(kUnmapped);
    server_ = std::make_unique<InProcessServer>(std::move(options));
    a_ = a_by_sql ? SqlDevice("a") : PutDevice("a");
    b_ = PutDevice("b");
  }

  // Runs `steps` after a common start (A creates the row, both sync),
  // then lets both converge.
  Outcome Run(const Steps& steps) {
    Outcome out;
    for (const std::string& step : Steps{"A:new", "A:sync", "B:sync"}) {
      Do(step, out);
    }
    out.conflicts.clear();
    for (const std::string& step : steps) Do(step, out);
    for (const std::string& step : Steps{"A:sync", "B:sync", "A:sync"}) {
      Do(step, out);
    }
    auto server = *server_->database().OpenAccount("alice");
    for (Store* store : {server.get(), a_->store.get(), b_->store.get()}) {
      out.records.push_back(Canonical(*store));
    }
    return out;
  }

 private:
  static std::unique_ptr<Device> Common(const std::string& name) {
    auto d = std::make_unique<Device>();
    d->options.user = "alice";
    d->options.device = name;
    d->options.write.sync = false;
    return d;
  }

  std::unique_ptr<Device> SqlDevice(const std::string& name) {
    auto d = Common(name);
    const std::string path = (dir_.path() / (name + ".db")).string();
    d->app = std::make_unique<AppDb>(path);
    d->app->Exec(kTable);
    MappedSqliteOptions options;
    options.path = path;
    options.schema = *Schema::Parse(kMapped);
    d->database = std::move(OpenMappedSqliteDatabase(options)).value();
    d->store = *d->database->OpenAccount(kLocalAccount);
    d->engine = std::make_unique<SyncEngine>(*d->store, server_->transport(),
                                             server_->policy(),
                                             *Schema::Parse(kMapped));
    return d;
  }

  std::unique_ptr<Device> PutDevice(const std::string& name) {
    auto d = Common(name);
    d->database = std::move(OpenMemoryDatabase()).value();
    d->store = *d->database->OpenAccount(kLocalAccount);
    d->replica = std::make_unique<Replica>(*d->store, server_->policy(),
                                           SystemClock(), d->options.write);
    d->engine = std::make_unique<SyncEngine>(*d->store, server_->transport(),
                                             server_->policy(),
                                             *Schema::Parse(kUnmapped));
    return d;
  }

  void Do(const std::string& step, Outcome& out) {
    Device& d = step[0] == 'A' ? *a_ : *b_;
    const std::string what = step.substr(2);
    if (what == "sync") {
      auto report = d.engine->Run(d.options);
      ASSERT_TRUE(report.ok()) << step << ": " << report.status().ToString();
      out.conflicts.push_back(report->conflicts.size());
      return;
    }
    // Edits are a few milliseconds apart: every policy orders them alike
    // in both worlds.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (what == "del") {
      if (d.app) {
        d.app->Exec("DELETE FROM items WHERE id = '" + kId + "'");
      } else {
        ASSERT_OK(d.replica->Remove("items", *RecordId::Parse(kId)));
      }
      return;
    }
    if (what.starts_with("title=")) d.title = what.substr(6);
    if (what.starts_with("n=")) d.n = std::stoi(what.substr(2));
    if (d.app) {
      d.app->Exec(what == "new"
                      ? "INSERT INTO items VALUES('" + kId + "', 'base', 0)"
                      : "UPDATE items SET title = '" + d.title + "', n = " +
                            std::to_string(d.n) + " WHERE id = '" + kId + "'");
    } else {
      ASSERT_OK(d.replica->Put(
          "items", *RecordId::Parse(kId),
          R"({"title":")" + d.title + R"(","n":)" + std::to_string(d.n) + "}"));
    }
  }

  // The record as "gone" (a tombstone, or forgotten after one) or
  // "title|n" (key order aside).
  std::string Canonical(Store& store) {
    auto r = store.GetOne("items", *RecordId::Parse(kId));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "error";
    if (!*r || (*r)->deleted) return "gone";
    return *json_.One("SELECT json_extract('" + (*r)->payload +
                      "', '$.title') || '|' || json_extract('" + (*r)->payload +
                      "', '$.n')");
  }

  TempDir dir_;
  AppDb json_{":memory:"};
  std::unique_ptr<InProcessServer> server_;
  std::unique_ptr<Device> a_, b_;
};

void PrintTo(const Scenario& s, std::ostream* os) { *os << s.name; }

class MappedPolicy
    : public ::testing::TestWithParam<std::tuple<std::string, Scenario>> {};

TEST_P(MappedPolicy, SqlEditsResolveAsReplicaPuts) {
  const auto& [policy, scenario] = GetParam();
  Outcome by_put = World(policy, false).Run(scenario.steps);
  Outcome by_sql = World(policy, true).Run(scenario.steps);
  EXPECT_EQ(by_sql.records, by_put.records)
      << "server, A, B under " << policy << ", " << scenario.name;
  EXPECT_EQ(by_sql.conflicts, by_put.conflicts)
      << "conflicts per sync under " << policy << ", " << scenario.name;
  // Every side converged.
  EXPECT_EQ(by_sql.records[0], by_sql.records[1]);
  EXPECT_EQ(by_sql.records[0], by_sql.records[2]);
}

std::vector<std::string> Policies() {
  std::vector<std::string> out;
  for (const std::string& name : BuiltinPolicyNames()) {
    out.push_back(name);
    out.push_back(name + "+fields");
  }
  return out;
}

std::string TestName(
    const ::testing::TestParamInfo<std::tuple<std::string, Scenario>>& info) {
  std::string name =
      std::get<0>(info.param) + "_" + std::get<1>(info.param).name;
  for (char& c : name) {
    if (c == '-' || c == '+') c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(EveryPolicy, MappedPolicy,
                         ::testing::Combine(::testing::ValuesIn(Policies()),
                                            ::testing::ValuesIn(kScenarios)),
                         TestName);

}  // namespace
}  // namespace syncstack::testing
