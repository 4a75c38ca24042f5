// End to end: the real `syncstack` binary, as a user runs it.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "kits/run_command.h"
#include "kits/serve_process.h"

namespace {

using syncstack::testing::RunCommand;
using syncstack::testing::ServeProcess;

using Outcome = syncstack::testing::CommandOutcome;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "syncstack-cli-XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    store_ = "sqlite:" + (dir_ / "device.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs syncstack with `args` (a shell-quoted string).
  Outcome Syncstack(const std::string& args) {
    return Run(SYNCSTACK_BIN, args);
  }

  // Runs `program` with `args` (a shell-quoted string).
  Outcome Run(const std::string& program, const std::string& args) {
    return RunCommand(program + " " + args, dir_);
  }

  std::string Ls() { return Syncstack("ls --store " + store_ + " --json").out; }

  std::filesystem::path dir_;
  std::string store_;
};

TEST_F(CliTest, DemoConvergesAndExitsZero) {
  Outcome r = Syncstack("demo");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("case 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("case 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("case 3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("conflict"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Converged"), std::string::npos) << r.out;
}

TEST_F(CliTest, EverySubcommandHasHelp) {
  for (const char* sub : {"demo", "put", "rm", "ls", "serve", "sync",
                          "user add", "conflicts", "gc"}) {
    Outcome r = Syncstack(std::string(sub) + " --help");
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find("usage: syncstack"), std::string::npos) << sub;
  }
  EXPECT_EQ(Syncstack("--help").exit_code, 0);
}

TEST_F(CliTest, PutLsRmRoundTrip) {
  Outcome put =
      Syncstack("put --store " + store_ +
                " --collection todo --json "
                "'{\"title\":\"caf\\u00e9 ☕\",\"n\":12345678901234567890}'");
  ASSERT_EQ(put.exit_code, 0) << put.err;
  std::string id = put.out.substr(0, 36);
  std::string listed = Ls();
  EXPECT_NE(listed.find("{\"id\":\"" + id +
                        "\",\"title\":\"caf\\u00e9 ☕\","
                        "\"n\":12345678901234567890,\"last_update\":"),
            std::string::npos)
      << listed;
  EXPECT_NE(listed.find("\"_state\":\"created\""), std::string::npos);

  // The id may come from the JSON itself.
  Outcome put2 =
      Syncstack("put --store " + store_ +
                " --collection todo --json "
                "'{\"id\":\"1E240B66-C984-4028-9562-A32477C3C44B\"}'");
  ASSERT_EQ(put2.exit_code, 0) << put2.err;
  EXPECT_EQ(put2.out, "1e240b66-c984-4028-9562-a32477c3c44b\n");

  Outcome rm =
      Syncstack("rm --store " + store_ + " --collection todo --id " + id);
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(Ls().find(id), std::string::npos);
  Outcome again =
      Syncstack("rm --store " + store_ + " --collection todo --id " + id);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("no record"), std::string::npos) << again.err;
}

TEST_F(CliTest, BadInputGetsOneClearLineAndChangesNothing) {
  ASSERT_EQ(Syncstack("put --store " + store_ +
                      " --collection todo --json '{\"a\":1}'")
                .exit_code,
            0);
  std::string before = Ls();
  struct Case {
    std::string args;
    int code;
    std::string says;
  };
  std::vector<Case> cases = {
      {"put --store " + store_ + " --collection todo --json '{\"a\":'", 1,
       "--json"},
      {"put --store " + store_ + " --collection todo --json '[1]'", 1,
       "object"},
      {"put --store " + store_ + " --collection 'bad name' --json '{}'", 1,
       "collection"},
      {"put --store " + store_ + " --collection todo --id nope --json '{}'", 1,
       "UUID"},
      {"put --store " + store_ + " --collection todo --json '{\"id\":5}'", 1,
       "id"},
      {"put --store nosuch:x --collection todo --json '{}'", 1, "unknown kind"},
      {"put --store " + store_ + " --collection todo", 2, "json"},
      {"rm --store " + store_ + " --collection todo --id 123", 1, "UUID"},
      {"ls --store " + store_ + " --bogus", 2, "bogus"},
      {"frobnicate", 2, "unknown command"},
  };
  for (const auto& c : cases) {
    Outcome r = Syncstack(c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos)
        << c.args << " said: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("syncstack: ", 0), 0u) << r.err;
  }
  EXPECT_EQ(Ls(), before);
}

