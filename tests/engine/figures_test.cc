// The device's figure (engine/figures.h) stays exact under every policy
// while the app edits and deletes synced rows: through Replica on a memory
// or SQLite store, and by plain SQL on a mapped table. A device in the
// changes mode keeps its figure from run to run without a scan, its
// figure always equals the one a scan of its rows gives (unsynced edits
// included), no verify finds a mismatch, and the stores converge.
#include "engine/figures.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "engine/policies.h"
#include "engine/world.h"
#include "mapped/app_db.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/protocol.h"
#include "syncstack/sqlite/mapped_store.h"

namespace syncstack::testing {
namespace {

constexpr const char* kUnmapped = R"({"collections": {"items": {"id": "id"}}})";
constexpr const char* kMapped =
    R"({"collections": {"items": {"id": "id", "table": "items"}}})";
constexpr const char* kTable =
    "CREATE TABLE items(id TEXT PRIMARY KEY, n INTEGER);";
constexpr std::string_view kItems = "items";

enum class PhoneKind { kMemory, kSqlite, kMapped };

std::string PhoneKindName(PhoneKind kind) {
  switch (kind) {
    case PhoneKind::kMemory:
      return "memory";
    case PhoneKind::kSqlite:
      return "sqlite";
    case PhoneKind::kMapped:
      return "mapped";
  }
  return "?";
}

// Runs `hook` once, just before the next synchronise call it forwards:
// an app write made while the device's push is on its way.
class WriteDuringPush final : public TransportWrapper {
 public:
  using TransportWrapper::TransportWrapper;
  Result<Response> Call(const Request& request) noexcept override {
    if (request.path == kSynchronisePath && hook) {
      std::function<void()> h = std::move(hook);
      hook = nullptr;
      h();
    }
    return TransportWrapper::Call(request);
  }
  std::function<void()> hook;
};

std::string Payload(int n) { return "{\"n\":" + std::to_string(n) + "}"; }

// The device under test: the app writes through Replica, or by SQL on
// the mapped table (`app` set).
struct Phone {
  Device* device = nullptr;    // memory or SQLite: a world device
  std::unique_ptr<AppDb> app;  // mapped: the app's own connection
  std::unique_ptr<Database> mapped;
  std::shared_ptr<Store> store;
  std::unique_ptr<SyncEngine> engine;
  SyncOptions options;

