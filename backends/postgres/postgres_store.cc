// The PostgreSQL store.
//
// Layout (in options.schema; the version in syncstack_schema):
//
//   records(account, collection, id bytea, ts, extra bytea, deleted, state,
//           base, payload bytea, PRIMARY KEY(account, collection, id))
//   meta(account, key, value bytea, PRIMARY KEY(account, key))
//   locks(account PRIMARY KEY, token, device, fence, expires_at)   (v2)
//
// Why: the account leads every key, so a table can be distributed (Citus)
// or partitioned by account, and every statement names one account.
// Payloads are bytea, not text or jsonb: stores keep payload bytes exactly
// as given (jsonb normalises; text rejects NUL and invalid UTF-8). Names are
// COLLATE "C" so they sort bytewise, like ids.
//
// Migrations: kMigrations[i] brings version i to i + 1. Open applies the
// missing ones in one transaction under a transaction-level advisory lock,
// so several processes may open (and migrate) the same database at once.
//
// Apply: one transaction holding the account's advisory lock (so an Expect
// checked at the start still holds at commit, even for absent rows). The
// current rows the Expects name are read once and evaluated in batch order;
// then the last put of each row goes in through COPY into a temporary table
// and one INSERT ... ON CONFLICT, erases through one DELETE, meta through
// upserts. Transient failures (lost connection, serialization failure,
// deadlock) are retried with exponential backoff.
//
// The sync lock (PostgresSyncLock, from Database::NewSyncLock) keeps one
// row per account in `locks`, so every process on the database sees one
// lease. Acquire reads the row FOR UPDATE and rewrites it in one
// transaction (fence + 1 on each new grant; a released lease keeps its row
// and fence with an empty token). A batch carrying a LeaseFence reads the
// row FOR SHARE inside Apply's transaction: a grant to another device
// either committed before (the token differs: kLeaseLost, nothing applied)
// or waits until the write has committed. Expiry times come from the
// lock's Clock (the processes' clocks; a skew only moves when a grant
// happens, never lets two leases write, since a write needs the token
// that is in the row).
//
// Reads run outside transactions and page by key (id >= $begin ORDER BY id
// LIMIT n), so no scan holds a snapshot, a lock or a connection between
// pages and writes between pages are safe. Connections come from a small
// pool; no connection is held while a callback runs.
#include "syncstack/postgres/postgres_store.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <pqxx/pqxx>
#include <pqxx/tablewriter>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "syncstack/sync_lock.h"