// The end-to-end benchmark (bench/sync): a program of its own that starts
// this syncstack's `serve`. Built only with the benchmarks.
#ifdef SYNCSTACK_BENCH_SYNC_BIN
constexpr bool kHaveBenchSync = true;
constexpr char kBenchSync[] =
    SYNCSTACK_BENCH_SYNC_BIN " --syncstack " SYNCSTACK_BIN;
#else
constexpr bool kHaveBenchSync = false;
constexpr char kBenchSync[] = "";
#endif

// The benchmark sets up a server and a device itself and prints one JSON
// line whose figures come from syncs it checked.
TEST_F(CliTest, BenchSyncPrintsOneJsonLineOfFigures) {
  if (!kHaveBenchSync) GTEST_SKIP() << "built without the benchmarks";
  Outcome r = Run(kBenchSync,
                  "--store sqlite --records 2000 --changes 20 --mode full "
                  "--dir " +
                      dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;  // one line
  rapidjson::Document doc;
  doc.Parse(r.out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << r.out;
  ASSERT_TRUE(doc.IsObject());
  EXPECT_STREQ(doc["store"].GetString(), "sqlite");
  EXPECT_EQ(doc["records"].GetInt(), 2000);
  EXPECT_EQ(doc["changes"].GetInt(), 20);
  EXPECT_GT(doc["baseline_rows_per_s"].GetDouble(), 0);
  const auto& cold = doc["cold"];
  EXPECT_GT(cold["seconds"].GetDouble(), 0);
  EXPECT_GT(cold["rows_per_s"].GetDouble(), 0);
  EXPECT_GT(cold["ratio_to_raw"].GetDouble(), 0);
  EXPECT_STREQ(cold["mode"].GetString(), "full");
  EXPECT_EQ(cold["pulled"].GetInt(), 2000);
  EXPECT_GT(cold["bytes_received"].GetInt(), 2000 * 100);
  EXPECT_GT(cold["client_peak_rss_mb"].GetDouble(), 0);
  EXPECT_GT(cold["server_peak_rss_mb"].GetDouble(), 0);
  for (const char* key : {"incremental", "full"}) {
    const auto& inc = doc[key];
    EXPECT_STREQ(inc["mode"].GetString(), "full") << key;
    EXPECT_EQ(inc["pulled"].GetInt(), 10) << key;  // the server's half
    EXPECT_EQ(inc["pushed"].GetInt(), 10) << key;  // the device's half
    EXPECT_GT(inc["round_trips"].GetInt(), 0) << key;
    EXPECT_GT(inc["bytes_sent"].GetInt(), 0) << key;
  }
  // The working directory is gone: only the test's own files remain.
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().rfind("syncstack-bench", 0),
              std::string::npos);
  }
}

