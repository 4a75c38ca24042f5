// GET /v1/changes on a real SyncService (memory and SQLite stores) through
// the loopback transport: sequence order, paging, tombstones, the count and
// fingerprint against a fresh scan after random writes, the 410 refusals,
// 400s and 401. Random choices print their seed; try others with
// SYNCSTACK_SEED=<n>.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/world.h"
#include "syncstack/fingerprint.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/pages.h"
#include "syncstack/protocol.h"
#include "syncstack/remote.h"

namespace syncstack {
namespace {

using ::syncstack::testing::IdFrom;
using ::syncstack::testing::KindName;
using ::syncstack::testing::StoreKind;
using ::syncstack::testing::World;

constexpr Timestamp kBase = 1'690'000'000'000;

uint64_t TestSeed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("SYNCSTACK_SEED");
    uint64_t s = env != nullptr ? std::strtoull(env, nullptr, 10) : 1313;
    std::printf("changes_endpoint_test: SYNCSTACK_SEED=%llu\n",
                static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

Schema TestSchema() {
  Schema s;
  s.Set("todo", "id");
  s.Set("notes", "nid");
  s.MakeStrict();
  return s;
}

class ChangesEndpoint : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    world_ = std::make_unique<World>(GetParam(), TestSchema());
    client_ = std::make_unique<RemoteClient>(world_->loopback());
    ASSERT_TRUE(client_->Login("alice", "pw").ok());
    auto lock = client_->Lock("dev-1");
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  }

  Response Get(std::string_view query, bool with_token = true) {
    Request request;
    request.method = "GET";
    request.path = std::string(kChangesPath);
    request.query = std::string(query);
    // The client's own token, taken from a login of its own.
    if (with_token) request.token = Token();
    auto r = world_->loopback().Call(request);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Response{};
  }

  std::string Token() {
    if (!token_.empty()) return token_;
    Request login;
    login.method = "POST";
    login.path = std::string(kLoginPath);
    EncodeLoginRequest(LoginRequest{"alice", "pw"}, login.body);
    auto answer = DecodeLoginResponse(world_->service().Handle(login).body);
    EXPECT_TRUE(answer.ok());
    token_ = answer.ok() ? answer->token : "";
    return token_;
  }

  void Write(const SyncRequest& request) {
    auto answer = client_->Synchronise(request, world_->service().schema());
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  }

  std::vector<RecordId> Add(const std::string& collection, size_t n,
                            std::mt19937_64& rng) {
    SyncRequest request;
    CollectionRecords c;
    c.collection = collection;
    std::vector<RecordId> ids;
    for (size_t i = 0; i < n; ++i) {
      WireRecord r{IdFrom(rng), kBase + static_cast<int64_t>(rng() % 100000),
                   "{\"n\":" + std::to_string(rng() % 1000) + "}"};
      ids.push_back(r.id);
      c.records.push_back(std::move(r));
    }
    request.add.push_back(std::move(c));
    Write(request);
    return ids;
  }

  void Update(const std::string& collection, const std::vector<RecordId>& ids,
              Timestamp when) {
    SyncRequest request;
    CollectionRecords c;
    c.collection = collection;
    for (const RecordId& id : ids) {
      c.records.push_back(WireRecord{id, when, "{\"u\":1}"});
    }
    request.update.push_back(std::move(c));
    Write(request);
  }

  void Delete(const std::string& collection, const std::vector<RecordId>& ids) {
    SyncRequest request;
    request.del.push_back(CollectionIds{collection, ids});
    Write(request);
  }

  // The live records' figure from a fresh scan (fetch.json with versions).
  SetFingerprint Scanned(const std::string& collection) {
    auto m = world_->service().Fetch("alice", {collection}, true);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    SetFingerprint f;
    if (!m.ok()) return f;
    for (const Stamp& s : m->collections[0].entries) {
      f.Add(s.id, Version{s.last_update, s.version});
    }
    return f;
  }

  // Every page after `after`, `limit` at a time, through RemoteClient.
  std::vector<ChangesPage> Walk(const std::string& collection, uint64_t after,
                                size_t limit) {
    std::vector<ChangesPage> pages;
    for (int i = 0; i < 1000; ++i) {
      auto page = client_->Changes(collection, after, limit);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      after = page->last;
      bool more = page->more;
      pages.push_back(std::move(*page));
      if (!more) break;
    }
    return pages;
  }

