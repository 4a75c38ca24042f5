// `syncstack simulate`, the real binary: the table, CSV, SVG, determinism
// and bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "kits/run_command.h"
#include "syncstack/simulator/simulator.h"

namespace {

using Outcome = syncstack::testing::CommandOutcome;

class SimulateCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "syncstack-sim-cli-XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Outcome Syncstack(const std::string& args) {
    return syncstack::testing::RunCommand(
        std::string(SYNCSTACK_BIN) + " " + args, dir_);
  }

  std::string Read(const std::string& name) {
    std::ifstream in(dir_ / name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::filesystem::path dir_;
};

constexpr const char* kSmall =
    "simulate --devices 2 --records 5 --ops 40 --offline 0.4 --skew 0,60 "
    "--drift 20 --loss 0.1 --seed 3 --policy all";

TEST_F(SimulateCliTest, PrintsTableWritesCsvAndSvg) {
  std::string csv = (dir_ / "out.csv").string();
  std::string svg = (dir_ / "out.svg").string();
  Outcome r =
      Syncstack(std::string(kSmall) + " --csv " + csv + " --svg " + svg);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  size_t policies = syncstack::sim::AvailablePolicies().size();
  for (const char* column : {"policy", "skew(s)", "converged", "lost",
                             "conflicts", "resurrected", "bytes", "syncs"}) {
    EXPECT_NE(r.out.find(column), std::string::npos) << column << "\n" << r.out;
  }
  for (const auto& p : syncstack::sim::AvailablePolicies()) {
    EXPECT_NE(r.out.find("\n" + p.name + " "), std::string::npos) << r.out;
  }

  std::string table = Read("out.csv");
  std::istringstream lines(table);
  std::string header;
  std::getline(lines, header);
  EXPECT_EQ(header,
            "policy,skew_seconds,converged,quiescence_rounds,writes,deletes,"
            "lost_updates,silent_lost_updates,conflicts,resurrected_deletes,"
            "bytes,messages,sync_calls,failed_syncs");
  size_t rows = 0;
  for (std::string line; std::getline(lines, line);) {
    ++rows;
    EXPECT_EQ(std::count(line.begin(), line.end(), ','),
              std::count(header.begin(), header.end(), ','))
        << line;
  }
  EXPECT_EQ(rows, 2 * policies);  // two skews

  std::string chart = Read("out.svg");
  EXPECT_EQ(chart.rfind("<svg", 0), 0u) << chart.substr(0, 80);
  EXPECT_NE(chart.find("</svg>"), std::string::npos);
}

// Issue 14, item 4: a clock 1,000 years ahead, with and without the
// server's bound; the table says how many writes were restamped.
TEST_F(SimulateCliTest, ClockJumpWithAndWithoutTheBound) {
  const std::string base =
      "simulate --devices 3 --records 3 --ops 60 --offline 0 --seed 5 "
      "--policy lww --clock-jump 1000";
  auto lww_row = [](const std::string& out) {
    size_t at = out.find("\nlww ");
    return at == std::string::npos
               ? std::string()
               : out.substr(at + 1, out.find('\n', at + 1) - at - 1);
  };
  auto column = [](const std::string& row, size_t n) {
    std::istringstream words(row);
    std::string w;
    for (size_t i = 0; i <= n && words >> w;) ++i;
    return w;
  };
  Outcome bounded = Syncstack(base);
  ASSERT_EQ(bounded.exit_code, 0) << bounded.err;
  EXPECT_NE(bounded.out.find("clock jump 1000 years, max clock ahead 300 s"),
            std::string::npos)
      << bounded.out;
  EXPECT_NE(bounded.out.find("restamped"), std::string::npos) << bounded.out;
  std::string row = lww_row(bounded.out);
  EXPECT_EQ(column(row, 4), "0") << "lost with the bound: " << row;
  EXPECT_NE(column(row, 11), "0") << "nothing restamped: " << row;

  Outcome off = Syncstack(base + " --max-clock-ahead off");
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_NE(off.out.find("max clock ahead off"), std::string::npos) << off.out;
  row = lww_row(off.out);
  EXPECT_NE(column(row, 4), "0") << "nothing lost without the bound: " << row;
  EXPECT_EQ(column(row, 11), "0") << row;
}

TEST_F(SimulateCliTest, SameSeedSameOutput) {
  Outcome a = Syncstack(kSmall);
  Outcome b = Syncstack(kSmall);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

TEST_F(SimulateCliTest, Help) {
  Outcome r = Syncstack("simulate --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("usage: syncstack simulate"), std::string::npos);
  EXPECT_NE(r.out.find("--skew"), std::string::npos);
  // --help lists what --policy all runs.
  for (const auto& p : syncstack::sim::AvailablePolicies()) {
    EXPECT_NE(r.out.find(p.name), std::string::npos) << p.name;
  }
}

TEST_F(SimulateCliTest, BadInputGetsOneClearLine) {
  struct Case {
    std::string args;
    int code;
    std::string says;
  };
  std::string missing_dir = (dir_ / "no" / "such" / "dir").string();
  std::vector<Case> cases = {
      {"simulate --devices=-2", 2, "--devices"},
      {"simulate --devices 0", 2, "--devices"},
      {"simulate --records=-1", 2, "--records"},
      {"simulate --ops=-10", 2, "--ops"},
      {"simulate --ops 12x", 2, "--ops"},
      {"simulate --seed=-1", 2, "--seed"},
      {"simulate --offline 1.5", 2, "--offline"},
      {"simulate --loss=-0.1", 2, "--loss"},
      {"simulate --skew 0,abc", 2, "--skew"},
      {"simulate --skew=-5", 2, "--skew"},
      {"simulate --drift=-1", 2, "--drift"},
      {"simulate --clock-jump=-1", 2, "--clock-jump"},
      {"simulate --clock-jump 1e9", 2, "--clock-jump"},
      {"simulate --max-clock-ahead soon", 2, "--max-clock-ahead"},
      {"simulate --max-clock-ahead=-5", 2, "--max-clock-ahead"},
      {"simulate --policy nosuch", 2, "unknown policy \"nosuch\""},
      {"simulate --store postgres", 2, "--store"},
      {"simulate --ops 1 --csv " + missing_dir + "/x.csv", 1, "--csv"},
      {"simulate --ops 1 --svg " + missing_dir + "/x.svg", 1, "--svg"},
      {"simulate --bogus", 2, "bogus"},
  };
  for (const auto& c : cases) {
    Outcome r = Syncstack(c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos)
        << c.args << " said: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("syncstack: ", 0), 0u) << r.err;
    EXPECT_EQ(r.out, "") << c.args;
  }
}

}  // namespace
