// 16 clients of 8 users sync at once for a few seconds against one HTTP
// server on 127.0.0.1: every client converges, nothing acknowledged is
// lost, and no request gets a 5xx. (Lock exclusivity itself is the
// SyncLock conformance suite's and the engine tests' job.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "syncstack/engine.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/loopback/in_process_server.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/replica.h"
#include "syncstack/service.h"
#include "syncstack/sqlite/sqlite_store.h"

namespace syncstack {
namespace {

// Counts answers with a 5xx status.
class CountingTransport final : public TransportWrapper {
 public:
  CountingTransport(Transport& target, std::atomic<int>& server_errors)
      : TransportWrapper(target), server_errors_(server_errors) {}
  Result<Response> Call(const Request& request) noexcept override {
    auto r = TransportWrapper::Call(request);
    if (r.ok() && r->status >= 500) server_errors_++;
    return r;
  }

 private:
  std::atomic<int>& server_errors_;
};

using Dump = std::map<std::pair<std::string, RecordId>, std::string>;

Dump DumpLive(Store& store) {
  Dump dump;
  ScanOptions live;
  live.include_tombstones = false;
  Status s = ScanRecords(store, "notes", live, [&](const Record& r) {
    dump[{"notes", r.id}] = r.payload;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return dump;
}

TEST(Concurrency, SixteenClientsOfEightUsersConverge) {
  std::string dir =
      (std::filesystem::temp_directory_path() / "syncstack-concurrency-XXXXXX");
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  auto server_db = OpenSqliteDatabase({.path = dir + "/server.db"});
  ASSERT_TRUE(server_db.ok());
  InProcessServerOptions sync_options;
  sync_options.database = std::move(server_db).value();
  sync_options.policy = NewLastWriteWinsPolicy();
  InProcessServer sync_server(std::move(sync_options));
  const ConflictPolicy* policy = &sync_server.policy();
  HttpServerOptions server_options;
  server_options.max_threads = 16;
  auto server = StartHttpServer(sync_server.service(), server_options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  HttpClientOptions client_options;
  client_options.url = "http://127.0.0.1:" + std::to_string((*server)->port());

  constexpr int kUsers = 8, kDevicesPerUser = 2;
  std::atomic<int> server_errors{0}, failed_syncs{0};
  struct Device {
    std::string user, name;
    std::unique_ptr<Database> db;
    std::shared_ptr<Store> store;
    std::unique_ptr<Transport> http;
    std::unique_ptr<CountingTransport> counted;
    std::set<RecordId> created;
  };
  std::vector<Device> devices(kUsers * kDevicesPerUser);
  for (int i = 0; i < static_cast<int>(devices.size()); ++i) {
    Device& d = devices[i];
    d.user = "user" + std::to_string(i / kDevicesPerUser);
    d.name = "device" + std::to_string(i);
    d.db = std::move(OpenMemoryDatabase().value());
    d.store = d.db->OpenAccount(kLocalAccount).value();
    d.http = std::move(NewHttpTransport(client_options).value());
    d.counted = std::make_unique<CountingTransport>(*d.http, server_errors);
  }
  auto sync = [&](Device& d) {
    SyncEngine engine(*d.store, *d.counted, *policy);
    SyncOptions options;
    options.user = d.user;
    options.device = d.name;
    options.lock_wait = std::chrono::seconds(60);
    options.batch_records = 20;
    auto r = engine.Run(options);
    if (!r.ok()) {
      failed_syncs++;
      ADD_FAILURE() << d.name << ": " << r.status().ToString();
    }
  };

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < static_cast<int>(devices.size()); ++i) {
    threads.emplace_back([&, i] {
      Device& d = devices[i];
      std::mt19937_64 rng(1000 + i);
      Replica app(*d.store, *policy, SystemClock());
      while (std::chrono::steady_clock::now() < deadline) {
        for (int k = 0; k < 5; ++k) {
          RecordId id = RecordId::Random();
          d.created.insert(id);
          ASSERT_TRUE(app.Put("notes", id, R"({"by":")" + d.name + "\"}").ok());
        }
        auto live = DumpLive(*d.store);
        for (int k = 0; k < 2 && !live.empty(); ++k) {
          auto it = live.begin();
          std::advance(it, static_cast<long>(rng() % live.size()));
          ASSERT_TRUE(app.Put("notes", it->first.second,
                              R"({"edited_by":")" + d.name + "\"}")
                          .ok());
        }
        sync(d);
      }
    });
  }
  for (auto& t : threads) t.join();
  // Final rounds: each device twice.
  for (int round = 0; round < 2; ++round) {
    for (auto& d : devices) sync(d);
  }
  (*server)->Stop();

  EXPECT_EQ(server_errors.load(), 0);
  EXPECT_EQ(failed_syncs.load(), 0);
  for (int u = 0; u < kUsers; ++u) {
    std::string user = "user" + std::to_string(u);
    auto store = sync_server.database().OpenAccount(user).value();
    Dump on_server = DumpLive(*store);
    for (auto& d : devices) {
      if (d.user != user) continue;
      EXPECT_EQ(DumpLive(*d.store), on_server) << d.name << " differs";
      for (const auto& id : d.created) {
        EXPECT_TRUE(on_server.count({"notes", id}))
            << "lost " << id.ToString() << " of " << d.name;
      }
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace syncstack