  std::unique_ptr<World> world_;
  std::unique_ptr<RemoteClient> client_;
  std::string token_;
};

::testing::AssertionResult IsError(const Response& r, int status,
                                   std::string_view code,
                                   std::string_view part) {
  rapidjson::Document doc;
  doc.Parse(r.body.data(), r.body.size());
  if (r.status != status || doc.HasParseError() || !doc.IsObject() ||
      !doc.HasMember("error") || !doc["error"].IsString() ||
      doc["error"].GetString() != code || !doc.HasMember("message") ||
      std::string_view(doc["message"].GetString()).find(part) ==
          std::string_view::npos) {
    return ::testing::AssertionFailure()
           << "got " << r.status << " " << r.body << ", want " << status << " "
           << code << " mentioning \"" << part << "\"";
  }
  return ::testing::AssertionSuccess();
}

TEST_P(ChangesEndpoint, OrderPagingAndTombstones) {
  std::mt19937_64 rng(TestSeed());
  auto ids = Add("todo", 30, rng);
  Add("notes", 4, rng);  // another collection: not in todo's feed
  std::vector<RecordId> changed(ids.begin(), ids.begin() + 5);
  std::vector<RecordId> gone(ids.begin() + 5, ids.begin() + 10);
  Update("todo", changed, kBase + 200000);
  Delete("todo", gone);

  auto pages = Walk("todo", 0, 7);
  ASSERT_FALSE(pages.empty());
  std::map<RecordId, ChangeEntry> seen;
  uint64_t previous = 0;
  for (const ChangesPage& page : pages) {
    EXPECT_EQ(page.id_key, "id");
    EXPECT_LE(page.changes.size(), 7u);
    for (const ChangeEntry& e : page.changes) {
      EXPECT_GT(e.seq, previous);
      previous = e.seq;
      EXPECT_TRUE(seen.emplace(e.record.id, e).second) << "twice";
    }
  }
  EXPECT_EQ(seen.size(), 30u);  // one entry per row, at its last write
  for (const RecordId& id : changed) {
    EXPECT_EQ(seen[id].record.payload, "{\"u\":1}");
    EXPECT_FALSE(seen[id].deleted);
  }
  for (const RecordId& id : gone) {
    EXPECT_TRUE(seen[id].deleted);
    EXPECT_TRUE(seen[id].record.payload.empty());
  }
  const ChangesPage& last = pages.back();
  EXPECT_FALSE(last.more);
  EXPECT_EQ(last.last, previous);
  EXPECT_EQ(last.count, 25u);
  EXPECT_EQ(last.fingerprint, Scanned("todo").sum);
  // Nothing after the last: an empty page that says so.
  auto empty = client_->Changes("todo", last.last, 10);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->changes.empty());
  EXPECT_FALSE(empty->more);
  EXPECT_EQ(empty->last, last.last);
  // After an update, only it.
  Update("todo", {ids[20]}, kBase + 300000);
  auto one = client_->Changes("todo", last.last, 10);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->changes.size(), 1u);
  EXPECT_EQ(one->changes[0].record.id, ids[20]);
  EXPECT_EQ(one->changes[0].seq, one->seq);
}

TEST_P(ChangesEndpoint, JsonForm) {
  std::mt19937_64 rng(TestSeed());
  auto ids = Add("notes", 3, rng);
  Delete("notes", {ids[1]});
  Response r = Get("collection=notes&after=0&limit=2");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.content_type.empty() ||
              r.content_type.find("json") != std::string::npos);
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  ASSERT_FALSE(doc.HasParseError()) << r.body;
  EXPECT_STREQ(doc["collection"].GetString(), "notes");
  EXPECT_STREQ(doc["id_key"].GetString(), "nid");
  ASSERT_EQ(doc["changes"].Size(), 2u);
  EXPECT_TRUE(doc["more"].GetBool());
  EXPECT_EQ(doc["last"].GetUint64(), doc["changes"][1]["_seq"].GetUint64());
  EXPECT_EQ(doc["count"].GetUint64(), 2u);
  EXPECT_EQ(doc["fingerprint"].GetString(), Scanned("notes").ToHex());
  EXPECT_TRUE(doc["changes"][0].HasMember("nid"));
  EXPECT_TRUE(doc["changes"][0].HasMember("last_update"));
  // The rest: the tombstone of ids[1], last written.
  Response rest = Get("collection=notes&format=json&after=" +
                      std::to_string(doc["last"].GetUint64()));
  ASSERT_EQ(rest.status, 200) << rest.body;
  rapidjson::Document tail;
  tail.Parse(rest.body.c_str());
  ASSERT_EQ(tail["changes"].Size(), 1u);
  EXPECT_EQ(tail["changes"][0]["nid"].GetString(), ids[1].ToString());
  EXPECT_TRUE(tail["changes"][0]["_deleted"].GetBool());
  EXPECT_FALSE(tail["more"].GetBool());
}

TEST_P(ChangesEndpoint, FigureEqualsAFreshScanAfterRandomWrites) {
  const uint64_t seed = TestSeed();
  std::mt19937_64 rng(seed);
  std::map<std::string, std::vector<RecordId>> live;
  for (int round = 0; round < 40; ++round) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " round " +
                 std::to_string(round));
    const std::string c = rng() % 2 ? "todo" : "notes";
    auto& ids = live[c];
    switch (ids.empty() ? 0 : rng() % 3) {
      case 0: {
        auto added = Add(c, 1 + rng() % 6, rng);
        ids.insert(ids.end(), added.begin(), added.end());
        break;
      }
      case 1:
        Update(c, {ids[rng() % ids.size()]},
               kBase + 200000 + static_cast<Timestamp>(round));
        break;
      default: {
        size_t at = rng() % ids.size();
        Delete(c, {ids[at]});
        ids.erase(ids.begin() + static_cast<ptrdiff_t>(at));
        break;
      }
    }
    for (const std::string name : {"todo", "notes"}) {
      auto page = client_->Changes(name, 0, 1);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      SetFingerprint want = Scanned(name);
      EXPECT_EQ(page->count, want.count) << name;
      EXPECT_EQ(page->count, live[name].size()) << name;
      EXPECT_EQ(page->fingerprint, want.sum) << name;
    }
  }
}

