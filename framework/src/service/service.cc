// SyncService: construction, the public entry points, and the per-account
// state every room uses (the account's store and write mutex, the devices'
// clock offsets). The rooms are listed in service_impl.h.
#include "syncstack/service.h"

#include "service/service_impl.h"

namespace syncstack {

SyncService::Impl::Impl(Database& d, const ConflictPolicy& p, Clock& c,
                        SyncLock& l, Authenticator& a, Schema s,
                        SyncServiceOptions o)
    : database(d),
      policy(p),
      clock(c),
      lock(l),
      authenticator(a),
      schema(std::move(s)),
      options(std::move(o)),
      item_caches(options.reconcile_cache_bytes),
      observer(options.observer != nullptr ? *options.observer
                                           : service::NoObserver()) {
  auto opened = database.OpenAccount(kProbeAccount);
  if (opened.ok()) probe = std::move(*opened);
}

Result<std::shared_ptr<Store>> SyncService::Impl::StoreFor(
    std::string_view account) {
  std::lock_guard<std::mutex> guard(mu);
  auto it = stores.find(account);
  if (it != stores.end()) return it->second;
  auto opened = database.OpenAccount(account);
  if (!opened.ok()) return opened.status();
  stores.emplace(std::string(account), *opened);
  return *opened;
}

std::shared_ptr<std::mutex> SyncService::Impl::MutexFor(
    std::string_view account) {
  std::lock_guard<std::mutex> guard(mu);
  auto& slot = account_mu[std::string(account)];
  if (!slot) slot = std::make_shared<std::mutex>();
  return slot;
}

int64_t SyncService::Impl::ClockOffset(const std::string& account,
                                       std::string_view device) {
  std::lock_guard<std::mutex> guard(mu);
  auto it = clock_offsets.find({account, std::string(device)});
  return it == clock_offsets.end() ? kNoTimestamp : it->second.offset_ms;
}

void SyncService::Impl::NoteClockOffset(const std::string& account,
                                        const std::string& device,
                                        int64_t offset_ms) {
  std::lock_guard<std::mutex> guard(mu);
  clock_offsets[{account, device}] = NotedOffset{offset_ms, ++offsets_noted};
  if (clock_offsets.size() <= kMaxClockOffsets) return;
  auto oldest = clock_offsets.begin();
  for (auto it = clock_offsets.begin(); it != clock_offsets.end(); ++it) {
    if (it->second.noted < oldest->second.noted) oldest = it;
  }
  clock_offsets.erase(oldest);
}

void SyncService::Impl::Log(const std::string& line) {
  if (options.log) options.log(line);
}

SyncService::SyncService(Database& database, const ConflictPolicy& policy,
                         Clock& clock, SyncLock& lock,
                         Authenticator& authenticator, Schema schema,
                         SyncServiceOptions options)
    : impl_(std::make_unique<Impl>(database, policy, clock, lock, authenticator,
                                   std::move(schema), std::move(options))) {}

SyncService::~SyncService() = default;

const Schema& SyncService::schema() const noexcept { return impl_->schema; }

Response SyncService::Handle(const Request& request) noexcept {
  const auto start = std::chrono::steady_clock::now();
  service::RequestNote note;
  Response response;
  try {
    response = impl_->Route(request, *this, note);
  } catch (const std::exception& e) {
    // Allocation failure and the like: never crash the server.
    response = service::ErrorResponse(
        Status::Unavailable(std::string("server: ") + e.what()));
  }
  impl_->Observe(request, response, note, start);
  return response;
}

Result<Manifest> SyncService::Fetch(std::string_view account,
                                    const std::vector<std::string>& collections,
                                    bool with_versions) noexcept {
  try {
    return impl_->Fetch(account, collections, with_versions);
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("fetch: ") + e.what());
  }
}

Result<SyncResponse> SyncService::Synchronise(
    std::string_view account, const SyncRequest& request,
    std::string_view lease, std::string_view idempotency_key) noexcept {
  try {
    return impl_->Synchronise(account, request, lease, idempotency_key);
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("synchronise: ") + e.what());
  }
}

Result<GcReport> SyncService::CollectTombstones(
    std::string_view account, std::chrono::milliseconds device_ttl) noexcept {
  try {
    return impl_->CollectTombstones(account, device_ttl);
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("collect tombstones: ") + e.what());
  }
}

std::vector<std::string> SyncService::Accounts() const {
  std::lock_guard<std::mutex> guard(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [name, store] : impl_->stores) out.push_back(name);
  return out;
}

}  // namespace syncstack
