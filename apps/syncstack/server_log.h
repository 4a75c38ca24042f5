// The server's log (syncstack serve --log-format text|json): one line per
// answered request and per event of the service, on stderr. With json,
// every line is one JSON object:
//   {"time":"2026-12-02T05:45:07.123Z","level":"info","request_id":"...",
//    "endpoint":"lock","status":200,"duration_ms":1.25,"user":"alice",
//    "device":"phone","message":"..."}
// (user, device and message where known; service events have time, level
// and message only). No password, token or lease is ever written: the
// service's messages name none, and requests are logged by these fields
// only.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "syncstack/service_observer.h"
#include "syncstack/status.h"

namespace syncstack::cli {

enum class LogFormat { kText, kJson };

// "text" or "json". Errors: kInvalidArgument naming the flag.
Result<LogFormat> ParseLogFormat(std::string_view text);

// Thread safety: all methods may be called concurrently; each line is
// written whole.
class ServerLog {
 public:
  // `out` must outlive the log. Default: stderr.
  explicit ServerLog(LogFormat format, std::FILE* out = stderr)
      : format_(format), out_(out) {}

  // One event of the service ("warn" or "info" `level`). Text lines read
  // "syncstack: <message>", as before there were log formats.
  void Event(std::string_view level, std::string_view message) const;

  // One answered request.
  void Request(const RequestEvent& event) const;

 private:
  void Write(const std::string& line) const;

  const LogFormat format_;
  std::FILE* const out_;
};

// Logs every request to `log` (unless `enabled` is false), then forwards
// everything to the target (the metrics). Both must outlive it.
class RequestLogger final : public ServiceObserverWrapper {
 public:
  RequestLogger(ServiceObserver& target, const ServerLog& log, bool enabled)
      : ServiceObserverWrapper(target), log_(log), enabled_(enabled) {}

  void OnRequest(const RequestEvent& event) noexcept override;

 private:
  const ServerLog& log_;
  const bool enabled_;
};

}  // namespace syncstack::cli
