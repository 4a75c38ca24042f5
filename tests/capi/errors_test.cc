// The C API's error paths: every bad input gets a status and a message,
// and changes nothing.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "syncstack/syncstack.h"

namespace {

// Takes a string the library handed out.
std::string Take(char* text) {
  std::string out = text != nullptr ? text : "";
  syncstack_free(text);
  return out;
}

class CApiErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(syncstack_open("memory:", &device_), SYNCSTACK_OK)
        << syncstack_last_error();
    char* id = nullptr;
    ASSERT_EQ(
        syncstack_put(device_, "todo", nullptr, R"({"title":"milk"})", &id),
        SYNCSTACK_OK);
    milk_ = Take(id);
    before_ = List();
  }
  void TearDown() override {
    EXPECT_EQ(syncstack_close(device_), SYNCSTACK_OK);
  }

  std::string List() {
    char* json = nullptr;
    EXPECT_EQ(syncstack_list(device_, "todo", &json), SYNCSTACK_OK);
    return Take(json);
  }
  std::string LastError() { return syncstack_last_error(); }

  syncstack_device* device_ = nullptr;
  std::string milk_;
  std::string before_;
};

TEST(CApiOpen, BadUrisAreRefusedWithAMessage) {
  syncstack_device* device = reinterpret_cast<syncstack_device*>(0x1);
  EXPECT_EQ(syncstack_open("nosuch:x", &device), SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_EQ(device, nullptr);
  EXPECT_NE(std::string(syncstack_last_error()).find("nosuch"),
            std::string::npos)
      << syncstack_last_error();
  EXPECT_EQ(syncstack_open("sqlite:", &device), SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_NE(std::string(syncstack_last_error()).find("needs a path"),
            std::string::npos);
  EXPECT_EQ(syncstack_open("memory:extra", &device),
            SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_EQ(syncstack_open("no scheme", &device), SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_EQ(syncstack_open(nullptr, &device), SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_EQ(syncstack_open("memory:", nullptr), SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_EQ(syncstack_close(nullptr), SYNCSTACK_OK);
  EXPECT_STREQ(syncstack_last_error(), "");
}

TEST_F(CApiErrors, BadJsonChangesNothing) {
  for (const char* json : {"{", "[1,2]", "not json", R"({"title":})", ""}) {
    char* id = reinterpret_cast<char*>(0x1);
    EXPECT_EQ(syncstack_put(device_, "todo", nullptr, json, &id),
              SYNCSTACK_INVALID_ARGUMENT)
        << json;
    EXPECT_EQ(id, nullptr);
    EXPECT_NE(LastError().find("json"), std::string::npos) << LastError();
  }
  EXPECT_EQ(List(), before_);
}

TEST_F(CApiErrors, BadIdsChangeNothing) {
  EXPECT_EQ(syncstack_put(device_, "todo", "not-a-uuid", R"({"t":1})", nullptr),
            SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_NE(LastError().find("id"), std::string::npos) << LastError();
  // The argument and the object's id key disagree.
  std::string other = "00000000-0000-4000-8000-000000000001";
  std::string json = R"({"id":")" + other + R"(","t":1})";
  EXPECT_EQ(
      syncstack_put(device_, "todo", milk_.c_str(), json.c_str(), nullptr),
      SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_NE(LastError().find("differs"), std::string::npos) << LastError();
  EXPECT_EQ(syncstack_delete(device_, "todo", "zz"),
            SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_EQ(syncstack_delete(device_, "todo", other.c_str()),
            SYNCSTACK_NOT_FOUND);
  char* got = nullptr;
  EXPECT_EQ(syncstack_get(device_, "todo", other.c_str(), &got),
            SYNCSTACK_NOT_FOUND);
  EXPECT_EQ(got, nullptr);
  EXPECT_NE(LastError().find(other), std::string::npos) << LastError();
  EXPECT_EQ(syncstack_get(device_, "todo", "", &got),
            SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_EQ(List(), before_);
}

TEST_F(CApiErrors, BadCollectionNamesAndNullsChangeNothing) {
  EXPECT_EQ(syncstack_put(device_, "", nullptr, R"({"t":1})", nullptr),
            SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_EQ(syncstack_put(device_, "a b/c", nullptr, R"({"t":1})", nullptr),
            SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_EQ(syncstack_put(device_, nullptr, nullptr, R"({"t":1})", nullptr),
            SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_NE(LastError().find("collection"), std::string::npos) << LastError();
  EXPECT_EQ(syncstack_put(nullptr, "todo", nullptr, R"({"t":1})", nullptr),
            SYNCSTACK_INVALID_ARGUMENT);
  char* json = nullptr;
  EXPECT_EQ(syncstack_list(device_, "", &json), SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_EQ(json, nullptr);
  EXPECT_EQ(List(), before_);
  ASSERT_EQ(syncstack_collections(device_, &json), SYNCSTACK_OK);
  EXPECT_EQ(Take(json), R"(["todo"])");
}

TEST_F(CApiErrors, PutGetDeleteRoundTrip) {
  char* json = nullptr;
  ASSERT_EQ(syncstack_get(device_, "todo", milk_.c_str(), &json), SYNCSTACK_OK);
  std::string got = Take(json);
  EXPECT_NE(got.find(R"("id":")" + milk_ + "\""), std::string::npos) << got;
  EXPECT_NE(got.find(R"("title":"milk")"), std::string::npos) << got;
  EXPECT_NE(got.find(R"("_state":"created")"), std::string::npos) << got;
  EXPECT_NE(got.find(R"("last_update":")"), std::string::npos) << got;
  EXPECT_EQ(syncstack_delete(device_, "todo", milk_.c_str()), SYNCSTACK_OK);
  EXPECT_EQ(List(), "[]");
  EXPECT_EQ(syncstack_delete(device_, "todo", milk_.c_str()),
            SYNCSTACK_NOT_FOUND);
}

TEST_F(CApiErrors, SyncOptionsAreCheckedBeforeAnythingIsSent) {
  syncstack_sync_options o;
  ASSERT_EQ(syncstack_sync_options_init(&o), SYNCSTACK_OK);
  auto sync = [&] { return syncstack_sync(device_, &o, nullptr); };
  EXPECT_EQ(sync(), SYNCSTACK_INVALID_ARGUMENT);  // no remote
  EXPECT_NE(LastError().find("remote"), std::string::npos) << LastError();
  o.remote = "http://127.0.0.1:9";
  EXPECT_EQ(sync(), SYNCSTACK_INVALID_ARGUMENT);  // no user
  o.user = "mark";
  EXPECT_EQ(sync(), SYNCSTACK_INVALID_ARGUMENT);  // no password
  o.password = "pw";
  o.mode = "fast";
  EXPECT_EQ(sync(), SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_NE(LastError().find("auto, full, reconcile or changes"),
            std::string::npos);
  o.mode = "full";
  o.collections = "todo,bad name";
  EXPECT_EQ(sync(), SYNCSTACK_INVALID_ARGUMENT);
  o.collections = nullptr;
  o.token = "t0ken";
  EXPECT_EQ(sync(), SYNCSTACK_NOT_SUPPORTED);
  EXPECT_NE(LastError().find("token"), std::string::npos);
  o.token = nullptr;
  o.ca_file = "/etc/ssl/certs/ca-certificates.crt";  // a CA file, for https
  EXPECT_EQ(sync(), SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_NE(LastError().find("https:// servers only"), std::string::npos)
      << LastError();
  o.ca_file = nullptr;
  o.remote = "ftp://example";
  EXPECT_EQ(sync(), SYNCSTACK_INVALID_ARGUMENT);
  o.remote = "http://127.0.0.1:9";
  o.lock_wait_ms = -1;
  EXPECT_EQ(sync(), SYNCSTACK_INVALID_ARGUMENT);
  syncstack_sync_options old = o;
  old.struct_size = 0;  // not initialised
  EXPECT_EQ(syncstack_sync(device_, &old, nullptr), SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_EQ(syncstack_sync(device_, nullptr, nullptr),
            SYNCSTACK_INVALID_ARGUMENT);
  EXPECT_EQ(List(), before_);
}

TEST(CApiSimulate, BadOptionsAreRefused) {
  for (const char* bad :
       {"{", "[]", R"({"devises":3})", R"({"devices":0})",
        R"({"policies":["no-such-policy"]})", R"({"offline":2})",
        R"({"skew":[-1]})", R"({"store":"disk"})", R"({"ops":1.5})"}) {
    char* rows = reinterpret_cast<char*>(0x1);
    EXPECT_EQ(syncstack_simulate(bad, &rows), SYNCSTACK_INVALID_ARGUMENT)
        << bad;
    EXPECT_EQ(rows, nullptr);
    EXPECT_NE(std::string(syncstack_last_error()), "") << bad;
  }
  EXPECT_NE(std::string(syncstack_last_error()).find("ops"), std::string::npos);
}

TEST(CApiSimulate, RowsPerSkewAndPolicy) {
  char* rows = nullptr;
  ASSERT_EQ(syncstack_simulate(R"({"devices":2,"records":5,"ops":20,
                                   "skew":[0,5],"seed":7,
                                   "policies":["lww","server-clock"]})",
                               &rows),
            SYNCSTACK_OK)
      << syncstack_last_error();
  std::string text = Take(rows);
  size_t lww = text.find(R"("policy":"lww")");
  size_t server = text.find(R"("policy":"server-clock")");
  ASSERT_NE(lww, std::string::npos) << text;
  ASSERT_NE(server, std::string::npos) << text;
  EXPECT_LT(lww, server);
  EXPECT_NE(text.find(R"("skew_seconds":5)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("writes":20)"), std::string::npos) << text;
  size_t objects = 0;
  for (size_t at = 0; (at = text.find("\"policy\"", at)) != std::string::npos;
       ++at) {
    ++objects;
  }
  EXPECT_EQ(objects, 4u);
}

TEST_F(CApiErrors, ListEachStopsWhenTheCallbackSaysSo) {
  ASSERT_EQ(syncstack_put(device_, "todo", nullptr, R"({"t":2})", nullptr),
            SYNCSTACK_OK);
  int seen = 0;
  auto stop_at_first = [](void* context, const char*) {
    ++*static_cast<int*>(context);
    return 1;
  };
  EXPECT_EQ(syncstack_list_each(device_, "todo", stop_at_first, &seen),
            SYNCSTACK_ABORTED);
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(syncstack_list_each(device_, "todo", nullptr, nullptr),
            SYNCSTACK_INVALID_ARGUMENT);
}

// The last error is per thread: another thread's failure leaves this
// thread's message alone, and a success clears it.
TEST_F(CApiErrors, LastErrorIsPerThread) {
  EXPECT_EQ(syncstack_delete(device_, "todo", "zz"),
            SYNCSTACK_INVALID_ARGUMENT);
  std::string mine = LastError();
  std::thread other([] {
    syncstack_device* d = nullptr;
    EXPECT_EQ(syncstack_open("nosuch:", &d), SYNCSTACK_INVALID_ARGUMENT);
  });
  other.join();
  EXPECT_EQ(LastError(), mine);
  char* json = nullptr;
  EXPECT_EQ(syncstack_get(device_, "todo", milk_.c_str(), &json), SYNCSTACK_OK);
  syncstack_free(json);
  EXPECT_EQ(LastError(), "");
}

// Puts from several threads at once on one handle (documented as safe).
TEST_F(CApiErrors, ConcurrentPutsOnOneDevice) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this] {
      for (int i = 0; i < 25; ++i) {
        EXPECT_EQ(
            syncstack_put(device_, "notes", nullptr, R"({"n":1})", nullptr),
            SYNCSTACK_OK);
      }
    });
  }
  for (auto& t : threads) t.join();
  int n = 0;
  auto count = [](void* c, const char*) {
    ++*static_cast<int*>(c);
    return 0;
  };
  EXPECT_EQ(syncstack_list_each(device_, "notes", count, &n), SYNCSTACK_OK);
  EXPECT_EQ(n, 100);
}

TEST(CApiNames, StatusNames) {
  EXPECT_STREQ(syncstack_status_name(SYNCSTACK_OK), "ok");
  EXPECT_STREQ(syncstack_status_name(SYNCSTACK_NOT_SUPPORTED), "not_supported");
  EXPECT_STREQ(syncstack_status_name(static_cast<syncstack_status>(77)),
               "unknown");
  EXPECT_STRNE(syncstack_version(), "");
}

}  // namespace
