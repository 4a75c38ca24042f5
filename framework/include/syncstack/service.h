// SyncService: the server's logic, transport-free. The HTTP server and the
// file-exchange processor are thin adapters that turn bytes into Requests
// and call Handle.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "syncstack/clock.h"
#include "syncstack/codec.h"
#include "syncstack/conflict_policy.h"
#include "syncstack/journal.h"
#include "syncstack/schema.h"
#include "syncstack/service_observer.h"
#include "syncstack/store.h"
#include "syncstack/sync_lock.h"
#include "syncstack/tombstones.h"
#include "syncstack/transport.h"

namespace syncstack {

// Checks a user's credentials and names the account they own.
// Thread safety: Login may be called concurrently.
class Authenticator {
 public:
  Authenticator() = default;
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;
  virtual ~Authenticator();

  // Returns the account of `user`. Errors: kUnauthorized (unknown user or
  // wrong password; the two are not told apart), kIOError.
  virtual Result<std::string> Login(std::string_view user,
                                    std::string_view password) noexcept = 0;

  // Login as above, by a client at address `peer` ("" when unknown). An
  // authenticator that throttles answers kUnavailable and sets
  // `retry_after` (seconds, >= 1) when `user` or `peer` failed too often;
  // other errors leave it alone. Default: Login(user, password).
  virtual Result<std::string> LoginFrom(std::string_view peer,
                                        std::string_view user,
                                        std::string_view password,
                                        int64_t& retry_after) noexcept;

  // Tokens that every server process sharing this authenticator's database
  // accepts (so serve processes behind one load balancer are stateless),
  // and that survive a restart. Returns nullopt when this authenticator
  // makes no such tokens: the service then keeps its tokens in memory.
  virtual std::optional<std::string> SignToken(std::string_view account,
                                               Timestamp expires_at) noexcept;
  // The account of a token made by SignToken (of any process). Errors:
  // kUnauthorized (not such a token, altered, or expired at `now`).
  virtual Result<std::string> VerifyToken(std::string_view token,
                                          Timestamp now) noexcept;
};

// For in-process use only (loopback transport, tests, the simulator, the
// demo): every valid user name logs in, without a password, to the account
// of the same name. Never put it behind a network listener.
std::unique_ptr<Authenticator> NewInProcessAuthenticator();

struct SyncServiceOptions {
  // Lifetime of a login token. Default: 1 hour.
  std::chrono::seconds token_ttl{3600};
  // Largest request body accepted (413 beyond). Default: 64 MiB.
  size_t max_body = 64u << 20;
  CodecLimits limits;
  // How far ahead of the server's clock a device's stamp may be. A write
  // (or a delete's version, or a +fields field stamp) stamped later than
  // the server's clock plus this bound is restamped with the server's
  // clock before the policy compares it: it is kept, but wins only as a
  // write made when it arrived; its answer's stamp carries the new
  // last_update and the server logs it (docs/policies.md, "Clocks far
  // ahead"). milliseconds::max(): no bound. Default: 5 minutes.
  std::chrono::milliseconds max_clock_ahead{std::chrono::minutes(5)};
  // How long conflict journal entries are kept: older ones are dropped
  // when new ones are written. Zero keeps them until the journal's slots
  // (service/journal.h) wrap. Default: 30 days.
  std::chrono::hours journal_retention{30 * 24};
  // The bytes the reconcile item indexes kept between requests may take
  // (serve --reconcile-cache-mb); an index larger by itself serves the
  // request that built it and is dropped. 0 keeps none. Default: 256 MiB.
  size_t reconcile_cache_bytes = size_t{256} << 20;
  // The server log: one line per estimated device clock offset and per
  // conflict. Called from request threads. Default: none.
  std::function<void(const std::string& line)> log;
  // Told about every request, session, write and conflict (metrics, the
  // access log); its WriteMetrics answers GET /metrics. Must outlive the
  // service. Default: none (/metrics answers 404).
  ServiceObserver* observer = nullptr;
  // When not empty, GET /metrics wants "Authorization: Bearer <this>"
  // (401 otherwise). /healthz and /readyz never want a token.
  // Default: "" (no token).
  std::string metrics_token{};
};

// The lock holder's name while tombstones are collected.
inline constexpr std::string_view kTombstoneCollector = "syncstack-gc";

// Thread safety: all methods may be called concurrently. Writes of one
// account are serialised by the account's lease.
class SyncService final : public Handler {
 public:
  // Every reference must outlive the service.
  SyncService(Database& database, const ConflictPolicy& policy, Clock& clock,
              SyncLock& lock, Authenticator& authenticator, Schema schema,
              SyncServiceOptions options = {});
  ~SyncService() override;