TEST_F(CliTest, BenchSyncRefusesBadOptionsBeforeDoingAnything) {
  if (!kHaveBenchSync) GTEST_SKIP() << "built without the benchmarks";
  for (const char* args :
       {"--store postgres --records 10 --changes 1 --mode full",
        "--store sqlite --records 0 --changes 0 --mode full",
        "--store sqlite --records 10 --changes 11 --mode full",
        "--store lmdb --records 10 --changes 1 --mode fastest"}) {
    Outcome r = Run(kBenchSync, std::string(args) + " --dir " + dir_.string());
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_EQ(r.err.rfind("syncstack-bench-sync: ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << args;
  }
#ifdef SYNCSTACK_BENCH_SYNC_BIN
  // A server program that is not there.
  Outcome r = Run(SYNCSTACK_BENCH_SYNC_BIN,
                  "--syncstack " + (dir_ / "no-such-program").string() +
                      " --store sqlite --records 10 --changes 1 --mode full "
                      "--dir " +
                      dir_.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--syncstack"), std::string::npos) << r.err;
#endif
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().rfind("syncstack-bench", 0),
              std::string::npos);  // no working directory was made
  }
}

// `syncstack serve <args>` (words split at spaces, no quoting) through the
// ServeProcess kit; nullptr after a failed expectation.
std::unique_ptr<ServeProcess> Serve(const std::string& args) {
  std::vector<std::string> words;
  std::istringstream in(args);
  for (std::string w; in >> w;) words.push_back(w);
  auto serve = ServeProcess::Start({SYNCSTACK_BIN, words});
  EXPECT_TRUE(serve.ok()) << serve.status().ToString();
  return serve.ok() ? std::move(serve).value() : nullptr;
}

// The seed's scenario on two devices: offline adds, an edit on one, a
// delete and an add on the other; all three cases appear and both devices
// end equal. `remote` is what --remote and its options say.
class TwoDevices : public CliTest {
 protected:
  void Run(const std::string& remote) {
    phone_ = "sqlite:" + (dir_ / "phone.db").string();
    laptop_ = "sqlite:" + (dir_ / "laptop.db").string();
    auto sync = [&](const std::string& store, const char* device) {
      return Syncstack("sync --store " + store + " --remote " + remote +
                       " --user alice --password pw1 --device " + device);
    };
    auto put = [&](const std::string& store, const std::string& json) {
      Outcome r = Syncstack("put --store " + store +
                            " --collection todo --json '" + json + "'");
      EXPECT_EQ(r.exit_code, 0) << r.err;
      return r.out.substr(0, 36);
    };
    std::string a = put(phone_, R"({"title":"milk"})");
    std::string b = put(phone_, R"({"title":"florist"})");
    std::string all_output;
    for (const auto& store : {phone_, laptop_}) {
      Outcome r = sync(store, store == phone_ ? "phone" : "laptop");
      ASSERT_EQ(r.exit_code, 0) << r.err;
      all_output += r.out;
    }
    // Offline edits on both devices, then syncs in turn.
    put(laptop_, R"({"id":")" + a + R"(","title":"oat milk"})");
    ASSERT_EQ(Syncstack("rm --store " + phone_ + " --collection todo --id " + b)
                  .exit_code,
              0);
    put(phone_, R"({"title":"venue"})");
    for (const auto& store : {laptop_, phone_, laptop_}) {
      Outcome r = sync(store, store == phone_ ? "phone" : "laptop");
      ASSERT_EQ(r.exit_code, 0) << r.err;
      all_output += r.out;
    }
    EXPECT_NE(all_output.find("case 1"), std::string::npos) << all_output;
    EXPECT_NE(all_output.find("case 2"), std::string::npos) << all_output;
    EXPECT_NE(all_output.find("case 3"), std::string::npos) << all_output;
    EXPECT_EQ(Listing(phone_), Listing(laptop_));
    EXPECT_NE(Listing(phone_).find("oat milk"), std::string::npos);
    EXPECT_EQ(Listing(phone_).find(b), std::string::npos);
  }

  // Records without their sync state, which differs between devices.
  std::string Listing(const std::string& store) {
    Outcome listed = Syncstack("ls --store " + store + " --json");
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    std::string out = listed.out;
    for (size_t at; (at = out.find(",\"_state\":\"")) != std::string::npos;) {
      out.erase(at, out.find('"', at + 11) + 1 - at);
    }
    return out;
  }

  std::string AddUser() {
    std::string server = "sqlite:" + (dir_ / "server.db").string();
    Outcome added = Syncstack("user add --store " + server +
                              " --user alice --password pw1");
    EXPECT_EQ(added.exit_code, 0) << added.err;
    return server;
  }

  std::string phone_, laptop_;
  std::string id_;
};

TEST_F(TwoDevices, SyncThroughARealServer) {
  auto serve = Serve("--store " + AddUser() + " --listen 127.0.0.1:0");
  ASSERT_TRUE(serve != nullptr && !serve->url().empty());
  Run(serve->url());
  auto sync = [&](const std::string& store) {
    return Syncstack("sync --store " + store + " --remote " + serve->url() +
                     " --user alice --password pw1");
  };
  auto listing = [&](const std::string& store) { return Listing(store); };
  const std::string& phone = phone_;

  // Refusals: one clear line, non-zero, nothing lost locally.
  std::string before = listing(phone);
  Outcome wrong = Syncstack("sync --store " + phone + " --remote " +
                            serve->url() + " --user alice --password nope");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("wrong user or password"), std::string::npos)
      << wrong.err;
  EXPECT_EQ(std::count(wrong.err.begin(), wrong.err.end(), '\n'), 1);
  EXPECT_EQ(serve->Stop(), 0);
  Outcome down = sync(phone);
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("127.0.0.1"), std::string::npos) << down.err;
  EXPECT_EQ(listing(phone), before);
}

