// The LMDB store's own tests: map growth from a tiny map, readers left by
// crashed processes, format versions, foreign environments, reopening.
#include "syncstack/lmdb/lmdb_store.h"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "syncstack/conformance/store_conformance.h"
#include "syncstack/store.h"

namespace syncstack {
namespace {

RecordId IdN(uint32_t n) {
  std::array<uint8_t, 16> b{};
  b[0] = static_cast<uint8_t>(n >> 24);
  b[1] = static_cast<uint8_t>(n >> 16);
  b[2] = static_cast<uint8_t>(n >> 8);
  b[3] = static_cast<uint8_t>(n);
  return RecordId(b);
}

Record MakeRecord(uint32_t n, size_t payload_size) {
  Record r;
  r.collection = "todo";
  r.id = IdN(n);
  r.version.timestamp = 1700000000000 + n;
  r.payload.assign(payload_size, static_cast<char>('a' + n % 26));
  return r;
}

size_t CountRows(Store& store) {
  size_t n = 0;
  auto it = store.Scan("todo", ScanOptions());
  for (; it->Valid(); it->Next()) ++n;
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return n;
}

class LmdbStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "syncstack-lmdb-XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    options_.path = dir_ + "/db";
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Status Open() {
    store_.reset();
    db_.reset();
    auto db = OpenLmdbDatabase(options_);
    if (!db.ok()) return db.status();
    db_ = std::move(db).value();
    auto store = db_->OpenAccount(kLocalAccount);
    if (!store.ok()) return store.status();
    store_ = std::move(store).value();
    return Status::Ok();
  }
  void Close() {
    store_.reset();
    db_.reset();
  }

  // Runs `fn` on a raw environment over the database directory.
  template <typename Fn>
  void WithRawEnv(Fn fn) {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 8), 0);
    ASSERT_EQ(mdb_env_open(env, options_.path.c_str(), 0, 0644), 0);
    fn(env);
    mdb_env_close(env);
  }

  // Forks `n` processes that each open the environment, begin a read
  // transaction and exit without ending it, as a crash would.
  void LeaveStaleReaders(int n) {
    for (int i = 0; i < n; ++i) {
      pid_t pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        MDB_env* env = nullptr;
        MDB_txn* txn = nullptr;
        if (mdb_env_create(&env) != 0 ||
            mdb_env_open(env, options_.path.c_str(), MDB_NOTLS, 0644) != 0 ||
            mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) != 0) {
          _exit(1);
        }
        _exit(0);
      }
      int status = 0;
      ASSERT_EQ(waitpid(pid, &status, 0), pid);
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
  }

  std::string dir_;
  LmdbDatabaseOptions options_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Store> store_;
};

TEST_F(LmdbStoreTest, MapGrowsFromATinyInitialSize) {
  options_.initial_map_size = 64 << 10;
  ASSERT_TRUE(Open().ok());
  // Readers scan while the writer grows the map under them.
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto it = store_->Scan("todo", ScanOptions());
      RecordId last;
      bool first = true;
      for (; it->Valid(); it->Next()) {
        if (!first && !(last < it->entry().id)) errors.fetch_add(1);
        last = it->entry().id;
        first = false;
      }
      if (!it->status().ok()) errors.fetch_add(1);
    }
  });
  uint32_t n = 0;
  for (int b = 0; b < 20; ++b) {
    ChangeBatch batch;
    for (int i = 0; i < 100; ++i) batch.Put(MakeRecord(n++, 1000));
    ASSERT_TRUE(store_->Apply(WriteOptions{false}, batch).ok());
  }
  // One batch larger than the whole map so far (about 8 MiB).
  ChangeBatch big;
  for (int i = 0; i < 2000; ++i) big.Put(MakeRecord(n++, 4000));
  Status s = store_->Apply(WriteOptions(), big);
  stop.store(true);
  reader.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(CountRows(*store_), n);
  auto got = store_->GetOne("todo", IdN(n - 1));
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, MakeRecord(n - 1, 4000));

  // The grown map is kept on reopen, with the same tiny initial size.
  ASSERT_TRUE(Open().ok());
  EXPECT_EQ(CountRows(*store_), n);
  ChangeBatch more;
  more.Put(MakeRecord(n++, 100000));
  ASSERT_TRUE(store_->Apply(WriteOptions(), more).ok());
  EXPECT_EQ(CountRows(*store_), n);
}

TEST_F(LmdbStoreTest, ReadersOfCrashedProcessesAreCleared) {
  options_.max_readers = 4;
  ASSERT_TRUE(Open().ok());
  ChangeBatch batch;
  batch.Put(MakeRecord(1, 10));
  ASSERT_TRUE(store_->Apply(WriteOptions(), batch).ok());

  // Every reader slot is taken by a dead process: the next read clears
  // them and succeeds.
  LeaveStaleReaders(4);
  EXPECT_EQ(CountRows(*store_), 1u);
  auto got = store_->GetOne("todo", IdN(1));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->has_value());

  // Opening clears them too.
  Close();
  LeaveStaleReaders(4);
  ASSERT_TRUE(Open().ok());
  int dead = -1;
  // A second check finds nothing left to clear (the store's open did it);
  // run it from a child so this process keeps one environment per file.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    MDB_env* env = nullptr;
    if (mdb_env_create(&env) != 0 ||
        mdb_env_open(env, options_.path.c_str(), 0, 0644) != 0 ||
        mdb_reader_check(env, &dead) != 0) {
      _exit(2);
    }
    _exit(dead == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(CountRows(*store_), 1u);
}

