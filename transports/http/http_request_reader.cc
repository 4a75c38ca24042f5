#include "http_request_reader.h"

#include <strings.h>

#include <algorithm>
#include <cassert>
#include <charconv>

#include "http_util.h"

namespace syncstack::http_internal {
namespace {

constexpr size_t kMaxLine = 4096;  // chunk-size and trailer lines
constexpr size_t kMaxMethod = 32;
constexpr size_t kMaxFieldName = 256;
constexpr size_t kMaxFieldValue = 8192;
constexpr int kMaxFields = 100;
constexpr int kMaxTrailers = 64;

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

Status Malformed(std::string_view why) {
  return Status::InvalidArgument("malformed HTTP request: " + std::string(why));
}

// Calls `each` with every trimmed element of a comma-separated list.
template <typename F>
void ForEachListItem(std::string_view list, F each) {
  while (true) {
    size_t comma = list.find(',');
    each(Trim(list.substr(0, comma)));
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

// The decimal Content-Length; false unless it is 1-18 digits only.
bool ParseLength(std::string_view digits, size_t& out) {
  if (digits.empty() || digits.size() > 18) return false;
  uint64_t value = 0;
  auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  out = static_cast<size_t>(value);
  return true;
}

// A chunk size: 1-15 hex digits, then optional extensions (ignored).
bool ParseChunkSize(std::string_view line, size_t& out) {
  std::string_view digits = line.substr(0, line.find_first_of("; \t"));
  if (digits.empty() || digits.size() > 15) return false;
  uint64_t value = 0;
  auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  out = static_cast<size_t>(value);
  return true;
}

// Where the head ends in `head`, searching from `from`: the offset just
// past the last field line's '\n', and in `terminator` the length of the
// empty line after it (1 or 2). npos while the empty line has not come.
size_t FindHeadEnd(const std::string& head, size_t from, size_t& terminator) {
  for (size_t i = head.find('\n', from); i != std::string::npos;
       i = head.find('\n', i + 1)) {
    if (i + 1 < head.size() && head[i + 1] == '\n') {
      terminator = 1;
      return i + 1;
    }
    if (i + 2 < head.size() && head[i + 1] == '\r' && head[i + 2] == '\n') {
      terminator = 2;
      return i + 1;
    }
  }
  return std::string::npos;
}

}  // namespace

RequestReader::RequestReader(size_t max_head, size_t max_body,
                             const Handler* limits)
    : max_head_(max_head),
      max_body_(max_body),
      limits_(limits),
      body_limit_(max_body) {
  assert(max_head >= 1024);
}

void RequestReader::Reset() {
  state_ = State::kHead;
  error_ = Status::Ok();
  started_ = false;
  head_.clear();
  if (head_.capacity() > (16u << 10)) head_.shrink_to_fit();
  forwarded_for_.clear();
  http10_ = false;
  keep_alive_ = true;
  expect_continue_ = false;
  chunked_ = false;
  has_length_ = false;
  has_encoding_ = false;
  length_ = 0;
  encoding_.clear();
  connection_.clear();
  fields_ = 0;
  chunk_ = Chunk::kSize;
  remaining_ = 0;
  trailers_ = 0;
  line_.clear();
  body_limit_ = max_body_;
  request_ = Request{};
}

void RequestReader::Fail(Status status) {
  state_ = State::kFailed;
  error_ = std::move(status);
}

size_t RequestReader::Feed(std::string_view in) {
  size_t used = 0;
  if (state_ == State::kHead && used < in.size()) used += FeedHead(in);
  if (state_ == State::kBody && used < in.size()) {
    used += FeedBody(in.substr(used));
  }
  return used;
}

size_t RequestReader::FeedHead(std::string_view in) {
  size_t skipped = 0;
  if (!in.empty()) started_ = true;
  // Empty lines before the request line are ignored (RFC 9112 2.2).
  if (head_.empty()) {
    while (skipped < in.size() && (in[skipped] == '\r' || in[skipped] == '\n'))
      ++skipped;
    in.remove_prefix(skipped);
    if (in.empty()) return skipped;
  }
  size_t old = head_.size();
  size_t take = std::min(in.size(), max_head_ + 4 - old);
  head_.append(in.data(), take);
  size_t terminator = 0;
  size_t end = FindHeadEnd(head_, old >= 3 ? old - 3 : 0, terminator);
  if (end == std::string::npos) {
    if (head_.size() > max_head_) {
      Fail(Malformed("head larger than " + std::to_string(max_head_) +
                     " bytes"));
    }
    return skipped + take;
  }
  size_t consumed = end + terminator - old;
  head_.resize(end);
  ParseHead();
  return skipped + consumed;
}

void RequestReader::ParseHead() {
  std::string_view rest(head_);
  bool first = true;
  Status status;
  while (status.ok() && !rest.empty()) {
    size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    status = first ? ParseRequestLine(line) : ParseField(line);
    first = false;
  }
  if (status.ok()) status = DecideFraming();
  head_.clear();
  if (!status.ok()) Fail(std::move(status));
}

Status RequestReader::ParseRequestLine(std::string_view line) {
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos ||
      line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Malformed("bad request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method) || method.size() > kMaxMethod) {
    return Malformed("bad method");
  }
  if (target.empty() || std::any_of(target.begin(), target.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      })) {
    return Malformed("bad request target");
  }
  if (version == "HTTP/1.1") {
    http10_ = false;
  } else if (version == "HTTP/1.0") {
    http10_ = true;
  } else {
    return Malformed("only HTTP/1.0 and HTTP/1.1 are served");
  }
  request_.method = std::string(method);
  return ParseTarget(target, request_);
}

Status RequestReader::ParseField(std::string_view line) {
  if (++fields_ > kMaxFields) return Malformed("too many header fields");
  if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    return Malformed("folded header line");
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return Malformed("header without ':'");
  std::string_view name = line.substr(0, colon);
  std::string_view value = Trim(line.substr(colon + 1));
  if (!IsToken(name) || name.size() > kMaxFieldName) {
    return Malformed("bad header field name");
  }
  if (value.size() > kMaxFieldValue) return Malformed("header value too long");
  if (IEquals(name, "Content-Length")) {
    bool ok = true;
    ForEachListItem(value, [&](std::string_view item) {
      size_t length = 0;
      if (!ParseLength(item, length)) {
        ok = false;
      } else if (has_length_ && length != length_) {
        ok = false;
      }
      has_length_ = true;
      length_ = length;
    });
    if (!ok) return Malformed("bad or conflicting Content-Length");
  } else if (IEquals(name, "Transfer-Encoding")) {
    if (has_encoding_) encoding_ += ", ";
    encoding_ += value;
    has_encoding_ = true;
  } else if (IEquals(name, "Connection")) {
    connection_ += ',';
    connection_ += value;
  } else if (IEquals(name, "Expect")) {
    expect_continue_ = IEquals(value, "100-continue");
  } else if (IEquals(name, "Authorization")) {
    if (value.size() > 7 && IEquals(value.substr(0, 7), "Bearer ") &&
        request_.token.empty()) {
      request_.token = std::string(Trim(value.substr(7)));
    }
  } else if (IEquals(name, "X-Sync-Lease")) {
    if (request_.lease.empty()) request_.lease = std::string(value);
  } else if (IEquals(name, "Idempotency-Key")) {
    if (request_.idempotency_key.empty()) {
      request_.idempotency_key = std::string(value);
    }
  } else if (IEquals(name, "X-Forwarded-For")) {
    if (!forwarded_for_.empty()) forwarded_for_ += ", ";
    forwarded_for_ += value;
  } else if (IEquals(name, "X-Request-Id")) {
    if (request_.request_id.empty()) request_.request_id = std::string(value);
  } else if (IEquals(name, "Origin")) {
    if (request_.origin.empty()) request_.origin = std::string(value);
  } else if (IEquals(name, "Content-Type")) {
    if (request_.content_type.empty()) {
      request_.content_type = std::string(value);
    }
  }
  return Status::Ok();
}

Status RequestReader::DecideFraming() {
  if (has_encoding_) {
    // Anything but exactly "chunked" would be a guess about where the body
    // ends, and a proxy in front may guess differently (smuggling).
    if (has_length_) {
      return Malformed("both Content-Length and Transfer-Encoding");
    }
    if (!IEquals(Trim(encoding_), "chunked")) {
      return Malformed("Transfer-Encoding \"" + encoding_.substr(0, 64) +
                       "\" is not supported (only \"chunked\")");
    }
    chunked_ = true;
  }
  keep_alive_ = !http10_;
  ForEachListItem(connection_, [&](std::string_view token) {
    if (IEquals(token, "close")) keep_alive_ = false;
    if (http10_ && IEquals(token, "keep-alive")) keep_alive_ = true;
  });
  bool has_body = chunked_ || length_ > 0;
  expect_continue_ = expect_continue_ && !http10_ && has_body;
  if (limits_ != nullptr) {
    body_limit_ =
        std::min(max_body_, limits_->MaxBody(request_.method, request_.path));
  }
  if (has_length_ && length_ > body_limit_) return BodyTooLarge();
  if (!has_body) {
    Finish();
    return Status::Ok();
  }
  remaining_ = length_;
  request_.body.reserve(std::min<size_t>(length_, 1u << 20));
  state_ = State::kBody;
  return Status::Ok();
}

Status RequestReader::BodyTooLarge() const {
  return Status::TooLarge("request body larger than the limit of " +
                          std::to_string(body_limit_) + " bytes for " +
                          request_.method + " " + request_.path);
}

size_t RequestReader::FeedBody(std::string_view in) {
  if (chunked_) return FeedChunked(in);
  size_t take = std::min(remaining_, in.size());
  request_.body.append(in.data(), take);
  remaining_ -= take;
  if (remaining_ == 0) Finish();
  return take;
}

bool RequestReader::TakeLine(std::string_view in, size_t& used) {
  std::string_view rest = in.substr(used);
  size_t eol = rest.find('\n');
  size_t take = eol == std::string_view::npos ? rest.size() : eol;
  if (line_.size() + take > kMaxLine + 1) {
    Fail(Malformed("chunked body: framing line too long"));
    return false;
  }
  line_.append(rest.data(), take);
  used += eol == std::string_view::npos ? take : take + 1;
  if (eol == std::string_view::npos) return false;
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  return true;
}

size_t RequestReader::FeedChunked(std::string_view in) {
  size_t used = 0;
  while (state_ == State::kBody && used < in.size()) {
    if (chunk_ == Chunk::kData) {
      size_t take = std::min(remaining_, in.size() - used);
      request_.body.append(in.data() + used, take);
      used += take;
      remaining_ -= take;
      if (remaining_ == 0) chunk_ = Chunk::kDataEnd;
      continue;
    }
    if (!TakeLine(in, used)) break;
    std::string line = std::move(line_);
    line_.clear();
    if (chunk_ == Chunk::kSize) {
      size_t size = 0;
      if (!ParseChunkSize(line, size)) {
        Fail(Malformed("chunked body: bad chunk size"));
      } else if (size == 0) {
        chunk_ = Chunk::kTrailer;
      } else if (size > body_limit_ - request_.body.size()) {
        Fail(BodyTooLarge());
      } else {
        remaining_ = size;
        chunk_ = Chunk::kData;
      }
    } else if (chunk_ == Chunk::kDataEnd) {
      if (!line.empty()) {
        Fail(Malformed("chunked body: chunk longer than its size"));
      }
      chunk_ = Chunk::kSize;
    } else if (line.empty()) {  // the empty line after the trailers
      Finish();
    } else if (++trailers_ > kMaxTrailers) {
      Fail(Malformed("chunked body: too many trailers"));
    }
  }
  return used;
}

Status ParseTarget(std::string_view target, Request& request) {
  // absolute-form: http://host[:port]/path?query
  if (target.size() > 7 &&
      (IEquals(target.substr(0, 7), "http://") ||
       (target.size() > 8 && IEquals(target.substr(0, 8), "https://")))) {
    size_t start = target.find("://") + 3;
    size_t slash = target.find_first_of("/?", start);
    target = slash == std::string_view::npos ? std::string_view("/")
                                             : target.substr(slash);
  }
  if (target.empty() || target.front() != '/') {
    return Status::InvalidArgument("request target must start with '/'");
  }
  target = target.substr(0, target.find('#'));
  size_t q = target.find('?');
  if (!PercentDecode(target.substr(0, q), false, request.path)) {
    return Status::InvalidArgument("malformed %-escape in the path");
  }
  if (q != std::string_view::npos &&
      !DecodeQuery(target.substr(q + 1), request.query)) {
    return Status::InvalidArgument("malformed %-escape in the query");
  }
  return Status::Ok();
}

}  // namespace syncstack::http_internal
