#include "cli_common.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/sqlite/sqlite_store.h"

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
}

}  // namespace syncstack::cli
