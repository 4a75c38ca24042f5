// RemoteClient: the protocol's calls, typed. It encodes requests with the
// codec, hands them to a Transport and decodes the answers, so the engine
// never sees JSON or bytes in flight.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "syncstack/codec.h"
#include "syncstack/pages.h"
#include "syncstack/schema.h"
#include "syncstack/transport.h"

namespace syncstack {

// Counts what crossed the transport, for reports and benchmarks.
struct TrafficCounters {
  uint64_t calls = 0;
  uint64_t bytes_sent = 0;      // request bodies
  uint64_t bytes_received = 0;  // response bodies
};

// Not thread-safe: one RemoteClient per sync run.
class RemoteClient {
 public:
  // `transport` must outlive the client.
  explicit RemoteClient(Transport& transport, CodecLimits limits = {})
      : transport_(transport), limits_(limits) {}

  // Errors: kUnauthorized, kUnavailable, and any protocol error.
  Status Login(std::string_view user, std::string_view password);
  // The conflict policy the server named in its login answer ("" if none).
  const std::string& server_policy() const noexcept { return server_policy_; }
  // The bearer token of the last Login ("" before one) and its lifetime in
  // seconds as the server gave it. Never logged.
  const std::string& token() const noexcept { return token_; }
  int64_t token_expires_in() const noexcept { return token_expires_in_; }
  // Presents `token` (from an earlier Login, kept by the caller) instead of
  // logging in, with the policy name that login answered. The next call
  // answers kUnauthorized if the server no longer accepts it.
  void UseToken(std::string token, std::string policy) {
    token_ = std::move(token);
    server_policy_ = std::move(policy);
    token_expires_in_ = 0;
  }

  // Takes or renews the lock, presenting device_secret() when set; a new
  // secret in the answer (LockResponse::device_secret) replaces it, and the
  // caller keeps it for later runs. Errors: kLocked (*retry_after_seconds
  // set), kLeaseLost, kUnauthorized, kUnavailable.
  // `client_time` (the device's clock; kNoTimestamp: not sent) lets the
  // server estimate the device's clock offset (LockResponse).
  // `synced_through` (-1: not sent) is the device's tombstone mark
  // (LockRequest::synced_through).
  // `history` is the server's history token at `synced_through`, as the
  // device learnt it (LockRequest::history; empty: not sent).
  Result<LockResponse> Lock(std::string_view device,
                            int64_t* retry_after_seconds = nullptr,
                            Timestamp client_time = kNoTimestamp,
                            int64_t synced_through = -1,
                            std::string_view history = {});
  Status Unlock();

  // `collections` empty: all. `with_versions`: entries carry `_version`.
  Result<Manifest> Fetch(const std::vector<std::string>& collections,
                         bool with_versions = false);

  // The streamed endpoints (pages.h), in their binary form.
  Result<CollectionList> ListCollections();
  // The page of `collection`'s manifest (or records) after `after` (none:
  // from the first id), at most `limit` entries.
  Result<ManifestPage> ManifestPageAfter(std::string_view collection,
                                         const std::optional<RecordId>& after,
                                         size_t limit = kDefaultPageEntries);
  Result<RecordsPage> RecordsPageAfter(std::string_view collection,
                                       const std::optional<RecordId>& after,
                                       size_t limit = kDefaultPageEntries);
  // GET /v1/changes (pages.h), binary: the rows of `collection` written
  // after sequence `after`, at most `limit` of them, with the collection's
  // count and fingerprint. `history` is the device's history point
  // "<seq>:<token>" (empty: not sent). The page is checked: its collection,
  // entries after `after`, `last` == `after` when empty.
  // Errors: kGone when the server refuses `after` (below its tombstone
  // horizon, past its write sequence, or `history` differs): fall back to
  // reconciliation; kInvalidArgument for a bad page; kUnauthorized,
  // kUnavailable, and any protocol error.
  Result<ChangesPage> Changes(std::string_view collection, uint64_t after,
                              size_t limit = kDefaultChangesEntries,
                              std::string_view history = {});
  // One round of reconciliation (reconcile/): sends `message`, returns the
  // server's answer.
  Result<std::string> Reconcile(std::string_view collection,
                                std::string message);

  // Requires a lease from Lock(). `schema` gives each collection's id key.
  Result<SyncResponse> Synchronise(const SyncRequest& request,
                                   const Schema& schema);

  const TrafficCounters& traffic() const noexcept { return traffic_; }
  // Retry-After of the last error answer in seconds; -1 when it had none.
  int64_t last_retry_after() const noexcept { return last_retry_after_; }
  const std::string& lease() const noexcept { return lease_; }
  // The device secret Lock() presents ("": none). Never logged.
  const std::string& device_secret() const noexcept { return device_secret_; }
  void set_device_secret(std::string secret) {
    device_secret_ = std::move(secret);
  }

 private:
  Result<Response> Send(Request& request);
  // The body of a GET of one page of `path` (pages.h), in binary.
  Result<std::string> PageBody(std::string_view path,
                               std::string_view collection,
                               const std::optional<RecordId>& after,
                               size_t limit);

  Transport& transport_;
  CodecLimits limits_;
  std::string token_;
  int64_t token_expires_in_ = 0;
  std::string server_policy_;
  std::string lease_;
  std::string device_secret_;
  TrafficCounters traffic_;
  int64_t last_retry_after_ = -1;  // of the last error answer
  std::string buffer_;
};

}  // namespace syncstack
