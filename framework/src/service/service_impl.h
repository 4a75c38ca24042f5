// Private: the state SyncService's rooms share, and the Impl's operations,
// each defined in the file of its job:
//   service.cc         construction, the account's store and write mutex
//   router.cc          Handle: routing, request decoding, query parsing
//   sessions.cc        login and bearer tokens
//   lock_endpoint.cc   /v1/lock: leases, device clock offsets, marks
//   write_path.cc      Synchronise and Decide
//   journal.cc         the conflict journal (written with the writes)
//   idempotency.cc     idempotency keys
//   item_cache.cc      the reconcile ItemIndex cache
//   tombstone_marks.cc device marks, the horizon check, collection
//   page_endpoints.cc  fetch.json, /v1/manifest, /v1/records, reconcile
//   manifest_writer.cc fetch.json's body, written as it is read
//   changes_endpoint.cc  /v1/changes; collection_figure.cc its figures
//   operations.cc      /healthz, /readyz, /metrics, and the observer's
//                      report of each request
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "service/idempotency.h"
#include "service/item_cache.h"
#include "service/manifest_writer.h"
#include "service/observe.h"
#include "service/pending_writes.h"
#include "service/sessions.h"
#include "syncstack/journal.h"
#include "syncstack/service.h"

namespace syncstack {
namespace service {

// A protocol error answer: the status's HTTP code and error body.
Response ErrorResponse(const Status& status, int64_t retry_after = -1);

// The value of `key` in a query string "k=v&k2=v2", if present.
std::optional<std::string_view> QueryParam(std::string_view query,
                                           std::string_view key);

// Splits "a,b,c" (already URL-decoded by the transport) into names.
std::vector<std::string> SplitList(std::string_view text);

// The query of a manifest or records page.
struct PageQuery {
  std::string collection;
  std::string id_key;
  std::optional<RecordId> after;
  size_t limit = 0;
  bool binary = false;
};

// Reads collection (required, in `schema`), after, limit and format.
// Errors: kInvalidArgument naming the parameter.
Result<PageQuery> ParsePageQuery(std::string_view query, const Schema& schema);

// 413 for a body over `max_body` bytes, else nullopt.
std::optional<Response> RefuseLargeBody(const Request& request,
                                        size_t max_body);

// What Decide needs beyond the write itself.
struct WriteContext {
  Timestamp now = kNoTimestamp;
  uint64_t sequence = 0;  // the account's last used write number
  std::string_view device;
  int64_t clock_offset = kNoTimestamp;
  std::vector<ConflictJournalEntry>* journal = nullptr;  // entries to write
  // The latest device stamp taken as sent (now + max_clock_ahead); later
  // ones are restamped with `now`, counted in `restamped`.
  Timestamp latest = kNoTimestamp;
  uint64_t restamped = 0;
  Timestamp latest_restamped = kNoTimestamp;  // the latest stamp restamped
};

// The versions of a request's deletes, for policies that order them.
using DeleteVersions = std::map<std::pair<std::string, RecordId>, Version>;

// One synchronise.json call as the write path sees it.
struct WriteCall {
  std::string_view account;
  const SyncRequest& request;
  std::string_view lease;            // "" for none
  std::string_view idempotency_key;  // "" for none
  IdempotencySlot slot{};            // where the key goes
  std::string request_hash{};        // with a key: what it is bound to
  std::string device{};              // the lease holder, "" for none
  int64_t clock_offset = kNoTimestamp;
  DeleteVersions delete_versions{};
};

}  // namespace service

struct SyncService::Impl {
  Database& database;
  const ConflictPolicy& policy;
  Clock& clock;
  SyncLock& lock;
  Authenticator& authenticator;
  Schema schema;
  SyncServiceOptions options;

  service::SessionTable sessions;
  service::ItemCaches item_caches;
  ServiceObserver& observer;  // options.observer, or one doing nothing
  service::SessionClock session_clock;
  // The store /readyz reads from, opened once (null when that failed:
  // then each /readyz opens one).
  std::shared_ptr<Store> probe;

  std::mutex mu;  // guards stores, account_mu, clock_offsets
  std::map<std::string, std::shared_ptr<Store>, std::less<>> stores;
  std::map<std::string, std::shared_ptr<std::mutex>, std::less<>> account_mu;
  // The last clock offset estimated per (account, device), in ms, with
  // when it was noted (a counter): at most kMaxClockOffsets entries, the
  // least recently noted go first (a device without one is told its
  // offset again at its next lock).
  static constexpr size_t kMaxClockOffsets = 4096;
  struct NotedOffset {
    int64_t offset_ms = 0;
    uint64_t noted = 0;
  };
  std::map<std::pair<std::string, std::string>, NotedOffset> clock_offsets;
  uint64_t offsets_noted = 0;  // guarded by mu

  Impl(Database& d, const ConflictPolicy& p, Clock& c, SyncLock& l,
       Authenticator& a, Schema s, SyncServiceOptions o);

