// Internal to the PostgreSQL backend: what its store, its sync lock and its
// connection layer share. Not installed; only backends/postgres includes it.
//
//   postgres_connection.cc  the schema and its migrations, the statements,
//                           the connection pool, errors, bytea encoding
//   postgres_store.cc       the Store (apply, scan, get) and the Database
//   postgres_lock.cc        the SyncLock whose leases live in the database
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
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

// Connection pool: connections with every statement prepared.
class Pool {
 public:
  Pool(std::string conninfo, std::string schema, size_t size)
      : conninfo_(std::move(conninfo)),
        schema_(std::move(schema)),
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
  const std::string schema_;  // quoted
  const size_t size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // GUARDED_BY(mu_)
  size_t open_ = 0;                                      // GUARDED_BY(mu_)
};

// What every Store and iterator of one Database shares.
struct Shared {
  Shared(const PostgresDatabaseOptions& options, std::string quoted_schema)
      : pool(options.conninfo, quoted_schema,
             static_cast<size_t>(options.pool_size)),
        max_retries(options.max_retries),
        backoff(options.retry_backoff),
        insert_prefix("INSERT INTO " + quoted_schema + ".records VALUES "),
        records_table(quoted_schema + ".records") {}

  Pool pool;
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
