// A device clock far ahead of the server's (issue 14, item 4): a write
// stamped later than the server's clock plus SyncServiceOptions::
// max_clock_ahead is restamped with the server's clock before the policy
// compares it, under every policy where device time matters, so it cannot
// beat a later real edit; the answer's stamp tells the device, and the
// server logs it. server-clock ignores device clocks altogether.
#include <gtest/gtest.h>

#include <optional>

#include "memory_server.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/registry.h"
#include "syncstack/protocol.h"
#include "syncstack/service.h"

namespace syncstack {
namespace {

const RecordId kX = *RecordId::Parse("20000000-0000-4000-8000-00000000000a");
constexpr Timestamp kNow = 1796169600000;      // 2026-12-02 00:00:00 UTC
constexpr Timestamp k2999 = 32472144000000;    // 2999-01-01 00:00:00 UTC
constexpr std::string_view kFar = "a0000001";  // the device far ahead
constexpr std::string_view kNear = "b0000002";

class ClockBound : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { Start(SyncServiceOptions{}); }

  void Start(SyncServiceOptions options) {
    options.log = [this](const std::string& line) { log_ += line + "\n"; };
    server_ = testing::NewMemoryServer(clock_, GetParam(), std::move(options));
    ASSERT_NE(server_, nullptr);
    service_ = &server_->service();
  }

  // A device's version of a put of `payload` at its clock `now`, after
  // `previous` (its copy, or nullopt for a new record), as Replica stamps.
  Version StampPut(std::string_view replica, Timestamp now,
                   const std::optional<Version>& previous,
                   std::string_view payload,
                   std::string_view previous_payload) const {
    LocalWrite w;
    w.previous = previous ? &*previous : nullptr;
    w.now = now;
    w.replica = replica;
    w.payload = payload;
    w.previous_payload = previous_payload;
    return server_->policy().StampLocal(w);
  }

  // Sends one put of `payload` stamped `v`; returns the answer's stamp for
  // kX (nullopt: none).
  std::optional<Version> Put(bool add, const Version& v, std::string payload) {
    SyncRequest request;
    request.want_versions = true;
    auto& list = add ? request.add : request.update;
    list.push_back(
        {"todo", {WireRecord{kX, v.timestamp, std::move(payload), v.extra}}});
    auto answer = service_->Synchronise("alice", request, "", "");
    EXPECT_TRUE(answer.ok()) << answer.status().message();
    if (!answer.ok()) return std::nullopt;
    for (const auto& c : answer->stamps) {
      for (const Stamp& s : c.stamps) {
        if (s.id == kX) return Version{s.last_update, s.version};
      }
    }
    return std::nullopt;
  }

  // Deletes kX with its delete version `v`.
  void Delete(const Version& v) {
    SyncRequest request;
    request.want_versions = true;
    request.del.push_back({"todo", {kX}});
    request.delete_versions.push_back(
        {"todo", {Stamp{kX, v.timestamp, v.extra}}});
    auto answer = service_->Synchronise("alice", request, "", "");
    ASSERT_TRUE(answer.ok()) << answer.status().message();
  }

  // The server's row of kX.
  std::optional<Record> Stored() {
    auto store = server_->database().OpenAccount("alice");
    EXPECT_TRUE(store.ok());
    std::optional<Record> out;
    if (!store.ok()) return out;
    std::vector<RecordId> ids{kX};
    EXPECT_TRUE(
        (*store)->Get("todo", ids, [&](const Record& r) { out = r; }).ok());
    return out;
  }

  // The record as both devices first hold it: created by the near device
  // at the server's time.
  Version Create() {
    Version mine = StampPut(kNear, kNow, std::nullopt, R"({"t":"first"})", "");
    auto stamped = Put(true, mine, R"({"t":"first"})");
    EXPECT_TRUE(stamped.has_value());
    return stamped.value_or(mine);
  }

  ManualClock clock_{kNow};
  std::string log_;
  std::unique_ptr<InProcessServer> server_;
  SyncService* service_ = nullptr;  // server_'s
};

// The device whose clock reads 2999 edits first; a device with a right clock
// that had not seen that edit edits the same field a second later. The
// later real edit wins; the year-2999 stamp never reaches the store.
TEST_P(ClockBound, AFarFutureWriteDoesNotBeatALaterRealEdit) {
  const Version v0 = Create();
  clock_.Advance(1000);
  const Timestamp arrived = clock_.Now();
  Version far =
      StampPut(kFar, k2999, v0, R"({"t":"future"})", R"({"t":"first"})");
  ASSERT_GE(far.timestamp, k2999);
  auto stamp = Put(false, far, R"({"t":"future"})");
  ASSERT_TRUE(stamp.has_value()) << "the far write was not taken";
  // The answer tells the device: its copy gets the server's stamp.
  EXPECT_EQ(stamp->timestamp, arrived);
  ASSERT_TRUE(Stored().has_value());
  EXPECT_EQ(Stored()->version.timestamp, arrived);
  EXPECT_EQ(Stored()->version.extra.find(std::to_string(k2999)),
            std::string::npos)
      << "a field stamp kept the year 2999: " << Stored()->version.extra;
  EXPECT_NE(log_.find("restamped 1 write(s)"), std::string::npos) << log_;

  clock_.Advance(1000);
  Version near =
      StampPut(kNear, clock_.Now(), v0, R"({"t":"later"})", R"({"t":"first"})");
  Put(false, near, R"({"t":"later"})");
  auto row = Stored();
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->payload, R"({"t":"later"})") << GetParam();
  EXPECT_LT(row->version.timestamp, k2999);
}