// The same through an exchange folder only: `serve --exchange` and
// `sync --remote dir:`, the folder shared (each sync waits for its answers).
// Each way of finding differences, chosen on the command line, says so and
// converges; a bad mode is refused before anything is opened.
TEST_F(TwoDevices, SyncModesFromTheCommandLine) {
  auto serve = Serve("--store " + AddUser() + " --listen 127.0.0.1:0");
  ASSERT_TRUE(serve != nullptr && !serve->url().empty());
  phone_ = "sqlite:" + (dir_ / "phone.db").string();
  laptop_ = "sqlite:" + (dir_ / "laptop.db").string();
  for (const char* title : {"milk", "bread", "tea"}) {
    ASSERT_EQ(Syncstack("put --store " + phone_ +
                        " --collection todo --json '{\"t\":\"" + title + "\"}'")
                  .exit_code,
              0);
  }
  auto sync = [&](const std::string& store, const std::string& mode) {
    return Syncstack("sync --store " + store + " --remote " + serve->url() +
                     " --user alice --password pw1 --mode " + mode);
  };
  Outcome r = sync(phone_, "full");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("todo: full (asked for)"), std::string::npos) << r.out;
  r = sync(laptop_, "auto");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("todo: full (first sync: 3 records streamed)"),
            std::string::npos)
      << r.out;
  ASSERT_EQ(Syncstack("put --store " + laptop_ +
                      " --collection todo --json '{\"t\":\"jam\"}'")
                .exit_code,
            0);
  r = sync(laptop_, "reconcile");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("todo: reconcile (asked for)"), std::string::npos)
      << r.out;
  r = sync(phone_, "reconcile");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Listing(phone_), Listing(laptop_));
  EXPECT_NE(Listing(phone_).find("jam"), std::string::npos);

  std::string fresh = "sqlite:" + (dir_ / "fresh.db").string();
  Outcome bad = sync(fresh, "fastest");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--mode: must be auto, full, reconcile or changes"),
            std::string::npos)
      << bad.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "fresh.db"));
}

TEST_F(TwoDevices, SyncThroughAnExchangeFolderOnly) {
  std::string folder = (dir_ / "exchange").string();
  auto serve = Serve("--store " + AddUser() + " --exchange " + folder +
                     " --exchange-poll-ms 5");
  ASSERT_NE(serve, nullptr);
  Run("dir:" + folder + " --wait 20");
  EXPECT_EQ(serve->Stop(), 0);
}