  // --- service.cc ---
  // The account's store, opened on first use and kept.
  Result<std::shared_ptr<Store>> StoreFor(std::string_view account);
  // The account's write mutex: one writer per account in this process.
  std::shared_ptr<std::mutex> MutexFor(std::string_view account);
  // The device's last estimated clock offset (ms), or kNoTimestamp.
  int64_t ClockOffset(const std::string& account, std::string_view device);
  // Remembers `offset_ms` as the device's clock offset, forgetting the
  // least recently noted beyond kMaxClockOffsets.
  void NoteClockOffset(const std::string& account, const std::string& device,
                       int64_t offset_ms);
  void Log(const std::string& line);

  // --- router.cc ---
  // Answers `request`; notes in `note` who asked, once known.
  Response Route(const Request& request, SyncService& self,
                 service::RequestNote& note);
  Response HandleSynchronise(const Request& request, const std::string& account,
                             SyncService& self, service::RequestNote& note);

  // --- sessions.cc ---
  // The account of the request's bearer token. Errors: kUnauthorized.
  Result<std::string> Authenticate(const Request& request);
  Response HandleLogin(const Request& request, service::RequestNote& note);

  // --- lock_endpoint.cc ---
  Response HandleLock(const Request& request, const std::string& account,
                      service::RequestNote& note);

  // --- write_path.cc ---
  Result<SyncResponse> Synchronise(std::string_view account,
                                   const SyncRequest& request,
                                   std::string_view lease,
                                   std::string_view idempotency_key);
  // One try at applying `call`: reads what it touches, decides every
  // write, and commits them with the journal, the idempotency key and the
  // lease fence in one batch. Returns nullopt when the store refused the
  // batch because another process wrote meanwhile and `may_retry` (then
  // the whole request is redone).
  Result<std::optional<SyncResponse>> WriteOnce(Store& store,
                                                const service::WriteCall& call,
                                                bool may_retry);
  // kLeaseLost unless the call's lease is still live; then adds its
  // fence to `batch`.
  Status Fence(const service::WriteCall& call, ChangeBatch& batch);
  void LogConflicts(const service::WriteCall& call,
                    const std::map<std::string, std::map<RecordId, Kept>,
                                   std::less<>>& conflicts);

  // --- tombstone_marks.cc ---
  // Remembers a device's tombstone mark and that it was seen now; returns
  // the account's sequence and whether the device must resync (its mark is
  // below the collection horizon).
  Result<std::pair<uint64_t, bool>> NoteDeviceMark(const std::string& account,
                                                   const std::string& device,
                                                   uint64_t mark);
  // kAborted if tombstones `device` may need were collected after its lock
  // answer told it not to resync (a collection that did not hold the lock).
  Status CheckHorizon(Store& store, std::string_view device);
  Result<GcReport> CollectTombstones(std::string_view account,
                                     std::chrono::milliseconds device_ttl);

  // --- history_check.cc ---
  // Tells a device that sent its mark (`request.synced_through`) whether
  // the server's history still holds it: sets answer.history (the token of
  // the current sequence answer.seq) and answer.restored, and logs a
  // restore. docs/decisions/server-restore.md.
  Status CheckHistory(const std::string& account, const LockRequest& request,
                      LockResponse& answer);

  // --- page_endpoints.cc ---
  Result<Manifest> Fetch(std::string_view account,
                         const std::vector<std::string>& collections,
                         bool with_versions);
  // fetch.json: its answer comes from ManifestSource, in pieces to a
  // caller that accepts_source, else whole.
  Response HandleFetch(const Request& request, const std::string& account);
  // fetch.json's answer as a source that writes it from the store's scans
  // as it is read (service/manifest_writer.h). Errors: kInvalidArgument (a
  // collection not in the schema), those of the store.
  Result<std::shared_ptr<BodySource>> ManifestSource(
      std::string_view account, const std::vector<std::string>& collections,
      bool with_versions);
  Response HandleManifest(const Request& request, const std::string& account);
  Response HandleRecords(const Request& request, const std::string& account);
  Response HandleReconcile(const Request& request, const std::string& account);

  // --- changes_endpoint.cc ---
  // GET /v1/changes (pages.h): the rows written after a sequence, with the
  // collection's count and fingerprint; 410 changes_refused.
  Response HandleChanges(const Request& request, const std::string& account);
  // --- operations.cc ---
  // The account /readyz reads a metadata key of (reads only).
  static constexpr std::string_view kProbeAccount = "syncstack-readyz";
  // Answers /healthz, /readyz and /metrics (GET or HEAD, no account);
  // nullopt for any other request.
  std::optional<Response> HandleOperations(const Request& request);
  Response HandleReadyz();
  Response HandleMetrics(const Request& request);
  // Tells the observer about `request`, answered with `response` after
  // handling that began at `start`.
  void Observe(const Request& request, const Response& response,
               const service::RequestNote& note,
               std::chrono::steady_clock::time_point start) noexcept;
  // Tells the observer what a committed write changed.
  void ObserveWrites(const service::PendingWrites& state,
                     const std::map<std::string, std::map<RecordId, Record>,
                                    std::less<>>& before,
                     const std::map<std::string, std::map<RecordId, Kept>,
                                    std::less<>>& conflicts) noexcept;
};

}  // namespace syncstack
