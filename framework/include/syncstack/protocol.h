// The one place where Status codes meet PROTOCOL.md's HTTP statuses and
// error codes, plus the protocol's endpoint paths.
#pragma once

#include <string_view>

#include "syncstack/status.h"

namespace syncstack {

inline constexpr std::string_view kLoginPath = "/v1/login";
inline constexpr std::string_view kLockPath = "/v1/lock";
inline constexpr std::string_view kFetchPath = "/v1/fetch.json";
inline constexpr std::string_view kSynchronisePath = "/v1/synchronise.json";
// The operator's endpoints (docs/protocol.md "Operations"): no token.
inline constexpr std::string_view kHealthzPath = "/healthz";
inline constexpr std::string_view kReadyzPath = "/readyz";
// Prometheus text format; a token only with serve --metrics-token.
inline constexpr std::string_view kMetricsPath = "/metrics";

// The HTTP status for a non-OK code (e.g. kLocked -> 423). Beyond
// PROTOCOL.md's table: kConflict 409 "conflict", kUnavailable 503,
// kIOError/kCorruption 500 "internal", kNotSupported 501, kAborted 400.
int HttpStatusFor(Status::Code code) noexcept;
// The protocol's machine error code, e.g. "bad_request", "lease_lost".
std::string_view ErrorCodeFor(Status::Code code) noexcept;
// The inverse: a protocol error code (or, failing that, an HTTP status)
// back to a Status code.
Status::Code CodeForError(int http_status, std::string_view error) noexcept;

}  // namespace syncstack