  // Routes a protocol request: login, lock, fetch.json, synchronise.json,
  // ... and the operator's GET /healthz (200 while the process answers),
  // GET /readyz (200 when the store answers a trivial read, else 503 with
  // the reason) and GET /metrics (options.observer's metrics). Tells
  // options.observer about the request once answered.
  Response Handle(const Request& request) noexcept override;

  // options.max_body for POST /v1/synchronise.json and /v1/reconcile;
  // kSmallBodyLimit for every other request (login, lock, the GETs, ...).
  size_t MaxBody(std::string_view method,
                 std::string_view path) const noexcept override;
  // The body limit of the endpoints that take small bodies: 64 KiB.
  static constexpr size_t kSmallBodyLimit = size_t{64} << 10;

  // The typed operations behind Handle, for embedding without JSON.
  // `with_versions` adds each entry's `_version` (fetch.json?versions=1).
  Result<Manifest> Fetch(std::string_view account,
                         const std::vector<std::string>& collections,
                         bool with_versions = false) noexcept;
  // Validates all of `request` before applying any of it, then applies it
  // in one store transaction. If `lease` is not empty it must still be the
  // account's live lease when the write commits (checked under the
  // account's write lock, so a device that paused past its lease cannot
  // write after another device got the lock): else kLeaseLost, nothing
  // applied. Every conflict the policy reports is added to the account's
  // conflict journal (metadata "journal/...", bounded by
  // options.journal_retention; see ReadConflictJournal) in the same
  // transaction. A request carrying
  // `idempotency_key` is applied once: a repeat (same key and same request,
  // the key among the account's last 32 applied requests) gets the first
  // answer's stamps and conflicts and a fresh get, and changes nothing; a
  // different request under such a key is kInvalidArgument naming the key,
  // and nothing is applied.
  Result<SyncResponse> Synchronise(
      std::string_view account, const SyncRequest& request,
      std::string_view lease = {},
      std::string_view idempotency_key = {}) noexcept;

  const Schema& schema() const noexcept;

  // Collects `account`'s tombstones (see CollectTombstones in
  // tombstones.h) while holding the account's lock as the device
  // kTombstoneCollector. Errors: kLocked (a device is syncing: try later),
  // kInvalidArgument (negative ttl), those of the store.
  Result<GcReport> CollectTombstones(
      std::string_view account, std::chrono::milliseconds device_ttl) noexcept;

  // The accounts this service has opened since it started.
  std::vector<std::string> Accounts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Calls `fn` for every entry of the conflict journal kept in an account's
// server store (oldest first): `index` and the entry, a JSON object
//   {"time", "policy", "collection", "id", "device", "clock_offset_ms",
//    "kept": "server"|"client"|"merged",
//    "server": {"last_update", "version", "deleted", "payload"},
//    "client": {...the same...}}
// where "server" is the stored write and "client" the incoming one (as the
// client sent it); DecodeJournalEntry (journal.h) reads it into a
// ConflictJournalEntry. Errors: those of Store::GetMeta.
Status ReadConflictJournal(
    Store& store, FunctionRef<void(uint64_t index, std::string_view json)> fn);

}  // namespace syncstack
