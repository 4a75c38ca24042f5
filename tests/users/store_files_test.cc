// Issue 14 item 8: the files and folders a server store creates hold the
// token key and every user's password hash, so they are the owner's alone:
// SQLite's database, -wal and -shm files 0600; LMDB's folder 0700 and its
// files 0600. Checked with stat() under a permissive umask.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

#include "syncstack/lmdb/lmdb_store.h"
#include "syncstack/sqlite/sqlite_store.h"
#include "syncstack/users.h"

namespace syncstack {
namespace {

namespace fs = std::filesystem;

class StoreFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    old_umask_ = ::umask(0022);
    dir_ = fs::temp_directory_path() /
           ("store-files-" + std::to_string(::getpid()) + "-" +
            std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    ::umask(old_umask_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static unsigned ModeOf(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return static_cast<unsigned>(st.st_mode) & 0777u;
  }

  fs::path dir_;
  mode_t old_umask_ = 0;
};

TEST_F(StoreFiles, SqliteDatabaseAndItsWalAreOwnerOnly) {
  SqliteDatabaseOptions options;
  options.path = (dir_ / "server.db").string();
  auto db = OpenSqliteDatabase(options);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE(AddUser(**db, "alice", "pw").ok());
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(ModeOf(e.path()), 0600u) << e.path();
  }
  EXPECT_GE(files, 1);
  EXPECT_EQ(ModeOf(options.path), 0600u);
}

TEST_F(StoreFiles, LmdbFolderAndFilesAreOwnerOnly) {
  LmdbDatabaseOptions options;
  options.path = (dir_ / "server-lmdb").string();
  auto db = OpenLmdbDatabase(options);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE(AddUser(**db, "alice", "pw").ok());
  EXPECT_EQ(ModeOf(options.path), 0700u);
  int files = 0;
  for (const auto& e : fs::directory_iterator(options.path)) {
    ++files;
    EXPECT_EQ(ModeOf(e.path()), 0600u) << e.path();
  }
  EXPECT_GE(files, 2);  // data.mdb, lock.mdb
}

}  // namespace
}  // namespace syncstack
