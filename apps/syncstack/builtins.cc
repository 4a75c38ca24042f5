#include "cli_common.h"
#include "syncstack/stores/device_stores.h"
#ifdef SYNCSTACK_HAS_POSTGRES
#include "syncstack/postgres/postgres_store.h"
#endif

namespace syncstack::cli {
#ifdef SYNCSTACK_HAS_POSTGRES
namespace {

// Takes syncstack's own key `schema=NAME` (the PostgreSQL schema holding
// the tables; libpq has no such key) out of a conninfo "k=v k2=v2" or a
// postgresql:// URI's query, so several deployments (or tests) can share
// one database. Returns the schema, or "" if the key is absent.
std::string TakeSchema(std::string& conninfo) {
  bool uri = conninfo.starts_with("postgresql://") ||
             conninfo.starts_with("postgres://");
  std::string_view key = "schema=";
  size_t at = 0;
  while ((at = conninfo.find(key, at)) != std::string::npos) {
    char before = at == 0 ? ' ' : conninfo[at - 1];
    bool starts = uri ? (before == '?' || before == '&') : before == ' ';
    if (starts) break;
    at += key.size();
  }
  if (at == std::string::npos) return "";
  size_t end = conninfo.find(uri ? '&' : ' ', at);
  if (end == std::string::npos) end = conninfo.size();
  std::string schema = conninfo.substr(at + key.size(), end - at - key.size());
  // Drop the key with one separator: the one after it, else the one before.
  size_t from = at, to = end;
  if (to < conninfo.size()) {
    ++to;
  } else if (from > 0 && (!uri || conninfo[from - 1] == '&')) {
    --from;
  }
  conninfo.erase(from, to - from);
  if (uri && !conninfo.empty() && conninfo.back() == '?') conninfo.pop_back();
  return schema;
}

}  // namespace
#endif

void RegisterBuiltins(DatabaseRegistry& registry, const Schema& server_tables) {
  RegisterDeviceStores(registry);
#ifndef SYNCSTACK_HAS_POSTGRES
  (void)server_tables;
#endif
#ifdef SYNCSTACK_HAS_POSTGRES
  registry.Register(
      "postgres",
      [server_tables](
          std::string_view rest) -> Result<std::unique_ptr<Database>> {
        if (rest.empty()) {
          return Status::InvalidArgument(
              "postgres: needs a libpq conninfo or URI, e.g. "
              "\"postgres:host=127.0.0.1 dbname=sync\" or "
              "postgres:postgresql://user@host/sync (add schema=NAME, or "
              "?schema=NAME to a URI, for tables outside the schema "
              "\"syncstack\")");
        }
        PostgresDatabaseOptions options;
        options.conninfo = std::string(rest);
        std::string schema = TakeSchema(options.conninfo);
        if (!schema.empty()) options.schema = std::move(schema);
        options.mapped_tables = server_tables;
        return OpenPostgresDatabase(options);
      });
#endif
}

}  // namespace syncstack::cli