TEST_P(ChangesEndpoint, AccountWrittenBeforeFiguresIsInitialisedByAScan) {
  // Rows written straight into the server store (as an older server did):
  // no figure key.
  Store& store = world_->ServerStore();
  std::mt19937_64 rng(TestSeed());
  ChangeBatch b;
  SetFingerprint want;
  for (int i = 1; i <= 5; ++i) {
    Record r;
    r.collection = "todo";
    r.id = IdFrom(rng);
    r.version.timestamp = kBase + i;
    r.base = i;
    r.payload = "{}";
    if (i == 3) {
      r.deleted = true;
      r.payload.clear();
    } else {
      want.Add(r.id, r.version);
    }
    b.Put(std::move(r));
  }
  b.SetMeta(std::string(meta::kSequence), "5");
  ASSERT_TRUE(store.Apply(WriteOptions{}, b).ok());
  auto page = client_->Changes("todo", 0, 100);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->changes.size(), 5u);
  EXPECT_EQ(page->count, 4u);
  EXPECT_EQ(page->fingerprint, want.sum);
  auto stored = store.GetMeta(meta::CollectionFigure("todo"));
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(**stored, want.Encode());
  // Later writes keep it up to date from there.
  auto added = Add("todo", 2, rng);
  page = client_->Changes("todo", 5, 100);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->count, 6u);
  EXPECT_EQ(page->fingerprint, Scanned("todo").sum);
}

TEST_P(ChangesEndpoint, RefusesWhatItCannotAnswer) {
  std::mt19937_64 rng(TestSeed());
  auto ids = Add("todo", 4, rng);
  Delete("todo", {ids[0]});
  auto list = client_->ListCollections();
  ASSERT_TRUE(list.ok());
  const uint64_t seq = list->seq;
  ASSERT_FALSE(list->history.empty());

  // Past the write sequence (a restored server).
  Response past = Get("collection=todo&after=" + std::to_string(seq + 1));
  EXPECT_TRUE(IsError(past, 410, "changes_refused", "past the server's"));
  auto refused = client_->Changes("todo", seq + 1);
  EXPECT_EQ(refused.status().code(), Status::Code::kGone);

  // Another history.
  Response other =
      Get("collection=todo&after=1&history=" + std::to_string(seq) + ":abc");
  EXPECT_TRUE(IsError(other, 410, "changes_refused", "history"));
  // The server's own history point is fine.
  auto same = client_->Changes("todo", 1, 10, list->history);
  EXPECT_TRUE(same.ok()) << same.status().ToString();

  // Below the tombstone horizon, once tombstones were collected.
  ASSERT_TRUE(client_->Unlock().ok());
  auto gc = world_->service().CollectTombstones("alice",
                                                std::chrono::milliseconds(0));
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  ASSERT_GT(gc->horizon, 1u);
  Response below = Get("collection=todo&after=1");
  EXPECT_TRUE(IsError(below, 410, "changes_refused", "tombstone horizon"));
  Response at = Get("collection=todo&after=" + std::to_string(gc->horizon));
  EXPECT_EQ(at.status, 200) << at.body;
}

TEST_P(ChangesEndpoint, BadParametersAre400AndNoTokenIs401) {
  const std::pair<std::string, std::string> cases[] = {
      {"after=0", "collection"},
      {"collection=", "collection"},
      {"collection=nope", "collection"},
      {"collection=todo&after=-1", "after"},
      {"collection=todo&after=x", "after"},
      {"collection=todo&after=9223372036854775808", "after"},
      {"collection=todo&limit=0", "limit"},
      {"collection=todo&limit=100001", "limit"},
      {"collection=todo&limit=", "limit"},
      {"collection=todo&format=xml", "format"},
      {"collection=todo&history=12", "history"},
      {"collection=todo&history=x:y", "history"},
  };
  for (const auto& [query, part] : cases) {
    EXPECT_TRUE(IsError(Get(query), 400, "bad_request", part)) << query;
  }
  EXPECT_EQ(Get("collection=todo&after=9223372036854775807").status, 410);
  Response anonymous = Get("collection=todo", /*with_token=*/false);
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  Response anonymous_bad = Get("collection=nope", /*with_token=*/false);
  EXPECT_EQ(anonymous_bad.status, 401) << anonymous_bad.body;
}

std::string ParamName(const ::testing::TestParamInfo<StoreKind>& p) {
  return KindName(p.param);
}

INSTANTIATE_TEST_SUITE_P(Stores, ChangesEndpoint,
                         ::testing::Values(StoreKind::kMemory,
                                           StoreKind::kSqlite),
                         ParamName);

}  // namespace
}  // namespace syncstack