namespace syncstack {
namespace {

constexpr int kSchemaVersion = 2;
// Advisory lock keys: one bigint key for migrations; (class, account hash)
// pairs for accounts. The two forms never collide in PostgreSQL.
constexpr int64_t kMigrationLock = 0x73796e6373636831;  // "syncsch1"
constexpr int kAccountLockClass = 0x53594e43;           // "SYNC"

constexpr size_t kScanPage = 2048;
constexpr size_t kGetChunk = 128;
constexpr size_t kCopyChunkBytes = size_t{1} << 16;
// Batches with at most this many puts use one multi-row INSERT; larger
// ones COPY (whose staging table costs a truncation at each commit).
constexpr size_t kMaxInsertRows = 256;

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
};
static_assert(std::size(kMigrations) == kSchemaVersion);

constexpr const char* kUpsertSuffix =
    " ON CONFLICT (account, collection, id) DO UPDATE SET ts = excluded.ts, "
    "extra = excluded.extra, deleted = excluded.deleted, "
    "state = excluded.state, base = excluded.base, payload = excluded.payload";

// Statements, prepared on each connection.
struct Sql {
  const char* name;
  const char* text;
};
constexpr Sql kStatements[] = {
    {"lock_account", "SELECT pg_advisory_xact_lock($1::int, $2::int)"},
    {"scan",
     "SELECT id, ts, extra, deleted, state, base FROM $S.records "
     "WHERE account = $1 AND collection = $2 AND id >= decode($3, 'hex') "
     "AND ($4 = '' OR id < decode($4, 'hex')) AND ($5 OR NOT deleted) "
     "ORDER BY id LIMIT $6"},
    {"get",
     "SELECT id, ts, extra, deleted, state, base, payload FROM $S.records "
     "WHERE account = $1 AND collection = $2 AND id = ANY("
     "SELECT decode(h, 'hex') FROM unnest($3::text[]) AS h)"},
    {"get_keys",
     "SELECT collection, id, ts, extra, deleted, state, base, payload "
     "FROM $S.records WHERE account = $1 AND (collection, id) IN ("
     "SELECT c, decode(h, 'hex') FROM unnest($2::text[], $3::text[]) "
     "AS k(c, h))"},
    {"put_copied",
     "INSERT INTO $S.records SELECT $1, collection, id, ts, extra, deleted, "
     "state, base, payload FROM syncstack_in ON CONFLICT (account, "
     "collection, id) DO UPDATE SET ts = excluded.ts, extra = excluded.extra, "
     "deleted = excluded.deleted, state = excluded.state, "
     "base = excluded.base, payload = excluded.payload"},
    {"erase_keys",
     "DELETE FROM $S.records WHERE account = $1 AND (collection, id) IN ("
     "SELECT c, decode(h, 'hex') FROM unnest($2::text[], $3::text[]) "
     "AS k(c, h))"},
    {"put_meta",
     "INSERT INTO $S.meta VALUES ($1, $2, decode($3, 'hex')) "
     "ON CONFLICT (account, key) DO UPDATE SET value = excluded.value"},
    {"get_meta", "SELECT value FROM $S.meta WHERE account = $1 AND key = $2"},
    {"any_row",
     "SELECT 1 FROM $S.records WHERE account = $1 AND collection = $2 "
     "LIMIT 1"},
    {"lock_row",
     "INSERT INTO $S.locks VALUES ($1, '', '', 0, 0) "
     "ON CONFLICT (account) DO NOTHING"},
    {"lock_for_update",
     "SELECT token, device, fence, expires_at FROM $S.locks "
     "WHERE account = $1 FOR UPDATE"},
    {"lock_set",
     "UPDATE $S.locks SET token = $2, device = $3, fence = $4, "
     "expires_at = $5 WHERE account = $1"},
    {"lock_get",
     "SELECT token, device, fence, expires_at FROM $S.locks "
     "WHERE account = $1"},
    {"lock_release",
     "UPDATE $S.locks SET token = '', expires_at = 0 "
     "WHERE account = $1 AND token = $2 AND token <> ''"},
    {"lock_fence",
     "SELECT token, expires_at FROM $S.locks WHERE account = $1 FOR SHARE"},
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

// The staging table of Apply's COPY, one per connection.
constexpr const char* kStagingTable =
    "CREATE TEMP TABLE syncstack_in(collection text COLLATE \"C\", id bytea, "
    "ts bigint, extra bytea, deleted boolean, state smallint, base bigint, "
    "payload bytea) ON COMMIT DELETE ROWS";

std::string WithSchema(std::string_view text, const std::string& schema) {
  std::string out;
  out.reserve(text.size() + 64);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "$S.") == 0) {
      out += schema;
      out += '.';
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Encoding

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

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct CorruptRow {};  // thrown while decoding; becomes kCorruption

// Decodes a bytea field in hex output format ("\x0a1b...").
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

RecordId DecodeId(const pqxx::field& f, std::string& scratch) {
  DecodeBytea(f, scratch);
  if (scratch.size() != 16) throw CorruptRow{};
  return RecordId::FromBytes(scratch);
}

// Columns id, ts, extra, deleted, state, base from `first` on.
void DecodeEntry(const pqxx::row& row, int first, ManifestEntry& out,
                 std::string& scratch) {
  out.id = DecodeId(row[first], scratch);
  out.version.timestamp = row[first + 1].as<int64_t>();
  DecodeBytea(row[first + 2], out.version.extra);
  out.deleted = row[first + 3].as<bool>();
  int state = row[first + 4].as<int>();
  if (state < 0 || state > 3) throw CorruptRow{};
  out.state = static_cast<SyncState>(state);
  out.base = row[first + 5].as<int64_t>();
}

void DecodeRecord(const pqxx::row& row, int first, Record& out,
                  std::string& scratch) {
  ManifestEntry e;
  DecodeEntry(row, first, e, scratch);
  out.id = e.id;
  out.version = std::move(e.version);
  out.deleted = e.deleted;
  out.state = e.state;
  out.base = e.base;
  DecodeBytea(row[first + 6], out.payload);
}

// A text[] literal of quoted elements. REQUIRES: no '"' or '\' inside.
class ArrayLiteral {
 public:
  void Add(std::string_view element) {
    text_ += text_.empty() ? "{\"" : ",\"";
    text_ += element;
    text_ += '"';
  }
  void AddHex(std::string_view bytes) {
    text_ += text_.empty() ? "{\"" : ",\"";
    AppendHex(text_, bytes);
    text_ += '"';
  }
  std::string Take() {
    if (text_.empty()) return "{}";
    text_ += '}';
    return std::move(text_);
  }

 private:
  std::string text_;
};

// FNV-1a: the account's advisory lock key (collisions only serialise).
int AccountLockKey(std::string_view account) {
  uint32_t h = 2166136261u;
  for (unsigned char c : account) h = (h ^ c) * 16777619u;
  return static_cast<int>(h);
}

// ---------------------------------------------------------------------------
// Errors: every exception stops here.

// Maps the exception in flight to a Status; sets `transient` if retrying
// the whole operation may succeed.
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

// ---------------------------------------------------------------------------
// Connection pool

class Pool {
 public:
  Pool(std::string conninfo, std::string schema, size_t size)
      : conninfo_(std::move(conninfo)),
        schema_(std::move(schema)),
        size_(size) {}

  // A connection with the statements prepared. Waits while `size` are out.
  // Throws on connection failure.
  std::unique_ptr<pqxx::connection> Take() {
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

  // Returns a connection (nullptr: it was dropped).
  void Give(std::unique_ptr<pqxx::connection> c) noexcept {
    std::lock_guard lock(mu_);
    if (c != nullptr && c->is_open()) {
      idle_.push_back(std::move(c));
    } else {
      --open_;
    }
    cv_.notify_one();
  }

  std::unique_ptr<pqxx::connection> Connect() const {
    auto c = std::make_unique<pqxx::connection>(conninfo_);
    {
      pqxx::nontransaction tx(*c);
      tx.exec(kStagingTable);
    }
    for (const Sql& s : kStatements)
      c->prepare(s.name, WithSchema(s.text, schema_));
    return c;
  }

 private:
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

// ---------------------------------------------------------------------------
// Scan

class PostgresIterator final : public ManifestIterator {
 public:
  PostgresIterator(std::shared_ptr<Shared> shared, std::string account,
                   std::string collection, const ScanOptions& options)
      : shared_(std::move(shared)),
        account_(std::move(account)),
        collection_(std::move(collection)),
        include_tombstones_(options.include_tombstones),
        next_(options.range.begin) {
    if (options.range.has_end) {
      end_hex_ = Hex(options.range.end.raw());
      if (options.range.end <= options.range.begin) exhausted_ = true;
    }
    Fill();
  }

  bool Valid() const noexcept override { return pos_ < count_; }
  const ManifestEntry& entry() const noexcept override { return page_[pos_]; }
  void Next() noexcept override {
    if (++pos_ >= count_) Fill();
  }
  Status status() const noexcept override { return status_; }

 private:
  void Fill() noexcept {
    pos_ = 0;
    count_ = 0;
    if (exhausted_) return;
    Status s = shared_->Run("scan", [&](pqxx::connection& c) -> Status {
      count_ = 0;
      pqxx::nontransaction tx(c);
      pqxx::result r = tx.exec_prepared(
          "scan", account_, collection_, Hex(next_.raw()), end_hex_,
          include_tombstones_, static_cast<int64_t>(kScanPage));
      if (page_.size() < r.size()) page_.resize(r.size());
      for (const pqxx::row& row : r)
        DecodeEntry(row, 0, page_[count_++], scratch_);
      return Status::Ok();
    });
    if (!s.ok()) {
      count_ = 0;
      exhausted_ = true;
      status_ = std::move(s);
      return;
    }
    if (count_ < kScanPage) {
      exhausted_ = true;
    } else {
      // Resume after the last id: its successor as 16 bytes.
      std::array<uint8_t, 16> b = page_[count_ - 1].id.bytes();
      int i = 15;
      while (i >= 0 && ++b[i] == 0) --i;
      if (i < 0) exhausted_ = true;  // the last id was ff..ff
      next_ = RecordId(b);
    }
  }

  const std::shared_ptr<Shared> shared_;
  const std::string account_;
  const std::string collection_;
  const bool include_tombstones_;
  std::string end_hex_;  // empty: no end
  RecordId next_;        // the first id the next page may hold
  std::vector<ManifestEntry> page_;
  size_t count_ = 0;
  size_t pos_ = 0;
  bool exhausted_ = false;
  std::string scratch_;
  Status status_;
};

// ---------------------------------------------------------------------------
// Store

class PostgresStore final : public Store {
 public:
  PostgresStore(std::shared_ptr<Shared> shared, std::string account)
      : shared_(std::move(shared)), account_(std::move(account)) {}

  Status Apply(const WriteOptions& options,
               const ChangeBatch& batch) noexcept override;
  std::unique_ptr<ManifestIterator> Scan(
      std::string_view collection,
      const ScanOptions& options) noexcept override;
  Status Get(std::string_view collection, std::span<const RecordId> ids,
             FunctionRef<void(const Record&)> fn) noexcept override;
  Result<std::vector<std::string>> Collections() noexcept override;
  Result<std::optional<std::string>> GetMeta(
      std::string_view key) noexcept override;

 private:
  Status ApplyOnce(pqxx::connection& c, const WriteOptions& options,
                   const ChangeBatch& batch,
                   const std::vector<size_t>& final_ops);

  const std::shared_ptr<Shared> shared_;
  const std::string account_;
};

struct KeyHash {
  size_t operator()(const std::pair<std::string_view, RecordId>& k) const {
    return std::hash<std::string_view>()(k.first) * 31 +
           RecordIdHash()(k.second);
  }
};
using KeyIndex =
    std::unordered_map<std::pair<std::string_view, RecordId>, size_t, KeyHash>;

Status PostgresStore::Apply(const WriteOptions& options,
                            const ChangeBatch& batch) noexcept {
  for (const ChangeBatch::Op& op : batch.ops()) {
    SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(op.record.collection));
  }
  if (batch.empty()) return Status::Ok();
  std::vector<size_t> final_ops;  // the last op of each row, in batch order
  try {
    const std::vector<ChangeBatch::Op>& ops = batch.ops();
    KeyIndex last;
    last.reserve(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      last[{ops[i].record.collection, ops[i].record.id}] = i;
    }
    final_ops.reserve(last.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      if (last[{ops[i].record.collection, ops[i].record.id}] == i) {
        final_ops.push_back(i);
      }
    }
  } catch (const std::bad_alloc&) {
    return Status::IOError("postgres: apply: out of memory");
  }
  return shared_->Run("apply", [&](pqxx::connection& c) {
    return ApplyOnce(c, options, batch, final_ops);
  });
}

Status PostgresStore::ApplyOnce(pqxx::connection& c,
                                const WriteOptions& options,
                                const ChangeBatch& batch,
                                const std::vector<size_t>& final_ops) {
  const std::vector<ChangeBatch::Op>& ops = batch.ops();
  pqxx::work tx(c);
  if (!options.sync) tx.exec("SET LOCAL synchronous_commit = off");
  tx.exec_prepared("lock_account", kAccountLockClass, AccountLockKey(account_));
  if (batch.lease().has_value()) {
    // The fence: FOR SHARE holds off a new grant until this commits.
    const LeaseFence& fence = *batch.lease();
    pqxx::result r = tx.exec_prepared("lock_fence", account_);
    if (r.empty() || fence.token.empty() ||
        r[0][0].as<std::string>() != fence.token) {
      return Status::LeaseLost("the lease is not the account's current one");
    }
    if (r[0][1].as<int64_t>() <= fence.now) {
      return Status::LeaseLost("the lease expired");
    }
  }

  // Expects: read the rows they name, then replay the batch over them.
  bool any_expect = false;
  for (const ChangeBatch::Op& op : ops) any_expect |= op.expect.has_value();
  if (any_expect) {
    ArrayLiteral names, ids;
    for (const ChangeBatch::Op& op : ops) {
      if (!op.expect.has_value()) continue;
      names.Add(op.record.collection);
      ids.AddHex(op.record.id.raw());
    }
    pqxx::result r =
        tx.exec_prepared("get_keys", account_, names.Take(), ids.Take());
    std::vector<Record> current(r.size());
    std::map<std::pair<std::string_view, RecordId>, const Record*> overlay;
    std::string scratch;
    for (size_t i = 0; i < r.size(); ++i) {
      current[i].collection = r[i][0].c_str();
      DecodeRecord(r[i], 1, current[i], scratch);
      overlay[{current[i].collection, current[i].id}] = &current[i];
    }
    for (const ChangeBatch::Op& op : ops) {
      std::pair<std::string_view, RecordId> key{op.record.collection,
                                                op.record.id};
      if (op.expect.has_value()) {
        auto o = overlay.find(key);
        const Record* row = o == overlay.end() ? nullptr : o->second;
        if (!Satisfies(row, *op.expect)) {
          return Status::Conflict("expectation failed for " +
                                  op.record.collection + "/" +
                                  op.record.id.ToString());
        }
      }
      overlay[key] =
          op.kind == ChangeBatch::Op::Kind::kPut ? &op.record : nullptr;
    }
  }

  // Puts: COPY into the staging table, then one upsert.
  size_t puts = 0;
  bool any_erase = false;
  for (size_t i : final_ops) {
    if (ops[i].kind == ChangeBatch::Op::Kind::kPut) {
      ++puts;
    } else {
      any_erase = true;
    }
  }
  if (puts > 0 && puts <= kMaxInsertRows) {
    std::string sql = shared_->insert_prefix;
    std::string account = tx.quote(account_);
    bool first = true;
    for (size_t i : final_ops) {
      const ChangeBatch::Op& op = ops[i];
      if (op.kind != ChangeBatch::Op::Kind::kPut) continue;
      const Record& r = op.record;
      sql += first ? "(" : ",(";
      first = false;
      sql += account;
      sql += ",'";
      sql += r.collection;  // validated: [A-Za-z0-9_]
      sql += "',E'\\\\x";
      AppendHex(sql, r.id.raw());
      sql += "',";
      sql += std::to_string(r.version.timestamp);
      sql += ",E'\\\\x";
      AppendHex(sql, r.version.extra);
      sql += r.deleted ? "',true," : "',false,";
      sql += std::to_string(static_cast<int>(r.state));
      sql += ',';
      sql += std::to_string(r.base);
      sql += ",E'\\\\x";
      AppendHex(sql, r.payload);
      sql += "')";
    }
    sql += kUpsertSuffix;
    tx.exec(sql);
  } else if (puts > 0) {
    // A bulk load into collections where the account has no rows yet (a
    // first sync, an import) cannot collide with a row: COPY straight into
    // the table, skipping the staging table and the upsert merge. No other
    // writer can add rows meanwhile: they need the account lock held here.
    bool direct = true;
    std::string_view probed;
    for (size_t i : final_ops) {
      const ChangeBatch::Op& op = ops[i];
      if (op.kind != ChangeBatch::Op::Kind::kPut) continue;
      if (op.record.collection == probed) continue;
      probed = op.record.collection;
      if (!tx.exec_prepared("any_row", account_, op.record.collection)
               .empty()) {
        direct = false;
        break;
      }
    }
    std::string prefix;  // the account column, COPY-escaped, when direct
    if (direct) {
      for (char ch : account_) {
        switch (ch) {
          case '\\':
            prefix += "\\\\";
            break;
          case '\t':
            prefix += "\\t";
            break;
          case '\n':
            prefix += "\\n";
            break;
          case '\r':
            prefix += "\\r";
            break;
          default:
            prefix += ch;
        }
      }
      prefix += '\t';
    }
    // tablewriter, deprecated in libpqxx 6.4, is its only public way to
    // send preformatted COPY lines (stream_to escapes every field).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    pqxx::tablewriter copy(
        tx, direct ? shared_->records_table : std::string("syncstack_in"));
#pragma GCC diagnostic pop
    std::string chunk;
    for (size_t i : final_ops) {
      const ChangeBatch::Op& op = ops[i];
      if (op.kind != ChangeBatch::Op::Kind::kPut) continue;
      const Record& r = op.record;
      if (!chunk.empty()) chunk += '\n';
      // COPY text format; bytea as \\x<hex> (the backslash escaped).
      chunk += prefix;
      chunk += r.collection;
      chunk += "\t\\\\x";
      AppendHex(chunk, r.id.raw());
      chunk += '\t';
      chunk += std::to_string(r.version.timestamp);
      chunk += "\t\\\\x";
      AppendHex(chunk, r.version.extra);
      chunk += r.deleted ? "\tt\t" : "\tf\t";
      chunk += std::to_string(static_cast<int>(r.state));
      chunk += '\t';
      chunk += std::to_string(r.base);
      chunk += "\t\\\\x";
      AppendHex(chunk, r.payload);
      if (chunk.size() >= kCopyChunkBytes) {
        copy.write_raw_line(chunk);
        chunk.clear();
      }
    }
    if (!chunk.empty()) copy.write_raw_line(chunk);
    copy.complete();
    if (!direct) tx.exec_prepared("put_copied", account_);
  }
  if (any_erase) {
    ArrayLiteral names, ids;
    for (size_t i : final_ops) {
      const ChangeBatch::Op& op = ops[i];
      if (op.kind != ChangeBatch::Op::Kind::kErase) continue;
      names.Add(op.record.collection);
      ids.AddHex(op.record.id.raw());
    }
    tx.exec_prepared("erase_keys", account_, names.Take(), ids.Take());
  }
  for (const auto& [key, value] : batch.meta()) {
    tx.exec_prepared("put_meta", account_, key, Hex(value));
  }
  tx.commit();
  return Status::Ok();
}

std::unique_ptr<ManifestIterator> PostgresStore::Scan(
    std::string_view collection, const ScanOptions& options) noexcept {
  Status valid = ValidateCollectionName(collection);
  if (!valid.ok()) return NewErrorIterator(std::move(valid));
  try {
    return std::make_unique<PostgresIterator>(shared_, account_,
                                              std::string(collection), options);
  } catch (const std::bad_alloc&) {
    return NewErrorIterator(Status::IOError("postgres: scan: out of memory"));
  }
}

Status PostgresStore::Get(std::string_view collection,
                          std::span<const RecordId> ids,
                          FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  try {
    std::vector<Record> rows;
    std::vector<const Record*> found;
    std::string name(collection);
    for (size_t begin = 0; begin < ids.size(); begin += kGetChunk) {
      std::span<const RecordId> chunk =
          ids.subspan(begin, std::min(kGetChunk, ids.size() - begin));
      size_t count = 0;
      SYNCSTACK_RETURN_IF_ERROR(
          shared_->Run("get", [&](pqxx::connection& c) -> Status {
            ArrayLiteral hex;
            for (const RecordId& id : chunk) hex.AddHex(id.raw());
            pqxx::nontransaction tx(c);
            pqxx::result r =
                tx.exec_prepared("get", account_, name, hex.Take());
            if (rows.size() < r.size()) rows.resize(r.size());
            std::string scratch;
            count = 0;
            for (const pqxx::row& row : r) {
              Record& out = rows[count++];
              out.collection = name;
              DecodeRecord(row, 0, out, scratch);
            }
            return Status::Ok();
          }));
      // Call back in the order of `ids`, with no connection held.
      found.assign(chunk.size(), nullptr);
      for (size_t i = 0; i < count; ++i) {
        for (size_t j = 0; j < chunk.size(); ++j) {
          if (chunk[j] == rows[i].id) found[j] = &rows[i];
        }
      }
      for (const Record* r : found) {
        if (r != nullptr) fn(*r);
      }
    }
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status::IOError("postgres: get: out of memory");
  }
}

Result<std::vector<std::string>> PostgresStore::Collections() noexcept {
  std::vector<std::string> names;
  Status s = shared_->Run("collections", [&](pqxx::connection& c) -> Status {
    names.clear();
    pqxx::nontransaction tx(c);
    for (const pqxx::row& row : tx.exec_prepared("collections", account_)) {
      names.emplace_back(row[0].c_str(), row[0].size());
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return names;
}

Result<std::optional<std::string>> PostgresStore::GetMeta(
    std::string_view key) noexcept {
  std::optional<std::string> value;
  Status s = shared_->Run("get meta", [&](pqxx::connection& c) -> Status {
    value.reset();
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_prepared("get_meta", account_, std::string(key));
    if (!r.empty()) DecodeBytea(r[0][0], value.emplace());
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return value;
}

// ---------------------------------------------------------------------------
// Sync lock

// 128 bits from the OS as 32 hex characters (an unguessable lease token).
std::string NewLeaseToken() {
  std::random_device rd;
  std::string raw(16, '\0');
  for (size_t i = 0; i < raw.size(); i += 4) {
    uint32_t v = rd();
    std::memcpy(raw.data() + i, &v, 4);
  }
  return Hex(raw);
}

class PostgresSyncLock final : public SyncLock {
 public:
  PostgresSyncLock(std::shared_ptr<Shared> shared, Clock& clock,
                   std::chrono::milliseconds lease)
      : shared_(std::move(shared)), clock_(clock), lease_ms_(lease.count()) {}

  Result<LockAttempt> Acquire(std::string_view account, std::string_view device,
                              std::string_view current) noexcept override {
    if (device.empty()) {
      return Status::InvalidArgument("lock: device name is empty");
    }
    if (account.empty()) return Status::InvalidArgument("empty account name");
    LockAttempt attempt;
    Status s = shared_->Run("lock", [&](pqxx::connection& c) -> Status {
      attempt = LockAttempt();
      pqxx::work tx(c);
      std::string name(account);
      tx.exec_prepared("lock_row", name);
      pqxx::result r = tx.exec_prepared("lock_for_update", name);
      if (r.size() != 1) throw CorruptRow{};
      Lease held;
      held.token = r[0][0].as<std::string>();
      held.device = r[0][1].as<std::string>();
      held.fence = r[0][2].as<uint64_t>();
      held.expires_at = r[0][3].as<int64_t>();
      Timestamp now = clock_.Now();
      bool live = !held.token.empty() && held.expires_at > now;
      if (live && !(held.device == device &&
                    (current.empty() || current == held.token))) {
        attempt.holder = held.device;
        attempt.retry_after_ms = held.expires_at - now;
        return Status::Ok();  // nothing written: the transaction aborts
      }
      // Renewal keeps the lease. Anything else is a new grant with the
      // next fence: also the same device asking without its live token (a
      // new run after a crash), which revokes what the old run has in
      // flight.
      if (!live || current != held.token) {
        held.token = NewLeaseToken();
        held.device = std::string(device);
        held.fence += 1;
      }
      held.expires_at = now + lease_ms_;
      tx.exec_prepared("lock_set", name, held.token, held.device,
                       static_cast<int64_t>(held.fence), held.expires_at);
      tx.commit();
      attempt.granted = true;
      attempt.lease = std::move(held);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return attempt;
  }

  Status Release(std::string_view account,
                 std::string_view token) noexcept override {
    if (token.empty()) return Status::Ok();
    return shared_->Run("unlock", [&](pqxx::connection& c) -> Status {
      pqxx::nontransaction tx(c);
      tx.exec_prepared("lock_release", std::string(account),
                       std::string(token));
      return Status::Ok();
    });
  }

  Result<Lease> Check(std::string_view account,
                      std::string_view token) noexcept override {
    if (token.empty()) {
      return Status::LeaseRequired("this call needs the X-Sync-Lease header");
    }
    std::optional<Lease> found;
    Status s = shared_->Run("check lease", [&](pqxx::connection& c) -> Status {
      found.reset();
      pqxx::nontransaction tx(c);
      pqxx::result r = tx.exec_prepared("lock_get", std::string(account));
      if (r.empty()) return Status::Ok();
      Lease& lease = found.emplace();
      lease.token = r[0][0].as<std::string>();
      lease.device = r[0][1].as<std::string>();
      lease.fence = r[0][2].as<uint64_t>();
      lease.expires_at = r[0][3].as<int64_t>();
      return Status::Ok();
    });
    if (!s.ok()) return s;
    if (!found || found->token != token) {
      return Status::LeaseLost("the lease is not the account's current one");
    }
    if (found->expires_at <= clock_.Now()) {
      return Status::LeaseLost("the lease expired");
    }
    return std::move(*found);
  }

  void Fence(const Lease& lease, ChangeBatch& batch) override {
    batch.RequireLease(LeaseFence{lease.token, clock_.Now()});
  }

 private:
  const std::shared_ptr<Shared> shared_;
  Clock& clock_;
  const int64_t lease_ms_;
};

// ---------------------------------------------------------------------------
// Database

class PostgresDatabase final : public Database {
 public:
  explicit PostgresDatabase(std::shared_ptr<Shared> shared)
      : shared_(std::move(shared)) {}

  Result<std::shared_ptr<Store>> OpenAccount(
      std::string_view account) noexcept override {
    if (account.empty()) return Status::InvalidArgument("empty account name");
    try {
      return std::shared_ptr<Store>(
          std::make_shared<PostgresStore>(shared_, std::string(account)));
    } catch (const std::bad_alloc&) {
      return Status::IOError("postgres: out of memory");
    }
  }

  std::unique_ptr<SyncLock> NewSyncLock(
      Clock& clock, std::chrono::milliseconds lease) override {
    return std::make_unique<PostgresSyncLock>(shared_, clock, lease);
  }

 private:
  const std::shared_ptr<Shared> shared_;
};

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

}  // namespace

Result<std::unique_ptr<Database>> OpenPostgresDatabase(
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
  std::shared_ptr<Shared> shared;
  try {
    // Quote the schema name as an identifier (no connection needed).
    std::string quoted = "\"";
    for (char ch : options.schema) {
      if (ch == '\0') {
        return Status::InvalidArgument("postgres: NUL in schema name");
      }
      quoted += ch;
      if (ch == '"') quoted += '"';
    }
    quoted += '"';
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
    shared = std::make_shared<Shared>(options, std::move(quoted));
  } catch (const std::bad_alloc&) {
    return Status::IOError("postgres: out of memory");
  }
  return std::unique_ptr<Database>(
      std::make_unique<PostgresDatabase>(std::move(shared)));
}

}  // namespace syncstack