  void Write(const RecordId& id, int n, bool exists) {
    if (!app) {
      ASSERT_OK(device->Put(kItems, id, Payload(n)));
      return;
    }
    const std::string v = std::to_string(n);
    app->Exec(exists ? "UPDATE items SET n = " + v + " WHERE id = '" +
                           id.ToString() + "'"
                     : "INSERT INTO items VALUES('" + id.ToString() + "', " +
                           v + ")");
  }
  void Remove(const RecordId& id) {
    if (!app) {
      ASSERT_OK(device->Remove(kItems, id));
      return;
    }
    app->Exec("DELETE FROM items WHERE id = '" + id.ToString() + "'");
  }
  // Mapped only: the app changes a row's id (the store's update trigger
  // captures a delete of `from` and a create of `to`).
  void Move(const RecordId& from, const RecordId& to) {
    app->Exec("UPDATE items SET id = '" + to.ToString() + "' WHERE id = '" +
              from.ToString() + "'");
  }
  Result<SyncReport> Sync() {
    return app ? engine->Run(options) : device->Sync();
  }
  // The meta::AcknowledgedExtra entries holding bytes.
  int64_t KeptEntries() {
    if (app) {
      return app->Count(
          "SELECT count(*) FROM _syncstack_meta WHERE key LIKE '" +
          std::string(meta::kAcknowledgedExtraPrefix) +
          "%' AND length(value) > 0");
    }
    int64_t n = 0;
    Status s = store->ScanMeta(meta::kAcknowledgedExtraPrefix,
                               [&](std::string_view, std::string_view value) {
                                 if (!value.empty()) ++n;
                               });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return n;
  }
};

class KeptFigure
    : public ::testing::TestWithParam<std::tuple<std::string, PhoneKind>> {
 protected:
  void SetUp() override {
    const auto& [policy, kind] = GetParam();
    auto p = NewPolicyByName(policy);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    // The world's clock at the real time: the mapped store stamps the
    // app's SQL writes with the database's clock.
    world_ = std::make_unique<World>(
        kind == PhoneKind::kSqlite ? StoreKind::kSqlite : StoreKind::kMemory,
        *Schema::Parse(kUnmapped), SystemClock().Now(), std::move(p).value());
    writer_ = &world_->AddDevice("writer");
    transport_ = std::make_unique<WriteDuringPush>(world_->loopback());
    if (kind == PhoneKind::kMapped) {
      MakeMappedPhone();
    } else {
      phone_.device = &world_->AddDevice("phone", "alice", transport_.get());
      phone_.store = phone_.device->store;
    }
    Options().mode = SyncMode::kChanges;
  }

  void MakeMappedPhone() {
    const std::string path = (dir_.path() / "phone.db").string();
    phone_.app = std::make_unique<AppDb>(path);
    phone_.app->Exec(kTable);
    MappedSqliteOptions options;
    options.path = path;
    options.schema = *Schema::Parse(kMapped);
    auto db = OpenMappedSqliteDatabase(options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    phone_.mapped = std::move(db).value();
    phone_.store = *phone_.mapped->OpenAccount(kLocalAccount);
    phone_.engine = std::make_unique<SyncEngine>(
        *phone_.store, *transport_, world_->policy(), *Schema::Parse(kMapped));
    phone_.options.user = "alice";
    phone_.options.device = "phone";
  }

  SyncOptions& Options() {
    return phone_.device ? phone_.device->options : phone_.options;
  }

  // The phone's kept figure, which must equal the one a scan gives.
  SetFingerprint ExpectKeptIsScanned(const std::string& when) {
    SCOPED_TRACE(when);
    auto kept = engine::ReadFigure(*phone_.store, kItems);
    EXPECT_TRUE(kept.ok()) << kept.status().ToString();
    EXPECT_TRUE(kept.ok() && kept->has_value()) << "no figure kept";
    auto scanned = engine::ScanFigure(*phone_.store, kItems);
    EXPECT_TRUE(scanned.ok()) << scanned.status().ToString();
    if (!kept.ok() || !kept->has_value() || !scanned.ok()) return {};
    EXPECT_EQ(**kept, *scanned)
        << "kept " << (*kept)->Encode() << ", scanned " << scanned->Encode();
    return **kept;
  }

  SetFingerprint ServerFigure() {
    auto text = world_->ServerStore().GetMeta(meta::CollectionFigure(kItems));
    EXPECT_TRUE(text.ok() && text->has_value());
    if (!text.ok() || !text->has_value()) return {};
    auto figure = SetFingerprint::Decode(**text);
    EXPECT_TRUE(figure.ok()) << figure.status().ToString();
    return figure.ok() ? *figure : SetFingerprint{};
  }

  // The phone's sync after the first: the figure kept, no mismatch.
  void SyncPhone(const std::string& when) {
    SCOPED_TRACE(when);
    auto r = phone_.Sync();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->mode, SyncMode::kChanges) << r->mode_reason;
    EXPECT_EQ(r->mode_reason.find("counted by one scan"), std::string::npos)
        << r->mode_reason;
    EXPECT_EQ(r->fingerprint_mismatch, "");
    ExpectKeptIsScanned(when + ": after the sync");
  }

  void SyncWriter() {
    world_->clock().Advance(1000);
    auto r = writer_->Sync();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // Whether the policy's versions carry extra bytes (the server's rows).
  bool VersionsCarryExtra() {
    bool extra = false;
    Status s = ScanRecords(
        world_->ServerStore(), kItems, ScanOptions{},
        [&](const Record& r) { extra = extra || !r.version.extra.empty(); });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return extra;
  }

  TempDir dir_;
  std::unique_ptr<World> world_;
  Device* writer_ = nullptr;
  std::unique_ptr<WriteDuringPush> transport_;
  Phone phone_;
};

TEST_P(KeptFigure, AppEditsOfSyncedRowsKeepTheFigureExact) {
  const uint64_t seed = 31;
  std::printf("kept figure seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::vector<RecordId> live;  // live on both sides after each round
  for (int i = 0; i < 80; ++i) {
    live.push_back(IdFrom(rng));
    ASSERT_OK(writer_->Put(kItems, live.back(), Payload(i)));
  }
  SyncWriter();
  {
    auto first = phone_.Sync();
    ASSERT_TRUE(first.ok()) << first.status().ToString();
  }
  ExpectKeptIsScanned("after the first sync");
  const bool extra = VersionsCarryExtra();
  int n = 1000;
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::shuffle(live.begin(), live.end(), rng);
    // The phone: edited once, edited twice, deleted, edited then deleted,
    // edited (and again while its push is on its way), created, and on a
    // mapped table one row's id changed; both sides edit `both`. The
    // writer edits, deletes and creates other rows.
    const RecordId once = live[0], twice = live[1], gone = live[2],
                   edit_gone = live[3], during = live[4], both = live[5];
    const RecordId theirs = live[6], their_gone = live[7];
    world_->clock().Advance(100);
    phone_.Write(once, ++n, true);
    phone_.Write(twice, ++n, true);
    phone_.Write(twice, ++n, true);
    phone_.Remove(gone);
    phone_.Write(edit_gone, ++n, true);
    phone_.Remove(edit_gone);
    phone_.Write(during, ++n, true);
    phone_.Write(both, ++n, true);
    const RecordId mine = IdFrom(rng);
    phone_.Write(mine, ++n, false);
    const RecordId moved = live[8], moved_to = IdFrom(rng);
    if (phone_.app) phone_.Move(moved, moved_to);
    ExpectKeptIsScanned("after the app's writes");
    if (extra) {
      EXPECT_GT(phone_.KeptEntries(), 0);
    }

    world_->clock().Advance(100);
    ASSERT_OK(writer_->Put(kItems, theirs, Payload(++n)));
    ASSERT_OK(writer_->Put(kItems, both, Payload(++n)));
    ASSERT_OK(writer_->Remove(kItems, their_gone));
    const RecordId new_theirs = IdFrom(rng);
    ASSERT_OK(writer_->Put(kItems, new_theirs, Payload(++n)));
    SyncWriter();

    const int again = ++n;
    transport_->hook = [this, during, again] {
      phone_.Write(during, again, true);
    };
    world_->clock().Advance(100);
    SyncPhone("round " + std::to_string(round));
    EXPECT_FALSE(transport_->hook) << "no push";
    SyncWriter();

    live.erase(live.begin(), live.begin() + 4);  // once..edit_gone
    live.push_back(once);
    live.push_back(twice);
    live.erase(std::find(live.begin(), live.end(), their_gone));
    live.push_back(mine);
    live.push_back(new_theirs);
    if (phone_.app) {
      live.erase(std::find(live.begin(), live.end(), moved));
      live.push_back(moved_to);
    }
  }
  // Quiescence: the last edits pushed, the writer's pulled.
  SyncPhone("the last push");
  SyncWriter();
  SyncPhone("quiescence");
  EXPECT_EQ(ExpectKeptIsScanned("at the end"), ServerFigure());
  EXPECT_EQ(phone_.KeptEntries(), 0) << "entries left behind";
  EXPECT_TRUE(DumpLive(*phone_.store) == DumpLive(world_->ServerStore()));
  EXPECT_TRUE(DumpLive(*writer_->store) == DumpLive(world_->ServerStore()));
}

std::string TestName(
    const ::testing::TestParamInfo<std::tuple<std::string, PhoneKind>>& info) {
  return PolicyTestName(std::get<0>(info.param)) + "_" +
         PhoneKindName(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(
    EveryPolicy, KeptFigure,
    ::testing::Combine(::testing::ValuesIn(EveryPolicyName()),
                       ::testing::Values(PhoneKind::kMemory, PhoneKind::kSqlite,
                                         PhoneKind::kMapped)),
    TestName);

}  // namespace
}  // namespace syncstack::testing
