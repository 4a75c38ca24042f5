// The LMDB backend's environment: opening it, its named databases and
// format version, and growing the map.
#include "lmdb_env.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>

namespace syncstack::lmdb_internal {
namespace {

constexpr uint32_t kFormatVersion = 2;
constexpr std::string_view kFormatKey = "format";

size_t RoundUp(size_t n, size_t unit) { return (n + unit - 1) / unit * unit; }

}  // namespace

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

int IndexRow(Env& env, MDB_txn* txn, std::string_view record_key,
             std::string_view value, bool add) {
  if (record_key.size() != kRecordKeySize || value.size() < kStateEnd) {
    return MDB_CORRUPTED;
  }
  uint64_t base_le = 0;
  for (int i = 7; i >= 0; --i) {
    base_le = (base_le << 8) | static_cast<uint8_t>(value[kBaseOffset + i]);
  }
  char key_bytes[kBaseKeySize];
  std::memcpy(key_bytes, record_key.data(), kCidSize);
  PutOrderedBase(static_cast<int64_t>(base_le), key_bytes + kCidSize);
  std::memcpy(key_bytes + kCidSize + 8, record_key.data() + kCidSize, kIdSize);
  const bool unsynced_row = value[kStateOffset] != 0;
  MDB_val key = {sizeof(key_bytes), key_bytes};
  MDB_val empty = {0, nullptr};
  int rc = add ? mdb_put(txn, env.by_base, &key, &empty, 0)
               : mdb_del(txn, env.by_base, &key, nullptr);
  if (rc != 0 && !(rc == MDB_NOTFOUND && !add)) return rc;
  if (!unsynced_row) return 0;  // synced: not in `unsynced`
  MDB_val id_key = Val(record_key);
  rc = add ? mdb_put(txn, env.unsynced, &id_key, &empty, 0)
           : mdb_del(txn, env.unsynced, &id_key, nullptr);
  return rc == MDB_NOTFOUND && !add ? 0 : rc;
}

int Env::BuildIndexes(MDB_txn* txn) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, records, &cursor);
  if (rc != 0) return rc;
  MDB_val key, value;
  for (rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
    rc = IndexRow(*this, txn, View(key), View(value), true);
    if (rc != 0) break;
  }
  mdb_cursor_close(cursor);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

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
// checks the format version. Long on purpose: every step runs in one
// write transaction, retried whole after growing the map, so a crash or a
// full map leaves the file as it was.
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
    uint32_t version = 0;  // none yet: a fresh environment
    if (rc == 0) rc = mdb_get(txn.get(), info, &key, &value);
    if (rc == 0) {
      if (value.mv_size != 4) {
        return Status::Corruption("lmdb: bad format version");
      }
      version = GetBe32(static_cast<const char*>(value.mv_data));
      if (version > kFormatVersion) {
        return Status::Corruption("lmdb: format version " +
                                  std::to_string(version) +
                                  " is newer than this build supports (" +
                                  std::to_string(kFormatVersion) + ")");
      }
    } else if (rc == MDB_NOTFOUND) {
      if (!fresh) return Status::Corruption("lmdb: no format version");
      rc = 0;
    }
    // Format 2's indexes: created (and, for a format 1 file, filled from
    // its records) in this transaction, so a crash leaves format 1 intact.
    if (rc == 0) rc = mdb_dbi_open(txn.get(), "by_base", MDB_CREATE, &by_base);
    if (rc == 0) {
      rc = mdb_dbi_open(txn.get(), "unsynced", MDB_CREATE, &unsynced);
    }
    if (rc == 0 && version == 1) rc = BuildIndexes(txn.get());
    if (rc == 0 && version == kFormatVersion) {
      // Commit even so: handles opened by an aborted transaction are closed.
      rc = txn.Commit();
      if (rc == 0) return Status::Ok();
    } else if (rc == 0) {
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

}  // namespace syncstack::lmdb_internal
