// Status codes <-> PROTOCOL.md's HTTP statuses and error codes. Beyond the
// protocol's table: kConflict -> 409 "conflict", kUnavailable -> 503
// "unavailable", kIOError/kCorruption -> 500 "internal", kNotSupported ->
// 501 "not_supported", kAborted -> 400 "aborted", kGone -> 410
// "changes_refused" (GET /v1/changes).
#include "syncstack/protocol.h"

namespace syncstack {

using Code = Status::Code;

int HttpStatusFor(Status::Code code) noexcept {
  switch (code) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
      return 400;
    case Code::kUnauthorized:
      return 401;
    case Code::kNotFound:
      return 404;
    case Code::kLeaseRequired:
      return 428;
    case Code::kLeaseLost:
      return 409;
    case Code::kLocked:
      return 423;
    case Code::kTooLarge:
      return 413;
    case Code::kConflict:
      return 409;
    case Code::kUnavailable:
      return 503;
    case Code::kIOError:
    case Code::kCorruption:
      return 500;
    case Code::kNotSupported:
      return 501;
    case Code::kAborted:
      return 400;
    case Code::kGone:
      return 410;
  }
  return 400;
}

std::string_view ErrorCodeFor(Status::Code code) noexcept {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "bad_request";
    case Code::kUnauthorized:
      return "unauthorized";
    case Code::kNotFound:
      return "not_found";
    case Code::kLeaseRequired:
      return "lease_required";
    case Code::kLeaseLost:
      return "lease_lost";
    case Code::kLocked:
      return "locked";
    case Code::kTooLarge:
      return "too_large";
    case Code::kConflict:
      return "conflict";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kIOError:
    case Code::kCorruption:
      return "internal";
    case Code::kNotSupported:
      return "not_supported";
    case Code::kAborted:
      return "aborted";
    case Code::kGone:
      return "changes_refused";
  }
  return "bad_request";
}

Status::Code CodeForError(int http_status, std::string_view error) noexcept {
  struct Entry {
    std::string_view error;
    Code code;
  };
  static constexpr Entry kByError[] = {
      {"bad_request", Code::kInvalidArgument},
      {"unauthorized", Code::kUnauthorized},
      {"not_found", Code::kNotFound},
      {"lease_required", Code::kLeaseRequired},
      {"lease_lost", Code::kLeaseLost},
      {"locked", Code::kLocked},
      {"too_large", Code::kTooLarge},
      {"conflict", Code::kConflict},
      {"unavailable", Code::kUnavailable},
      {"internal", Code::kIOError},
      {"not_supported", Code::kNotSupported},
      {"aborted", Code::kAborted},
      {"changes_refused", Code::kGone},
  };
  for (const Entry& e : kByError) {
    if (e.error == error) return e.code;
  }
  // No (known) error code: go by the HTTP status alone.
  switch (http_status) {
    case 400:
      return Code::kInvalidArgument;
    case 401:
    case 403:
      return Code::kUnauthorized;
    case 404:
      return Code::kNotFound;
    case 405:
    case 501:
      return Code::kNotSupported;
    case 408:
    case 429:
    case 502:
    case 503:
    case 504:
      return Code::kUnavailable;
    case 409:
      return Code::kConflict;
    case 410:
      return Code::kGone;
    case 413:
      return Code::kTooLarge;
    case 423:
      return Code::kLocked;
    case 428:
      return Code::kLeaseRequired;
    default:
      break;
  }
  if (http_status >= 200 && http_status < 300) return Code::kOk;
  if (http_status >= 400 && http_status < 500) return Code::kInvalidArgument;
  return Code::kIOError;  // 5xx and anything unexpected (1xx, 3xx, ...)
}

}  // namespace syncstack
