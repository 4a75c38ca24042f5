// The PostgreSQL store (the schema: postgres_connection.cc; the sync
// lock: postgres_lock.cc).
//
// Apply: one transaction holding the account's advisory lock (so an Expect
// checked at the start still holds at commit, even for absent rows). The
// current rows the Expects name are read once and evaluated in batch order;
// then the last put of each row goes in through COPY into a temporary table
// and one INSERT ... ON CONFLICT, erases through one DELETE, meta through
// upserts. Transient failures (lost connection, serialization failure,
// deadlock) are retried with exponential backoff.
//
// Reads run outside transactions and page by key (id >= $begin ORDER BY id
// LIMIT n), so no scan holds a snapshot, a lock or a connection between
// pages and writes between pages are safe. Connections come from a small
// pool; no connection is held while a callback runs.
#include "syncstack/postgres/postgres_store.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <new>
#include <optional>
#include <pqxx/tablewriter>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "postgres_internal.h"
#include "syncstack/index_scan.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/paged_iterator.h"

namespace syncstack {
namespace {

using postgres_internal::AppendHex;
using postgres_internal::CorruptRow;
using postgres_internal::DecodeBytea;
using postgres_internal::Hex;
using postgres_internal::NewPostgresSyncLock;
using postgres_internal::OpenShared;
using postgres_internal::Shared;

// Advisory lock keys of accounts: (class, account hash) pairs.
constexpr int kAccountLockClass = 0x53594e43;  // "SYNC"

constexpr size_t kScanPage = 2048;
constexpr size_t kGetChunk = 128;
constexpr size_t kCopyChunkBytes = size_t{1} << 16;
// Batches with at most this many puts use one multi-row INSERT; larger
// ones COPY (whose staging table costs a truncation at each commit).
constexpr size_t kMaxInsertRows = 256;

constexpr const char* kUpsertSuffix =
    " ON CONFLICT (account, collection, id) DO UPDATE SET ts = excluded.ts, "
    "extra = excluded.extra, deleted = excluded.deleted, "
    "state = excluded.state, base = excluded.base, payload = excluded.payload";

RecordId DecodeId(const pqxx::field& f, std::string& scratch) {
  DecodeBytea(f, scratch);
  if (scratch.size() != 16) throw CorruptRow{};
  return RecordId::FromBytes(scratch);
}

// Columns ts, extra, deleted, state, base from `first` on: all but the id.
void DecodeFields(const pqxx::row& row, int first, ManifestEntry& out) {
  out.version.timestamp = row[first].as<int64_t>();
  DecodeBytea(row[first + 1], out.version.extra);
  out.deleted = row[first + 2].as<bool>();
  int state = row[first + 3].as<int>();
  if (state < 0 || state > 3) throw CorruptRow{};
  out.state = static_cast<SyncState>(state);
  out.base = row[first + 4].as<int64_t>();
}

// Columns id, ts, extra, deleted, state, base from `first` on.
void DecodeEntry(const pqxx::row& row, int first, ManifestEntry& out,
                 std::string& scratch) {
  out.id = DecodeId(row[first], scratch);
  DecodeFields(row, first + 1, out);
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
// Scan

// A scan page: one statement outside any transaction, on a pooled
// connection given back before the page is used.
class PostgresPageSource final : public ManifestPageSource {
 public:
  PostgresPageSource(std::shared_ptr<Shared> shared, std::string account,
                     std::string collection)
      : shared_(std::move(shared)),
        account_(std::move(account)),
        collection_(std::move(collection)) {}

  Status Fill(const PageRequest& request, EntryPage& page) override {
    std::string begin_hex = Hex(request.range.begin.raw());
    std::string end_hex;  // empty: no end
    if (request.range.has_end) end_hex = Hex(request.range.end.raw());
    SYNCSTACK_RETURN_IF_ERROR(
        shared_->Run("scan", [&](pqxx::connection& c) -> Status {
          page.Clear();  // a retry starts over
          pqxx::nontransaction tx(c);
          pqxx::result r = tx.exec_prepared(
              "scan", account_, collection_, begin_hex, end_hex,
              request.include_tombstones, static_cast<int64_t>(request.limit));
          for (const pqxx::row& row : r) {
            ManifestEntry& e = page.Add(DecodeId(row[0], scratch_));
            DecodeFields(row, 1, e);
          }
          return Status::Ok();
        }));
    if (page.size() < request.limit) page.SetEnd();
    return Status::Ok();
  }

 private:
  const std::shared_ptr<Shared> shared_;
  const std::string account_;
  const std::string collection_;
  std::string scratch_;
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
  Status ScanSince(std::string_view collection, Timestamp after, size_t limit,
                   FunctionRef<void(const Record&)> fn) noexcept override;
  Status ScanUnsynced(std::string_view collection,
                      FunctionRef<void(const Record&)> fn) noexcept override;
  Status ScanMeta(std::string_view prefix,
                  FunctionRef<void(std::string_view, std::string_view)>
                      fn) noexcept override;

 private:
  // Runs the prepared statement `name` (its parameters after account and
  // collection given by `params`, then the chunk's limit) and fills
  // `chunk` with its rows (id, ts, extra, deleted, state, base, payload).
  template <class... Params>
  Status FillChunk(const char* name, std::string_view collection,
                   RowChunk& chunk, const Params&... params);
  Status ApplyOnce(pqxx::connection& c, const WriteOptions& options,
                   const ChangeBatch& batch,
                   const std::vector<size_t>& final_ops);
  // The steps of ApplyOnce, inside its transaction. Expects and the lease
  // fail with kConflict and kLeaseLost; SQL errors throw.
  Status CheckLease(pqxx::work& tx, const LeaseFence& fence);
  Status CheckExpects(pqxx::work& tx, const std::vector<ChangeBatch::Op>& ops);
  void InsertPuts(pqxx::work& tx, const std::vector<ChangeBatch::Op>& ops,
                  const std::vector<size_t>& final_ops);
  void CopyPuts(pqxx::work& tx, const std::vector<ChangeBatch::Op>& ops,
                const std::vector<size_t>& final_ops);
  bool IntoEmptyCollections(pqxx::work& tx,
                            const std::vector<ChangeBatch::Op>& ops,
                            const std::vector<size_t>& final_ops);
  // Mapped collections (postgres_mapped.cc): whether the batch writes
  // one, the sequence check, the metadata, and the writes into the
  // server's tables.
  bool TouchesMapped(const ChangeBatch& batch) const;
  static bool SetsSequence(const ChangeBatch& batch);
  std::vector<ChangeBatch::Op> Renumber(pqxx::work& tx,
                                        const ChangeBatch& batch,
                                        const std::vector<size_t>& final_ops);
  void PutMeta(pqxx::work& tx, const ChangeBatch& batch, bool mapped);
  void WriteMapped(pqxx::work& tx, const std::vector<ChangeBatch::Op>& ops,
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
  const std::vector<ChangeBatch::Op>* batch_ops = &batch.ops();
  std::vector<ChangeBatch::Op> renumbered;  // mapped: the ops, new bases
  pqxx::work tx(c);
  if (!options.sync) tx.exec("SET LOCAL synchronous_commit = off");
  tx.exec_prepared("lock_account", kAccountLockClass, AccountLockKey(account_));
  if (batch.lease().has_value()) {
    SYNCSTACK_RETURN_IF_ERROR(CheckLease(tx, *batch.lease()));
  }
  SYNCSTACK_RETURN_IF_ERROR(CheckExpects(tx, *batch_ops));
  const bool mapped = TouchesMapped(batch);
  if (mapped) {
    // Sequences and figures first: the writes the triggers capture below
    // (children deleted with their parent) then come after the batch's.
    PutMeta(tx, batch, true);
    if (SetsSequence(batch)) {
      renumbered = Renumber(tx, batch, final_ops);
      batch_ops = &renumbered;
    }
  }
  const std::vector<ChangeBatch::Op>& ops = *batch_ops;
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
    InsertPuts(tx, ops, final_ops);
  } else if (puts > 0) {
    CopyPuts(tx, ops, final_ops);
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
  if (mapped) {
    WriteMapped(tx, ops, final_ops);
  } else {
    PutMeta(tx, batch, false);
  }
  tx.commit();
  return Status::Ok();
}

bool PostgresStore::TouchesMapped(const ChangeBatch& batch) const {
  if (shared_->mapped.empty()) return false;
  for (const ChangeBatch::Op& op : batch.ops()) {
    if (shared_->mapped.count(op.record.collection) != 0) return true;
  }
  return false;
}

bool PostgresStore::SetsSequence(const ChangeBatch& batch) {
  for (const auto& [key, value] : batch.meta()) {
    if (key == meta::kSequence) return true;
  }
  return false;
}

// The service numbered its writes after the sequence it read before this
// transaction, and computed figures from what it read then; other code's
// writes (captured by the triggers) may have come in between. So a mapped
// batch takes its sequences (and their history tokens) here, under the
// account's lock, in batch order, and moves each figure by its own rows
// (the Expects have checked they are as the service read them).
std::vector<ChangeBatch::Op> PostgresStore::Renumber(
    pqxx::work& tx, const ChangeBatch& batch,
    const std::vector<size_t>& final_ops) {
  std::vector<ChangeBatch::Op> ops = batch.ops();
  for (size_t i : final_ops) {
    ChangeBatch::Op& op = ops[i];
    if (op.kind != ChangeBatch::Op::Kind::kPut) continue;
    const Record& r = op.record;
    pqxx::result seq = tx.exec_prepared(
        "mapped_renumber", account_, r.collection, Hex(r.id.raw()),
        static_cast<int64_t>(r.version.timestamp), Hex(r.version.extra),
        r.deleted);
    op.record.base = seq[0][0].as<int64_t>();
  }
  return ops;
}

// `mapped`: the sequence, its history and the figures of a batch that
// numbers writes are Renumber's. A figure of a mapped collection in any
// other batch (one first computed by a scan, such as the changes
// endpoint's figure-only batch, which touches no mapped collection) is
// only inserted if absent: the triggers keep the figure from their first
// capture on, outside the service's lock, so a scan read before that
// capture committed must not replace it.
void PostgresStore::PutMeta(pqxx::work& tx, const ChangeBatch& batch,
                            bool mapped) {
  const bool numbers = SetsSequence(batch);
  for (const auto& [key, value] : batch.meta()) {
    const bool figure = key.starts_with("figure/");
    if (mapped && numbers &&
        (key == meta::kSequence || key.starts_with("history/") || figure)) {
      continue;
    }
    if (figure && shared_->mapped.count(std::string_view(key).substr(7)) != 0) {
      tx.exec_prepared("add_meta", account_, key, Hex(value));
    } else {
      tx.exec_prepared("put_meta", account_, key, Hex(value));
    }
  }
}

// Into the server's tables, removals children first, then writes parents
// first (Schema::Depth), then rows that waited for a parent.
void PostgresStore::WriteMapped(pqxx::work& tx,
                                const std::vector<ChangeBatch::Op>& ops,
                                const std::vector<size_t>& final_ops) {
  std::vector<std::pair<int, size_t>> order;  // (phase key, op)
  for (size_t i : final_ops) {
    const ChangeBatch::Op& op = ops[i];
    auto it = shared_->mapped.find(op.record.collection);
    if (it == shared_->mapped.end()) continue;
    const bool removal =
        op.kind == ChangeBatch::Op::Kind::kErase || op.record.deleted;
    order.emplace_back(removal ? -1 - it->second : it->second, i);
  }
  std::stable_sort(
      order.begin(), order.end(),
      [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [phase, i] : order) {
    const ChangeBatch::Op& op = ops[i];
    const bool erase = op.kind == ChangeBatch::Op::Kind::kErase;
    tx.exec_prepared("mapped_write", account_, op.record.collection,
                     Hex(op.record.id.raw()),
                     static_cast<int64_t>(op.record.base), erase,
                     op.record.deleted, Hex(op.record.payload));
  }
  tx.exec_prepared("mapped_unpark", account_);
}

Status PostgresStore::CheckLease(pqxx::work& tx, const LeaseFence& fence) {
  // FOR SHARE holds off a new grant until this transaction commits.
  pqxx::result r = tx.exec_prepared("lock_fence", account_);
  if (r.empty() || fence.token.empty() ||
      r[0][0].as<std::string>() != fence.token) {
    return Status::LeaseLost("the lease is not the account's current one");
  }
  if (r[0][1].as<int64_t>() <= fence.now) {
    return Status::LeaseLost("the lease expired");
  }
  return Status::Ok();
}

// Reads the rows the Expects name, then replays the batch over them.
Status PostgresStore::CheckExpects(pqxx::work& tx,
                                   const std::vector<ChangeBatch::Op>& ops) {
  bool any_expect = false;
  for (const ChangeBatch::Op& op : ops) any_expect |= op.expect.has_value();
  if (!any_expect) return Status::Ok();
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
  return Status::Ok();
}

// A few puts: one multi-row INSERT ... ON CONFLICT.
void PostgresStore::InsertPuts(pqxx::work& tx,
                               const std::vector<ChangeBatch::Op>& ops,
                               const std::vector<size_t>& final_ops) {
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
}

// True if the account has no row in any collection the puts write to.
bool PostgresStore::IntoEmptyCollections(
    pqxx::work& tx, const std::vector<ChangeBatch::Op>& ops,
    const std::vector<size_t>& final_ops) {
  std::string_view probed;
  for (size_t i : final_ops) {
    const ChangeBatch::Op& op = ops[i];
    if (op.kind != ChangeBatch::Op::Kind::kPut) continue;
    if (op.record.collection == probed) continue;
    probed = op.record.collection;
    if (!tx.exec_prepared("any_row", account_, op.record.collection).empty()) {
      return false;
    }
  }
  return true;
}

// `text` escaped for a field of COPY's text format.
std::string CopyEscaped(std::string_view text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

// Many puts: COPY into the staging table, then one upsert. A bulk load into
// collections where the account has no rows yet (a first sync, an import)
// cannot collide with a row: it COPYs straight into the table, skipping
// the staging table and the upsert merge. No other writer can add rows
// meanwhile: they need the account lock held here.
void PostgresStore::CopyPuts(pqxx::work& tx,
                             const std::vector<ChangeBatch::Op>& ops,
                             const std::vector<size_t>& final_ops) {
  const bool direct = IntoEmptyCollections(tx, ops, final_ops);
  // The account column, COPY-escaped, when direct.
  const std::string prefix = direct ? CopyEscaped(account_) + '\t' : "";
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

std::unique_ptr<ManifestIterator> PostgresStore::Scan(
    std::string_view collection, const ScanOptions& options) noexcept {
  Status valid = ValidateCollectionName(collection);
  if (!valid.ok()) return NewErrorIterator(std::move(valid));
  try {
    return std::make_unique<PagedManifestIterator>(
        std::make_unique<PostgresPageSource>(shared_, account_,
                                             std::string(collection)),
        options, kScanPage);
  } catch (const std::bad_alloc&) {
    return NewErrorIterator(Status::IOError("postgres: scan: out of memory"));
  }
}

template <class... Params>
Status PostgresStore::FillChunk(const char* name, std::string_view collection,
                                RowChunk& chunk, const Params&... params) {
  const std::string collection_name(collection);
  const size_t limit = chunk.limit();
  return shared_->Run(name, [&](pqxx::connection& c) -> Status {
    chunk.Reset(limit);  // a retry starts over
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_prepared(name, account_, collection_name,
                                      params..., static_cast<int64_t>(limit));
    std::string scratch;
    for (const pqxx::row& row : r) {
      if (!chunk.HasRoom()) return Status::Ok();
      Record& out = chunk.Add();
      out.collection = collection_name;
      DecodeRecord(row, 0, out, scratch);
    }
    if (r.size() < limit) chunk.SetEnd();
    return Status::Ok();
  });
}

Status PostgresStore::ScanSince(std::string_view collection, Timestamp after,
                                size_t limit,
                                FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  try {
    auto read = [&](const SinceKey& from, RowChunk& chunk) -> Status {
      return FillChunk("scan_since", collection, chunk,
                       static_cast<int64_t>(from.base), Hex(from.id.raw()));
    };
    return ChunkedScanSince(after, limit, read, fn);
  } catch (const std::bad_alloc&) {
    return Status::IOError("postgres: scan since: out of memory");
  }
}

Status PostgresStore::ScanUnsynced(
    std::string_view collection, FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  try {
    auto read = [&](const RecordId* from, RowChunk& chunk) -> Status {
      // The empty bytea lies below every id.
      return FillChunk("scan_unsynced", collection, chunk,
                       from != nullptr ? Hex(from->raw()) : std::string());
    };
    return ChunkedScanUnsynced(read, fn);
  } catch (const std::bad_alloc&) {
    return Status::IOError("postgres: scan unsynced: out of memory");
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

// The entries are read first and `fn` runs after the connection went back.
Status PostgresStore::ScanMeta(
    std::string_view prefix,
    FunctionRef<void(std::string_view, std::string_view)> fn) noexcept {
  std::vector<std::pair<std::string, std::string>> entries;
  Status s = shared_->Run("scan meta", [&](pqxx::connection& c) -> Status {
    entries.clear();  // a retry starts over
    pqxx::nontransaction tx(c);
    pqxx::result r =
        tx.exec_prepared("scan_meta", account_, std::string(prefix));
    for (const pqxx::row& row : r) {
      auto& [key, value] = entries.emplace_back();
      key = row[0].as<std::string>();
      DecodeBytea(row[1], value);
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  for (const auto& [key, value] : entries) fn(key, value);
  return Status::Ok();
}

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
    return NewPostgresSyncLock(shared_, clock, lease);
  }

  // Under the account's advisory lock, like Apply, so no write of the
  // account interleaves; the lease reset makes a holder's next fenced
  // write fail (CheckLease).
  Status RemoveAccount(std::string_view account, std::string_view ledger,
                       const ChangeBatch& ledger_meta) noexcept override {
    SYNCSTACK_RETURN_IF_ERROR(
        ValidateRemoveAccount(account, ledger, ledger_meta));
    return shared_->Run("remove account", [&](pqxx::connection& c) -> Status {
      pqxx::work tx(c);
      std::string gone(account);
      tx.exec_prepared("lock_account", kAccountLockClass, AccountLockKey(gone));
      if (!shared_->mapped.empty()) {
        tx.exec_prepared("mapped_remove_account", gone);
      }
      tx.exec_prepared("remove_records", gone);
      tx.exec_prepared("remove_meta", gone);
      tx.exec_prepared("remove_lease", gone);
      for (const auto& [key, value] : ledger_meta.meta()) {
        tx.exec_prepared("put_meta", std::string(ledger), key, Hex(value));
      }
      tx.commit();
      return Status::Ok();
    });
  }

 private:
  const std::shared_ptr<Shared> shared_;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenPostgresDatabase(
    const PostgresDatabaseOptions& options) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Shared> shared,
                             OpenShared(options));
  try {
    return std::unique_ptr<Database>(
        std::make_unique<PostgresDatabase>(std::move(shared)));
  } catch (const std::bad_alloc&) {
    return Status::IOError("postgres: out of memory");
  }
}

}  // namespace syncstack