// A delete stamped in 2999 (its _delete_versions) does not beat a later
// real edit either.
TEST_P(ClockBound, AFarFutureDeleteDoesNotBeatALaterRealEdit) {
  const Version v0 = Create();
  clock_.Advance(1000);
  LocalWrite w;
  w.previous = &v0;
  w.now = k2999;
  w.replica = kFar;
  w.deleted = true;
  w.previous_payload = R"({"t":"first"})";
  Delete(server_->policy().StampLocal(w));
  ASSERT_TRUE(Stored().has_value());
  EXPECT_TRUE(Stored()->deleted);
  EXPECT_LT(Stored()->version.timestamp, k2999);

  clock_.Advance(1000);
  Version near =
      StampPut(kNear, clock_.Now(), v0, R"({"t":"later"})", R"({"t":"first"})");
  Put(false, near, R"({"t":"later"})");
  auto row = Stored();
  ASSERT_TRUE(row.has_value());
  if (GetParam().starts_with("version-vector")) {
    // Concurrent edit and delete: the edit wins (delete_wins is off).
    EXPECT_FALSE(row->deleted);
  } else {
    EXPECT_FALSE(row->deleted) << "the 2999 delete beat the later edit";
    EXPECT_EQ(row->payload, R"({"t":"later"})");
  }
}

// A clock ahead within the bound keeps its stamp.
TEST_P(ClockBound, AStampWithinTheBoundIsKept) {
  const Version v0 = Create();
  clock_.Advance(1000);
  const Timestamp ahead = clock_.Now() + 60 * 1000;  // a minute fast
  Version w = StampPut(kFar, ahead, v0, R"({"t":"soon"})", R"({"t":"first"})");
  auto stamp = Put(false, w, R"({"t":"soon"})");
  ASSERT_TRUE(stamp.has_value());
  EXPECT_EQ(stamp->timestamp, w.timestamp);
  EXPECT_EQ(log_.find("restamped"), std::string::npos) << log_;
}

// Without a bound (milliseconds::max()), the old behaviour: the year 2999
// wins forever. (Shows the bound is what makes the difference.)
TEST_P(ClockBound, WithoutABoundTheFarFutureWins) {
  SyncServiceOptions unbounded;
  unbounded.max_clock_ahead = std::chrono::milliseconds::max();
  Start(unbounded);
  const Version v0 = Create();
  clock_.Advance(1000);
  Version far =
      StampPut(kFar, k2999, v0, R"({"t":"future"})", R"({"t":"first"})");
  auto stamp = Put(false, far, R"({"t":"future"})");
  ASSERT_TRUE(stamp.has_value());
  EXPECT_GE(stamp->timestamp, k2999);
  clock_.Advance(1000);
  Version near =
      StampPut(kNear, clock_.Now(), v0, R"({"t":"later"})", R"({"t":"first"})");
  Put(false, near, R"({"t":"later"})");
  ASSERT_TRUE(Stored().has_value());
  EXPECT_EQ(Stored()->payload, R"({"t":"future"})");
}

INSTANTIATE_TEST_SUITE_P(DeviceTimePolicies, ClockBound,
                         ::testing::Values("lww", "hlc", "lww+fields",
                                           "hlc+fields", "version-vector",
                                           "version-vector+fields"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string name = p.param;
                           for (char& c : name) {
                             if (c == '-' || c == '+') c = '_';
                           }
                           return name;
                         });

// server-clock stamps every write with the server's clock: a device clock
// in 2999 changes nothing, bound or not, and nothing is restamped.
TEST(ServerClockBound, DeviceClocksAreIgnored) {
  for (bool bounded : {true, false}) {
    auto db = OpenMemoryDatabase();
    ASSERT_TRUE(db.ok());
    auto policy = NewPolicyByName("server-clock");
    ASSERT_TRUE(policy.ok());
    ManualClock clock(kNow);
    auto lock = NewMemorySyncLock(clock, std::chrono::seconds(30));
    auto auth = NewInProcessAuthenticator();
    SyncServiceOptions options;
    if (!bounded) options.max_clock_ahead = std::chrono::milliseconds::max();
    SyncService service(**db, **policy, clock, *lock, *auth, Schema(), options);
    EXPECT_TRUE((*policy)->traits().server_stamps);
    SyncRequest request;
    request.want_versions = true;
    request.add.push_back(
        {"todo", {WireRecord{kX, k2999, R"({"t":"future"})", "b"}}});
    auto answer = service.Synchronise("alice", request, "", "");
    ASSERT_TRUE(answer.ok()) << answer.status().message();
    ASSERT_EQ(answer->stamps.size(), 1u);
    // Bound or not, the server's clock is what is stored.
    EXPECT_EQ(answer->stamps[0].stamps.at(0).last_update, kNow)
        << (bounded ? "bounded" : "unbounded");
  }
}

}  // namespace
}  // namespace syncstack
