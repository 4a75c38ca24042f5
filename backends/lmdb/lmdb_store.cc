// The LMDB store.
//
// Layout (format version 1, in info["format"]); named databases (DBIs):
//
//   collections: account '\0' name       -> cid (4 bytes, big-endian)
//   records:     cid (4, big-endian) id (16) -> header extra payload
//   meta:        account '\0' key        -> value
//   info:        "format"                -> version (4 bytes, big-endian)
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
//
// Concurrency: writers are serialised by `write_mu` (LMDB allows one write
// transaction anyway). Read transactions are short (one scan page, one get
// chunk) and use MDB_NOTLS, so they are not bound to a thread. Growing the
// map needs no transaction open in this process: every transaction holds
// `map_mu` shared, and a resize holds it exclusively.
#include "syncstack/lmdb/lmdb_store.h"

#include <lmdb.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace syncstack {
namespace {

constexpr uint32_t kFormatVersion = 1;
constexpr std::string_view kFormatKey = "format";

// Entries per scan page: one short read transaction each.
constexpr size_t kScanPage = 1024;
// Rows looked at per scan page when skipping tombstones.
constexpr size_t kScanMaxExamined = 4 * kScanPage;
// Get copies records out in chunks bounded by count and by payload bytes,
// then calls back outside any transaction.
constexpr size_t kGetChunkRecords = 256;
constexpr size_t kGetChunkBytes = size_t{4} << 20;

constexpr size_t kIdSize = 16;
constexpr size_t kCidSize = 4;
constexpr size_t kRecordKeySize = kCidSize + kIdSize;
constexpr size_t kHeaderSize = 8 + 8 + 1 + 1 + 4;
// Longest account name: its collection and meta keys must fit LMDB's
// 511-byte key limit.
constexpr size_t kMaxAccount = 255;

// The one place LMDB return codes become a Status.
Status LmdbError(int rc, std::string_view what) {
  std::string msg = "lmdb: ";
  msg += what;
  msg += ": ";
  msg += mdb_strerror(rc);
  msg += " (" + std::to_string(rc) + ")";
  switch (rc) {
    case MDB_CORRUPTED:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
    case MDB_PAGE_NOTFOUND:
      return Status::Corruption(std::move(msg));
    case MDB_READERS_FULL:
      return Status::Unavailable(std::move(msg));
    default:
      return Status::IOError(std::move(msg));
  }
}

Status OutOfMemory() { return Status::IOError("lmdb store: out of memory"); }

MDB_val Val(std::string_view s) {
  return {s.size(), const_cast<char*>(s.data())};
}
std::string_view View(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

void PutBe32(uint32_t v, char* out) {
  for (int i = 3; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
}
uint32_t GetBe32(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}
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

// The environment and its named databases, shared by the Database, its
// Stores and their iterators.
struct Env {
  Env() = default;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  ~Env() {
    if (env != nullptr) mdb_env_close(env);
  }

  Status Open(const LmdbDatabaseOptions& options);
  Status InitSchema();

  // Replaces the map by one of at least twice the size (more if `need`
  // bytes are expected), or adopts a size another process set (grow false).
  Status Resize(bool grow, size_t need);

  // Makes the next commit flush (or not). An unsynced commit is written
  // but not flushed; the next synced commit flushes it with its own.
  // liblmdb 0.9.24 ignores MDB_NOSYNC given to mdb_txn_begin (measured:
  // every commit still fsyncs), so this flips the environment flag, which
  // only commits read; read transactions in other threads read the flags
  // word but none of the bits that change. REQUIRES: write_mu held.
  Status SetSync(bool sync) {
    if (!durable || sync == !nosync) return Status::Ok();
    int rc = mdb_env_set_flags(env, MDB_NOSYNC, sync ? 0 : 1);
    if (rc != 0) return LmdbError(rc, "set sync");
    nosync = !sync;
    return Status::Ok();
  }

  MDB_env* env = nullptr;
  bool durable = true;  // false: opened with MDB_NOSYNC for good
  bool nosync = false;  // MDB_NOSYNC is set. GUARDED_BY(write_mu)
  MDB_dbi records = 0;
  MDB_dbi collections = 0;
  MDB_dbi meta = 0;
  MDB_dbi info = 0;
  size_t page_size = 4096;

  std::mutex write_mu;       // serialises write transactions
  std::shared_mutex map_mu;  // shared: a transaction; exclusive: a resize
};

size_t RoundUp(size_t n, size_t unit) { return (n + unit - 1) / unit * unit; }

Status Env::Resize(bool grow, size_t need) {
  std::unique_lock lock(map_mu);
  if (!grow) {
    int rc = mdb_env_set_mapsize(env, 0);
    return rc == 0 ? Status::Ok() : LmdbError(rc, "adopt map size");
  }
  MDB_envinfo info_out;
  int rc = mdb_env_info(env, &info_out);
  if (rc != 0) return LmdbError(rc, "env info");
  size_t size = info_out.me_mapsize;
  size_t next = std::max(size * 2, size + 2 * need);
  rc = mdb_env_set_mapsize(env, RoundUp(next, page_size));
  return rc == 0 ? Status::Ok() : LmdbError(rc, "grow map");
}

// A transaction holding `map_mu` shared; aborted on destruction unless
// committed.
class Txn {
 public:
  explicit Txn(Env& env) : env_(env) {}
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { Abort(); }

  // Begins a transaction (`flags`: MDB_RDONLY, or write flags). Clears
  // readers of dead processes when the reader table is full, and adopts a
  // map grown by another process.
  Status Begin(unsigned flags) {
    assert(txn_ == nullptr);
    for (int attempt = 0;; ++attempt) {
      lock_ = std::shared_lock(env_.map_mu);
      int rc = mdb_txn_begin(env_.env, nullptr, flags, &txn_);
      if (rc == 0) return Status::Ok();
      txn_ = nullptr;
      lock_.unlock();
      if (attempt < 4 && rc == MDB_READERS_FULL) {
        int dead = 0;
        if (mdb_reader_check(env_.env, &dead) == 0 && dead > 0) continue;
      } else if (attempt < 4 && rc == MDB_MAP_RESIZED) {
        SYNCSTACK_RETURN_IF_ERROR(env_.Resize(false, 0));
        continue;
      }
      return LmdbError(rc, "begin transaction");
    }
  }
  // Returns the rc of mdb_txn_commit (the transaction is gone either way).
  int Commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    lock_.unlock();
    return rc;
  }
  void Abort() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    txn_ = nullptr;
    if (lock_.owns_lock()) lock_.unlock();
  }
  MDB_txn* get() const { return txn_; }

 private:
  Env& env_;
  MDB_txn* txn_ = nullptr;
  std::shared_lock<std::shared_mutex> lock_;
};

// A cursor closed on destruction. REQUIRES: destroyed before its Txn ends.
class Cursor {
 public:
  Cursor() = default;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  }
  Status Open(MDB_txn* txn, MDB_dbi dbi) {
    int rc = mdb_cursor_open(txn, dbi, &cursor_);
    return rc == 0 ? Status::Ok() : LmdbError(rc, "open cursor");
  }
  int Get(MDB_val* key, MDB_val* value, MDB_cursor_op op) {
    return mdb_cursor_get(cursor_, key, value, op);
  }

