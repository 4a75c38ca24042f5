// The PostgreSQL backend's connection layer: the schema and its
// migrations, the statements every connection prepares, the pool, the one
// place libpqxx errors become a Status, and bytea's text encoding.
//
// Layout (in options.schema; the version in syncstack_schema):
//
//   records(account, collection, id bytea, ts, extra bytea, deleted, state,
//           base, payload bytea, PRIMARY KEY(account, collection, id))
//   meta(account, key, value bytea, PRIMARY KEY(account, key))
//   locks(account PRIMARY KEY, token, device, fence, expires_at)   (v2)
//        + secret_hash (the holder's device secret's SHA-256)         (v3)
//   index records_by_base ON records(account, collection, base, id)    (v4)
//   index records_unsynced ON records(account, collection, id)
//         WHERE state <> 0                                            (v4)
//   records_by_base made partial: WHERE base >= INT64_MIN              (v5)
//
// Why: the account leads every key, so a table can be distributed (Citus)
// or partitioned by account, and every statement names one account.
// Payloads are bytea, not text or jsonb: stores keep payload bytes exactly
// as given (jsonb normalises; text rejects NUL and invalid UTF-8). Names are
// COLLATE "C" so they sort bytewise, like ids. The v4 indexes answer
// Store::ScanSince (rows by write sequence) and Store::ScanUnsynced (the
// partial index holds only rows not synced); docs/decisions/changes-feed.md.
//
// Migrations: kMigrations[i] brings version i to i + 1. Open applies the
// missing ones in one transaction under a transaction-level advisory lock,
// so several processes may open (and migrate) the same database at once.
#include <cstdint>
#include <iterator>
#include <new>

#include "postgres_internal.h"
#include "postgres_statements.h"

namespace syncstack::postgres_internal {
namespace {

constexpr int kSchemaVersion = 5;
// The advisory lock of migrations: one bigint key, which never collides
// with the (class, account hash) pairs of the accounts' locks.
constexpr int64_t kMigrationLock = 0x73796e6373636831;  // "syncsch1"

// "$S." stands for the quoted schema name.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE $S.records(
  account text COLLATE "C" NOT NULL,
  collection text COLLATE "C" NOT NULL,
  id bytea NOT NULL,
  ts bigint NOT NULL,
  extra bytea NOT NULL,
  deleted boolean NOT NULL,
  state smallint NOT NULL,
  base bigint NOT NULL,
  payload bytea NOT NULL,
  PRIMARY KEY (account, collection, id));
CREATE TABLE $S.meta(
  account text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  value bytea NOT NULL,
  PRIMARY KEY (account, key));
)sql",
    R"sql(
CREATE TABLE $S.locks(
  account text COLLATE "C" PRIMARY KEY,
  token text NOT NULL,
  device text NOT NULL,
  fence bigint NOT NULL,
  expires_at bigint NOT NULL);
)sql",
    R"sql(
ALTER TABLE $S.locks ADD COLUMN secret_hash text NOT NULL DEFAULT '';
)sql",
    R"sql(
CREATE INDEX IF NOT EXISTS records_by_base
  ON $S.records(account, collection, base, id);
CREATE INDEX IF NOT EXISTS records_unsynced
  ON $S.records(account, collection, id) WHERE state <> 0;
)sql",
    // records_by_base becomes partial on a predicate every row satisfies,
    // so that only scan_since (which states it) can use it: see kStatements.
    R"sql(
DROP INDEX IF EXISTS $S.records_by_base;
CREATE INDEX records_by_base ON $S.records(account, collection, base, id)
  WHERE base >= -9223372036854775808;
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