// Hand-carried: each run goes as far as the answers in the folder allow and
// says it is waiting; the server (running at its site) answers in between.
TEST_F(TwoDevices, AHandCarriedFolderTakesSeveralRuns) {
  std::string folder = (dir_ / "exchange").string();
  auto serve = Serve("--store " + AddUser() + " --exchange " + folder +
                     " --exchange-poll-ms 5 --lease-seconds 3600");
  ASSERT_NE(serve, nullptr);
  std::string phone = "sqlite:" + (dir_ / "phone.db").string();
  ASSERT_EQ(Syncstack("put --store " + phone +
                      " --collection todo --json '{\"t\":\"milk\"}'")
                .exit_code,
            0);
  int runs = 0;
  Outcome r;
  do {
    ++runs;
    r = Syncstack("sync --store " + phone + " --remote dir:" + folder +
                  " --wait 0 --user alice --password pw1 --device phone");
    if (r.exit_code != 0) {
      EXPECT_NE(r.err.find("run again once the server has processed"),
                std::string::npos)
          << r.err;
      usleep(100'000);  // the folder goes to the server and comes back
    }
  } while (r.exit_code != 0 && runs < 20);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(runs, 4);  // login, lock, fetch, synchronise: one answer a run
  std::string laptop = "sqlite:" + (dir_ / "laptop.db").string();
  Outcome l =
      Syncstack("sync --store " + laptop + " --remote dir:" + folder +
                " --wait 20 --user alice --password pw1 --device laptop");
  ASSERT_EQ(l.exit_code, 0) << l.err;
  EXPECT_EQ(Listing(laptop), Listing(phone));
  // A device name that would lead out of the folder is refused.
  Outcome bad = Syncstack("sync --store " + laptop + " --remote dir:" + folder +
                          " --user alice --password pw1 --device ../x");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("device name"), std::string::npos) << bad.err;
}

// A conflict made by two devices through a real server, then read back
// with `syncstack conflicts`, as a table and as JSON.
TEST_F(TwoDevices, ConflictsListsTheJournal) {
  std::string server = AddUser();
  std::string phone = "sqlite:" + (dir_ / "phone.db").string();
  std::string laptop = "sqlite:" + (dir_ / "laptop.db").string();
  {
    auto serve = Serve("--store " + server +
                       " --listen 127.0.0.1:0 --policy server-clock");
    ASSERT_TRUE(serve != nullptr && !serve->url().empty());
    auto sync = [&](const std::string& store, const std::string& device) {
      Outcome r =
          Syncstack("sync --store " + store + " --remote " + serve->url() +
                    " --user alice --password pw1 --device " + device);
      EXPECT_EQ(r.exit_code, 0) << r.err;
    };
    Outcome put = Syncstack("put --store " + phone +
                            " --collection todo --json '{\"t\":\"milk\"}'");
    ASSERT_EQ(put.exit_code, 0) << put.err;
    id_ = put.out.substr(0, 36);
    sync(phone, "phone");
    sync(laptop, "laptop");
    // Both edit it offline; the laptop reaches the server first.
    for (const auto& [store, text] :
         {std::pair{laptop, "oat milk"}, std::pair{phone, "soy milk"}}) {
      Outcome r =
          Syncstack("put --store " + store + " --collection todo " +
                    "--json '{\"id\":\"" + id_ + "\",\"t\":\"" + text + "\"}'");
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    sync(laptop, "laptop");
    sync(phone, "phone");
    EXPECT_EQ(serve->Stop(), 0);
  }

  Outcome table = Syncstack("conflicts --store " + server + " --user alice");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("todo/" + id_), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("device \"phone\""), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("server-clock: kept server"), std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("syncstack: 1 conflict\n"), std::string::npos)
      << table.out;

  Outcome json =
      Syncstack("conflicts --store " + server + " --user alice --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  ASSERT_EQ(std::count(json.out.begin(), json.out.end(), '\n'), 1) << json.out;
  rapidjson::Document entry;
  entry.Parse(json.out.c_str());
  ASSERT_FALSE(entry.HasParseError()) << json.out;
  ASSERT_TRUE(entry.IsObject());
  EXPECT_STREQ(entry["policy"].GetString(), "server-clock");
  EXPECT_STREQ(entry["collection"].GetString(), "todo");
  EXPECT_EQ(entry["id"].GetString(), id_);
  EXPECT_STREQ(entry["device"].GetString(), "phone");
  EXPECT_STREQ(entry["kept"].GetString(), "server");
  ASSERT_TRUE(entry["server"].IsObject());
  ASSERT_TRUE(entry["client"].IsObject());
  EXPECT_NE(std::string(entry["server"]["payload"]["t"].GetString()),
            std::string(entry["client"]["payload"]["t"].GetString()));
  EXPECT_STREQ(entry["server"]["payload"]["t"].GetString(), "oat milk");
  EXPECT_STREQ(entry["client"]["payload"]["t"].GetString(), "soy milk");
  EXPECT_FALSE(entry["server"]["deleted"].GetBool());

  // Unknown user, missing store: one clear line, nothing created.
  std::string missing = (dir_ / "nope.db").string();
  struct Case {
    std::string args;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"conflicts --store " + server + " --user bob", "no user \"bob\""},
           {"conflicts --store sqlite:" + missing + " --user alice",
            "no store at"},
           {"conflicts --store nosuch:x --user alice", "unknown kind"}}) {
    Outcome r = Syncstack(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(missing));
}