 private:
  MDB_cursor* cursor_ = nullptr;
};

Status Env::Open(const LmdbDatabaseOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir(options.path);
  if (!fs::exists(dir / "data.mdb", ec)) {
    if (!options.create_if_missing) {
      return Status::IOError("lmdb: no database in " + options.path);
    }
    // The folder and its files are the owner's alone (0700, 0600).
    if (fs::create_directories(dir, ec)) {
      fs::permissions(dir, fs::perms::owner_all, ec);
    }
    if (ec) {
      return Status::IOError("lmdb: cannot create " + options.path + ": " +
                             ec.message());
    }
  }
  long sys_page = sysconf(_SC_PAGESIZE);
  if (sys_page > 0) page_size = static_cast<size_t>(sys_page);

  int rc = mdb_env_create(&env);
  if (rc != 0) return LmdbError(rc, "create env");
  rc = mdb_env_set_maxdbs(env, 8);
  if (rc != 0) return LmdbError(rc, "set max dbs");
  rc = mdb_env_set_maxreaders(
      env, static_cast<unsigned>(
               std::clamp<size_t>(options.max_readers, 1, size_t{1} << 20)));
  if (rc != 0) return LmdbError(rc, "set max readers");
  // A few pages at least: the named databases' roots must fit.
  size_t map_size =
      RoundUp(std::max(options.initial_map_size, 16 * page_size), page_size);
  rc = mdb_env_set_mapsize(env, map_size);
  if (rc != 0) return LmdbError(rc, "set map size");
  unsigned flags = MDB_NOTLS;
  if (!options.sync) flags |= MDB_NOSYNC;
  durable = options.sync;
  nosync = !options.sync;
  rc = mdb_env_open(env, options.path.c_str(), flags, 0600);
  if (rc != 0) return LmdbError(rc, "open " + options.path);
  // Readers left by crashed processes pin old pages and take slots.
  int dead = 0;
  rc = mdb_reader_check(env, &dead);
  if (rc != 0) return LmdbError(rc, "reader check");
  return InitSchema();
}

