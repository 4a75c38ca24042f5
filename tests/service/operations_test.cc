// The operator's side of the service (issue 15): /healthz, /readyz (503
// with the reason when the store fails), /metrics (404 without metrics,
// its token), and what the ServiceObserver hears: every request once with
// its endpoint, status, request id, user and device; records written by
// kind; sync sessions from grant to release; lock waits; login failures.
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "syncstack/codec.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/registry.h"
#include "syncstack/protocol.h"
#include "syncstack/service.h"

namespace syncstack {
namespace {

constexpr Timestamp kNow = 1796169600000;  // 2026-12-02 00:00:00 UTC

struct SeenRequest {
  Endpoint endpoint;
  int status;
  std::string request_id, user, device, message;
};

class RecordingObserver final : public ServiceObserver {
 public:
  void OnRequest(const RequestEvent& e) noexcept override {
    std::lock_guard<std::mutex> guard(mu);
    requests.push_back({e.endpoint, e.status, std::string(e.request_id),
                        std::string(e.user), std::string(e.device),
                        std::string(e.message)});
  }
  void OnSyncSession(std::chrono::nanoseconds d) noexcept override {
    sessions.push_back(d);
  }
  void OnRecordsWritten(WriteKind kind, uint64_t n) noexcept override {
    written[static_cast<int>(kind)] += n;
  }
  void OnConflicts(std::string_view policy, uint64_t n) noexcept override {
    conflict_policy = policy;
    conflicts += n;
  }
  void OnLockWait() noexcept override { ++lock_waits; }
  void OnLoginFailure() noexcept override { ++login_failures; }
  void OnStoreApply(std::chrono::nanoseconds) noexcept override { ++applies; }
  bool WriteMetrics(std::string& out) noexcept override {
    if (!has_metrics) return false;
    out = "syncstack_up 1\n";
    return true;
  }

  std::mutex mu;
  std::vector<SeenRequest> requests;
  std::vector<std::chrono::nanoseconds> sessions;
  uint64_t written[3] = {0, 0, 0};
  std::string conflict_policy;
  uint64_t conflicts = 0, lock_waits = 0, login_failures = 0, applies = 0;
  bool has_metrics = false;
};

// A database whose stores fail every read of metadata.
class BrokenDatabase final : public Database {
 public:
  class BrokenStore final : public StoreWrapper {
   public:
    BrokenStore(std::shared_ptr<Store> target)
        : StoreWrapper(*target), target_(std::move(target)) {}
    Result<std::optional<std::string>> GetMeta(
        std::string_view) noexcept override {
      return Status::IOError("disk on fire");
    }

   private:
    std::shared_ptr<Store> target_;
  };
  explicit BrokenDatabase(Database& target) : target_(target) {}
  Result<std::shared_ptr<Store>> OpenAccount(
      std::string_view account) noexcept override {
    auto opened = target_.OpenAccount(account);
    if (!opened.ok()) return opened.status();
    return std::shared_ptr<Store>(std::make_shared<BrokenStore>(*opened));
  }

 private:
  Database& target_;
};

Request Get(std::string_view path, std::string token = "") {
  Request r;
  r.method = "GET";
  r.path = std::string(path);
  r.token = std::move(token);
  return r;
}

class Operations : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenMemoryDatabase();
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    auto policy = NewPolicyByName("lww");
    ASSERT_TRUE(policy.ok());
    policy_ = std::move(*policy);
    lock_ = NewMemorySyncLock(clock_, std::chrono::seconds(30));
    auth_ = NewInProcessAuthenticator();
  }

  void Start(Database& db, SyncServiceOptions options = {}) {
    options.observer = &observer_;
    service_ = std::make_unique<SyncService>(db, *policy_, clock_, *lock_,
                                             *auth_, Schema(), options);
  }

  std::string Login(const std::string& user) {
    Request login;
    login.method = "POST";
    login.path = kLoginPath;
    EncodeLoginRequest(LoginRequest{user, ""}, login.body);
    Response answer = service_->Handle(login);
    EXPECT_EQ(answer.status, 200) << answer.body;
    auto decoded = DecodeLoginResponse(answer.body);
    return decoded.ok() ? decoded->token : "";
  }

  Response Lock(const std::string& token, const std::string& device,
                const std::string& method = "POST",
                const std::string& lease = "") {
    Request r;
    r.method = method;
    r.path = kLockPath;
    r.token = token;
    r.lease = lease;
    if (method == "POST") {
      LockRequest body;
      body.device = device;
      EncodeLockRequest(body, r.body);
    }
    return service_->Handle(r);
  }

