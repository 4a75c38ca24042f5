// The LMDB store (the environment, transactions and map growth:
// lmdb_env.cc).
//
// Layout (format version 2, in info["format"]); named databases (DBIs):
//
//   collections: account '\0' name       -> cid (4 bytes, big-endian)
//   records:     cid (4, big-endian) id (16) -> header extra payload
//   by_base:     cid (4) base (8, ordered) id (16) -> ""      (format 2)
//   unsynced:    cid (4) id (16)          -> "" for rows not synced (2)
//   meta:        account '\0' key        -> value
//   info:        "format"                -> version (4 bytes, big-endian)
//
// by_base answers ScanSince and unsynced ScanUnsynced; both are kept in the
// write's own transaction (each put or erase of an existing row reads the
// old row's header first, to remove its entries). Opening a format 1 file
// builds them once.
//
// The record header is ts (8) base (8) deleted (1) state (1) extra size (4),
// little-endian. Why: LMDB orders keys bytewise, so all rows of one
// (account, collection) are one contiguous key range in id order, and a
// manifest scan is one MDB_SET_RANGE plus MDB_NEXT steps. cids are never
// reused (collections rows are never deleted), so the cid is the number of
// collections rows + 1 when it is created. The payload stays inline: one
// b-tree write per put and one read per get; a scan reads only the header
// and extra, and payloads over ~2 KB live on overflow pages it never
// touches.
#include "syncstack/lmdb/lmdb_store.h"

#include <lmdb.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lmdb_env.h"
#include "syncstack/chunked_get.h"
#include "syncstack/index_scan.h"
#include "syncstack/paged_iterator.h"

