// Out-of-line virtual destructors and the system clock.
#include <chrono>

#include "syncstack/clock.h"
#include "syncstack/conflict_policy.h"
#include "syncstack/engine.h"
#include "syncstack/service.h"
#include "syncstack/store.h"
#include "syncstack/sync_lock.h"
#include "syncstack/transport.h"

namespace syncstack {

Store::~Store() = default;
Database::~Database() = default;
ManifestIterator::~ManifestIterator() = default;
Transport::~Transport() = default;
Handler::~Handler() = default;
BodySource::~BodySource() = default;

size_t Handler::MaxBody(std::string_view, std::string_view) const noexcept {
  return static_cast<size_t>(-1);
}
Clock::~Clock() = default;
ConflictPolicy::~ConflictPolicy() = default;
SyncLock::~SyncLock() = default;
Authenticator::~Authenticator() = default;

Result<std::string> Authenticator::LoginFrom(std::string_view,
                                             std::string_view user,
                                             std::string_view password,
                                             int64_t&) noexcept {
  return Login(user, password);
}

std::optional<std::string> Authenticator::SignToken(std::string_view,
                                                    Timestamp) noexcept {
  return std::nullopt;
}

Result<std::string> Authenticator::VerifyToken(std::string_view,
                                               Timestamp) noexcept {
  return Status::Unauthorized("unknown token");
}
SyncObserver::~SyncObserver() = default;

Status ReadWholeBody(Response& response, size_t max_bytes) noexcept {
  std::shared_ptr<BodySource> source = std::move(response.source);
  response.source.reset();
  if (!source) return Status::Ok();
  constexpr size_t kPiece = size_t{256} << 10;
  try {
    while (true) {
      auto more = source->Next(kPiece, response.body);
      if (!more.ok()) {
        std::string().swap(response.body);
        return more.status();
      }
      if (!*more) return Status::Ok();
      if (response.body.size() > max_bytes) {
        std::string().swap(response.body);
        return Status::TooLarge("answer body over " +
                                std::to_string(max_bytes) + " bytes");
      }
    }
  } catch (const std::exception& e) {
    std::string().swap(response.body);
    return Status::IOError(std::string("answer body: ") + e.what());
  }
}

namespace {
class RealClock final : public Clock {
 public:
  Timestamp Now() noexcept override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
        .count();
  }
};
}  // namespace

Clock& SystemClock() noexcept {
  static RealClock* clock = new RealClock();
  return *clock;
}

}  // namespace syncstack

#include <random>

#include "random_token.h"

namespace syncstack {

std::string NewRandomToken() {
  static constexpr char kHex[] = "0123456789abcdef";
  thread_local std::random_device device;
  std::string out;
  out.reserve(32);
  for (int i = 0; i < 4; ++i) {
    uint32_t word = device();
    for (int j = 0; j < 8; ++j) {
      out.push_back(kHex[word & 15]);
      word >>= 4;
    }
  }
  return out;
}

}  // namespace syncstack
