// A server keeping mapped collections in its own PostgreSQL tables, and
// devices on mapped SQLite tables syncing with it in process. The server's
// tables live in a PostgreSQL schema of their own per world (on the
// connection's search_path), syncstack's tables in another; both are
// dropped when the test program ends.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app_db.h"
#include "engine/world.h"
#include "store/postgres_env.h"
#include "syncstack/fingerprint.h"
#include "syncstack/postgres/postgres_store.h"
#include "syncstack/sqlite/mapped_store.h"
#include "syncstack/users.h"

namespace syncstack::testing {

// The server's tables: couples and their budget lines, each row owned by
// a user (column owner), typed as a server app would type them.
inline constexpr const char* kPgTables = R"sql(
CREATE TABLE couples(id uuid PRIMARY KEY, owner text NOT NULL,
                     name text NOT NULL, n integer);
CREATE TABLE budget(bid text PRIMARY KEY, owner text NOT NULL,
                    couple_id uuid NOT NULL REFERENCES couples(id),
                    title text, amount double precision, paid boolean,
                    extra jsonb);
)sql";

// The devices' tables: the same without the owner.
inline constexpr const char* kDeviceTables = R"sql(
CREATE TABLE couples(id TEXT PRIMARY KEY, name TEXT NOT NULL, n INTEGER);
CREATE TABLE budget(bid TEXT PRIMARY KEY,
                    couple_id TEXT NOT NULL REFERENCES couples(id),
                    title TEXT, amount REAL, paid BOOLEAN, extra JSON);
)sql";

inline constexpr const char* kPgSchema = R"({"collections": {
  "couples": {"id": "id", "table": "couples", "account": "owner"},
  "budget": {"id": "bid", "table": "budget", "account": "owner",
             "references": {"couple_id": "couples"}}
}})";

// A libpq connection for the server's "other code": plain SQL.
class PgConn {
 public:
  explicit PgConn(const std::string& conninfo)
      : conn_(PQconnectdb(conninfo.c_str())) {
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    EXPECT_EQ(PQstatus(conn_), CONNECTION_OK) << PQerrorMessage(conn_);
  }
  ~PgConn() { PQfinish(conn_); }
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs `sql`; returns the error message, "" on success.
  std::string TryExec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    std::string error;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      error = PQerrorMessage(conn_);
      if (error.empty()) error = "error";
    }
    PQclear(r);
    return error;
  }
  void Exec(const std::string& sql) { EXPECT_EQ(TryExec(sql), "") << sql; }
  // The first column of the first row ("NULL" for NULL), or nullopt.
  std::optional<std::string> One(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    std::optional<std::string> out;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      out = PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0);
    } else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      ADD_FAILURE() << sql << ": " << PQerrorMessage(conn_);
    }
    PQclear(r);
    return out;
  }
  int64_t Count(const std::string& sql) {
    auto v = One(sql);
    return v ? std::stoll(*v) : -1;
  }

 private:
  PGconn* conn_;
};

// One device on mapped SQLite tables.
struct PgDevice {
  std::string name;
  std::string user;
  std::unique_ptr<AppDb> app;
  std::unique_ptr<Database> database;
  std::shared_ptr<Store> store;
  std::unique_ptr<SyncEngine> engine;
  SyncOptions options;

  Result<SyncReport> Sync() { return engine->Run(options); }
};

class PgWorld {
 public:
  // Skips (or fails, in CI) without a server: check ok() first.
  explicit PgWorld(const std::string& tables = kPgTables,
                   const std::string& schema_json = kPgSchema) {
    auto base = testing_pg::ConninfoOrSkip();
    if (!base) return;
    const std::string name = testing_pg::UniqueSchema("mapped");
    app_schema_ = name + "_app";
    syncstack_schema_ = name;
    testing_pg::SchemaJanitor::Get().Add(app_schema_);
    testing_pg::SchemaJanitor::Get().Add(syncstack_schema_);
    conninfo_ = *base + " options='-csearch_path=" + app_schema_ + "'";
    {
      PgConn admin(*base);
      admin.Exec("CREATE SCHEMA \"" + app_schema_ + "\"");
    }
    sql_ = std::make_unique<PgConn>(conninfo_);
    sql_->Exec(tables);
    schema_ = *Schema::Parse(schema_json);
    ok_ = true;
  }

  bool ok() const { return ok_; }
  PgConn& sql() { return *sql_; }
  const std::string& conninfo() const { return conninfo_; }
  const std::string& syncstack_schema() const { return syncstack_schema_; }
  const Schema& schema() const { return schema_; }

  PostgresDatabaseOptions Options() const {
    PostgresDatabaseOptions options;
    options.conninfo = conninfo_;
    options.schema = syncstack_schema_;
    options.mapped_tables = schema_;
    return options;
  }

