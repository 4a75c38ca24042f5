// The chunked transfer coding of HTTP/1.1 (RFC 9112 7.1) for answers: the
// server writes a streamed answer (Response::source) as chunks, the client
// reads them back and tells a complete body from one cut short. Internal to
// syncstack::http.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "syncstack/status.h"

namespace syncstack::http_internal {

// Appends `data` as one chunk: its size in hex, CRLF, the bytes, CRLF.
// REQUIRES: !data.empty() (an empty chunk would end the body).
void AppendChunk(std::string_view data, std::string& out);

// The last chunk (size 0) and the empty trailer section: the body is
// complete.
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// Decodes a chunked body from bytes as they arrive, into a caller's
// string, with every framing line bounded. A body is complete only once
// its last chunk and trailer section arrived: bytes that stop earlier are
// a cut body (Finish says so).
class ChunkedDecoder {
 public:
  // Consumes a prefix of `in`, appending the body's bytes to `out`, and
  // returns its length: all of `in` unless the body ends (or fails) inside
  // it. A no-op once done() or failed.
  size_t Feed(std::string_view in, std::string& out);

  // Whether the whole body arrived (the last chunk and the trailers).
  bool done() const { return state_ == State::kDone; }
  // kInvalidArgument once the framing was malformed; OK otherwise.
  const Status& error() const { return error_; }

  // Call when the input ended (the connection closed): OK when done(),
  // else kUnavailable "the answer was cut short", or the framing error.
  Status Finish() const;

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone, kFailed };
  // Takes bytes up to the end of a line into line_; true once the line
  // is whole (without its CRLF).
  bool TakeLine(std::string_view in, size_t& used);
  void Fail(std::string why);

  State state_ = State::kSize;
  Status error_;
  size_t remaining_ = 0;  // of the chunk being read
  std::string line_;
  int trailers_ = 0;
};

}  // namespace syncstack::http_internal
