// The server's log lines, text or JSON.
#include "server_log.h"

#include <chrono>
#include <ctime>

#include "syncstack/codec.h"

namespace syncstack::cli {
namespace {

// RFC 3339 in UTC with milliseconds: "2026-12-02T05:45:07.123Z".
void AppendNow(std::string& out) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()) % 1000;
  const std::time_t seconds = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms.count()));
  out += text;
}

// A request's level: errors of the server are "error", refusals that an
// operator may watch (authentication, throttling) "warn", the rest "info".
std::string_view LevelOf(int status) {
  if (status >= 500) return "error";
  if (status == 401 || status == 403 || status == 429) return "warn";
  return "info";
}

std::string Milliseconds(std::chrono::nanoseconds d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f",
                std::chrono::duration<double, std::milli>(d).count());
  return text;
}

// ,"key":"value" (JSON-escaped), nothing for an empty value.
void AppendField(std::string& out, std::string_view key,
                 std::string_view value) {
  if (value.empty()) return;
  out += ",\"";
  out += key;
  out += "\":";
  AppendJsonString(value, out);
}

// ` key="value"` (JSON-escaped, so that a name cannot break the line),
// nothing for an empty value.
void AppendTextField(std::string& out, std::string_view key,
                     std::string_view value) {
  if (value.empty()) return;
  out += ' ';
  out += key;
  out += '=';
  AppendJsonString(value, out);
}

}  // namespace

Result<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return Status::InvalidArgument("--log-format wants text or json, not \"" +
                                 std::string(text) + "\"");
}

void ServerLog::Event(std::string_view level, std::string_view message) const {
  std::string line;
  if (format_ == LogFormat::kText) {
    line = "syncstack: ";
    line += message;
  } else {
    line = "{\"time\":\"";
    AppendNow(line);
    line += '"';
    AppendField(line, "level", level);
    AppendField(line, "message", message);
    line += '}';
  }
  Write(line);
}

void ServerLog::Request(const RequestEvent& event) const {
  const std::string_view endpoint = EndpointName(event.endpoint);
  const std::string_view level = LevelOf(event.status);
  const std::string status = std::to_string(event.status);
  const std::string ms = Milliseconds(event.duration);
  std::string line;
  if (format_ == LogFormat::kText) {
    line = "syncstack: ";
    AppendNow(line);
    line.append(" ").append(level).append(" ").append(endpoint);
    line.append(" ").append(status).append(" ").append(ms).append(" ms");
    AppendTextField(line, "request_id", event.request_id);
    AppendTextField(line, "user", event.user);
    AppendTextField(line, "device", event.device);
    AppendTextField(line, "message", event.message);
  } else {
    line = "{\"time\":\"";
    AppendNow(line);
    line += '"';
    AppendField(line, "level", level);
    AppendField(line, "request_id", event.request_id);
    AppendField(line, "endpoint", endpoint);
    line.append(",\"status\":").append(status);
    line.append(",\"duration_ms\":").append(ms);
    AppendField(line, "user", event.user);
    AppendField(line, "device", event.device);
    AppendField(line, "message", event.message);
    line += '}';
  }
  Write(line);
}

void ServerLog::Write(const std::string& line) const {
  // One fwrite per line: stdio locks the stream for it, so lines of
  // concurrent requests never interleave.
  std::string whole = line + '\n';
  std::fwrite(whole.data(), 1, whole.size(), out_);
  std::fflush(out_);
}

void RequestLogger::OnRequest(const RequestEvent& event) noexcept {
  try {
    if (enabled_) log_.Request(event);
  } catch (const std::exception&) {
    // Out of memory: the line is lost, the request is not.
  }
  ServiceObserverWrapper::OnRequest(event);
}

}  // namespace syncstack::cli