// Statements, prepared on each connection.
//
// Rule: every statement must plan to index lookups without planner
// statistics. A store filled (or restored) and served before autovacuum's
// first ANALYZE has none, and then `account = $1 AND collection = $2` is
// estimated at 0.005^2 of the table: a handful of rows however many the
// account holds. Any plan that walks the account's range of an index and
// filters it (a semi join with the ids, `id = ANY(...)` as a filter, the
// id checked inside records_by_base, whose id is its fourth column) then
// looks as cheap as the lookups and costs O(account) per call (issue 13:
// a cold sync of 20,000 records took 74-79 s, 1.2 s after ANALYZE). So:
//  - lookups by a list of ids drive from the list: unnest(...) joined
//    LATERAL to a per-id subquery on the whole primary key, with LIMIT 1
//    so it is not flattened into a join the planner could reorder (a
//    scalar `id = ANY(ARRAY(...))` is not enough on PostgreSQL 15: the
//    planner also offers the range walk with the array as a filter);
//  - records_by_base is partial on a predicate every row satisfies and
//    only scan_since states, so no other statement can choose it (with
//    both indexes giving "1 row", the planner picked it on a tie).
// postgres_store_test (PlansAreIndexLookupsWithoutStatistics) EXPLAINs
// these texts on an unanalyzed table under force_generic_plan.
struct Sql {
  const char* name;
  const char* text;
};
constexpr Sql kStatements[] = {
    {"lock_account", "SELECT pg_advisory_xact_lock($1::int, $2::int)"},
    // $4 = '': no end, i.e. below 17 bytes of ff, past every 16-byte id.
    // The end is an index condition: as a filter (`$4 = '' OR id < ...`)
    // a range with fewer rows than the limit read on to the collection's
    // end (6.6 s for a 14-row range of 1M rows).
    {"scan",
     "SELECT id, ts, extra, deleted, state, base FROM $S.records "
     "WHERE account = $1 AND collection = $2 AND id >= decode($3, 'hex') "
     "AND id < decode(CASE WHEN $4 = '' THEN "
     "'ffffffffffffffffffffffffffffffffff' ELSE $4 END, 'hex') "
     "AND ($5 OR NOT deleted) ORDER BY id LIMIT $6"},
    {"get",
     "SELECT r.id, r.ts, r.extra, r.deleted, r.state, r.base, $P "
     "FROM unnest($3::text[]) AS k(h), LATERAL (SELECT * FROM $S.records "
     "WHERE account = $1 AND collection = $2 AND id = decode(k.h, 'hex') "
     "LIMIT 1) AS r"},
    {"scan_since",
     "SELECT id, ts, extra, deleted, state, base, $P FROM $S.records "
     "WHERE account = $1 AND collection = $2 "
     "AND (base, id) > ($3::bigint, decode($4, 'hex')) "
     "AND base >= -9223372036854775808 "
     "ORDER BY base, id LIMIT $5"},
    {"scan_unsynced",
     "SELECT id, ts, extra, deleted, state, base, $P FROM $S.records "
     "WHERE account = $1 AND collection = $2 AND state <> 0 "
     "AND id > decode($3, 'hex') ORDER BY id LIMIT $4"},
    {"get_keys",
     "SELECT r.collection, r.id, r.ts, r.extra, r.deleted, r.state, r.base, "
     "$P FROM unnest($2::text[], $3::text[]) AS k(c, h), LATERAL (SELECT * "
     "FROM $S.records WHERE account = $1 AND collection = k.c "
     "AND id = decode(k.h, 'hex') LIMIT 1) AS r"},
    {"put_copied",
     "INSERT INTO $S.records SELECT $1, collection, id, ts, extra, deleted, "
     "state, base, payload FROM syncstack_in ON CONFLICT (account, "
     "collection, id) DO UPDATE SET ts = excluded.ts, extra = excluded.extra, "
     "deleted = excluded.deleted, state = excluded.state, "
     "base = excluded.base, payload = excluded.payload"},
    // The rows are found as get_keys finds them, then deleted by their
    // tuple ids alone (a TID scan: with `account = $1` beside it, the
    // planner walked the account instead). Apply holds the account's lock,
    // so no other writer moves them in between.
    {"erase_keys",
     "DELETE FROM $S.records WHERE ctid = ANY(ARRAY("
     "SELECT r.ctid FROM unnest($2::text[], $3::text[]) AS k(c, h), "
     "LATERAL (SELECT ctid FROM $S.records WHERE account = $1 "
     "AND collection = k.c AND id = decode(k.h, 'hex') LIMIT 1) AS r))"},
    {"put_meta",
     "INSERT INTO $S.meta VALUES ($1, $2, decode($3, 'hex')) "
     "ON CONFLICT (account, key) DO UPDATE SET value = excluded.value"},
    {"get_meta", "SELECT value FROM $S.meta WHERE account = $1 AND key = $2"},
    {"add_meta",
     "INSERT INTO $S.meta VALUES ($1, $2, decode($3, 'hex')) "
     "ON CONFLICT (account, key) DO NOTHING"},
    {"any_row",
     "SELECT 1 FROM $S.records WHERE account = $1 AND collection = $2 "
     "LIMIT 1"},
    {"lock_row",
     "INSERT INTO $S.locks(account, token, device, fence, expires_at) "
     "VALUES ($1, '', '', 0, 0) "
     "ON CONFLICT (account) DO NOTHING"},
    {"lock_for_update",
     "SELECT token, device, fence, expires_at, secret_hash FROM $S.locks "
     "WHERE account = $1 FOR UPDATE"},
    {"lock_set",
     "UPDATE $S.locks SET token = $2, device = $3, fence = $4, "
     "expires_at = $5, secret_hash = $6 WHERE account = $1"},
    {"lock_get",
     "SELECT token, device, fence, expires_at FROM $S.locks "
     "WHERE account = $1"},
    {"lock_release",
     "UPDATE $S.locks SET token = '', expires_at = 0 "
     "WHERE account = $1 AND token = $2 AND token <> ''"},
    {"lock_fence",
     "SELECT token, expires_at FROM $S.locks WHERE account = $1 FOR SHARE"},
    // Database::RemoveAccount and Store::ScanMeta (administration). The
    // lease row keeps its fence, so fences never repeat for the name.
    {"remove_records", "DELETE FROM $S.records WHERE account = $1"},
    {"remove_meta", "DELETE FROM $S.meta WHERE account = $1"},
    {"remove_lease",
     "UPDATE $S.locks SET token = '', device = '', expires_at = 0, "
     "secret_hash = '' WHERE account = $1"},
    {"scan_meta",
     "SELECT key, value FROM $S.meta WHERE account = $1 AND key >= $2 "
     "AND starts_with(key, $2) ORDER BY key"},
    // A skip scan over the primary key: one index probe per collection.
    {"collections",
     "WITH RECURSIVE c(name) AS ("
     "(SELECT collection FROM $S.records WHERE account = $1 "
     "ORDER BY collection LIMIT 1) UNION ALL "
     "SELECT (SELECT collection FROM $S.records WHERE account = $1 AND "
     "collection > c.name ORDER BY collection LIMIT 1) FROM c "
     "WHERE c.name IS NOT NULL) "
     "SELECT name FROM c WHERE name IS NOT NULL"},
};