namespace syncstack {
namespace {

using lmdb_internal::Cursor;
using lmdb_internal::Env;
using lmdb_internal::GetBe32;
using lmdb_internal::GetOrderedBase;
using lmdb_internal::IndexRow;
using lmdb_internal::kBaseKeySize;
using lmdb_internal::kCidSize;
using lmdb_internal::kIdSize;
using lmdb_internal::kRecordKeySize;
using lmdb_internal::LmdbError;
using lmdb_internal::PutBe32;
using lmdb_internal::PutOrderedBase;
using lmdb_internal::Txn;
using lmdb_internal::Val;
using lmdb_internal::View;

// Entries per scan page: one short read transaction each.
constexpr size_t kScanPage = 1024;
// Rows looked at per scan page when skipping tombstones.
constexpr size_t kScanMaxExamined = 4 * kScanPage;

constexpr size_t kHeaderSize = 8 + 8 + 1 + 1 + 4;
// Longest account name: its collection and meta keys must fit LMDB's
// 511-byte key limit.
constexpr size_t kMaxAccount = 255;

Status OutOfMemory() { return Status::IOError("lmdb store: out of memory"); }

void PutLe64(int64_t s, char* out) {
  auto v = static_cast<uint64_t>(s);
  for (int i = 0; i < 8; ++i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
}
int64_t GetLe64(const char* in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return static_cast<int64_t>(v);
}
void PutLe32(uint32_t v, char* out) {
  for (int i = 0; i < 4; ++i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
}
uint32_t GetLe32(const char* in) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

// A records key: cid then id.
struct RecordKey {
  char bytes[kRecordKeySize];
  RecordKey(uint32_t cid, const RecordId& id) {
    PutBe32(cid, bytes);
    std::memcpy(bytes + kCidSize, id.bytes().data(), kIdSize);
  }
  MDB_val val() { return {sizeof(bytes), bytes}; }
};

// Decodes a records value's header into `e`; sets *extra and *payload to
// the views that follow it.
Status DecodeHeader(std::string_view v, ManifestEntry& e,
                    std::string_view* payload) {
  if (v.size() < kHeaderSize) {
    return Status::Corruption("lmdb store: short record value");
  }
  const char* p = v.data();
  e.version.timestamp = GetLe64(p);
  e.base = GetLe64(p + 8);
  uint8_t deleted = static_cast<uint8_t>(p[16]);
  uint8_t state = static_cast<uint8_t>(p[17]);
  uint32_t extra = GetLe32(p + 18);
  if (deleted > 1 || state > static_cast<uint8_t>(SyncState::kDeleted) ||
      extra > v.size() - kHeaderSize) {
    return Status::Corruption("lmdb store: bad record header");
  }
  e.deleted = deleted != 0;
  e.state = static_cast<SyncState>(state);
  e.version.extra.assign(p + kHeaderSize, extra);
  *payload = v.substr(kHeaderSize + extra);
  return Status::Ok();
}

Status DecodeRecord(std::string_view v, bool with_payload, Record& r) {
  ManifestEntry e;
  e.version.extra.swap(r.version.extra);  // reuse its buffer
  std::string_view payload;
  Status s = DecodeHeader(v, e, &payload);
  r.version.extra.swap(e.version.extra);
  if (!s.ok()) return s;
  r.version.timestamp = e.version.timestamp;
  r.base = e.base;
  r.deleted = e.deleted;
  r.state = e.state;
  if (with_payload) {
    r.payload.assign(payload);
  } else {
    r.payload.clear();
  }
  return Status::Ok();
}

size_t EncodedSize(const Record& r) {
  return kHeaderSize + r.version.extra.size() + r.payload.size();
}

void Encode(const Record& r, char* out) {
  PutLe64(r.version.timestamp, out);
  PutLe64(r.base, out + 8);
  out[16] = static_cast<char>(r.deleted ? 1 : 0);
  out[17] = static_cast<char>(r.state);
  PutLe32(static_cast<uint32_t>(r.version.extra.size()), out + 18);
  out += kHeaderSize;
  if (!r.version.extra.empty()) {
    std::memcpy(out, r.version.extra.data(), r.version.extra.size());
    out += r.version.extra.size();
  }
  if (!r.payload.empty()) {
    std::memcpy(out, r.payload.data(), r.payload.size());
  }
}

// Sets *cid to the collection's id, or 0 if it has none (cids start at 1).
Status FindCid(Env& env, MDB_txn* txn, std::string_view collection_key,
               uint32_t* cid) {
  MDB_val key = Val(collection_key);
  MDB_val value;
  int rc = mdb_get(txn, env.collections, &key, &value);
  if (rc == MDB_NOTFOUND) {
    *cid = 0;
    return Status::Ok();
  }
  if (rc != 0) return LmdbError(rc, "find collection");
  if (value.mv_size != kCidSize) {
    return Status::Corruption("lmdb store: bad collection id");
  }
  *cid = GetBe32(static_cast<const char*>(value.mv_data));
  if (*cid == 0) return Status::Corruption("lmdb store: collection id 0");
  return Status::Ok();
}

// Begins the read transaction `txn` and, unless *cid is already known (not
// 0), looks the collection up: *cid stays 0 if it does not exist.
Status BeginRead(Txn& txn, Env& env, std::string_view collection_key,
                 uint32_t* cid) {
  SYNCSTACK_RETURN_IF_ERROR(txn.Begin(MDB_RDONLY));
  if (*cid != 0) return Status::Ok();
  return FindCid(env, txn.get(), collection_key, cid);
}

// A scan page, read in its own short read transaction (PagedManifestIterator
// resumes after the last id examined), so a scan never pins a snapshot.
class LmdbPageSource final : public ManifestPageSource {
 public:
  LmdbPageSource(std::shared_ptr<Env> env, std::string collection_key)
      : env_(std::move(env)), collection_key_(std::move(collection_key)) {}

  Status Fill(const PageRequest& request, EntryPage& page) override;

 private:
  const std::shared_ptr<Env> env_;
  const std::string collection_key_;  // account '\0' collection
  uint32_t cid_ = 0;                  // 0: not looked up yet
};

Status LmdbPageSource::Fill(const PageRequest& request, EntryPage& page) {
  Txn txn(*env_);
  SYNCSTACK_RETURN_IF_ERROR(BeginRead(txn, *env_, collection_key_, &cid_));
  if (cid_ == 0) {
    page.SetEnd();
    return Status::Ok();
  }
  Cursor cursor;
  SYNCSTACK_RETURN_IF_ERROR(cursor.Open(txn.get(), env_->records));
  RecordKey from(cid_, request.range.begin);
  MDB_val key = from.val();
  MDB_val value;
  int rc = cursor.Get(&key, &value, MDB_SET_RANGE);
  std::string_view payload;
  for (size_t examined = 0;
       examined < kScanMaxExamined && page.size() < request.limit;
       ++examined, rc = cursor.Get(&key, &value, MDB_NEXT)) {
    if (rc == MDB_NOTFOUND) break;
    if (rc != 0) return LmdbError(rc, "scan");
    if (key.mv_size != kRecordKeySize ||
        std::memcmp(key.mv_data, from.bytes, kCidSize) != 0) {
      page.SetEnd();  // the next collection's rows
      return Status::Ok();
    }
    RecordId id = RecordId::FromBytes(View(key).substr(kCidSize));
    if (request.PastEnd(id)) {
      page.SetEnd();
      return Status::Ok();
    }
    std::string_view v = View(value);
    if (!request.include_tombstones && v.size() > 16 && v[16] != 0) {
      page.Skip(id);
      continue;
    }
    SYNCSTACK_RETURN_IF_ERROR(DecodeHeader(v, page.Add(id), &payload));
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "scan");
  if (rc == MDB_NOTFOUND) page.SetEnd();
  return Status::Ok();
}

class LmdbStore final : public Store {
 public:
  LmdbStore(std::shared_ptr<Env> env, std::string account)
      : env_(std::move(env)), prefix_(std::move(account)) {
    prefix_.push_back('\0');
  }

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
  // Reads into `chunk` the rows an index names, walking `index` from
  // `from` (skipping a key equal to `from` itself) while its keys start
  // with `cid`; the row's id is the last 16 bytes of each key. Runs in one
  // read transaction.
  Status ReadIndexed(std::string_view collection, MDB_dbi index,
                     std::string_view from, RowChunk& chunk);
  // Applies the batch in `txn`; sets *rc to the LMDB code of a failed call.
  Status ApplyOps(MDB_txn* txn, const ChangeBatch& batch, int* rc);
  // Removes the index entries of the row under `key`, if there is one.
  Status Unindex(MDB_txn* txn, MDB_val key, int* rc);
  // The cid of `collection`, created (when `create`) inside `txn`.
  Status Cid(MDB_txn* txn, std::string_view collection, bool create,
             uint32_t* cid, int* rc);

  const std::shared_ptr<Env> env_;
  std::string prefix_;  // account '\0'
  // Scratch for Apply, used under env_->write_mu.
  std::string key_;
  Record current_;
};

Status LmdbStore::Apply(const WriteOptions& options,
                        const ChangeBatch& batch) noexcept {
  for (const ChangeBatch::Op& op : batch.ops()) {
    SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(op.record.collection));
    if (op.record.version.extra.size() > UINT32_MAX) {
      return Status::InvalidArgument("lmdb store: version extra too large");
    }
  }
  for (const auto& [key, value] : batch.meta()) {
    if (key.empty() || prefix_.size() + key.size() > 511) {
      return Status::InvalidArgument("lmdb store: meta key of " +
                                     std::to_string(key.size()) + " bytes");
    }
  }
  if (batch.empty()) return Status::Ok();
  try {
    std::lock_guard write(env_->write_mu);
    for (int attempt = 0;; ++attempt) {
      Txn txn(*env_);
      SYNCSTACK_RETURN_IF_ERROR(env_->SetSync(options.sync));
      SYNCSTACK_RETURN_IF_ERROR(txn.Begin(0));
      int rc = 0;
      Status s = ApplyOps(txn.get(), batch, &rc);
      if (s.ok()) {
        rc = txn.Commit();
        if (rc == 0) return Status::Ok();
        s = LmdbError(rc, "commit");
      }
      txn.Abort();
      if (rc != MDB_MAP_FULL || attempt >= 40) return s;
      size_t need = 0;
      for (const ChangeBatch::Op& op : batch.ops()) {
        need += kRecordKeySize + EncodedSize(op.record);
      }
      SYNCSTACK_RETURN_IF_ERROR(env_->Resize(true, need));
    }
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Status LmdbStore::Cid(MDB_txn* txn, std::string_view collection, bool create,
                      uint32_t* cid, int* rc) {
  key_.assign(prefix_).append(collection);
  SYNCSTACK_RETURN_IF_ERROR(FindCid(*env_, txn, key_, cid));
  if (*cid != 0 || !create) return Status::Ok();
  MDB_stat st;
  *rc = mdb_stat(txn, env_->collections, &st);
  if (*rc != 0) return LmdbError(*rc, "stat collections");
  if (st.ms_entries >= UINT32_MAX - 1) {
    return Status::IOError("lmdb store: out of collection ids");
  }
  *cid = static_cast<uint32_t>(st.ms_entries + 1);
  char buf[kCidSize];
  PutBe32(*cid, buf);
  MDB_val key = Val(key_);
  MDB_val value = {sizeof(buf), buf};
  *rc = mdb_put(txn, env_->collections, &key, &value, MDB_NOOVERWRITE);
  if (*rc != 0) return LmdbError(*rc, "create collection");
  return Status::Ok();
}

// Each op's Expect is checked against the row as the transaction sees it,
// i.e. after the batch's earlier ops.
//
// Puts go through one write cursor. A put whose key is above every key in
// the records table (a first sync receives ids in order, and a new
// collection's cid is the highest) is appended (MDB_APPEND): no search,
// and pages split at the end so they fill up instead of half-filling,
// which also makes later commits copy fewer pages and scans read fewer.
//
// Long on purpose: one pass over the batch with its cursor and the last
// collection's id carried from op to op; it is the store's hot path.
Status LmdbStore::ApplyOps(MDB_txn* txn, const ChangeBatch& batch, int* rc) {
  std::string_view last_collection;
  uint32_t last_cid = 0;
  MDB_cursor* raw_cursor = nullptr;
  *rc = mdb_cursor_open(txn, env_->records, &raw_cursor);
  if (*rc != 0) return LmdbError(*rc, "open cursor");
  std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> cursor(raw_cursor,
                                                            mdb_cursor_close);
  // The highest key in the table (as this transaction sees it), once known.
  char high[kRecordKeySize];
  bool high_known = false, table_empty = false;
  for (const ChangeBatch::Op& op : batch.ops()) {
    const Record& rec = op.record;
    const bool put = op.kind == ChangeBatch::Op::Kind::kPut;
    // Batches mostly touch one collection: skip the lookup when it repeats.
    // An absent collection (cid 0) may be created by a later put, so a 0
    // is not remembered.
    uint32_t cid = 0;
    if (last_cid != 0 && rec.collection == last_collection) {
      cid = last_cid;
    } else {
      SYNCSTACK_RETURN_IF_ERROR(Cid(txn, rec.collection, put, &cid, rc));
      if (cid != 0) {
        last_collection = rec.collection;
        last_cid = cid;
      }
    }
    if (cid == 0) {
      // An erase in a collection that does not exist: the row is absent.
      if (op.expect.has_value() && !Satisfies(nullptr, *op.expect)) {
        return Status::Conflict("expectation failed for " + rec.collection +
                                "/" + rec.id.ToString());
      }
      continue;
    }
    RecordKey k(cid, rec.id);
    MDB_val key = k.val();
    if (op.expect.has_value()) {
      MDB_val value;
      *rc = mdb_get(txn, env_->records, &key, &value);
      if (*rc != 0 && *rc != MDB_NOTFOUND) return LmdbError(*rc, "read row");
      const bool exists = *rc == 0;
      *rc = 0;
      if (exists) {
        SYNCSTACK_RETURN_IF_ERROR(DecodeRecord(
            View(value), op.expect->payload.has_value(), current_));
      }
      if (!Satisfies(exists ? &current_ : nullptr, *op.expect)) {
        return Status::Conflict("expectation failed for " + rec.collection +
                                "/" + rec.id.ToString());
      }
    }
    if (put) {
      if (!high_known) {
        MDB_val last_key, last_value;
        *rc = mdb_cursor_get(cursor.get(), &last_key, &last_value, MDB_LAST);
        if (*rc != 0 && *rc != MDB_NOTFOUND) return LmdbError(*rc, "last");
        table_empty = *rc == MDB_NOTFOUND;
        *rc = 0;
        if (!table_empty && last_key.mv_size != kRecordKeySize) {
          return Status::Corruption("lmdb store: bad record key");
        }
        if (!table_empty) std::memcpy(high, last_key.mv_data, kRecordKeySize);
        high_known = true;
      }
      unsigned flags = MDB_RESERVE;
      if (table_empty || std::memcmp(k.bytes, high, kRecordKeySize) > 0) {
        flags |= MDB_APPEND;
        std::memcpy(high, k.bytes, kRecordKeySize);
        table_empty = false;
      } else {
        SYNCSTACK_RETURN_IF_ERROR(Unindex(txn, key, rc));
      }
      MDB_val value = {EncodedSize(rec), nullptr};
      *rc = mdb_cursor_put(cursor.get(), &key, &value, flags);
      if (*rc != 0) return LmdbError(*rc, "put");
      Encode(rec, static_cast<char*>(value.mv_data));
      *rc = IndexRow(*env_, txn, View(key), View(value), true);
      if (*rc != 0) return LmdbError(*rc, "index row");
    } else {
      // Deleting never raises the highest key; a delete of it lowers it,
      // so look again before the next append.
      high_known = false;
      SYNCSTACK_RETURN_IF_ERROR(Unindex(txn, key, rc));
      *rc = mdb_del(txn, env_->records, &key, nullptr);
      if (*rc == MDB_NOTFOUND) *rc = 0;
      if (*rc != 0) return LmdbError(*rc, "erase");
    }
  }
  for (const auto& [k, v] : batch.meta()) {
    key_.assign(prefix_).append(k);
    MDB_val key = Val(key_);
    MDB_val value = Val(v);
    *rc = mdb_put(txn, env_->meta, &key, &value, 0);
    if (*rc != 0) return LmdbError(*rc, "set meta");
  }
  return Status::Ok();
}

Status LmdbStore::Unindex(MDB_txn* txn, MDB_val key, int* rc) {
  MDB_val old;
  *rc = mdb_get(txn, env_->records, &key, &old);
  if (*rc == MDB_NOTFOUND) {
    *rc = 0;
    return Status::Ok();
  }
  if (*rc == 0) *rc = IndexRow(*env_, txn, View(key), View(old), false);
  return *rc == 0 ? Status::Ok() : LmdbError(*rc, "unindex row");
}

std::unique_ptr<ManifestIterator> LmdbStore::Scan(
    std::string_view collection, const ScanOptions& options) noexcept {
  Status valid = ValidateCollectionName(collection);
  if (!valid.ok()) return NewErrorIterator(std::move(valid));
  try {
    return std::make_unique<PagedManifestIterator>(
        std::make_unique<LmdbPageSource>(env_,
                                         prefix_ + std::string(collection)),
        options, kScanPage);
  } catch (const std::bad_alloc&) {
    return NewErrorIterator(OutOfMemory());
  }
}

Status LmdbStore::Get(std::string_view collection,
                      std::span<const RecordId> ids,
                      FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  try {
    const std::string collection_key = prefix_ + std::string(collection);
    uint32_t cid = 0;
    auto read = [&](RecordChunk& chunk) -> Status {
      Txn txn(*env_);
      SYNCSTACK_RETURN_IF_ERROR(BeginRead(txn, *env_, collection_key, &cid));
      if (cid == 0) {
        chunk.NoneLeft();
        return Status::Ok();
      }
      while (chunk.HasRoom()) {
        const RecordId& id = chunk.next_id();
        RecordKey k(cid, id);
        MDB_val key = k.val();
        MDB_val value;
        int rc = mdb_get(txn.get(), env_->records, &key, &value);
        if (rc == MDB_NOTFOUND) {
          chunk.NotFound();
          continue;
        }
        if (rc != 0) return LmdbError(rc, "get");
        Record& r = chunk.Found();
        SYNCSTACK_RETURN_IF_ERROR(DecodeRecord(View(value), true, r));
        r.collection.assign(collection);
        r.id = id;
      }
      return Status::Ok();
    };
    return ChunkedGet(ids, read, fn);
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Status LmdbStore::ReadIndexed(std::string_view collection, MDB_dbi index,
                              std::string_view from, RowChunk& chunk) {
  Txn txn(*env_);
  uint32_t cid = 0;
  SYNCSTACK_RETURN_IF_ERROR(
      BeginRead(txn, *env_, prefix_ + std::string(collection), &cid));
  if (cid == 0) {
    chunk.SetEnd();
    return Status::Ok();
  }
  std::string start = from.empty() ? std::string(kCidSize, '\0') : "";
  start.append(from);
  PutBe32(cid, start.data());
  Cursor cursor;
  SYNCSTACK_RETURN_IF_ERROR(cursor.Open(txn.get(), index));
  MDB_val key = Val(start);
  MDB_val unused;
  int rc = cursor.Get(&key, &unused, MDB_SET_RANGE);
  if (rc == 0 && from.size() > kCidSize && View(key) == start) {
    rc = cursor.Get(&key, &unused, MDB_NEXT);  // strictly after `from`
  }
  for (; rc == 0 && chunk.HasRoom(); rc = cursor.Get(&key, &unused, MDB_NEXT)) {
    std::string_view k = View(key);
    if (k.size() < kRecordKeySize ||
        std::memcmp(k.data(), start.data(), kCidSize) != 0) {
      chunk.SetEnd();  // the next collection's entries
      return Status::Ok();
    }
    RecordId id = RecordId::FromBytes(k.substr(k.size() - kIdSize));
    RecordKey rk(cid, id);
    MDB_val row_key = rk.val();
    MDB_val value;
    int get_rc = mdb_get(txn.get(), env_->records, &row_key, &value);
    if (get_rc == MDB_NOTFOUND) {
      return Status::Corruption("lmdb store: an index names a missing row");
    }
    if (get_rc != 0) return LmdbError(get_rc, "index get");
    Record& r = chunk.Add();
    SYNCSTACK_RETURN_IF_ERROR(DecodeRecord(View(value), true, r));
    r.collection.assign(collection);
    r.id = id;
  }
  if (rc == MDB_NOTFOUND) {
    chunk.SetEnd();
  } else if (rc != 0) {
    return LmdbError(rc, "index scan");
  }
  return Status::Ok();
}

Status LmdbStore::ScanSince(std::string_view collection, Timestamp after,
                            size_t limit,
                            FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  try {
    auto read = [&](const SinceKey& from, RowChunk& chunk) -> Status {
      // The cid is filled in by ReadIndexed.
      char key[kBaseKeySize] = {};
      PutOrderedBase(from.base, key + kCidSize);
      std::memcpy(key + kCidSize + 8, from.id.bytes().data(), kIdSize);
      return ReadIndexed(collection, env_->by_base,
                         std::string_view(key, sizeof(key)), chunk);
    };
    return ChunkedScanSince(after, limit, read, fn);
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Status LmdbStore::ScanUnsynced(std::string_view collection,
                               FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  try {
    auto read = [&](const RecordId* from, RowChunk& chunk) -> Status {
      if (from == nullptr) {
        return ReadIndexed(collection, env_->unsynced, {}, chunk);
      }
      char key[kRecordKeySize] = {};
      std::memcpy(key + kCidSize, from->bytes().data(), kIdSize);
      return ReadIndexed(collection, env_->unsynced,
                         std::string_view(key, sizeof(key)), chunk);
    };
    return ChunkedScanUnsynced(read, fn);
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Result<std::vector<std::string>> LmdbStore::Collections() noexcept {
  try {
    std::vector<std::string> names;
    Txn txn(*env_);
    SYNCSTACK_RETURN_IF_ERROR(txn.Begin(MDB_RDONLY));
    Cursor by_name;
    SYNCSTACK_RETURN_IF_ERROR(by_name.Open(txn.get(), env_->collections));
    Cursor rows;
    SYNCSTACK_RETURN_IF_ERROR(rows.Open(txn.get(), env_->records));
    MDB_val key = Val(prefix_);
    MDB_val value;
    int rc = by_name.Get(&key, &value, MDB_SET_RANGE);
    for (; rc == 0; rc = by_name.Get(&key, &value, MDB_NEXT)) {
      std::string_view k = View(key);
      if (!k.starts_with(prefix_)) break;
      if (value.mv_size != kCidSize) {
        return Status::Corruption("lmdb store: bad collection id");
      }
      // Listed only if it has a row: the first key at or after cid.
      char cid[kCidSize];
      std::memcpy(cid, value.mv_data, kCidSize);
      MDB_val row_key = {sizeof(cid), cid};
      MDB_val row_value;
      int row_rc = rows.Get(&row_key, &row_value, MDB_SET_RANGE);
      if (row_rc == 0) {
        if (row_key.mv_size >= kCidSize &&
            std::memcmp(row_key.mv_data, cid, kCidSize) == 0) {
          names.emplace_back(k.substr(prefix_.size()));
        }
      } else if (row_rc != MDB_NOTFOUND) {
        return LmdbError(row_rc, "collections");
      }
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "collections");
    // Keys order bytewise, as std::string does: `names` is sorted.
    return names;
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Result<std::optional<std::string>> LmdbStore::GetMeta(
    std::string_view key) noexcept {
  try {
    if (key.empty() || prefix_.size() + key.size() > 511) {
      return std::optional<std::string>();  // never settable
    }
    std::string k = prefix_ + std::string(key);
    Txn txn(*env_);
    SYNCSTACK_RETURN_IF_ERROR(txn.Begin(MDB_RDONLY));
    MDB_val mk = Val(k);
    MDB_val value;
    int rc = mdb_get(txn.get(), env_->meta, &mk, &value);
    if (rc == MDB_NOTFOUND) return std::optional<std::string>();
    if (rc != 0) return LmdbError(rc, "get meta");
    return std::optional<std::string>(std::string(View(value)));
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Status LmdbStore::ScanMeta(
    std::string_view prefix,
    FunctionRef<void(std::string_view, std::string_view)> fn) noexcept {
  try {
    std::string start = prefix_ + std::string(prefix);
    if (start.size() > 511) return Status::Ok();  // no key is that long
    Txn txn(*env_);
    SYNCSTACK_RETURN_IF_ERROR(txn.Begin(MDB_RDONLY));
    Cursor cursor;
    SYNCSTACK_RETURN_IF_ERROR(cursor.Open(txn.get(), env_->meta));
    MDB_val key = Val(start);
    MDB_val value;
    for (int rc = cursor.Get(&key, &value, MDB_SET_RANGE);;
         rc = cursor.Get(&key, &value, MDB_NEXT)) {
      if (rc == MDB_NOTFOUND) return Status::Ok();
      if (rc != 0) return LmdbError(rc, "scan meta");
      std::string_view k = View(key);
      if (!k.starts_with(start)) return Status::Ok();
      fn(k.substr(prefix_.size()), View(value));
    }
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

// Deletes every key of `dbi` that starts with `prefix`, in `txn`; sets *rc
// to the LMDB code of a failed call.
Status DeletePrefix(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix,
                    int* rc) {
  MDB_cursor* raw_cursor = nullptr;
  *rc = mdb_cursor_open(txn, dbi, &raw_cursor);
  if (*rc != 0) return LmdbError(*rc, "open cursor");
  std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> cursor(raw_cursor,
                                                            mdb_cursor_close);
  for (;;) {
    MDB_val key = Val(prefix);
    MDB_val value;
    *rc = mdb_cursor_get(cursor.get(), &key, &value, MDB_SET_RANGE);
    if (*rc == MDB_NOTFOUND || (*rc == 0 && !View(key).starts_with(prefix))) {
      *rc = 0;
      return Status::Ok();
    }
    if (*rc != 0) return LmdbError(*rc, "find rows to remove");
    *rc = mdb_cursor_del(cursor.get(), 0);
    if (*rc != 0) return LmdbError(*rc, "remove row");
  }
}

// RemoveAccount's transaction: the rows of each of the account's
// collections, then its metadata; its `collections` entries stay (cids are
// never reused, and open stores may have looked them up).
Status RemoveIn(Env& env, MDB_txn* txn, std::string_view account,
                std::string_view ledger, const ChangeBatch& ledger_meta,
                int* rc) {
  const std::string gone = std::string(account) + '\0';
  std::vector<uint32_t> cids;
  {
    Cursor cursor;
    SYNCSTACK_RETURN_IF_ERROR(cursor.Open(txn, env.collections));
    MDB_val key = Val(gone);
    MDB_val value;
    for (*rc = cursor.Get(&key, &value, MDB_SET_RANGE); *rc == 0;
         *rc = cursor.Get(&key, &value, MDB_NEXT)) {
      if (!View(key).starts_with(gone)) break;
      if (value.mv_size != kCidSize) {
        return Status::Corruption("lmdb store: bad collection id");
      }
      cids.push_back(GetBe32(static_cast<const char*>(value.mv_data)));
    }
    if (*rc != 0 && *rc != MDB_NOTFOUND) {
      return LmdbError(*rc, "list collections");
    }
    *rc = 0;
  }
  for (uint32_t cid : cids) {
    char prefix[kCidSize];
    PutBe32(cid, prefix);
    SYNCSTACK_RETURN_IF_ERROR(DeletePrefix(
        txn, env.records, std::string_view(prefix, sizeof prefix), rc));
  }
  SYNCSTACK_RETURN_IF_ERROR(DeletePrefix(txn, env.meta, gone, rc));
  std::string k;
  for (const auto& [key, value] : ledger_meta.meta()) {
    k.assign(ledger).append(1, '\0').append(key);
    MDB_val mk = Val(k);
    MDB_val mv = Val(value);
    *rc = mdb_put(txn, env.meta, &mk, &mv, 0);
    if (*rc != 0) return LmdbError(*rc, "set meta");
  }
  return Status::Ok();
}

Status RemoveLmdbAccount(Env& env, std::string_view account,
                         std::string_view ledger,
                         const ChangeBatch& ledger_meta) {
  for (const auto& [key, value] : ledger_meta.meta()) {
    if (key.empty() || ledger.size() + 1 + key.size() > 511) {
      return Status::InvalidArgument("lmdb store: meta key of " +
                                     std::to_string(key.size()) + " bytes");
    }
  }
  std::lock_guard write(env.write_mu);
  for (int attempt = 0;; ++attempt) {
    Txn txn(env);
    SYNCSTACK_RETURN_IF_ERROR(env.SetSync(true));
    SYNCSTACK_RETURN_IF_ERROR(txn.Begin(0));
    int rc = 0;
    Status s = RemoveIn(env, txn.get(), account, ledger, ledger_meta, &rc);
    if (s.ok()) {
      rc = txn.Commit();
      if (rc == 0) return Status::Ok();
      s = LmdbError(rc, "commit");
    }
    txn.Abort();
    // Deleting copies pages too, so a full map grows as for Apply.
    if (rc != MDB_MAP_FULL || attempt >= 40) return s;
    SYNCSTACK_RETURN_IF_ERROR(env.Resize(true, 0));
  }
}

class LmdbDatabase final : public Database {
 public:
  explicit LmdbDatabase(std::shared_ptr<Env> env) : env_(std::move(env)) {}

  Result<std::shared_ptr<Store>> OpenAccount(
      std::string_view account) noexcept override {
    if (account.empty()) {
      return Status::InvalidArgument("empty account name");
    }
    if (account.size() > kMaxAccount ||
        account.find('\0') != std::string_view::npos) {
      return Status::InvalidArgument(
          "lmdb store: account names are at most 255 bytes, without NUL");
    }
    try {
      return std::shared_ptr<Store>(
          std::make_shared<LmdbStore>(env_, std::string(account)));
    } catch (const std::bad_alloc&) {
      return OutOfMemory();
    }
  }

  Status RemoveAccount(std::string_view account, std::string_view ledger,
                       const ChangeBatch& ledger_meta) noexcept override {
    SYNCSTACK_RETURN_IF_ERROR(
        ValidateRemoveAccount(account, ledger, ledger_meta));
    if (account.size() > kMaxAccount || ledger.size() > kMaxAccount ||
        account.find('\0') != std::string_view::npos ||
        ledger.find('\0') != std::string_view::npos) {
      return Status::InvalidArgument(
          "lmdb store: account names are at most 255 bytes, without NUL");
    }
    try {
      return RemoveLmdbAccount(*env_, account, ledger, ledger_meta);
    } catch (const std::bad_alloc&) {
      return OutOfMemory();
    }
  }

 private:
  std::shared_ptr<Env> env_;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenLmdbDatabase(
    const LmdbDatabaseOptions& options) {
  if (options.path.empty()) {
    return Status::InvalidArgument("lmdb: empty database path");
  }
  try {
    auto env = std::make_shared<Env>();
    SYNCSTACK_RETURN_IF_ERROR(env->Open(options));
    return std::unique_ptr<Database>(
        std::make_unique<LmdbDatabase>(std::move(env)));
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

}  // namespace syncstack
