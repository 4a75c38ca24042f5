// Internal to the LMDB backend: the environment, its transactions and
// cursors (lmdb_env.cc: opening, the format version, growing the map),
// shared by the store (lmdb_store.cc). Not installed.
//
// Concurrency: writers are serialised by `write_mu` (LMDB allows one write
// transaction anyway). Read transactions are short (one scan page, one get
// chunk) and use MDB_NOTLS, so they are not bound to a thread. Growing the
// map needs no transaction open in this process: every transaction holds
// `map_mu` shared, and a resize holds it exclusively.
#pragma once

#include <lmdb.h>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string_view>

#include "syncstack/lmdb/lmdb_store.h"
#include "syncstack/status.h"

namespace syncstack::lmdb_internal {

// The one place LMDB return codes become a Status: kCorruption (a damaged
// or foreign file), kUnavailable (the reader table is full), else kIOError.
Status LmdbError(int rc, std::string_view what);

inline MDB_val Val(std::string_view s) {
  return {s.size(), const_cast<char*>(s.data())};
}
inline std::string_view View(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

inline void PutBe32(uint32_t v, char* out) {
  for (int i = 3; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
}
inline uint32_t GetBe32(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

// The record layout the store writes (lmdb_store.cc) and the indexes the
// environment builds when it migrates an older file: a records key is cid
// (4, big-endian) then id (16); a records value starts with ts (8) base (8,
// little-endian) deleted (1) state (1).
inline constexpr size_t kCidSize = 4;
inline constexpr size_t kIdSize = 16;
inline constexpr size_t kRecordKeySize = kCidSize + kIdSize;
inline constexpr size_t kBaseOffset = 8;
inline constexpr size_t kStateOffset = 17;
inline constexpr size_t kStateEnd = kStateOffset + 1;

// The by_base index key: cid (4) base (8, big-endian with the sign bit
// flipped, so bytes order as the signed value does) id (16).
inline constexpr size_t kBaseKeySize = kCidSize + 8 + kIdSize;
inline void PutOrderedBase(int64_t base, char* out) {
  uint64_t v = static_cast<uint64_t>(base) ^ (uint64_t{1} << 63);
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
}
inline int64_t GetOrderedBase(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return static_cast<int64_t>(v ^ (uint64_t{1} << 63));
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
  // Fills by_base and unsynced from every records row (format 1 -> 2).
  // Returns an LMDB code.
  int BuildIndexes(MDB_txn* txn);

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
  // Format 2: records by (cid, base, id), and the keys (cid, id) of rows
  // not synced; values empty. Kept in each write's transaction.
  MDB_dbi by_base = 0;
  MDB_dbi unsynced = 0;
  size_t page_size = 4096;

  std::mutex write_mu;       // serialises write transactions
  std::shared_mutex map_mu;  // shared: a transaction; exclusive: a resize
};

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

// Adds (`add`) or removes the index entries of the row stored under
// `record_key` with value `value` (its header at least): by_base always,
// unsynced when the row's state is not synced. Returns an LMDB code.
int IndexRow(Env& env, MDB_txn* txn, std::string_view record_key,
             std::string_view value, bool add);

}  // namespace syncstack::lmdb_internal