// Opens the named databases, creating them in a fresh environment, and
// checks the format version.
Status Env::InitSchema() {
  std::lock_guard write(write_mu);
  for (int attempt = 0;; ++attempt) {
    Txn txn(*this);
    SYNCSTACK_RETURN_IF_ERROR(txn.Begin(0));
    int rc = mdb_dbi_open(txn.get(), "info", 0, &info);
    bool fresh = false;
    if (rc == MDB_NOTFOUND) {
      // No syncstack database yet: only an empty environment is ours.
      MDB_dbi main_dbi = 0;
      rc = mdb_dbi_open(txn.get(), nullptr, 0, &main_dbi);
      if (rc != 0) return LmdbError(rc, "open main db");
      MDB_stat st;
      rc = mdb_stat(txn.get(), main_dbi, &st);
      if (rc != 0) return LmdbError(rc, "stat main db");
      if (st.ms_entries != 0) {
        return Status::Corruption("lmdb: not a syncstack database");
      }
      fresh = true;
      rc = mdb_dbi_open(txn.get(), "info", MDB_CREATE, &info);
    }
    if (rc != 0) return LmdbError(rc, "open info db");
    const unsigned create = fresh ? MDB_CREATE : 0;
    struct {
      const char* name;
      MDB_dbi* dbi;
    } const kDbs[] = {
        {"records", &records}, {"collections", &collections}, {"meta", &meta}};
    for (const auto& db : kDbs) {
      rc = mdb_dbi_open(txn.get(), db.name, create, db.dbi);
      if (rc == MDB_NOTFOUND) {
        return Status::Corruption(std::string("lmdb: no ") + db.name +
                                  " database");
      }
      if (rc != 0) break;
    }
    MDB_val key = Val(kFormatKey);
    MDB_val value;
    if (rc == 0) rc = mdb_get(txn.get(), info, &key, &value);
    if (rc == 0) {
      if (value.mv_size != 4) {
        return Status::Corruption("lmdb: bad format version");
      }
      uint32_t version = GetBe32(static_cast<const char*>(value.mv_data));
      if (version > kFormatVersion) {
        return Status::Corruption("lmdb: format version " +
                                  std::to_string(version) +
                                  " is newer than this build supports (" +
                                  std::to_string(kFormatVersion) + ")");
      }
      // Older versions would be migrated here; 1 is the first. Commit even
      // so: handles opened by an aborted transaction are closed.
      rc = txn.Commit();
      if (rc == 0) return Status::Ok();
    }
    if (rc == MDB_NOTFOUND) {
      if (!fresh) return Status::Corruption("lmdb: no format version");
      char buf[4];
      PutBe32(kFormatVersion, buf);
      value = {sizeof(buf), buf};
      rc = mdb_put(txn.get(), info, &key, &value, 0);
      if (rc == 0) rc = txn.Commit();
      if (rc == 0) return Status::Ok();
    }
    txn.Abort();
    if (rc == MDB_MAP_FULL && attempt < 8) {
      SYNCSTACK_RETURN_IF_ERROR(Resize(true, 0));
      continue;
    }
    return LmdbError(rc, "init schema");
  }
}