  Response Sync(const std::string& token, const std::string& lease,
                const std::string& body) {
    Request r;
    r.method = "POST";
    r.path = kSynchronisePath;
    r.token = token;
    r.lease = lease;
    r.body = body;
    r.request_id = "req-sync";
    return service_->Handle(r);
  }

  ManualClock clock_{kNow};
  std::unique_ptr<Database> db_;
  std::unique_ptr<ConflictPolicy> policy_;
  std::unique_ptr<SyncLock> lock_;
  std::unique_ptr<Authenticator> auth_;
  RecordingObserver observer_;
  std::unique_ptr<SyncService> service_;
};

TEST_F(Operations, HealthAndReadinessWantNoToken) {
  Start(*db_);
  for (std::string_view path : {kHealthzPath, kReadyzPath}) {
    Response answer = service_->Handle(Get(path));
    EXPECT_EQ(answer.status, 200) << path;
    EXPECT_EQ(answer.body, "{\"status\":\"ok\"}") << path;
  }
  Request head = Get(kHealthzPath);
  head.method = "HEAD";
  EXPECT_EQ(service_->Handle(head).status, 200);
  Request post = Get(kHealthzPath);
  post.method = "POST";
  EXPECT_EQ(service_->Handle(post).status, 404);
}

TEST_F(Operations, ReadinessIs503WithTheReasonWhenTheStoreFails) {
  BrokenDatabase broken(*db_);
  Start(broken);
  Response answer = service_->Handle(Get(kReadyzPath));
  EXPECT_EQ(answer.status, 503);
  EXPECT_NE(answer.body.find("\"status\":\"unavailable\""), std::string::npos)
      << answer.body;
  EXPECT_NE(answer.body.find("disk on fire"), std::string::npos) << answer.body;
  EXPECT_EQ(service_->Handle(Get(kHealthzPath)).status, 200);
}

TEST_F(Operations, MetricsAre404WithoutMetricsAndWantTheirToken) {
  Start(*db_);
  EXPECT_EQ(service_->Handle(Get(kMetricsPath)).status, 404);
  observer_.has_metrics = true;
  Response open = service_->Handle(Get(kMetricsPath));
  EXPECT_EQ(open.status, 200);
  EXPECT_EQ(open.body, "syncstack_up 1\n");
  EXPECT_EQ(open.content_type, "text/plain; version=0.0.4; charset=utf-8");

  SyncServiceOptions options;
  options.metrics_token = "scrape-token";
  Start(*db_, options);
  EXPECT_EQ(service_->Handle(Get(kMetricsPath)).status, 401);
  EXPECT_EQ(service_->Handle(Get(kMetricsPath, "scrape-tokem")).status, 401);
  EXPECT_EQ(service_->Handle(Get(kMetricsPath, "scrape-token")).status, 200);
  EXPECT_EQ(service_->Handle(Get(kHealthzPath)).status, 200);
}

