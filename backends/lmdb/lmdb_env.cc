// The LMDB backend's environment: opening it, its named databases and
// format version, and growing the map.
#include "lmdb_env.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

namespace syncstack::lmdb_internal {
namespace {

constexpr uint32_t kFormatVersion = 1;
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

}  // namespace syncstack::lmdb_internal
