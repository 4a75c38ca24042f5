// An incremental HTTP/1.0 and HTTP/1.1 request decoder (RFC 9112) for the
// server: bytes go in as they arrive from a non-blocking socket, a complete
// Request comes out. Every length is bounded before it is held: the head by
// `max_head`, a body by `max_body`, chunk-size and trailer lines by 4 KiB.
// Internal to syncstack::http.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "syncstack/status.h"
#include "syncstack/transport.h"

namespace syncstack::http_internal {

class RequestReader {
 public:
  enum class State { kHead, kBody, kDone, kFailed };

  // REQUIRES: max_head >= 1024. `limits` (may be null; must outlive the
  // reader) lowers max_body per request: its MaxBody for the request's
  // method and path, asked once the head is read.
  RequestReader(size_t max_head, size_t max_body,
                const Handler* limits = nullptr);

  // Consumes a prefix of `in` and returns its length: all of it, unless the
  // request ends inside it (the rest is the next, pipelined request) or the
  // request failed. A no-op once kDone or kFailed.
  size_t Feed(std::string_view in);

  State state() const { return state_; }
  // Whether any byte of this request arrived yet.
  bool started() const { return started_; }
  // When kFailed: why. kInvalidArgument (malformed or ambiguous framing,
  // e.g. a Transfer-Encoding other than "chunked" or conflicting lengths)
  // or kTooLarge (the body passes max_body, or the handler's MaxBody for
  // the request, refused once the head or the chunk size says so, before
  // the body is read); otherwise OK.
  const Status& error() const { return error_; }

  // Valid from kBody on: the head's answers.
  bool keep_alive() const { return keep_alive_; }
  bool head_method() const { return request_.method == "HEAD"; }
  // The request line said HTTP/1.0 (no chunked answers).
  bool http10() const { return http10_; }
  // The client waits for "100 Continue" before it sends the body.
  bool expects_continue() const { return expect_continue_; }

  // The X-Forwarded-For fields of the head, joined by ", " ("" when none).
  const std::string& forwarded_for() const { return forwarded_for_; }

  // When kDone: the request, to be moved out before Reset().
  Request& request() { return request_; }

  // Starts over for the next request on the same connection.
  void Reset();

 private:
  size_t FeedHead(std::string_view in);
  size_t FeedBody(std::string_view in);
  size_t FeedChunked(std::string_view in);
  void ParseHead();
  Status ParseRequestLine(std::string_view line);
  Status ParseField(std::string_view line);
  Status DecideFraming();
  Status BodyTooLarge() const;
  // Appends up to the end of a line to line_; true once the line is whole
  // (without its CRLF). Fails the request when the line passes 4 KiB.
  bool TakeLine(std::string_view in, size_t& used);
  void Fail(Status status);
  void Finish() { state_ = State::kDone; }

  const size_t max_head_;
  const size_t max_body_;
  const Handler* const limits_;
  size_t body_limit_;  // this request's: max_body_ or the handler's less
  State state_ = State::kHead;
  Status error_;
  bool started_ = false;
  std::string head_;  // the head so far, up to its empty line
  std::string forwarded_for_;

  // Head fields that shape the framing; the others go into request_.
  bool http10_ = false;
  bool keep_alive_ = true;
  bool expect_continue_ = false;
  bool chunked_ = false;
  bool has_length_ = false;
  bool has_encoding_ = false;
  size_t length_ = 0;
  std::string encoding_;
  std::string connection_;
  int fields_ = 0;

  // Body progress.
  enum class Chunk { kSize, kData, kDataEnd, kTrailer };
  Chunk chunk_ = Chunk::kSize;
  size_t remaining_ = 0;
  int trailers_ = 0;
  std::string line_;

  Request request_;
};

// Maps an origin-form (or absolute-form) request target onto request.path
// and request.query, percent-decoded. Errors: kInvalidArgument.
Status ParseTarget(std::string_view target, Request& request);

}  // namespace syncstack::http_internal
