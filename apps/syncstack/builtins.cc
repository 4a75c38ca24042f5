#include "cli_common.h"
#include "syncstack/lmdb/lmdb_store.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/sqlite/sqlite_store.h"
#ifdef SYNCSTACK_HAS_POSTGRES
#include "syncstack/postgres/postgres_store.h"
#endif

namespace syncstack::cli {

void RegisterBuiltins(DatabaseRegistry& registry) {
  registry.Register(
      "memory", [](std::string_view rest) -> Result<std::unique_ptr<Database>> {
        if (!rest.empty()) {
          return Status::InvalidArgument(
              "memory: takes no path (use \"memory:\")");
        }
        return OpenMemoryDatabase();
      });
  registry.Register(
      "sqlite", [](std::string_view rest) -> Result<std::unique_ptr<Database>> {
        if (rest.empty()) {
          return Status::InvalidArgument(
              "sqlite: needs a path, e.g. sqlite:app.db");
        }
        SqliteDatabaseOptions options;
        options.path = std::string(rest);
        return OpenSqliteDatabase(options);
      });
  registry.Register(
      "lmdb", [](std::string_view rest) -> Result<std::unique_ptr<Database>> {
        if (rest.empty()) {
          return Status::InvalidArgument(
              "lmdb: needs a directory, e.g. lmdb:data/lmdb");
        }
        LmdbDatabaseOptions options;
        options.path = std::string(rest);  // created if missing
        return OpenLmdbDatabase(options);
      });
#ifdef SYNCSTACK_HAS_POSTGRES
  registry.Register(
      "postgres",
      [](std::string_view rest) -> Result<std::unique_ptr<Database>> {
        if (rest.empty()) {
          return Status::InvalidArgument(
              "postgres: needs a libpq conninfo or URI, e.g. "
              "\"postgres:host=127.0.0.1 dbname=sync\" or "
              "postgres:postgresql://user@host/sync");
        }
        PostgresDatabaseOptions options;
        options.conninfo = std::string(rest);
        return OpenPostgresDatabase(options);
      });
#endif
}

}  // namespace syncstack::cli