TEST_F(LmdbStoreTest, ReopenKeepsDataWrittenWithoutSync) {
  ASSERT_TRUE(Open().ok());
  ChangeBatch batch;
  for (uint32_t i = 0; i < 100; ++i) batch.Put(MakeRecord(i, 50));
  batch.SetMeta("checkpoint", "c1");
  ASSERT_TRUE(store_->Apply(WriteOptions{false}, batch).ok());
  options_.create_if_missing = false;
  ASSERT_TRUE(Open().ok());
  EXPECT_EQ(CountRows(*store_), 100u);
  auto meta = store_->GetMeta("checkpoint");
  ASSERT_TRUE(meta.ok() && meta->has_value());
  EXPECT_EQ(**meta, "c1");
}

TEST_F(LmdbStoreTest, MissingDirectoryWithoutCreateIsAnError) {
  options_.create_if_missing = false;
  Status s = Open();
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(options_.path));
}

TEST_F(LmdbStoreTest, NewerFormatVersionIsRefused) {
  ASSERT_TRUE(Open().ok());
  Close();
  WithRawEnv([](MDB_env* env) {
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi info = 0;
    ASSERT_EQ(mdb_dbi_open(txn, "info", 0, &info), 0);
    char key[] = "format";
    char version[] = {0, 0, 0, 3};
    MDB_val k{6, key};
    MDB_val v{4, version};
    ASSERT_EQ(mdb_put(txn, info, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  });
  Status s = Open();
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
}

// A format 1 environment (no by_base / unsynced databases) gets them on
// open, filled from its rows; opening again changes nothing.
TEST_F(LmdbStoreTest, MigratesFormatOneToTheIndexes) {
  ASSERT_TRUE(Open().ok());
  ChangeBatch b;
  for (uint32_t n = 1; n <= 50; ++n) {
    Record r = MakeRecord(n, 10);
    r.base = 100 - n;  // descending with the id
    if (n % 10 == 0) r.state = SyncState::kChanged;
    b.Put(std::move(r));
  }
  ASSERT_TRUE(store_->Apply(WriteOptions(), b).ok());
  Close();
  WithRawEnv([](MDB_env* env) {
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    for (const char* name : {"by_base", "unsynced"}) {
      MDB_dbi dbi = 0;
      ASSERT_EQ(mdb_dbi_open(txn, name, 0, &dbi), 0);
      ASSERT_EQ(mdb_drop(txn, dbi, 1), 0);
    }
    MDB_dbi info = 0;
    ASSERT_EQ(mdb_dbi_open(txn, "info", 0, &info), 0);
    char key[] = "format";
    char version[] = {0, 0, 0, 1};
    MDB_val k{6, key};
    MDB_val v{4, version};
    ASSERT_EQ(mdb_put(txn, info, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  });
  for (int open = 0; open < 2; ++open) {
    ASSERT_TRUE(Open().ok());
    std::vector<RecordId> since, unsynced;
    ASSERT_TRUE(store_
                    ->ScanSince("todo", 60, 100,
                                [&](const Record& r) { since.push_back(r.id); })
                    .ok());
    ASSERT_TRUE(
        store_
            ->ScanUnsynced("todo",
                           [&](const Record& r) { unsynced.push_back(r.id); })
            .ok());
    // Bases 61..99 are rows 39 down to 1.
    ASSERT_EQ(since.size(), 39u);
    EXPECT_EQ(since.front(), IdN(39));
    EXPECT_EQ(since.back(), IdN(1));
    EXPECT_EQ(unsynced, (std::vector<RecordId>{IdN(10), IdN(20), IdN(30),
                                               IdN(40), IdN(50)}));
    Close();
  }
}

TEST_F(LmdbStoreTest, ForeignEnvironmentIsRefused) {
  std::filesystem::create_directories(options_.path);
  WithRawEnv([](MDB_env* env) {
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi main_dbi = 0;
    ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &main_dbi), 0);
    char key[] = "someone else's";
    MDB_val k{sizeof(key) - 1, key};
    MDB_val v{sizeof(key) - 1, key};
    ASSERT_EQ(mdb_put(txn, main_dbi, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  });
  Status s = Open();
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
}

TEST_F(LmdbStoreTest, NotAnLmdbFileIsCorruption) {
  std::filesystem::create_directories(options_.path);
  {
    FILE* f = std::fopen((options_.path + "/data.mdb").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string junk(8192, 'x');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  Status s = Open();
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
}

TEST_F(LmdbStoreTest, LongAccountsAndMetaKeysAreInvalidArguments) {
  ASSERT_TRUE(Open().ok());
  EXPECT_EQ(db_->OpenAccount(std::string(300, 'a')).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(db_->OpenAccount(std::string("a\0b", 3)).status().code(),
            Status::Code::kInvalidArgument);
  ChangeBatch batch;
  batch.Put(MakeRecord(1, 10));
  batch.SetMeta(std::string(600, 'k'), "v");
  EXPECT_EQ(store_->Apply(WriteOptions(), batch).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(CountRows(*store_), 0u);
}

// The Store conformance kit over an environment in the test's directory.
using conformance::StoreConformance;
using conformance::StoreFactory;

Result<std::unique_ptr<Database>> OpenLmdbDir(const std::string& dir,
                                              bool create) {
  LmdbDatabaseOptions options;
  options.path = dir + "/lmdb";
  options.create_if_missing = create;
  return OpenLmdbDatabase(options);
}

INSTANTIATE_TEST_SUITE_P(
    Stores, StoreConformance,
    ::testing::Values(StoreFactory{
        "Lmdb", [](const std::string& dir) { return OpenLmdbDir(dir, true); },
        true, [](const std::string& dir) { return OpenLmdbDir(dir, false); }}),
    conformance::StoreFactoryName);

}  // namespace
}  // namespace syncstack