// Statements of the mapped collections (postgres_mapped_sql.h), prepared
// only where they are attached.
constexpr Sql kMappedStatements[] = {
    {"mapped_write",
     "SELECT $S.mapped_write($1, $2, decode($3, 'hex'), $4, $5, $6, "
     "decode($7, 'hex'))"},
    {"mapped_renumber",
     "SELECT $S.renumber($1, $2, decode($3, 'hex'), $4, decode($5, 'hex'), "
     "$6)"},
    {"mapped_unpark", "SELECT $S.mapped_unpark($1)"},
    {"mapped_remove_account", "SELECT $S.mapped_remove_account($1)"},
};

// The staging table of Apply's COPY, one per connection.
constexpr const char* kStagingTable =
    "CREATE TEMP TABLE syncstack_in(collection text COLLATE \"C\", id bytea, "
    "ts bigint, extra bytea, deleted boolean, state smallint, base bigint, "
    "payload bytea) ON COMMIT DELETE ROWS";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Creates the schema or brings it to kSchemaVersion.
Status Migrate(pqxx::connection& c, const std::string& schema) {
  pqxx::work tx(c);
  tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) +
          ")");
  tx.exec("SET LOCAL client_min_messages = warning");
  tx.exec("CREATE SCHEMA IF NOT EXISTS " + schema);
  tx.exec("CREATE TABLE IF NOT EXISTS " + schema +
          ".syncstack_schema(version integer PRIMARY KEY, "
          "applied_at timestamptz NOT NULL DEFAULT now())");
  int version = tx.exec("SELECT coalesce(max(version), 0) FROM " + schema +
                        ".syncstack_schema")[0][0]
                    .as<int>();
  if (version > kSchemaVersion) {
    return Status::Corruption(
        "postgres: schema version " + std::to_string(version) +
        " is newer than this program's " + std::to_string(kSchemaVersion));
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    tx.exec(WithSchema(kMigrations[v], schema));
    tx.exec("INSERT INTO " + schema + ".syncstack_schema(version) VALUES (" +
            std::to_string(v + 1) + ")");
  }
  tx.commit();
  return Status::Ok();
}