TEST_F(Operations, TheObserverHearsRequestsWritesSessionsAndWaits) {
  Start(*db_);
  const std::string token = Login("alice");
  Response lock = Lock(token, "phone");
  ASSERT_EQ(lock.status, 200) << lock.body;
  const std::string lease = DecodeLockResponse(lock.body)->lease;
  EXPECT_EQ(Lock(Login("alice"), "laptop").status, 423);
  EXPECT_EQ(observer_.lock_waits, 1u);

  const std::string a = "11111111-1111-4111-8111-111111111111";
  const std::string b = "22222222-2222-4222-8222-222222222222";
  Response first =
      Sync(token, lease,
           R"({"add":{"notes":[{"id":")" + a +
               R"(","t":1,"last_update":"2026-12-01 00:00:00"},)"
               R"({"id":")" +
               b + R"(","t":1,"last_update":"2026-12-01 00:00:00"}]}})");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(observer_.written[static_cast<int>(WriteKind::kAdd)], 2u);
  Response second = Sync(
      token, lease,
      R"({"update":{"notes":[{"id":")" + a +
          R"(","t":2,"last_update":"2026-12-01 00:00:01"},{"id":")" + b +
          R"(","t":3,"last_update":"2020-01-01 00:00:00"}]},"delete":{"notes":[]}})");
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(observer_.written[static_cast<int>(WriteKind::kUpdate)], 1u);
  EXPECT_EQ(observer_.conflicts, 1u) << second.body;
  EXPECT_EQ(observer_.conflict_policy, policy_->name());
  Response third =
      Sync(token, lease, R"({"delete":{"notes":[")" + a + R"("]}})");
  ASSERT_EQ(third.status, 200) << third.body;
  EXPECT_EQ(observer_.written[static_cast<int>(WriteKind::kDelete)], 1u);
  EXPECT_EQ(observer_.written[static_cast<int>(WriteKind::kAdd)], 2u);
  EXPECT_GE(observer_.applies, 3u);

  EXPECT_TRUE(observer_.sessions.empty());
  clock_.Advance(10);
  ASSERT_EQ(Lock(token, "", "DELETE", lease).status, 204);
  EXPECT_EQ(observer_.sessions.size(), 1u);
  ASSERT_EQ(Lock(token, "", "DELETE", lease).status, 204);
  EXPECT_EQ(observer_.sessions.size(), 1u) << "a session ends once";

  const SeenRequest& sync = observer_.requests[observer_.requests.size() - 3];
  EXPECT_EQ(sync.endpoint, Endpoint::kSynchronise);
  EXPECT_EQ(sync.status, 200);
  EXPECT_EQ(sync.request_id, "req-sync");
  EXPECT_EQ(sync.user, "alice");
  EXPECT_EQ(sync.device, "phone");
  const SeenRequest& unlock = observer_.requests[observer_.requests.size() - 2];
  EXPECT_EQ(unlock.endpoint, Endpoint::kUnlock);
  EXPECT_EQ(unlock.device, "phone");
  size_t waits = 0;
  for (const SeenRequest& r : observer_.requests) {
    if (r.status == 423) {
      ++waits;
      EXPECT_EQ(r.endpoint, Endpoint::kLock);
      EXPECT_EQ(r.device, "laptop");
      EXPECT_FALSE(r.message.empty());
    }
    EXPECT_EQ(r.message.find(lease), std::string::npos);
    EXPECT_EQ(r.message.find(token), std::string::npos);
  }
  EXPECT_EQ(waits, 1u);
}

TEST_F(Operations, AWrongPasswordIsALoginFailureAndUnknownPathsAreOther) {
  Start(*db_);
  Request bad;
  bad.method = "POST";
  bad.path = kLoginPath;
  EncodeLoginRequest(LoginRequest{std::string(200, 'x'), "pw"},
                     bad.body);  // a name no account has
  EXPECT_EQ(service_->Handle(bad).status, 401);
  EXPECT_EQ(observer_.login_failures, 1u);
  EXPECT_EQ(service_->Handle(Get("/v1/../etc/passwd")).status, 404);
  ASSERT_EQ(observer_.requests.size(), 2u);
  EXPECT_EQ(observer_.requests[0].endpoint, Endpoint::kLogin);
  EXPECT_EQ(observer_.requests[1].endpoint, Endpoint::kOther);
}

TEST(EndpointNames, AFixedSetWithOtherForTheRest) {
  EXPECT_EQ(EndpointName(EndpointOf("POST", "/v1/login")), "login");
  EXPECT_EQ(EndpointName(EndpointOf("POST", "/v1/lock")), "lock");
  EXPECT_EQ(EndpointName(EndpointOf("DELETE", "/v1/lock")), "unlock");
  EXPECT_EQ(EndpointName(EndpointOf("GET", "/v1/fetch.json")), "fetch");
  EXPECT_EQ(EndpointName(EndpointOf("POST", "/v1/synchronise.json")),
            "synchronise");
  EXPECT_EQ(EndpointName(EndpointOf("GET", "/v1/manifest")), "manifest");
  EXPECT_EQ(EndpointName(EndpointOf("GET", "/v1/records")), "records");
  EXPECT_EQ(EndpointName(EndpointOf("POST", "/v1/reconcile")), "reconcile");
  EXPECT_EQ(EndpointName(EndpointOf("HEAD", "/healthz")), "healthz");
  EXPECT_EQ(EndpointName(EndpointOf("GET", "/readyz")), "readyz");
  EXPECT_EQ(EndpointName(EndpointOf("GET", "/metrics")), "metrics");
  EXPECT_EQ(EndpointName(EndpointOf("GET", "/v1/login")), "other");
  EXPECT_EQ(EndpointName(EndpointOf("PUT", "/v1/lock")), "other");
  EXPECT_EQ(EndpointName(EndpointOf("GET", "/anything/else")), "other");
  EXPECT_EQ(WriteKindName(WriteKind::kAdd), "add");
  EXPECT_EQ(WriteKindName(WriteKind::kUpdate), "update");
  EXPECT_EQ(WriteKindName(WriteKind::kDelete), "delete");
}

}  // namespace
}  // namespace syncstack
