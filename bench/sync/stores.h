// The stores the end-to-end benchmark runs on, by kind: where a run keeps
// a file database, the URI `syncstack serve` takes for it, and opening it
// through the store's own factory. PostgreSQL (the server's store only) is
// in postgres_db.h.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "syncstack/status.h"
#include "syncstack/store.h"

namespace syncstack::bench {

// kSqlite and kLmdb keep a database in the run's directory (a device's or
// a server's); kPostgres is a server's only.
enum class StoreKind { kSqlite, kLmdb, kPostgres };

// "sqlite", "lmdb" or "postgres".
std::string_view StoreName(StoreKind kind);

// The kind named `name`; nullopt for any other name.
std::optional<StoreKind> ParseStoreKind(std::string_view name);

// The database called `name` under `dir`: "NAME.db" (a SQLite file) or
// "NAME.lmdb" (an LMDB directory). REQUIRES: kind is not kPostgres.
std::filesystem::path DatabasePath(StoreKind kind,
                                   const std::filesystem::path& dir,
                                   std::string_view name);

// The store URI of the database at `path`: "sqlite:PATH" or "lmdb:PATH".
// REQUIRES: kind is not kPostgres.
std::string StoreUri(StoreKind kind, const std::filesystem::path& path);

// Opens (creating if missing) the database at `path` with the store's
// default options, as `syncstack` opens a store URI.
// Errors: those of OpenSqliteDatabase / OpenLmdbDatabase.
// REQUIRES: kind is not kPostgres.
Result<std::unique_ptr<Database>> OpenDatabase(
    StoreKind kind, const std::filesystem::path& path);

// Removes the database at `path` and, for SQLite, its -wal and -shm files.
// REQUIRES: kind is not kPostgres.
void RemoveDatabase(StoreKind kind, const std::filesystem::path& path);

}  // namespace syncstack::bench
