// A test world: one server (SyncService over a Database) and devices with
// their own stores, talking over the loopback transport.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "syncstack/clock.h"
#include "syncstack/engine.h"
#include "syncstack/loopback/in_process_server.h"
#include "syncstack/loopback/loopback_transport.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/replica.h"
#include "syncstack/service.h"
#include "syncstack/sqlite/sqlite_store.h"

namespace syncstack::testing {

enum class StoreKind { kMemory, kSqlite };

inline std::string KindName(StoreKind kind) {
  return kind == StoreKind::kMemory ? "memory" : "sqlite";
}

// A fresh empty folder under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "syncstack-test-XXXXXX")
            .string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::unique_ptr<Database> OpenDatabase(StoreKind kind,
                                              const TempDir& dir,
                                              const std::string& name) {
  if (kind == StoreKind::kMemory) {
    auto db = OpenMemoryDatabase();
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return std::move(db).value();
  }
  SqliteDatabaseOptions options;
  options.path = (dir.path() / (name + ".db")).string();
  auto db = OpenSqliteDatabase(options);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return std::move(db).value();
}

// A random id from a seeded generator (replayable, unlike RecordId::Random).
inline RecordId IdFrom(std::mt19937_64& rng) {
  std::array<uint8_t, 16> bytes{};
  uint64_t a = rng(), b = rng();
  std::memcpy(bytes.data(), &a, 8);
  std::memcpy(bytes.data() + 8, &b, 8);
  return RecordId(bytes);
}

// The live records of a store: (collection, id) -> payload and timestamp.
using Dump = std::map<std::pair<std::string, RecordId>,
                      std::pair<std::string, Timestamp>>;

inline Dump DumpLive(Store& store) {
  Dump dump;
  auto names = store.Collections();
  EXPECT_TRUE(names.ok());
  ScanOptions live;
  live.include_tombstones = false;
  for (const auto& name : *names) {
    Status s = ScanRecords(store, name, live, [&](const Record& r) {
      dump[{name, r.id}] = {r.payload, r.version.timestamp};
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return dump;
}

struct Device {
  std::string name;
  std::unique_ptr<Clock> clock;  // the device's own clock (may be skewed)
  std::unique_ptr<Database> database;
  std::shared_ptr<Store> store;
  std::unique_ptr<Replica> replica;
  std::unique_ptr<SyncEngine> engine;
  SyncOptions options;

  Status Put(std::string_view collection, const RecordId& id,
             std::string_view json) {
    return replica->Put(collection, id, json);
  }
  Status Remove(std::string_view collection, const RecordId& id) {
    return replica->Remove(collection, id);
  }
  Result<SyncReport> Sync() { return engine->Run(options); }
  std::optional<Record> Get(std::string_view collection, const RecordId& id) {
    auto r = store->GetOne(collection, id);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : std::nullopt;
  }
};

class World {
 public:
  // `policy` (default: lww) is the server's and every device's; `service`
  // the server's options (limits).
  explicit World(StoreKind kind, Schema schema = {},
                 Timestamp start = 1'700'000'000'000,
                 std::unique_ptr<ConflictPolicy> policy = nullptr,
                 SyncServiceOptions service = {})
      : kind_(kind), schema_(std::move(schema)), clock_(start) {
    InProcessServerOptions options;
    options.service = service;
    options.database = OpenDatabase(kind, dir_, "server");
    options.policy = policy ? std::move(policy) : NewLastWriteWinsPolicy();
    options.clock = &clock_;
    options.schema = schema_;
    server_ = std::make_unique<InProcessServer>(std::move(options));
  }

  // Adds a device of `user`. Its transport is `transport` if given (it must
  // outlive the world), else the plain loopback.
  // Its clock is the world's plus `clock_offset_ms`.
  Device& AddDevice(const std::string& name, const std::string& user = "alice",
                    Transport* transport = nullptr,
                    int64_t clock_offset_ms = 0) {
    auto d = std::make_unique<Device>();
    d->name = name;
    d->clock = std::make_unique<OffsetClock>(clock_, clock_offset_ms);
    d->database = OpenDatabase(kind_, dir_, name);
    auto store = d->database->OpenAccount(kLocalAccount);
    EXPECT_TRUE(store.ok());
    d->store = *store;
    d->replica =
        std::make_unique<Replica>(*d->store, server_->policy(), *d->clock);
    d->engine = std::make_unique<SyncEngine>(
        *d->store, transport ? *transport : server_->transport(),
        server_->policy(), schema_);
    d->options.user = user;
    d->options.device = name;
    d->options.clock = d->clock.get();
    devices_.push_back(std::move(d));
    return *devices_.back();
  }

  Store& ServerStore(const std::string& account = "alice") {
    auto store = server_->database().OpenAccount(account);
    EXPECT_TRUE(store.ok());
    server_stores_.push_back(*store);
    return *server_stores_.back();
  }

  ManualClock& clock() { return clock_; }
  SyncService& service() { return server_->service(); }
  Transport& loopback() { return server_->transport(); }
  SyncLock& lock() { return server_->lock(); }
  const ConflictPolicy& policy() { return server_->policy(); }

 private:
  StoreKind kind_;
  Schema schema_;
  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<InProcessServer> server_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::vector<std::shared_ptr<Store>> server_stores_;
};

// Asserts a Result is OK and yields its value.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(SYNCSTACK_CONCAT(_r_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr)   \
  auto tmp = (expr);                                \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString(); \
  lhs = std::move(tmp).value()
#define ASSERT_OK(expr)                    \
  do {                                     \
    ::syncstack::Status _s = (expr);       \
    ASSERT_TRUE(_s.ok()) << _s.ToString(); \
  } while (0)

}  // namespace syncstack::testing