// The schema name quoted as an identifier (no connection needed).
Result<std::string> QuoteSchema(const std::string& schema) {
  std::string quoted = "\"";
  for (char ch : schema) {
    if (ch == '\0') {
      return Status::InvalidArgument("postgres: NUL in schema name");
    }
    quoted += ch;
    if (ch == '"') quoted += '"';
  }
  quoted += '"';
  return quoted;
}

}  // namespace

std::string WithSchema(std::string_view text, const std::string& schema,
                       std::string_view payload) {
  std::string out;
  out.reserve(text.size() + 64);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "$S.") == 0) {
      out += schema;
      out += '.';
      i += 2;
    } else if (text.compare(i, 2, "$P") == 0) {
      out += WithSchema(payload, schema);
      i += 1;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string StatementText(std::string_view name, const std::string& schema) {
  for (const Sql& s : kStatements) {
    if (name == s.name) return WithSchema(s.text, schema);
  }
  return std::string();
}

// Deleted rows and unmapped collections keep their payload; a live row of
// a mapped collection is read from the server's table (payload_of).
std::string Shared::PayloadExpression(const std::string& schema,
                                      const MappedDepths& mapped) {
  (void)schema;
  if (mapped.empty()) return "payload";
  std::string names;
  for (const auto& [collection, depth] : mapped) {
    names += names.empty() ? "'{" : ",";
    names += collection;  // validated: [A-Za-z0-9_]
  }
  names += "}'::text[]";
  return "CASE WHEN deleted OR NOT (collection = ANY(" + names +
         ")) THEN payload ELSE $S.payload_of(account, collection, id, "
         "payload) END";
}

void AppendHex(std::string& out, std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  size_t at = out.size();
  out.resize(at + 2 * bytes.size());
  for (unsigned char c : bytes) {
    out[at++] = kDigits[c >> 4];
    out[at++] = kDigits[c & 15];
  }
}

std::string Hex(std::string_view bytes) {
  std::string out;
  AppendHex(out, bytes);
  return out;
}

void DecodeBytea(const pqxx::field& f, std::string& out) {
  const char* s = f.c_str();
  size_t n = f.size();
  if (n < 2 || s[0] != '\\' || s[1] != 'x' || n % 2 != 0) throw CorruptRow{};
  out.resize((n - 2) / 2);
  for (size_t i = 2, j = 0; i < n; i += 2, ++j) {
    int hi = HexDigit(s[i]);
    int lo = HexDigit(s[i + 1]);
    if (hi < 0 || lo < 0) throw CorruptRow{};
    out[j] = static_cast<char>(hi << 4 | lo);
  }
}

Status CurrentError(std::string_view what, bool& transient) noexcept {
  transient = false;
  std::string prefix = "postgres: " + std::string(what) + ": ";
  try {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    return Status::Unavailable(prefix + "commit outcome unknown: " + e.what());
  } catch (const pqxx::broken_connection& e) {
    transient = true;
    return Status::Unavailable(prefix + e.what());
  } catch (const pqxx::transaction_rollback& e) {
    transient = true;  // serialization failure, deadlock
    return Status::Unavailable(prefix + e.what());
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    if (state.rfind("57P", 0) == 0 || state.rfind("08", 0) == 0) {
      transient = true;  // admin shutdown, connection exception
      return Status::Unavailable(prefix + e.what());
    }
    if (state.rfind("22", 0) == 0) {  // data exception, e.g. bad encoding
      return Status::InvalidArgument(prefix + e.what());
    }
    return Status::IOError(prefix + e.what());
  } catch (const CorruptRow&) {
    return Status::Corruption(prefix + "malformed row");
  } catch (const std::bad_alloc&) {
    return Status::IOError(prefix + "out of memory");
  } catch (const std::exception& e) {
    return Status::IOError(prefix + e.what());
  } catch (...) {
    return Status::IOError(prefix + "unknown error");
  }
}

std::unique_ptr<pqxx::connection> Pool::Take() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
    if (!idle_.empty()) {
      std::unique_ptr<pqxx::connection> c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    ++open_;
  }
  try {
    return Connect();
  } catch (...) {
    Give(nullptr);
    throw;
  }
}

