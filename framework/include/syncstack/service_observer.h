// ServiceObserver: what a SyncService tells the outside about its work, for
// metrics and the server log. The service calls it; an application wires
// it to its metrics library and logger (`syncstack serve` uses
// prometheus-cpp: syncstack::prometheus). The framework itself depends on
// no metrics library.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace syncstack {

// The service's endpoints: a fixed set, so that a label or log field made
// from it cannot grow with what clients send.
enum class Endpoint {
  kLogin,        // POST /v1/login
  kLock,         // POST /v1/lock
  kUnlock,       // DELETE /v1/lock
  kFetch,        // GET /v1/fetch.json
  kSynchronise,  // POST /v1/synchronise.json
  kManifest,     // GET /v1/manifest
  kRecords,      // GET /v1/records
  kReconcile,    // POST /v1/reconcile
  kHealthz,      // GET /healthz
  kReadyz,       // GET /readyz
  kMetrics,      // GET /metrics
  kOther,        // anything else (answered 404)
};

// The endpoint a request with `method` and `path` reaches (kOther for
// none). HEAD counts as GET.
Endpoint EndpointOf(std::string_view method, std::string_view path) noexcept;

// A short lower-case name: "login", "lock", "unlock", "fetch",
// "synchronise", "manifest", "records", "reconcile", "healthz", "readyz",
// "metrics", "other". The view is static.
std::string_view EndpointName(Endpoint endpoint) noexcept;

// How a synchronise.json write changed a stored record.
enum class WriteKind {
  kAdd,     // the id was absent (or a tombstone) and now holds a record
  kUpdate,  // a live record was replaced
  kDelete,  // a record became a tombstone
};

// "add", "update" or "delete". The view is static.
std::string_view WriteKindName(WriteKind kind) noexcept;

// One answered request. Views are valid during the call only.
struct RequestEvent {
  Endpoint endpoint = Endpoint::kOther;
  int status = 0;                        // the HTTP status answered
  std::chrono::nanoseconds duration{0};  // from Handle's start to its end
  std::string_view request_id;           // as the transport set it; "" for none
  std::string_view user;                 // the account, "" when not known
  std::string_view device;               // the lease holder, "" when not known
  // For an error answer, its message (never a secret: the service's
  // messages name no password, token or lease); "" otherwise.
  std::string_view message;
};

// Thread safety: every method may be called concurrently from request
// threads, and must be cheap (it runs on the request path): count, do not
// block. Every method has a do-nothing default.
class ServiceObserver {
 public:
  ServiceObserver() = default;
  ServiceObserver(const ServiceObserver&) = delete;
  ServiceObserver& operator=(const ServiceObserver&) = delete;
  virtual ~ServiceObserver();

  // Every request Handle answers, once, after it is answered.
  virtual void OnRequest(const RequestEvent& event) noexcept;
  // A sync session ended: the time from the lock's grant to its release
  // (DELETE /v1/lock) in this process. A lease that lapses, or is
  // released through another process, is not reported.
  virtual void OnSyncSession(std::chrono::nanoseconds duration) noexcept;
  // `count` records written with `kind` by one committed request.
  virtual void OnRecordsWritten(WriteKind kind, uint64_t count) noexcept;
  // `count` conflicts resolved by the policy named `policy` in one
  // committed request.
  virtual void OnConflicts(std::string_view policy, uint64_t count) noexcept;
  // A lock request was answered 423: the device waits for another one.
  virtual void OnLockWait() noexcept;
  // A login was refused for a wrong user name or password (not a
  // throttled one).
  virtual void OnLoginFailure() noexcept;
  // One Store::Apply of the write path took `duration` (failed or not).
  virtual void OnStoreApply(std::chrono::nanoseconds duration) noexcept;

  // Replaces `out` with the metrics in the Prometheus text format (0.0.4)
  // for GET /metrics. Returns false when this observer keeps no metrics
  // (the default): /metrics then answers 404.
  virtual bool WriteMetrics(std::string& out) noexcept;
};

// Forwards every call to a target observer; decorators (a logger in front
// of the metrics) override what they add to. The target must outlive the
// wrapper.
class ServiceObserverWrapper : public ServiceObserver {
 public:
  explicit ServiceObserverWrapper(ServiceObserver& target) : target_(target) {}
  ServiceObserver& target() const noexcept { return target_; }

  void OnRequest(const RequestEvent& event) noexcept override {
    target_.OnRequest(event);
  }
  void OnSyncSession(std::chrono::nanoseconds duration) noexcept override {
    target_.OnSyncSession(duration);
  }
  void OnRecordsWritten(WriteKind kind, uint64_t count) noexcept override {
    target_.OnRecordsWritten(kind, count);
  }
  void OnConflicts(std::string_view policy, uint64_t count) noexcept override {
    target_.OnConflicts(policy, count);
  }
  void OnLockWait() noexcept override { target_.OnLockWait(); }
  void OnLoginFailure() noexcept override { target_.OnLoginFailure(); }
  void OnStoreApply(std::chrono::nanoseconds duration) noexcept override {
    target_.OnStoreApply(duration);
  }
  bool WriteMetrics(std::string& out) noexcept override {
    return target_.WriteMetrics(out);
  }

 private:
  ServiceObserver& target_;
};

}  // namespace syncstack
