// The ServiceObserver's defaults, the endpoints' names, and the sync
// session clock.
#include "service/observe.h"

#include <utility>

#include "syncstack/pages.h"
#include "syncstack/protocol.h"

namespace syncstack {

ServiceObserver::~ServiceObserver() = default;
void ServiceObserver::OnRequest(const RequestEvent&) noexcept {}
void ServiceObserver::OnSyncSession(std::chrono::nanoseconds) noexcept {}
void ServiceObserver::OnRecordsWritten(WriteKind, uint64_t) noexcept {}
void ServiceObserver::OnConflicts(std::string_view, uint64_t) noexcept {}
void ServiceObserver::OnLockWait() noexcept {}
void ServiceObserver::OnLoginFailure() noexcept {}
void ServiceObserver::OnStoreApply(std::chrono::nanoseconds) noexcept {}
bool ServiceObserver::WriteMetrics(std::string&) noexcept { return false; }

Endpoint EndpointOf(std::string_view method, std::string_view path) noexcept {
  const bool get = method == "GET" || method == "HEAD";
  const bool post = method == "POST";
  if (path == kLoginPath) return post ? Endpoint::kLogin : Endpoint::kOther;
  if (path == kLockPath) {
    if (post) return Endpoint::kLock;
    return method == "DELETE" ? Endpoint::kUnlock : Endpoint::kOther;
  }
  struct Route {
    std::string_view path;
    bool post;
    Endpoint endpoint;
  };
  static constexpr Route kRoutes[] = {
      {kFetchPath, false, Endpoint::kFetch},
      {kSynchronisePath, true, Endpoint::kSynchronise},
      {kManifestPath, false, Endpoint::kManifest},
      {kRecordsPath, false, Endpoint::kRecords},
      {kReconcilePath, true, Endpoint::kReconcile},
      {kHealthzPath, false, Endpoint::kHealthz},
      {kReadyzPath, false, Endpoint::kReadyz},
      {kMetricsPath, false, Endpoint::kMetrics},
  };
  for (const Route& route : kRoutes) {
    if (path == route.path && (route.post ? post : get)) return route.endpoint;
  }
  return Endpoint::kOther;
}

std::string_view EndpointName(Endpoint endpoint) noexcept {
  switch (endpoint) {
    case Endpoint::kLogin:
      return "login";
    case Endpoint::kLock:
      return "lock";
    case Endpoint::kUnlock:
      return "unlock";
    case Endpoint::kFetch:
      return "fetch";
    case Endpoint::kSynchronise:
      return "synchronise";
    case Endpoint::kManifest:
      return "manifest";
    case Endpoint::kRecords:
      return "records";
    case Endpoint::kReconcile:
      return "reconcile";
    case Endpoint::kHealthz:
      return "healthz";
    case Endpoint::kReadyz:
      return "readyz";
    case Endpoint::kMetrics:
      return "metrics";
    case Endpoint::kOther:
      break;
  }
  return "other";
}

std::string_view WriteKindName(WriteKind kind) noexcept {
  switch (kind) {
    case WriteKind::kAdd:
      return "add";
    case WriteKind::kUpdate:
      return "update";
    case WriteKind::kDelete:
      break;
  }
  return "delete";
}

namespace service {

ServiceObserver& NoObserver() noexcept {
  static ServiceObserver none;
  return none;
}

namespace {

std::string SessionKey(std::string_view account, std::string_view lease) {
  std::string key;
  key.reserve(account.size() + 1 + lease.size());
  key.append(account).push_back('\0');
  key.append(lease);
  return key;
}

}  // namespace

void SessionClock::Start(std::string_view account, std::string_view lease,
                         std::string_view device) {
  std::string key = SessionKey(account, lease);
  const Clock::time_point now = Clock::now();
  std::lock_guard<std::mutex> guard(mu_);
  if (open_.size() >= kMaxOpen) {
    std::erase_if(open_, [&](const auto& entry) {
      return now - entry.second.started > kForgetAfter;
    });
    if (open_.size() >= kMaxOpen) return;
  }
  open_.try_emplace(std::move(key), Open{now, std::string(device)});
}

std::optional<SessionClock::Ended> SessionClock::Finish(
    std::string_view account, std::string_view lease) {
  const std::string key = SessionKey(account, lease);
  const Clock::time_point now = Clock::now();
  std::lock_guard<std::mutex> guard(mu_);
  auto it = open_.find(key);
  if (it == open_.end()) return std::nullopt;
  Ended ended{now - it->second.started, std::move(it->second.device)};
  open_.erase(it);
  return ended;
}

size_t SessionClock::open() {
  std::lock_guard<std::mutex> guard(mu_);
  return open_.size();
}

}  // namespace service
}  // namespace syncstack