// `syncstack gc` on a real server store: bad input changes nothing; a run
// reports what it did.
TEST_F(TwoDevices, GcChecksItsInputAndReports) {
  std::string server = AddUser();
  std::string phone = "sqlite:" + (dir_ / "phone.db").string();
  {
    auto serve = Serve("--store " + server + " --listen 127.0.0.1:0");
    ASSERT_TRUE(serve != nullptr && !serve->url().empty());
    Outcome put = Syncstack("put --store " + phone +
                            " --collection todo --json '{\"t\":\"milk\"}'");
    ASSERT_EQ(put.exit_code, 0) << put.err;
    std::string id = put.out.substr(0, 36);
    std::string sync = "sync --store " + phone + " --remote " + serve->url() +
                       " --user alice --password pw1 --device phone";
    ASSERT_EQ(Syncstack(sync).exit_code, 0);
    ASSERT_EQ(Syncstack("rm --store " + phone + " --collection todo --id " + id)
                  .exit_code,
              0);
    for (int i = 0; i < 3; ++i) {
      Outcome r = Syncstack(sync);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    EXPECT_EQ(serve->Stop(), 0);
  }
  std::string missing = (dir_ / "nope.db").string();
  struct Case {
    std::string args;
    int code;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"gc --store sqlite:" + missing +
                " --user alice --device-ttl-days 30",
            1, "no store at"},
           {"gc --store nosuch:x --user alice --device-ttl-days 30", 1,
            "unknown kind"},
           {"gc --store " + server + " --user alice --device-ttl-days -1", 1,
            "must not be negative"},
           {"gc --store " + server + " --user bob --device-ttl-days 30", 1,
            "no user \"bob\""},
           {"gc --store " + server +
                " --user alice --user bob "
                "--device-ttl-days 0",
            1, "no user \"bob\""},
           {"gc --store " + server + " --user alice", 2, "device-ttl-days"},
           {"gc --store " + server + " --user alice --device-ttl-days x", 2,
            "device-ttl-days"}}) {
    Outcome r = Syncstack(c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("syncstack: ", 0), 0u) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(missing));

  // The phone is live and its mark covers the delete: collected now, so
  // none of the refused runs collected it or moved the horizon.
  Outcome gc =
      Syncstack("gc --store " + server + " --user alice --device-ttl-days 30");
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_NE(gc.out.find("alice: collected 1 tombstones, kept 0; horizon 2 "
                        "(was 0, sequence 2)"),
            std::string::npos)
      << gc.out;
  EXPECT_NE(gc.out.find("devices: 1 live, 0 gone"), std::string::npos)
      << gc.out;
}

