#include "stores.h"

#include <cassert>

#include "syncstack/lmdb/lmdb_store.h"
#include "syncstack/sqlite/sqlite_store.h"

namespace syncstack::bench {

std::string_view StoreName(StoreKind kind) {
  switch (kind) {
    case StoreKind::kSqlite:
      return "sqlite";
    case StoreKind::kLmdb:
      return "lmdb";
    case StoreKind::kPostgres:
      return "postgres";
  }
  return "?";
}

std::optional<StoreKind> ParseStoreKind(std::string_view name) {
  if (name == "sqlite") return StoreKind::kSqlite;
  if (name == "lmdb") return StoreKind::kLmdb;
  if (name == "postgres") return StoreKind::kPostgres;
  return std::nullopt;
}

std::filesystem::path DatabasePath(StoreKind kind,
                                   const std::filesystem::path& dir,
                                   std::string_view name) {
  assert(kind != StoreKind::kPostgres);
  return dir /
         (std::string(name) + (kind == StoreKind::kSqlite ? ".db" : ".lmdb"));
}

std::string StoreUri(StoreKind kind, const std::filesystem::path& path) {
  assert(kind != StoreKind::kPostgres);
  return std::string(StoreName(kind)) + ":" + path.string();
}

Result<std::unique_ptr<Database>> OpenDatabase(
    StoreKind kind, const std::filesystem::path& path) {
  assert(kind != StoreKind::kPostgres);
  if (kind == StoreKind::kSqlite) {
    SqliteDatabaseOptions options;
    options.path = path.string();
    return OpenSqliteDatabase(options);
  }
  LmdbDatabaseOptions options;
  options.path = path.string();  // created if missing
  return OpenLmdbDatabase(options);
}

void RemoveDatabase(StoreKind kind, const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (kind == StoreKind::kSqlite) {
    std::filesystem::remove(path.string() + "-wal", ec);
    std::filesystem::remove(path.string() + "-shm", ec);
  }
}

}  // namespace syncstack::bench
