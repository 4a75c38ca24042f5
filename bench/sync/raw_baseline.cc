#include "raw_baseline.h"

#include <lmdb.h>
#include <sqlite3.h>

#include <chrono>
#include <string>

namespace syncstack::bench {
namespace {

using Steady = std::chrono::steady_clock;

double Seconds(Steady::time_point from) {
  return std::chrono::duration<double>(Steady::now() - from).count();
}

Result<double> RawSqliteRate(const std::string& path, const Workload& w) {
  sqlite3* db = nullptr;
  auto fail = [&](const char* what) {
    Status s = Status::IOError(std::string("raw sqlite ") + what + ": " +
                               (db ? sqlite3_errmsg(db) : "open failed"));
    sqlite3_close(db);
    return s;
  };
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return fail("open");
  // The store's own settings: WAL, synchronous=FULL, a 16 MiB cache.
  if (sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "PRAGMA cache_size=-16384;"
                   "CREATE TABLE r(id BLOB PRIMARY KEY, ts INTEGER, payload "
                   "TEXT) WITHOUT ROWID;",
                   nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail("create");
  }
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO r VALUES(?,?,?)", -1, &insert,
                         nullptr) != SQLITE_OK) {
    return fail("prepare");
  }
  std::string payload;
  auto start = Steady::now();
  bool ok = sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK;
  for (uint64_t i = 0; ok && i < w.records; ++i) {
    RecordId id = w.Id(i);
    payload = w.Payload(i, 0, "fill");
    sqlite3_bind_blob(insert, 1, id.bytes().data(), 16, SQLITE_STATIC);
    sqlite3_bind_int64(insert, 2, kFillTime + static_cast<int64_t>(i));
    sqlite3_bind_text(insert, 3, payload.data(),
                      static_cast<int>(payload.size()), SQLITE_STATIC);
    ok = sqlite3_step(insert) == SQLITE_DONE;
    sqlite3_reset(insert);
  }
  ok = ok && sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  double seconds = Seconds(start);
  sqlite3_finalize(insert);
  if (!ok) return fail("insert");
  sqlite3_close(db);
  return static_cast<double>(w.records) / seconds;
}

Result<double> RawLmdbRate(const std::string& dir, const Workload& w) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("raw lmdb: cannot create " + dir);
  MDB_env* env = nullptr;
  auto fail = [&](const char* what, int rc) {
    Status s = Status::IOError(std::string("raw lmdb ") + what + ": " +
                               mdb_strerror(rc));
    if (env) mdb_env_close(env);
    return s;
  };
  int rc = mdb_env_create(&env);
  if (rc != 0) return fail("env", rc);
  // Sized once for every row (the file is sparse): no resize in the loop.
  size_t map = (w.records * (w.payload_bytes + 128) * 2 + (64u << 20));
  map = (map + 4095) / 4096 * 4096;
  if ((rc = mdb_env_set_mapsize(env, map)) != 0) return fail("mapsize", rc);
  if ((rc = mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0644)) != 0) {
    return fail("open", rc);
  }
  std::string value;
  auto start = Steady::now();
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  if ((rc = mdb_txn_begin(env, nullptr, 0, &txn)) != 0)
    return fail("begin", rc);
  if ((rc = mdb_dbi_open(txn, nullptr, 0, &dbi)) != 0) {
    mdb_txn_abort(txn);
    return fail("dbi", rc);
  }
  for (uint64_t i = 0; i < w.records; ++i) {
    RecordId id = w.Id(i);
    int64_t ts = kFillTime + static_cast<int64_t>(i);
    value.assign(reinterpret_cast<const char*>(&ts), sizeof ts);
    value += w.Payload(i, 0, "fill");
    MDB_val k{16, const_cast<uint8_t*>(id.bytes().data())};
    MDB_val v{value.size(), value.data()};
    if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0) {
      mdb_txn_abort(txn);
      return fail("put", rc);
    }
  }
  if ((rc = mdb_txn_commit(txn)) != 0) return fail("commit", rc);
  double seconds = Seconds(start);
  mdb_env_close(env);
  return static_cast<double>(w.records) / seconds;
}

}  // namespace

Result<double> RawInsertRate(StoreKind kind, const std::filesystem::path& path,
                             const Workload& workload) {
  return kind == StoreKind::kSqlite ? RawSqliteRate(path.string(), workload)
                                    : RawLmdbRate(path.string(), workload);
}

}  // namespace syncstack::bench
