// Collections kept in the server's own PostgreSQL tables (mapped
// collections with an account column): checking the tables, installing
// syncstack's functions and capture triggers, and recording the rows that
// were there before (backfill). The SQL: postgres_mapped_sql.h; why it is
// so: docs/decisions/mapped-tables.md, "The server".
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "postgres_internal.h"
#include "postgres_mapped_sql.h"

namespace syncstack::postgres_internal {
namespace {

// The advisory lock of migrations (postgres_connection.cc): attaching
// takes it too, so two processes never attach at once.
constexpr int64_t kMigrationLock = 0x73796e6373636831;

// One mapped collection as found in the database.
struct Found {
  std::string collection;
  std::string table;  // qualified and quoted: "public"."budget"
  std::string name;   // as the schema names it: budget
  std::string id_column;
  std::string id_type;  // "uuid" or "text"
  std::string owner_column;
  std::string refs;  // {"column": "parent collection"}
  int depth = 0;
};

std::string Quoted(std::string_view name) {
  return "\"" + std::string(name) + "\"";
}

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

// Checks one mapping against the table the database has.
Status CheckTable(pqxx::nontransaction& tx, const std::string& collection,
                  const std::string& id_key, const TableMapping& m,
                  Found& out) {
  const std::string where =
      "schema: collection " + Quoted(collection) + ": table " + Quoted(m.table);
  pqxx::result t = tx.exec_params(
      "SELECT c.oid::bigint, format('%I.%I', n.nspname, c.relname) "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')",
      tx.quote_name(m.table));
  if (t.empty()) {
    return Status::InvalidArgument(where + " does not exist");
  }
  const int64_t oid = t[0][0].as<int64_t>();
  out.table = t[0][1].as<std::string>();
  std::map<std::string, std::string> types;  // column -> type name
  for (const pqxx::row& row :
       tx.exec_params("SELECT a.attname::text, t.typname::text "
                      "FROM pg_attribute a JOIN pg_type t "
                      "ON t.oid = a.atttypid WHERE a.attrelid = $1::oid "
                      "AND a.attnum > 0 AND NOT a.attisdropped",
                      oid)) {
    types.emplace(row[0].as<std::string>(), row[1].as<std::string>());
  }
  pqxx::result pk = tx.exec_params(
      "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a "
      "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
      "WHERE i.indrelid = $1::oid AND i.indisprimary",
      oid);
  if (pk.empty()) {
    return Status::InvalidArgument(where + " has no primary key (want " +
                                   "PRIMARY KEY (" + id_key + "))");
  }
  if (pk.size() != 1 || pk[0][0].as<std::string>() != id_key) {
    return Status::InvalidArgument(where +
                                   ": its primary key is not the id "
                                   "column " +
                                   Quoted(id_key) + " alone");
  }
  auto column = [&](const std::string& name,
                    const char* role) -> Result<std::string> {
    auto it = types.find(name);
    if (it == types.end()) {
      return Status::InvalidArgument(where + " has no column " + Quoted(name) +
                                     " (" + role + ")");
    }
    return it->second;
  };
  SYNCSTACK_ASSIGN_OR_RETURN(std::string id_type, column(id_key, "the id"));
  if (id_type == "uuid") {
    out.id_type = "uuid";
  } else if (id_type == "text" || id_type == "varchar") {
    out.id_type = "text";
  } else {
    return Status::InvalidArgument(where + ": the id column " + Quoted(id_key) +
                                   " is " + id_type + " (want uuid or text)");
  }
  SYNCSTACK_ASSIGN_OR_RETURN(std::string owner_type,
                             column(m.account, "the account column"));
  if (owner_type != "text" && owner_type != "varchar") {
    return Status::InvalidArgument(where + ": the account column " +
                                   Quoted(m.account) + " is " + owner_type +
                                   " (want text)");
  }
  out.refs = "{";
  for (const auto& [ref, parent] : m.references) {
    SYNCSTACK_RETURN_IF_ERROR(column(ref, "a reference").status());
    if (out.refs.size() > 1) out.refs += ',';
    out.refs += JsonString(ref) + ":" + JsonString(parent);
  }
  out.refs += '}';
  for (const auto& [name, type] : types) {
    if (name == "last_update") {
      return Status::InvalidArgument(
          where + ": a column may not be named \"last_update\"");
    }
    if (type == "bytea") {
      return Status::InvalidArgument(where + ": column " + Quoted(name) +
                                     " is bytea, which cannot be synced");
    }
  }
  out.collection = collection;
  out.name = m.table;
  out.id_column = id_key;
  out.owner_column = m.account;
  return Status::Ok();
}

// Every mapping that names an account column, checked; read-only.
Status CheckTables(pqxx::connection& c, const Schema& schema,
                   std::vector<Found>& found) {
  pqxx::nontransaction tx(c);
  for (const std::string& collection : schema.ParentsFirst()) {
    const TableMapping* m = schema.Mapping(collection);
    if (m == nullptr || m->account.empty()) continue;
    Found f;
    auto id_key = schema.IdKey(collection);
    if (!id_key.ok()) return id_key.status();
    SYNCSTACK_RETURN_IF_ERROR(
        CheckTable(tx, collection, std::string(*id_key), *m, f));
    f.depth = schema.Depth(collection);
    for (const auto& [ref, parent] : m->references) {
      const TableMapping* pm = schema.Mapping(parent);
      if (pm == nullptr || pm->account.empty()) {
        return Status::InvalidArgument(
            "schema: collection " + Quoted(collection) + " references " +
            Quoted(parent) + ", which has no \"account\" column on the server");
      }
    }
    found.push_back(std::move(f));
  }
  return Status::Ok();
}

// Refuses to unmap a collection or to map one syncstack already stores.
Status CheckChange(pqxx::work& tx, const std::string& schema,
                   const std::vector<Found>& found) {
  std::set<std::string> now;
  for (const Found& f : found) now.insert(f.collection);
  std::set<std::string> before;
  for (const pqxx::row& row :
       tx.exec("SELECT collection FROM " + schema + ".mapped")) {
    before.insert(row[0].as<std::string>());
  }
  for (const std::string& c : before) {
    if (now.count(c) == 0) {
      return Status::InvalidArgument(
          "schema: collection " + Quoted(c) +
          " was kept in the server's table and is not mapped now; "
          "unmapping a collection is not supported");
    }
  }
  for (const std::string& c : now) {
    if (before.count(c) != 0) continue;
    if (!tx.exec_params("SELECT 1 FROM " + schema +
                            ".records WHERE collection = $1 LIMIT 1",
                        c)
             .empty()) {
      return Status::InvalidArgument(
          "schema: collection " + Quoted(c) +
          " already has records in syncstack's own store; mapping it to a "
          "table afterwards is not supported");
    }
  }
  return Status::Ok();
}

// The capture triggers of one table, one per event (PostgreSQL wants that
// for transition tables): `trigger` on INSERT, `trigger`_upd on UPDATE,
// `trigger`_del on DELETE, each FOR EACH STATEMENT (a statement's rows are
// recorded in one pass: docs/decisions/mapped-tables.md).
void Install(pqxx::work& tx, const std::string& schema,
             const std::string& trigger, const Found& f) {
  const std::string args = tx.quote(f.collection) + ", " +
                           tx.quote(f.id_column) + ", " +
                           tx.quote(f.owner_column);
  const struct {
    const char* suffix;
    const char* event;
    const char* tables;
  } kinds[] = {
      {"", "INSERT", "NEW TABLE AS new_rows"},
      {"_upd", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"},
      {"_del", "DELETE", "OLD TABLE AS old_rows"},
  };
  for (const auto& k : kinds) {
    const std::string name = tx.quote_name(trigger + k.suffix);
    tx.exec("DROP TRIGGER IF EXISTS " + name + " ON " + f.table);
    tx.exec("CREATE TRIGGER " + name + " AFTER " + k.event + " ON " + f.table +
            " REFERENCING " + k.tables +
            " FOR EACH STATEMENT EXECUTE FUNCTION " + schema + ".capture(" +
            args + ")");
  }
}

// Rows with sync state but no row (deleted while the triggers were
// missing): recorded as deleted.
void RecordMissing(pqxx::work& tx, const std::string& schema, const Found& f) {
  tx.exec_params(
      "SELECT " + schema + ".capture_write($1, $2, $3, r.account, " + schema +
          ".id_text(r.id), NULL) FROM " + schema +
          ".records r WHERE r.collection = $3 AND NOT r.deleted AND NOT "
          "EXISTS (SELECT 1 FROM " +
          schema +
          ".parked p WHERE p.account = r.account AND p.collection = "
          "r.collection AND p.id = r.id) AND NOT EXISTS (SELECT 1 FROM " +
          f.table + " t WHERE t." + tx.quote_name(f.id_column) + " = " +
          schema + ".id_text(r.id)::" + f.id_type + " AND t." +
          tx.quote_name(f.owner_column) + " = r.account)",
      f.name, f.id_column, f.collection);
}

// Rows without sync state (there before syncstack attached, or written
// while its triggers were missing): recorded as written by the server, in
// one set-based pass per owner (a row-by-row capture would rewrite the
// owner's sequence and figure once per row).
void Backfill(pqxx::work& tx, const std::string& schema, const Found& f) {
  tx.exec_params("SELECT " + schema + ".backfill($1, $2)", f.name,
                 f.collection);
}

Status AttachTables(pqxx::connection& c, const std::string& schema,
                    const std::string& schema_name,
                    const std::vector<Found>& found) {
  pqxx::work tx(c);
  tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) +
          ")");
  tx.exec("SET LOCAL client_min_messages = warning");
  tx.exec(WithSchema(kMappedTables, schema));
  tx.exec(WithSchema(kMappedFunctions, schema));
  SYNCSTACK_RETURN_IF_ERROR(CheckChange(tx, schema, found));
  tx.exec("DELETE FROM " + schema + ".mapped");
  for (const Found& f : found) {
    tx.exec_params("INSERT INTO " + schema +
                       ".mapped VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
                   f.collection, f.table, f.id_column, f.id_type,
                   f.owner_column, f.refs, f.depth);
  }
  const std::string trigger = "syncstack_" + schema_name;
  for (const Found& f : found) Install(tx, schema, trigger, f);
  for (auto it = found.rbegin(); it != found.rend(); ++it) {
    RecordMissing(tx, schema, *it);
  }
  for (const Found& f : found) Backfill(tx, schema, f);
  // Statistics over the records just written: without them the capture's
  // lookups by (account, collection, id) may be planned on records_by_base,
  // a scan of the collection each.
  tx.exec("ANALYZE " + schema + ".records, " + schema + ".meta");
  tx.commit();
  return Status::Ok();
}

}  // namespace

