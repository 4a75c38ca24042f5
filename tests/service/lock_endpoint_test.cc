// /v1/lock through the service (issue 14): a device name is no proof of
// being that device. The first grant gives a device secret; a request with
// the holder's name but neither its lease nor its secret gets 423, and no
// 423 names the holder; the secret takes the device's own lease over.
#include <gtest/gtest.h>

#include <string>

#include "memory_server.h"
#include "syncstack/codec.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/registry.h"
#include "syncstack/protocol.h"
#include "syncstack/service.h"

namespace syncstack {
namespace {

constexpr Timestamp kNow = 1796169600000;  // 2026-12-02 00:00:00 UTC

class LockEndpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = testing::NewMemoryServer(clock_, "lww");
    ASSERT_NE(server_, nullptr);
    service_ = &server_->service();
    Request login;
    login.method = "POST";
    login.path = kLoginPath;
    EncodeLoginRequest(LoginRequest{"alice", ""}, login.body);
    Response answer = service_->Handle(login);
    ASSERT_EQ(answer.status, 200) << answer.body;
    auto decoded = DecodeLoginResponse(answer.body);
    ASSERT_TRUE(decoded.ok());
    token_ = decoded->token;
  }

  Response Lock(const std::string& device, const std::string& lease,
                const std::string& secret) {
    Request request;
    request.method = "POST";
    request.path = kLockPath;
    request.token = token_;
    request.lease = lease;
    LockRequest body;
    body.device = device;
    body.device_secret = secret;
    EncodeLockRequest(body, request.body);
    return service_->Handle(request);
  }

  ManualClock clock_{kNow};
  std::unique_ptr<InProcessServer> server_;
  SyncService* service_ = nullptr;  // server_'s
  std::string token_;
};

TEST_F(LockEndpoint, TheHoldersNameWithoutProofGets423NamingNoOne) {
  const std::string device = "alices-phone-7f3a";
  Response first = Lock(device, "", "");
  ASSERT_EQ(first.status, 200) << first.body;
  auto granted = DecodeLockResponse(first.body);
  ASSERT_TRUE(granted.ok());
  ASSERT_EQ(granted->device_secret.size(), 32u) << first.body;

  for (const std::string& secret :
       {std::string(), std::string(32, 'f'), granted->lease}) {
    Response refused = Lock(device, "", secret);
    EXPECT_EQ(refused.status, 423) << refused.body;
    EXPECT_EQ(refused.body.find(device), std::string::npos) << refused.body;
    EXPECT_GT(refused.retry_after, 0);
    int64_t retry = -1;
    Status s = DecodeError(refused.status, refused.body, &retry);
    EXPECT_EQ(s.code(), Status::Code::kLocked);
    EXPECT_EQ(s.message(), "locked by another device, retry in 30 s");
  }
  // Another device of the account is told the same, and not who holds it.
  Response other = Lock("laptop", "", "");
  EXPECT_EQ(other.status, 423);
  EXPECT_EQ(other.body.find(device), std::string::npos) << other.body;

  // The holder keeps renewing; the answer carries no new secret.
  Response renewed = Lock(device, granted->lease, "");
  ASSERT_EQ(renewed.status, 200) << renewed.body;
  EXPECT_EQ(renewed.body.find("_device_secret"), std::string::npos);
}

TEST_F(LockEndpoint, TheDeviceSecretTakesTheDevicesOwnLeaseOver) {
  Response first = Lock("phone", "", "");
  ASSERT_EQ(first.status, 200) << first.body;
  auto granted = DecodeLockResponse(first.body);
  ASSERT_TRUE(granted.ok());
  // The device crashed and lost its lease, but kept its secret.
  Response again = Lock("phone", "", granted->device_secret);
  ASSERT_EQ(again.status, 200) << again.body;
  auto taken = DecodeLockResponse(again.body);
  ASSERT_TRUE(taken.ok());
  EXPECT_NE(taken->lease, granted->lease);
  EXPECT_TRUE(taken->device_secret.empty());
  // The earlier run's lease is gone.
  EXPECT_EQ(Lock("phone", granted->lease, "").status, 423);
}

TEST_F(LockEndpoint, AfterExpiryTheNameAloneGetsTheLockAsInTheSeedProtocol) {
  Response first = Lock("phone", "", "");
  ASSERT_EQ(first.status, 200) << first.body;
  clock_.Advance(30'001);
  Response again = Lock("phone", "", "");
  ASSERT_EQ(again.status, 200) << again.body;
  auto answer = DecodeLockResponse(again.body);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->device_secret.size(), 32u);
}

}  // namespace
}  // namespace syncstack
