// The server's database of a run: a file in the run's directory (SQLite,
// LMDB) or a PostgreSQL database made for the run (postgres_db.h); the
// store URI `syncstack serve` takes for it; its fill through the Store
// API; and a second handle on it for the checks.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "postgres_db.h"
#include "stores.h"
#include "syncstack/status.h"
#include "syncstack/store.h"
#include "workload.h"

namespace syncstack::bench {

// The user the server's database holds, and its password.
inline constexpr char kUser[] = "bench";
inline constexpr char kPassword[] = "bench-password";

struct ServerDatabaseOptions {
  StoreKind kind = StoreKind::kSqlite;
  // The run's working directory: a SQLite or LMDB database goes in it
  // (and goes with it).
  std::filesystem::path dir;
  // kPostgres: the conninfo of the PostgreSQL server on which the run's
  // database is made. Default: none.
  std::string postgres;
  // kPostgres: leave the database in place after the run. Default: false.
  bool keep = false;
};

class ServerDatabase {
 public:
  // Makes the run's empty server database: a path under options.dir, or
  // a new PostgreSQL database "syncstack_bench_<pid>_<time>" on
  // options.postgres. Errors: kInvalidArgument (kPostgres without a
  // conninfo), and ScratchPostgres::Create's (kUnavailable when no
  // server answers).
  static Result<std::unique_ptr<ServerDatabase>> Create(
      const ServerDatabaseOptions& options);

  ServerDatabase(const ServerDatabase&) = delete;
  ServerDatabase& operator=(const ServerDatabase&) = delete;
  ~ServerDatabase();  // a PostgreSQL database is dropped unless kept

  // The store URI `syncstack serve --store` takes for it.
  std::string uri() const;
  // Where it is, for messages: the path, or "postgres database NAME".
  std::string where() const;

  // After the fill: PostgreSQL gathers its planner statistics (ANALYZE),
  // as autovacuum would have by the time a loaded server serves syncs;
  // without them the store's prepared lookups get generic plans that scan
  // the account once per id. Nothing for SQLite and LMDB.
  // Errors: kUnavailable, kIOError.
  Status Analyze() const;

  // Opens a handle on it, as serve does (the server may be running).
  // Errors: those of the store's factory.
  Result<std::unique_ptr<Database>> Open() const;

 private:
  ServerDatabase() = default;

  StoreKind kind_ = StoreKind::kSqlite;
  std::filesystem::path path_;                // SQLite, LMDB
  std::unique_ptr<ScratchPostgres> scratch_;  // PostgreSQL
};

// Fills `database` (empty) as a server would have: the user kUser (as
// `syncstack user add` makes one) and the workload's records through the
// Store API in writes of 10,000 records, each row's base its write's
// sequence, the account keeping its write sequence and the collection's
// count + fingerprint. Returns the seconds the records took.
// Errors: the store's, with context.
Result<double> FillServer(Database& database, const Workload& workload);

}  // namespace syncstack::bench