void Pool::Give(std::unique_ptr<pqxx::connection> c) noexcept {
  std::lock_guard lock(mu_);
  if (c != nullptr && c->is_open()) {
    idle_.push_back(std::move(c));
  } else {
    --open_;
  }
  cv_.notify_one();
}

std::unique_ptr<pqxx::connection> Pool::Connect() const {
  auto c = std::make_unique<pqxx::connection>(conninfo_);
  {
    pqxx::nontransaction tx(*c);
    tx.exec(kStagingTable);
  }
  for (const Sql& s : kStatements)
    c->prepare(s.name, WithSchema(s.text, schema_, payload_));
  if (payload_ != "payload") {
    for (const Sql& s : kMappedStatements)
      c->prepare(s.name, WithSchema(s.text, schema_));
  }
  return c;
}

Result<std::shared_ptr<Shared>> OpenShared(
    const PostgresDatabaseOptions& options) {
  if (options.pool_size < 1) {
    return Status::InvalidArgument("postgres: pool_size must be at least 1");
  }
  if (options.schema.empty()) {
    return Status::InvalidArgument("postgres: empty schema name");
  }
  if (options.max_retries < 0) {
    return Status::InvalidArgument("postgres: max_retries must be >= 0");
  }
  try {
    SYNCSTACK_ASSIGN_OR_RETURN(std::string quoted, QuoteSchema(options.schema));
    // The server tables are checked before anything is created.
    SYNCSTACK_RETURN_IF_ERROR(
        CheckMapped(options.conninfo, options.mapped_tables));
    // Migrate on a connection of its own: pooled ones prepare statements
    // on the schema's tables.
    for (int attempt = 0;; ++attempt) {
      Status s;
      bool transient = false;
      try {
        pqxx::connection c(options.conninfo);
        s = Migrate(c, quoted);
      } catch (...) {
        s = CurrentError("open", transient);
      }
      if (s.ok()) break;
      if (!transient || attempt >= options.max_retries) return s;
      std::this_thread::sleep_for(options.retry_backoff *
                                  (1 << std::min(attempt, 10)));
    }
    SYNCSTACK_RETURN_IF_ERROR(AttachMapped(
        options.conninfo, quoted, options.schema, options.mapped_tables));
    SYNCSTACK_ASSIGN_OR_RETURN(MappedDepths mapped,
                               LoadMapped(options.conninfo, quoted));
    return std::make_shared<Shared>(options, std::move(quoted),
                                    std::move(mapped));
  } catch (const std::bad_alloc&) {
    return Status::IOError("postgres: out of memory");
  }
}

}  // namespace syncstack::postgres_internal
