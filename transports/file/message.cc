#include "message.h"

#include <sodium.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace syncstack::file_internal {
namespace {

constexpr size_t kMaxHeaderBytes = 16 << 10;

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

// Percent-encodes all but unreserved characters and those in `keep`.
void Encode(std::string_view in, std::string_view keep, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : in) {
    if (Unreserved(c) || keep.find(static_cast<char>(c)) != keep.npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Decode(std::string_view in, std::string& out) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 423:
      return "Locked";
    case 428:
      return "Precondition Required";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool ParseUnsigned(std::string_view text, uint64_t& value) {
  if (text.empty() || text.size() > 19) return false;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

// A header section split into its start line and headers; `body` is what
// follows the blank line.
struct Head {
  std::string_view start;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;
};

// Errors are plain sentences; the callers choose the code.
Result<Head> SplitHead(std::string_view message) {
  size_t end = message.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (message.size() > kMaxHeaderBytes) {
      return Status::InvalidArgument("header section over 16 KiB");
    }
    return Status::InvalidArgument(
        "incomplete message: no blank line after the headers (truncated?)");
  }
  if (end > kMaxHeaderBytes) {
    return Status::InvalidArgument("header section over 16 KiB");
  }
  Head head;
  head.body = message.substr(end + 4);
  std::string_view lines = message.substr(0, end + 2);
  size_t eol = lines.find("\r\n");
  head.start = lines.substr(0, eol);
  lines.remove_prefix(eol + 2);
  while (!lines.empty()) {
    eol = lines.find("\r\n");
    std::string_view line = lines.substr(0, eol);
    lines.remove_prefix(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Status::InvalidArgument("malformed header line");
    }
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
      value.remove_suffix(1);
    }
    for (char c : name) {
      if (c <= ' ' || c >= 127) {
        return Status::InvalidArgument("malformed header name");
      }
    }
    head.headers.emplace_back(name, value);
  }
  return head;
}

// Checks Content-Length against the bytes that follow the headers.
Status CheckLength(const Head& head, size_t max_body) {
  std::optional<uint64_t> length;
  for (const auto& [name, value] : head.headers) {
    if (!EqualsNoCase(name, "Content-Length")) continue;
    uint64_t n = 0;
    if (length || !ParseUnsigned(value, n)) {
      return Status::InvalidArgument("bad or repeated Content-Length");
    }
    length = n;
  }
  if (!length) return Status::InvalidArgument("no Content-Length header");
  if (*length > max_body) {
    return Status::TooLarge("body of " + std::to_string(*length) +
                            " bytes is over the limit of " +
                            std::to_string(max_body));
  }
  if (head.body.size() != *length) {
    return Status::InvalidArgument(
        "Content-Length says " + std::to_string(*length) + " bytes, the file " +
        "holds " + std::to_string(head.body.size()) +
        (head.body.size() < *length ? " (truncated)" : ""));
  }
  for (const auto& [name, value] : head.headers) {
    if (EqualsNoCase(name, "X-Sync-Body-Hash") &&
        value != ContentHash(head.body)) {
      return Status::InvalidArgument(
          "the body does not match its X-Sync-Body-Hash (damaged on the way)");
    }
  }
  return Status::Ok();
}

}  // namespace

std::string EncodeRequestMessage(const Request& request) {
  std::string out;
  out.reserve(256 + request.body.size());
  out += request.method;
  out += ' ';
  Encode(request.path, "/", out);
  if (!request.query.empty()) {
    out += '?';
    Encode(request.query, "=&,", out);
  }
  out += " HTTP/1.1\r\n";
  if (!request.token.empty()) {
    out += "Authorization: Bearer " + request.token + "\r\n";
  }
  if (!request.lease.empty()) out += "X-Sync-Lease: " + request.lease + "\r\n";
  if (!request.idempotency_key.empty()) {
    out += "Idempotency-Key: " + request.idempotency_key + "\r\n";
  }
  out += "Content-Type: " +
         (request.content_type.empty() ? std::string("application/json")
                                       : request.content_type) +
         "\r\n";
  out += "X-Sync-Body-Hash: " + ContentHash(request.body) + "\r\n";
  out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n\r\n";
  out += request.body;
  return out;
}

Result<Request> DecodeRequestMessage(std::string_view message,
                                     size_t max_body) {
  auto head = SplitHead(message);
  if (!head.ok()) return head.status().WithContext("request file");
  Status length = CheckLength(*head, max_body);
  if (!length.ok()) return length.WithContext("request file");

  std::string_view start = head->start;
  size_t sp1 = start.find(' ');
  size_t sp2 = start.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == sp2 ||
      start.substr(sp2 + 1) != "HTTP/1.1") {
    return Status::InvalidArgument(
        "request file: the first line must be \"METHOD /path HTTP/1.1\"");
  }
  Request request;
  request.method = std::string(start.substr(0, sp1));
  if (request.method != "GET" && request.method != "POST" &&
      request.method != "DELETE") {
    return Status::InvalidArgument("request file: unknown method \"" +
                                   request.method.substr(0, 16) + "\"");
  }
  std::string_view target = start.substr(sp1 + 1, sp2 - sp1 - 1);
  if (target.empty() || target.front() != '/') {
    return Status::InvalidArgument("request file: the target must start /");
  }
  size_t q = target.find('?');
  if (!Decode(target.substr(0, q), request.path) ||
      (q != std::string_view::npos &&
       !Decode(target.substr(q + 1), request.query))) {
    return Status::InvalidArgument("request file: bad %-escape in the target");
  }
  for (const auto& [name, value] : head->headers) {
    if (EqualsNoCase(name, "Authorization")) {
      if (value.substr(0, 7) == "Bearer ") request.token = value.substr(7);
    } else if (EqualsNoCase(name, "X-Sync-Lease")) {
      request.lease = value;
    } else if (EqualsNoCase(name, "Idempotency-Key")) {
      request.idempotency_key = value;
    } else if (EqualsNoCase(name, "Content-Type")) {
      request.content_type = value;
    }
  }
  request.body = std::string(head->body);
  return request;
}

