#include "syncstack/stores/device_stores.h"

#include "syncstack/lmdb/lmdb_store.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/sqlite/sqlite_store.h"

namespace syncstack {

void RegisterDeviceStores(DatabaseRegistry& registry) {
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
}

}  // namespace syncstack