// Keyset paging: each page is read in its own short read transaction and
// the next one resumes after the last id examined, so a scan never pins a
// snapshot and concurrent writes are safe.
class LmdbIterator final : public ManifestIterator {
 public:
  LmdbIterator(std::shared_ptr<Env> env, std::string collection_key,
               const ScanOptions& options)
      : env_(std::move(env)),
        collection_key_(std::move(collection_key)),
        options_(options) {
    if (options_.range.has_end && options_.range.end <= options_.range.begin) {
      exhausted_ = true;
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
    count_ = 0;
    pos_ = 0;
    try {
      while (count_ == 0 && !exhausted_) {
        Status s = FillOnce();
        if (!s.ok()) {
          status_ = std::move(s);
          count_ = 0;
          exhausted_ = true;
        }
      }
    } catch (const std::bad_alloc&) {
      count_ = 0;
      exhausted_ = true;
      status_ = OutOfMemory();
    }
  }

  Status FillOnce();

  const std::shared_ptr<Env> env_;
  const std::string collection_key_;  // account '\0' collection
  const ScanOptions options_;
  std::vector<ManifestEntry> page_;  // entries [0, count_) are valid
  size_t count_ = 0;
  size_t pos_ = 0;
  uint32_t cid_ = 0;      // 0: not looked up yet
  bool started_ = false;  // false: resume at range.begin, else after last_
  RecordId last_;         // the last id examined
  bool exhausted_ = false;
  Status status_;
};

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

Status LmdbIterator::FillOnce() {
  Txn txn(*env_);
  SYNCSTACK_RETURN_IF_ERROR(txn.Begin(MDB_RDONLY));
  if (cid_ == 0) {
    SYNCSTACK_RETURN_IF_ERROR(
        FindCid(*env_, txn.get(), collection_key_, &cid_));
    if (cid_ == 0) {
      exhausted_ = true;
      return Status::Ok();
    }
  }
  Cursor cursor;
  SYNCSTACK_RETURN_IF_ERROR(cursor.Open(txn.get(), env_->records));
  RecordKey from(cid_, started_ ? last_ : options_.range.begin);
  MDB_val key = from.val();
  MDB_val value;
  int rc = cursor.Get(&key, &value, MDB_SET_RANGE);
  if (rc == 0 && started_ &&
      View(key) == std::string_view(from.bytes, kRecordKeySize)) {
    rc = cursor.Get(&key, &value, MDB_NEXT);
  }
  std::string_view payload;
  for (size_t examined = 0; examined < kScanMaxExamined && count_ < kScanPage;
       ++examined, rc = cursor.Get(&key, &value, MDB_NEXT)) {
    if (rc == MDB_NOTFOUND) {
      exhausted_ = true;
      return Status::Ok();
    }
    if (rc != 0) return LmdbError(rc, "scan");
    if (key.mv_size != kRecordKeySize ||
        std::memcmp(key.mv_data, from.bytes, kCidSize) != 0) {
      exhausted_ = true;  // the next collection's rows
      return Status::Ok();
    }
    RecordId id = RecordId::FromBytes(View(key).substr(kCidSize));
    if (options_.range.has_end && id >= options_.range.end) {
      exhausted_ = true;
      return Status::Ok();
    }
    started_ = true;
    last_ = id;
    std::string_view v = View(value);
    if (!options_.include_tombstones && v.size() > 16 && v[16] != 0) continue;
    if (count_ == page_.size()) page_.emplace_back();
    ManifestEntry& e = page_[count_];
    e.id = id;
    SYNCSTACK_RETURN_IF_ERROR(DecodeHeader(v, e, &payload));
    ++count_;
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "scan");
  if (rc == MDB_NOTFOUND) exhausted_ = true;
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

 private:
  // Applies the batch in `txn`; sets *rc to the LMDB code of a failed call.
  Status ApplyOps(MDB_txn* txn, const ChangeBatch& batch, int* rc);
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
      }
      MDB_val value = {EncodedSize(rec), nullptr};
      *rc = mdb_cursor_put(cursor.get(), &key, &value, flags);
      if (*rc != 0) return LmdbError(*rc, "put");
      Encode(rec, static_cast<char*>(value.mv_data));
    } else {
      // Deleting never raises the highest key; a delete of it lowers it,
      // so look again before the next append.
      high_known = false;
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

std::unique_ptr<ManifestIterator> LmdbStore::Scan(
    std::string_view collection, const ScanOptions& options) noexcept {
  Status valid = ValidateCollectionName(collection);
  if (!valid.ok()) return NewErrorIterator(std::move(valid));
  try {
    return std::make_unique<LmdbIterator>(
        env_, prefix_ + std::string(collection), options);
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
    std::vector<Record> chunk;
    uint32_t cid = 0;
    size_t next = 0;
    while (next < ids.size()) {
      size_t count = 0;
      size_t bytes = 0;
      {
        Txn txn(*env_);
        SYNCSTACK_RETURN_IF_ERROR(txn.Begin(MDB_RDONLY));
        if (cid == 0) {
          SYNCSTACK_RETURN_IF_ERROR(
              FindCid(*env_, txn.get(), collection_key, &cid));
          if (cid == 0) return Status::Ok();
        }
        for (; next < ids.size() && count < kGetChunkRecords &&
               bytes < kGetChunkBytes;
             ++next) {
          RecordKey k(cid, ids[next]);
          MDB_val key = k.val();
          MDB_val value;
          int rc = mdb_get(txn.get(), env_->records, &key, &value);
          if (rc == MDB_NOTFOUND) continue;
          if (rc != 0) return LmdbError(rc, "get");
          if (count == chunk.size()) chunk.emplace_back();
          Record& r = chunk[count++];
          SYNCSTACK_RETURN_IF_ERROR(DecodeRecord(View(value), true, r));
          r.collection.assign(collection);
          r.id = ids[next];
          bytes += r.payload.size();
        }
      }
      // Call back outside the transaction, so `fn` may use the store.
      for (size_t i = 0; i < count; ++i) fn(chunk[i]);
    }
    return Status::Ok();
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