bool HasServerTables(const Schema& mapping) {
  for (const auto& [collection, m] : mapping.mappings()) {
    if (!m.account.empty()) return true;
  }
  return false;
}

Status CheckMapped(const std::string& conninfo, const Schema& mapping) {
  if (!HasServerTables(mapping)) return Status::Ok();
  try {
    pqxx::connection c(conninfo);
    std::vector<Found> found;
    return CheckTables(c, mapping, found);
  } catch (...) {
    bool transient = false;
    return CurrentError("check mapped tables", transient);
  }
}

Status AttachMapped(const std::string& conninfo, const std::string& schema,
                    const std::string& schema_name, const Schema& mapping) {
  if (!HasServerTables(mapping)) return Status::Ok();
  try {
    pqxx::connection c(conninfo);
    std::vector<Found> found;
    SYNCSTACK_RETURN_IF_ERROR(CheckTables(c, mapping, found));
    return AttachTables(c, schema, schema_name, found);
  } catch (...) {
    bool transient = false;
    return CurrentError("attach mapped tables", transient);
  }
}

Result<std::map<std::string, int, std::less<>>> LoadMapped(
    const std::string& conninfo, const std::string& schema) {
  try {
    pqxx::connection c(conninfo);
    pqxx::nontransaction tx(c);
    std::map<std::string, int, std::less<>> out;
    if (tx.exec("SELECT to_regclass(" + tx.quote(schema + ".mapped") +
                ")")[0][0]
            .is_null()) {
      return out;
    }
    for (const pqxx::row& row :
         tx.exec("SELECT collection, depth FROM " + schema + ".mapped")) {
      out.emplace(row[0].as<std::string>(), row[1].as<int>());
    }
    return out;
  } catch (...) {
    bool transient = false;
    return CurrentError("load mapped tables", transient);
  }
}

}  // namespace syncstack::postgres_internal