// serve --config FILE (issue 15 item 8): the options of the command line as
// TOML keys; the command line wins.
TEST_F(TwoDevices, ServeTakesItsOptionsFromAConfigFile) {
  std::filesystem::path config = dir_ / "serve.toml";
  {
    std::ofstream out(config);
    out << "# a deployment's settings\n"
        << "store = \"" << AddUser() << "\"\n"
        << "listen = \"256.0.0.1:1\"  # overridden by the command line\n"
        << "threads = 2\n"
        << "max-connections = 100\n"
        << "max-clock-ahead = \"10m\"\n";
  }
  auto serve = Serve("--config " + config.string() + " --listen 127.0.0.1:0");
  ASSERT_TRUE(serve != nullptr && !serve->url().empty());
  EXPECT_NE(serve->first_line().find("127.0.0.1"), std::string::npos)
      << serve->first_line();
  Run(serve->url());
  EXPECT_EQ(serve->Stop(), 0) << serve->Stderr();
  // Without the command line's --listen the file's bad address is used.
  Outcome r = Syncstack("serve --config " + config.string());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("256.0.0.1"), std::string::npos) << r.err;
}

TEST_F(CliTest, BadServeConfigFileIsOneLineNamingTheKeyAndLine) {
  struct Case {
    std::string text;
    std::string says;
  };
  const std::string store = "store = \"sqlite:" + (dir_ / "s.db").string() +
                            "\"\nlisten = \"127.0.0.1:0\"\n";
  std::vector<Case> cases = {
      {store + "max-conections = 5\n", ":3: unknown key \"max-conections\""},
      {store + "max-connections = \"5\"\n",
       ":3: \"max-connections\" wants an integer, not a string"},
      {store + "max-body = -1\n", ":3: \"max-body\" wants an integer >= 0"},
      {store + "threads = 99999999999\n", ":3: \"threads\": the argument"},
      {store + "tls-cert = 5\n", ":3: \"tls-cert\" wants a string"},
      {store + "[tls]\ncert = \"x\"\n", ":3: unknown key \"tls\""},
      {store + "config = \"other.toml\"\n", ":3: unknown key \"config\""},
      {store + "threads = \n", ":3:"},
  };
  int n = 0;
  for (const auto& c : cases) {
    std::filesystem::path config =
        dir_ / ("bad" + std::to_string(n++) + ".toml");
    std::ofstream(config) << c.text;
    Outcome r = Syncstack("serve --config " + config.string());
    EXPECT_EQ(r.exit_code, 2) << c.text << "\n" << r.err;
    EXPECT_NE(r.err.find(config.string() + c.says), std::string::npos)
        << c.text << " said: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  Outcome missing =
      Syncstack("serve --config " + (dir_ / "none.toml").string());
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find("No such file"), std::string::npos) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "s.db"));
}

// docs/serve.example.toml is a working file: with the store, the address
// and the certificate files of this test on the command line, it serves.
TEST_F(CliTest, TheSampleServeConfigFileWorks) {
  std::string make =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-keyout key.pem -out cert.pem -days 2 -subj /CN=127.0.0.1 "
      ">/dev/null 2>&1";
  ASSERT_EQ(Run("cd " + dir_.string() + " &&", make).exit_code, 0);
  auto serve = ServeProcess::Start(
      {SYNCSTACK_BIN,
       {"--config", SYNCSTACK_DOCS_DIR "/serve.example.toml", "--store",
        "sqlite:" + (dir_ / "s.db").string(), "--listen", "127.0.0.1:0",
        "--tls-cert", (dir_ / "cert.pem").string(), "--tls-key",
        (dir_ / "key.pem").string()}});
  ASSERT_TRUE(serve.ok()) << serve.status().ToString();
  EXPECT_TRUE((*serve)->url().starts_with("https://127.0.0.1:"))
      << (*serve)->first_line();
  EXPECT_EQ((*serve)->Stop(), 0) << (*serve)->Stderr();
}

}  // namespace
