// Internal to the PostgreSQL backend: what its store, its sync lock and its
// connection layer share. Not installed; only backends/postgres includes it.
//
//   postgres_connection.cc  the schema and its migrations, the statements,
//                           the connection pool, errors, bytea encoding
//   postgres_store.cc       the Store (apply, scan, get) and the Database
//   postgres_lock.cc        the SyncLock whose leases live in the database
//   postgres_mapped.cc      collections kept in the server's own tables
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "syncstack/clock.h"
#include "syncstack/postgres/postgres_store.h"
#include "syncstack/schema.h"
#include "syncstack/status.h"
#include "syncstack/sync_lock.h"

namespace syncstack::postgres_internal {

// Thrown while decoding a row; CurrentError turns it into kCorruption.
struct CorruptRow {};

// Appends `bytes` as lower-case hex digits.
void AppendHex(std::string& out, std::string_view bytes);
std::string Hex(std::string_view bytes);

// Decodes a bytea field in hex output format ("\x0a1b..."). Throws
// CorruptRow.
void DecodeBytea(const pqxx::field& f, std::string& out);

// Maps the exception in flight to a Status; sets `transient` if retrying
// the whole operation may succeed. The one place libpqxx errors stop.
Status CurrentError(std::string_view what, bool& transient) noexcept;

// `text` with "$S." replaced by `schema` + "." and "$P" by `payload`.
std::string WithSchema(std::string_view text, const std::string& schema,
                       std::string_view payload = "payload");

// The mapped collections (name -> Schema::Depth) kept in the server's own
// tables, as the last attach recorded them.
using MappedDepths = std::map<std::string, int, std::less<>>;

// Returns true if `mapping` keeps any collection in a server table (a
// mapping with an account column).
bool HasServerTables(const Schema& mapping);
// Checks the server tables `mapping` names (read-only). Errors:
// kInvalidArgument naming the table or column, kUnavailable, kIOError.
Status CheckMapped(const std::string& conninfo, const Schema& mapping);
// Installs syncstack's functions and triggers for the server tables of
// `mapping` and records the rows already there, in one transaction.
// `schema` is quoted, `schema_name` not. Errors: as CheckMapped, and
// kInvalidArgument for unmapping or a late mapping.
Status AttachMapped(const std::string& conninfo, const std::string& schema,
                    const std::string& schema_name, const Schema& mapping);
// The collections the last attach recorded (empty: none).
Result<MappedDepths> LoadMapped(const std::string& conninfo,
                                const std::string& schema);

// Connection pool: connections with every statement prepared.
class Pool {
 public:
  Pool(std::string conninfo, std::string schema, size_t size,
       std::string payload)
      : conninfo_(std::move(conninfo)),
        schema_(std::move(schema)),
        payload_(std::move(payload)),
        size_(size) {}

  // A connection with the statements prepared. Waits while `size` are out.
  // Throws on connection failure.
  std::unique_ptr<pqxx::connection> Take();

  // Returns a connection (nullptr: it was dropped).
  void Give(std::unique_ptr<pqxx::connection> c) noexcept;

 private:
  // A new connection with the staging table and every statement prepared.
  std::unique_ptr<pqxx::connection> Connect() const;

  const std::string conninfo_;
  const std::string schema_;   // quoted
  const std::string payload_;  // the payload column's expression in reads
  const size_t size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // GUARDED_BY(mu_)
  size_t open_ = 0;                                      // GUARDED_BY(mu_)
};

// What every Store and iterator of one Database shares.
struct Shared {
  Shared(const PostgresDatabaseOptions& options, std::string quoted_schema,
         MappedDepths mapped_depths)
      : pool(options.conninfo, quoted_schema,
             static_cast<size_t>(options.pool_size),
             PayloadExpression(quoted_schema, mapped_depths)),
        mapped(std::move(mapped_depths)),
        quoted_schema(quoted_schema),
        max_retries(options.max_retries),
        backoff(options.retry_backoff),
        insert_prefix("INSERT INTO " + quoted_schema + ".records VALUES "),
        records_table(quoted_schema + ".records") {}

  // What reads select as the payload: the column itself, or with mapped
  // collections the record built from the server's table.
  static std::string PayloadExpression(const std::string& schema,
                                       const MappedDepths& mapped);

  Pool pool;
  const MappedDepths mapped;  // empty: nothing is kept in server tables
  const std::string quoted_schema;
  const int max_retries;
  const std::chrono::milliseconds backoff;
  const std::string insert_prefix;  // of Apply's multi-row INSERT
  const std::string records_table;  // quoted schema + ".records"

  // Runs fn(connection) -> Status with a pooled connection, turning
  // exceptions into a Status and retrying transient failures. A connection
  // that failed other than by an SQL error is dropped, not reused.
  template <typename Fn>
  Status Run(std::string_view what, Fn&& fn) noexcept {
    for (int attempt = 0;; ++attempt) {
      bool transient = false;
      Status s;
      std::unique_ptr<pqxx::connection> c;
      try {
        c = pool.Take();
        s = fn(*c);
        pool.Give(std::move(c));
        return s;
      } catch (...) {
        s = CurrentError(what, transient);
        bool reusable = false;
        try {
          throw;
        } catch (const pqxx::broken_connection&) {
        } catch (const pqxx::in_doubt_error&) {
        } catch (const pqxx::sql_error&) {
          reusable = true;
        } catch (...) {
        }
        if (c != nullptr) pool.Give(reusable ? std::move(c) : nullptr);
      }
      if (!transient || attempt >= max_retries) return s;
      std::this_thread::sleep_for(backoff * (1 << std::min(attempt, 10)));
    }
  }
};

// Validates `options`, creates or migrates the schema (retrying transient
// failures) and returns what the Database's stores and lock share.
// Errors: kInvalidArgument, kUnavailable, kCorruption (a newer schema),
// kIOError.
Result<std::shared_ptr<Shared>> OpenShared(
    const PostgresDatabaseOptions& options);

// The SyncLock of Database::NewSyncLock (see postgres_lock.cc). `clock`
// must outlive it.
std::unique_ptr<SyncLock> NewPostgresSyncLock(std::shared_ptr<Shared> shared,
                                              Clock& clock,
                                              std::chrono::milliseconds lease);

}  // namespace syncstack::postgres_internal
