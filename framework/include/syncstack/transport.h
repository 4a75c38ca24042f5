// Transport: moves one protocol request to the server and brings the answer
// back. It knows nothing about records; HTTP, file exchange and loopback
// differ only in how the bytes travel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "syncstack/status.h"

namespace syncstack {

// One protocol request, as PROTOCOL.md describes it.
struct Request {
  std::string method;           // "GET", "POST" or "DELETE"
  std::string path;             // e.g. "/v1/fetch.json" (see protocol.h)
  std::string query;            // without '?', e.g. "collections=a,b"
  std::string token;            // bearer token; "" for none
  std::string lease;            // X-Sync-Lease; "" for none
  std::string idempotency_key;  // "" for none
  std::string body;             // JSON, unless content_type says otherwise
  // "" means application/json; binary bodies use
  // "application/octet-stream" (reconcile.bin).
  std::string content_type{};
  // The client's address (e.g. "192.0.2.7"), for login throttling; "" when
  // the transport has none.
  std::string peer{};
  // X-Request-Id: the transport's name for this request in logs (the
  // HTTP server takes a sane one from the client, else makes one); ""
  // when the transport has none.
  std::string request_id{};
  // The Origin header of a browser's request ("" when none), for CORS.
  std::string origin{};
  // The caller takes an answer whose body comes in pieces
  // (Response::source). When false, every answer's body is whole in
  // Response::body. Default: false.
  bool accepts_source = false;
};

// A body made piece by piece as the transport asks for it (fetch.json's
// manifest): the transport pulls the next piece only when it can send it,
// so the whole body is never held. docs/decisions/streamed-answers.md.
// Thread safety: one call at a time; the calls may come from different
// threads.
class BodySource {
 public:
  BodySource() = default;
  BodySource(const BodySource&) = delete;
  BodySource& operator=(const BodySource&) = delete;
  virtual ~BodySource();

  // Appends the next piece of the body, 1 to `max` bytes, to `out` and
  // returns true; returns false, appending nothing, once the body is
  // complete. REQUIRES: max > 0; not called again after false or an
  // error. Errors (any code; e.g. those of a store read): the body cannot
  // be completed. A transport that already sent part of it must then end
  // the answer so that the receiver sees it cut short, never complete.
  virtual Result<bool> Next(size_t max, std::string& out) noexcept = 0;
};

// One protocol answer. Protocol errors (4xx) are Responses, not Statuses.
struct Response {
  int status = 200;
  std::string body;
  int64_t retry_after = -1;    // seconds (Retry-After); -1 when absent
  std::string content_type{};  // "" means application/json
  // Extra header lines, each "Name: value\r\n" (CORS, caching); the
  // transport writes them as they are. "" for none.
  std::string headers{};
  // When set, the body is this source's pieces and `body` is empty. Only
  // in answer to a request with accepts_source, and only with status 200.
  // Copies of the Response share the source: it is read once.
  // Default: none.
  std::shared_ptr<BodySource> source{};
};

// Reads `response.source` (if any) into `response.body`, at most
// `max_bytes` of it, and drops the source: for callers that want the body
// whole. Errors: those of the source; kTooLarge past `max_bytes`. On error
// the body read so far is dropped.
Status ReadWholeBody(Response& response,
                     size_t max_bytes = static_cast<size_t>(-1)) noexcept;

// The server side of a transport: answers requests. Implemented by
// SyncService; the HTTP server and the file processor are adapters over it.
// Thread safety: Handle may be called concurrently.
class Handler {
 public:
  Handler() = default;
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;
  virtual ~Handler();

  // Never fails: every problem becomes an error Response.
  virtual Response Handle(const Request& request) noexcept = 0;

  // The largest request body Handle takes for `method` and `path` (it
  // answers 413 to a larger one): a transport may refuse such a body
  // before reading it. Default: no limit of the handler's own.
  virtual size_t MaxBody(std::string_view method,
                         std::string_view path) const noexcept;
};

// Thread safety: Call may be called concurrently unless an implementation
// says otherwise.
class Transport {
 public:
  Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  virtual ~Transport();

  // Delivers `request` and returns the server's answer (any status).
  // Errors: kUnavailable when the server could not be reached or the answer
  // was lost (the request may or may not have been applied), kTooLarge,
  // kIOError.
  virtual Result<Response> Call(const Request& request) noexcept = 0;
};

// Forwards every call to a target Transport; decorators (metrics, logging,
// fault injection) override Call. The target must outlive the wrapper.
class TransportWrapper : public Transport {
 public:
  explicit TransportWrapper(Transport& target) : target_(target) {}
  Transport& target() const noexcept { return target_; }

  Result<Response> Call(const Request& request) noexcept override {
    return target_.Call(request);
  }

 private:
  Transport& target_;
};

}  // namespace syncstack