std::string EncodeResponseMessage(const Response& response) {
  std::string out;
  out.reserve(128 + response.body.size());
  out += "HTTP/1.1 " + std::to_string(response.status) + " ";
  out += ReasonPhrase(response.status);
  out += "\r\n";
  if (!response.body.empty()) {
    out += "Content-Type: " +
           (response.content_type.empty() ? std::string("application/json")
                                          : response.content_type) +
           "\r\n";
  }
  if (response.retry_after >= 0) {
    out += "Retry-After: " + std::to_string(response.retry_after) + "\r\n";
  }
  out += "X-Sync-Body-Hash: " + ContentHash(response.body) + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n\r\n";
  out += response.body;
  return out;
}

Result<Response> DecodeResponseMessage(std::string_view message) {
  auto head = SplitHead(message);
  if (!head.ok())
    return Status::Corruption("answer file: " + head.status().message());
  Status length = CheckLength(*head, message.size());
  if (!length.ok())
    return Status::Corruption("answer file: " + length.message());
  std::string_view start = head->start;
  uint64_t status = 0;
  if (start.substr(0, 9) != "HTTP/1.1 " || start.size() < 12 ||
      !ParseUnsigned(start.substr(9, 3), status) || status < 100 ||
      status > 599) {
    return Status::Corruption("answer file: bad status line");
  }
  Response response;
  response.status = static_cast<int>(status);
  for (const auto& [name, value] : head->headers) {
    uint64_t seconds = 0;
    if (EqualsNoCase(name, "Retry-After") && ParseUnsigned(value, seconds)) {
      response.retry_after = static_cast<int64_t>(seconds);
    } else if (EqualsNoCase(name, "Content-Type")) {
      response.content_type = value;
    }
  }
  response.body = std::string(head->body);
  return response;
}

std::string ContentHash(std::string_view bytes) {
  unsigned char digest[16];
  crypto_generichash(digest, sizeof digest,
                     reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size(), nullptr, 0);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace syncstack::file_internal