  // Opens the server (attaching its tables) with `users`.
  Status Start(const std::vector<std::string>& users = {"alice", "bob"}) {
    auto db = OpenPostgresDatabase(Options());
    if (!db.ok()) return db.status();
    for (const std::string& user : users) {
      Status s = AddUser(**db, user, "pw-" + user, true);
      if (!s.ok()) return s;
    }
    InProcessServerOptions options;
    options.database = std::move(db).value();
    options.policy = NewLastWriteWinsPolicy();
    options.schema = schema_;
    server_ = std::make_unique<InProcessServer>(std::move(options));
    return Status::Ok();
  }

  // Adds the users without starting (so that a later Start backfills
  // their rows).
  Status AddUsers(const std::vector<std::string>& users) {
    PostgresDatabaseOptions options = Options();
    options.mapped_tables = Schema();
    auto db = OpenPostgresDatabase(options);
    if (!db.ok()) return db.status();
    for (const std::string& user : users) {
      Status s = AddUser(**db, user, "pw-" + user, true);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  PgDevice& Add(const std::string& name, const std::string& user = "alice") {
    auto d = std::make_unique<PgDevice>();
    d->name = name;
    d->user = user;
    const std::string path = (dir_.path() / (name + ".db")).string();
    d->app = std::make_unique<AppDb>(path);
    d->app->Exec(kDeviceTables);
    MappedSqliteOptions options;
    options.path = path;
    options.schema = schema_;
    auto db = OpenMappedSqliteDatabase(options);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    d->database = std::move(db).value();
    d->store = *d->database->OpenAccount(kLocalAccount);
    d->engine = std::make_unique<SyncEngine>(*d->store, server_->transport(),
                                             server_->policy(), schema_);
    d->options.user = user;
    d->options.password = "pw-" + user;
    d->options.device = name;
    d->options.write.sync = false;
    devices_.push_back(std::move(d));
    return *devices_.back();
  }

  Store& Server(const std::string& user = "alice") {
    auto& s = stores_[user];
    if (!s) s = *server_->database().OpenAccount(user);
    return *s;
  }
  InProcessServer& server() { return *server_; }
  std::vector<std::unique_ptr<PgDevice>>& devices() { return devices_; }

 private:
  bool ok_ = false;
  std::string conninfo_;
  std::string app_schema_;
  std::string syncstack_schema_;
  Schema schema_;
  std::unique_ptr<PgConn> sql_;
  TempDir dir_;
  std::unique_ptr<InProcessServer> server_;
  std::map<std::string, std::shared_ptr<Store>> stores_;
  std::vector<std::unique_ptr<PgDevice>> devices_;
};

// The live records of `store` in `collections`: "<collection>/<id>" ->
// payload.
inline std::map<std::string, std::string> LiveRecords(
    Store& store, const std::vector<std::string>& collections) {
  std::map<std::string, std::string> out;
  for (const std::string& collection : collections) {
    ScanOptions live;
    live.include_tombstones = false;
    Status s = ScanRecords(store, collection, live, [&](const Record& r) {
      out[collection + "/" + r.id.ToString()] = r.payload;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return out;
}

// Expects the same keys with equal JSON (compared as jsonb: key order,
// spacing and 99 vs 99.0 differ between SQLite's and PostgreSQL's JSON),
// a field holding null equal to an absent one (a column one side has and
// the other lacks).
inline void ExpectSameRecords(PgConn& sql,
                              const std::map<std::string, std::string>& a,
                              const std::map<std::string, std::string>& b,
                              const std::string& what) {
  std::vector<std::string> only_a, only_b;
  for (const auto& [k, v] : a) {
    if (b.count(k) == 0) only_a.push_back(k);
  }
  for (const auto& [k, v] : b) {
    if (a.count(k) == 0) only_b.push_back(k);
  }
  EXPECT_TRUE(only_a.empty() && only_b.empty())
      << what << ": " << only_a.size() << " only on the left (first "
      << (only_a.empty() ? "" : only_a[0]) << "), " << only_b.size()
      << " only on the right (first " << (only_b.empty() ? "" : only_b[0])
      << ")";
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) continue;
    auto quote = [](const std::string& text) {
      std::string q = "'";
      for (char c : text) {
        q += c;
        if (c == '\'') q += '\'';
      }
      return q + "'";
    };
    EXPECT_EQ(sql.One("SELECT jsonb_strip_nulls(" + quote(v) +
                      "::jsonb) = jsonb_strip_nulls(" + quote(it->second) +
                      "::jsonb)"),
              "t")
        << what << " " << k << ": " << v << " vs " << it->second;
  }
}

// The figure the server keeps for `collection` equals one computed by a
// scan of its records.
inline void ExpectFigureHolds(Store& server, const std::string& collection) {
  SetFingerprint scanned;
  ScanOptions live;
  live.include_tombstones = false;
  auto it = server.Scan(collection, live);
  for (; it->Valid(); it->Next()) {
    scanned.Add(it->entry().id, it->entry().version);
  }
  ASSERT_TRUE(it->status().ok()) << it->status().ToString();
  auto stored = server.GetMeta("figure/" + collection);
  ASSERT_TRUE(stored.ok() && stored->has_value()) << collection;
  EXPECT_EQ(**stored, scanned.Encode()) << collection;
}

}  // namespace syncstack::testing
