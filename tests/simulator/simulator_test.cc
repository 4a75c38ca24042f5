// The policy simulator: determinism, metrics that detect what they claim,
// and the property that every policy converges after quiescence.
//
// Replay a property-test failure: SYNCSTACK_SEED=<printed seed>
//   ctest -R Simulator     More seeds: SYNCSTACK_SEEDS=<count> ...
#include "syncstack/simulator/simulator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

namespace syncstack::sim {
namespace {

std::vector<uint64_t> Seeds(uint64_t first, int count) {
  if (const char* one = std::getenv("SYNCSTACK_SEED")) {
    return {std::strtoull(one, nullptr, 10)};
  }
  if (const char* n = std::getenv("SYNCSTACK_SEEDS")) count = std::atoi(n);
  std::vector<uint64_t> seeds;
  for (int i = 0; i < count; ++i) seeds.push_back(first + i);
  return seeds;
}

SimulationResult MustSimulate(const SimulationOptions& o,
                              const PolicyFactory& p) {
  auto r = Simulate(o, p);
  EXPECT_TRUE(r.ok()) << p.name << ": " << r.status().ToString();
  return r.ok() ? *r : SimulationResult{};
}

const PolicyFactory& Lww() {
  auto p = FindPolicy("lww");
  EXPECT_TRUE(p.ok());
  return **p;
}

TEST(SimulatorTest, LwwIsAlwaysAvailable) {
  ASSERT_FALSE(AvailablePolicies().empty());
  EXPECT_EQ(AvailablePolicies().front().name, "lww");
  for (const auto& p : AvailablePolicies()) {
    auto found = FindPolicy(p.name);
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(*found, &p);
    EXPECT_EQ(p.make("server")->name(), p.name) << "registered under the "
                                                   "wrong name";
  }
  auto unknown = FindPolicy("nosuch");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Status::Code::kNotFound);
  EXPECT_NE(unknown.status().message().find("lww"), std::string::npos)
      << "the error lists what exists: " << unknown.status().message();
}

TEST(SimulatorTest, RejectsBadOptions) {
  auto bad = [](auto change) {
    SimulationOptions o;
    change(o);
    Status s = ValidateOptions(o);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
    EXPECT_FALSE(Simulate(o, Lww()).ok());
  };
  bad([](SimulationOptions& o) { o.devices = 0; });
  bad([](SimulationOptions& o) { o.records = -1; });
  bad([](SimulationOptions& o) { o.ops = -5; });
  bad([](SimulationOptions& o) { o.offline = 1.5; });
  bad([](SimulationOptions& o) { o.loss = -0.1; });
  bad([](SimulationOptions& o) { o.skew_seconds = -1; });
  bad([](SimulationOptions& o) { o.drift_ppm = -3; });
  bad([](SimulationOptions& o) { o.op_interval_ms = 0; });
  EXPECT_TRUE(ValidateOptions(SimulationOptions{}).ok());
}

// A busy workload: skew, drift, offline edits and loss.
SimulationOptions Busy(uint64_t seed) {
  SimulationOptions o;
  o.devices = 3;
  o.records = 10;
  o.ops = 150;
  o.offline = 0.5;
  o.skew_seconds = 120;
  o.drift_ppm = 50;
  o.loss = 0.15;
  o.seed = seed;
  return o;
}

TEST(SimulatorTest, SameSeedSameNumbers) {
  for (const auto& p : AvailablePolicies()) {
    SimulationResult a = MustSimulate(Busy(7), p);
    SimulationResult b = MustSimulate(Busy(7), p);
    EXPECT_EQ(a, b) << p.name << "\n" << FormatTable({a, b});
    EXPECT_EQ(CsvRow(a), CsvRow(b));
    EXPECT_EQ(a.writes, 150u);
    EXPECT_GT(a.bytes, 0u);
    EXPECT_GT(a.failed_syncs, 0u) << "loss 0.15 loses some calls";
  }
  // A different seed is a different workload.
  EXPECT_NE(MustSimulate(Busy(7), Lww()), MustSimulate(Busy(8), Lww()));
}

TEST(SimulatorTest, SqliteStoresGiveTheSameNumbers) {
  SimulationOptions o = Busy(3);
  o.ops = 60;
  SimulationResult memory = MustSimulate(o, Lww());
  o.store = SimStore::kSqlite;
  SimulationResult sqlite = MustSimulate(o, Lww());
  EXPECT_EQ(memory, sqlite) << FormatTable({memory, sqlite});
}

// One device at a time, each syncing before and after its write: no write
// is ever concurrent with another.
SimulationOptions Sequential(double skew_seconds) {
  SimulationOptions o;
  o.devices = 2;
  o.records = 2;
  o.ops = 120;
  o.offline = 0;
  o.loss = 0;
  o.skew_seconds = skew_seconds;
  o.op_interval_ms = 1000;
  o.seed = 11;
  return o;
}

TEST(SimulatorTest, NoSkewNoConcurrencyLosesNothing) {
  for (const auto& p : AvailablePolicies()) {
    SimulationResult r = MustSimulate(Sequential(0), p);
    EXPECT_TRUE(r.converged) << p.name;
    EXPECT_EQ(r.lost_updates, 0u) << p.name;
    EXPECT_EQ(r.silent_lost_updates, 0u) << p.name;
    EXPECT_EQ(r.resurrected_deletes, 0u) << p.name;
    EXPECT_EQ(r.conflicts, 0u) << p.name;
    EXPECT_EQ(r.failed_syncs, 0u) << p.name;
    EXPECT_EQ(r.first_error, "") << p.name;
    EXPECT_GT(r.deletes, 0u) << "the workload deletes too";
  }
}

// The seed commenter's fear: device clocks 10 minutes off, writes a few
// seconds apart, never concurrent. Last-write-wins on device clocks keeps
// the earlier write of the device whose clock is ahead: updates are lost,
// though reported (the server refuses them).
TEST(SimulatorTest, SkewMakesLwwLoseUpdates) {
  SimulationResult r = MustSimulate(Sequential(600), Lww());
  EXPECT_TRUE(r.converged);
  EXPECT_GT(r.lost_updates, 0u) << FormatTable({r});
  EXPECT_EQ(r.silent_lost_updates, 0u) << FormatTable({r});
  EXPECT_GT(r.conflicts, 0u) << "the server's refusals are reported";
}

// Issue 14, item 4: halfway through, one device's clock jumps 1,000 years
// ahead. Without a bound on the server, last-write-wins keeps that device's
// writes over every later real edit; with the server's default bound (five
// minutes) its writes are restamped with the server's clock and, nothing
// being concurrent, no policy loses anything.
SimulationOptions JumpYearsAhead(double bound_seconds) {
  SimulationOptions o = Sequential(0);
  o.devices = 3;
  o.clock_jump_years = 1000;
  o.max_clock_ahead_seconds = bound_seconds;
  return o;
}

TEST(SimulatorTest, AClockYearsAheadWinsForeverWithoutTheBound) {
  SimulationResult r = MustSimulate(JumpYearsAhead(-1), Lww());
  EXPECT_TRUE(r.converged) << FormatTable({r});
  EXPECT_GT(r.lost_updates, 0u) << FormatTable({r});
  EXPECT_EQ(r.restamped, 0u) << FormatTable({r});
}

TEST(SimulatorTest, TheBoundRestampsAClockYearsAhead) {
  for (const auto& p : AvailablePolicies()) {
    SimulationResult r = MustSimulate(JumpYearsAhead(300), p);
    EXPECT_TRUE(r.converged) << p.name << "\n" << FormatTable({r});
    EXPECT_EQ(r.lost_updates, 0u) << p.name << "\n" << FormatTable({r});
    EXPECT_EQ(r.first_error, "") << p.name;
    // The device is told (its SyncReport), except under server-clock,
    // which never took device clocks.
    if (p.name.rfind("server-clock", 0) == 0) {
      EXPECT_EQ(r.restamped, 0u) << p.name;
    } else {
      EXPECT_GT(r.restamped, 0u) << p.name << "\n" << FormatTable({r});
    }
  }
}

TEST(SimulatorTest, RejectsABadClockJump) {
  SimulationOptions o = Sequential(0);
  o.clock_jump_years = -1;
  EXPECT_EQ(ValidateOptions(o).code(), Status::Code::kInvalidArgument);
  o.clock_jump_years = 1e9;
  EXPECT_EQ(ValidateOptions(o).code(), Status::Code::kInvalidArgument);
}

// Policies that do not compare device clocks, or order a device's writes
// after what it has seen, lose nothing when nothing is concurrent, however
// wrong the clocks. (lww and lww+fields decide by device clocks, per record
// or per field: they are the ones that lose here.)
TEST(SimulatorTest, ClockIndependentPoliciesLoseNothingWithoutConcurrency) {
  for (const auto& p : AvailablePolicies()) {
    if (p.name.rfind("lww", 0) == 0) continue;
    SimulationResult r = MustSimulate(Sequential(600), p);
    EXPECT_TRUE(r.converged) << p.name;
    EXPECT_EQ(r.lost_updates, 0u) << p.name << "\n" << FormatTable({r});
    EXPECT_EQ(r.resurrected_deletes, 0u) << p.name << "\n" << FormatTable({r});
  }
}

// Property: for every policy, random workloads with skewed, drifting clocks,
// offline edits and a lossy network converge once the network heals.
TEST(SimulatorTest, EveryPolicyConvergesAfterQuiescence) {
  for (uint64_t seed : Seeds(1, 3)) {
    std::mt19937_64 rng(seed);
    SimulationOptions o;
    o.seed = seed;
    o.devices = 2 + static_cast<int>(rng() % 3);
    o.records = 4 + static_cast<int>(rng() % 20);
    o.ops = 60 + static_cast<int64_t>(rng() % 80);
    o.offline = static_cast<double>(rng() % 90) / 100;
    o.skew_seconds = static_cast<double>(rng() % 600);
    o.drift_ppm = static_cast<double>(rng() % 200);
    o.loss = static_cast<double>(rng() % 30) / 100;
    o.batch_records = 1 + rng() % 8;
    std::cout << "[ seed     ] " << seed << " (replay: SYNCSTACK_SEED=" << seed
              << ")" << std::endl;
    SCOPED_TRACE("seed=" + std::to_string(seed) +
                 " (replay with SYNCSTACK_SEED=" + std::to_string(seed) + ")");
    for (const auto& p : AvailablePolicies()) {
      SimulationResult r = MustSimulate(o, p);
      EXPECT_TRUE(r.converged) << p.name << "\n" << FormatTable({r});
      EXPECT_LT(r.quiescence_rounds, o.max_quiescence_rounds) << p.name;
      EXPECT_EQ(r.first_error, "") << p.name;
      EXPECT_EQ(r.writes, static_cast<uint64_t>(o.ops)) << p.name;
    }
    if (HasFailure()) break;
  }
}

TEST(SimulatorTest, CsvTableAndSvg) {
  std::vector<SimulationResult> results;
  for (double skew : {0.0, 60.0}) {
    SimulationOptions o = Sequential(skew);
    o.ops = 30;
    results.push_back(MustSimulate(o, Lww()));
  }
  std::string header = CsvHeader();
  auto columns = [](const std::string& line) {
    return std::count(line.begin(), line.end(), ',') + 1;
  };
  EXPECT_EQ(header.rfind("policy,skew_seconds,converged,", 0), 0u) << header;
  EXPECT_NE(header.find("lost_updates"), std::string::npos);
  EXPECT_EQ(columns(CsvRow(results[0])), columns(header));
  EXPECT_EQ(CsvRow(results[1]).rfind("lww,60,yes,", 0), 0u)
      << CsvRow(results[1]);

  std::string table = FormatTable(results);
  EXPECT_NE(table.find("policy"), std::string::npos);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 3) << table;

  std::string line = RenderSvg(results, "a <title>");
  EXPECT_EQ(line.rfind("<svg", 0), 0u);
  EXPECT_NE(line.find("<polyline"), std::string::npos) << "a sweep: lines";
  EXPECT_NE(line.find("a &lt;title&gt;"), std::string::npos);
  EXPECT_NE(line.find("</svg>"), std::string::npos);
  std::string bars = RenderSvg({results[0]}, "one skew");
  EXPECT_EQ(bars.rfind("<svg", 0), 0u);
  EXPECT_NE(bars.find("<rect"), std::string::npos) << "one skew: bars";
}

}  // namespace
}  // namespace syncstack::sim
