// `syncstack serve --reconcile-cache-mb N` (issue 13, item 5): a value that
// is not a whole number of MiB between 0 and 1048576 is refused with one
// line naming the flag, before anything is opened or created; accepted
// values (0 keeps no index) serve reconciliation as before. The cache's
// byte bound and eviction themselves: item_cache_test.cc.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "kits/run_command.h"
#include "kits/serve_process.h"

namespace syncstack::testing {
namespace {

class ReconcileCacheFlag : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "syncstack-cache-XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  CommandOutcome Syncstack(const std::string& args) {
    return RunCommand(std::string(SYNCSTACK_BIN) + " " + args, dir_);
  }

  std::filesystem::path dir_;
};

TEST_F(ReconcileCacheFlag, BadValuesAreRefusedAndCreateNothing) {
  const std::filesystem::path never = dir_ / "never.db";
  for (const char* bad : {"-1", "1048577", "lots", "12MB", "1.5", "''"}) {
    SCOPED_TRACE(bad);
    CommandOutcome r =
        Syncstack("serve --store sqlite:" + never.string() +
                  " --listen 127.0.0.1:0 --reconcile-cache-mb " + bad);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("reconcile-cache-mb"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("serving"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("serving"), std::string::npos) << r.out;
    EXPECT_FALSE(std::filesystem::exists(never));
  }
  CommandOutcome range =
      Syncstack("serve --store sqlite:" + never.string() +
                " --listen 127.0.0.1:0 --reconcile-cache-mb 1048577");
  EXPECT_NE(range.err.find("between 0 and 1048576"), std::string::npos)
      << range.err;
}

TEST_F(ReconcileCacheFlag, AcceptedValuesServeReconciliation) {
  const std::string server = "sqlite:" + (dir_ / "server.db").string();
  CommandOutcome added =
      Syncstack("user add --store " + server + " --user alice --password pw1");
  ASSERT_EQ(added.exit_code, 0) << added.err;
  const std::string phone = "sqlite:" + (dir_ / "phone.db").string();
  for (int i = 0; i < 3; ++i) {
    CommandOutcome put = Syncstack(
        "put --store " + phone +
        " --collection todo --json '{\"n\":" + std::to_string(i) + "}'");
    ASSERT_EQ(put.exit_code, 0) << put.err;
  }
  for (const char* mb : {"0", "1"}) {
    SCOPED_TRACE(mb);
    auto serve =
        ServeProcess::Start({SYNCSTACK_BIN,
                             {"--store", server, "--listen", "127.0.0.1:0",
                              "--reconcile-cache-mb", mb}});
    ASSERT_TRUE(serve.ok()) << serve.status().ToString();
    const std::string laptop =
        "sqlite:" + (dir_ / (std::string("laptop") + mb + ".db")).string();
    for (const std::string& store : {phone, laptop, laptop}) {
      CommandOutcome sync =
          Syncstack("sync --store " + store + " --remote " + (*serve)->url() +
                    " --user alice --password pw1 --mode reconcile");
      ASSERT_EQ(sync.exit_code, 0) << sync.err;
    }
    CommandOutcome listed = Syncstack("ls --store " + laptop + " --json");
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    for (int i = 0; i < 3; ++i) {
      EXPECT_NE(listed.out.find("\"n\":" + std::to_string(i)),
                std::string::npos)
          << listed.out;
    }
    EXPECT_EQ((*serve)->Stop(), 0) << (*serve)->Stderr();
  }
}

}  // namespace
}  // namespace syncstack::testing
