// Private: the JSON reading layer shared by the codec (src/codec/) and
// schema.cc.
//
// RapidJSON's SAX GenericReader in iterative mode (no recursion: the parser
// keeps its own heap stack, which we bound with a depth limit), numbers
// delivered as their raw text, after a UTF-8 check of the whole input. A
// handler derives from EventHandler and receives one OnEvent() per token;
// Tell() gives the input offset at the time of the event, from which raw spans
// are cut:
//
//   kStartObject / kStartArray  offset of the '{' / '['
//   kEndObject / kEndArray      offset of the '}' / ']'
//   kString, kKey, kNumber,
//   kNull, kTrue, kFalse        offset just past the token
//
// (RapidJSON's iterative parser calls StartX/EndX before it consumes the
// bracket, and scalar callbacks after the scalar.) Verified by
// tests/codec/json_reader_test.cc.
#pragma once

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "syncstack/status.h"

namespace syncstack::json {

// A read-only input stream over [begin, end) for rapidjson::GenericReader.
// Peek() and Take() yield '\0' at the end. Not copy-optimised on purpose:
// the reader must advance this very object so that handlers see Tell().
class SpanStream {
 public:
  using Ch = char;

  explicit SpanStream(std::string_view text) noexcept
      : begin_(text.data()),
        cur_(text.data()),
        end_(text.data() + text.size()) {}

  Ch Peek() const noexcept { return cur_ != end_ ? *cur_ : '\0'; }
  Ch Take() noexcept { return cur_ != end_ ? *cur_++ : '\0'; }
  size_t Tell() const noexcept { return static_cast<size_t>(cur_ - begin_); }

  // Write side: never used (no in-situ parsing).
  Ch* PutBegin() {
    assert(false);
    return nullptr;
  }
  void Put(Ch) { assert(false); }
  void Flush() { assert(false); }
  size_t PutEnd(Ch*) {
    assert(false);
    return 0;
  }

 private:
  const char* begin_;
  const char* cur_;
  const char* end_;
};

enum class Event : unsigned char {
  kNull,
  kFalse,
  kTrue,
  kNumber,  // text: the number exactly as written
  kString,  // text: the decoded (unescaped) string
  kKey,     // text: the decoded member name
  kStartObject,
  kEndObject,
  kStartArray,
  kEndArray,
};

inline bool IsStart(Event e) noexcept {
  return e == Event::kStartObject || e == Event::kStartArray;
}
inline bool IsEnd(Event e) noexcept {
  return e == Event::kEndObject || e == Event::kEndArray;
}

// "an object", "a string", ... for messages about a value that starts with
// event `e`.
inline const char* Describe(Event e) noexcept {
  switch (e) {
    case Event::kNull:
      return "null";
    case Event::kFalse:
    case Event::kTrue:
      return "a boolean";
    case Event::kNumber:
      return "a number";
    case Event::kString:
    case Event::kKey:
      return "a string";
    case Event::kStartObject:
    case Event::kEndObject:
      return "an object";
    case Event::kStartArray:
    case Event::kEndArray:
      return "an array";
  }
  return "a value";
}

// CRTP base of SAX handlers. Derived implements
//   bool OnEvent(Event e, std::string_view text);  // false: stop, error set
//   std::string Where() const;  // the part being read, for depth errors
// depth() counts the containers open at the event, the one a kStartX opens
// and the one a kEndX closes included.
template <class Derived>
class EventHandler {
 public:
  using Ch = char;
  using SizeType = rapidjson::SizeType;

  EventHandler(const SpanStream& in, int max_depth) noexcept
      : in_(in), max_depth_(max_depth) {}

  bool Null() { return Emit(Event::kNull, {}); }
  bool Bool(bool b) { return Emit(b ? Event::kTrue : Event::kFalse, {}); }
  // Only RawNumber is called under kParseNumbersAsStringsFlag.
  bool Int(int) { return Emit(Event::kNumber, {}); }
  bool Uint(unsigned) { return Emit(Event::kNumber, {}); }
  bool Int64(int64_t) { return Emit(Event::kNumber, {}); }
  bool Uint64(uint64_t) { return Emit(Event::kNumber, {}); }
  bool Double(double) { return Emit(Event::kNumber, {}); }
  bool RawNumber(const Ch* s, SizeType n, bool) {
    return Emit(Event::kNumber, {s, n});
  }
  bool String(const Ch* s, SizeType n, bool) {
    return Emit(Event::kString, {s, n});
  }
  bool Key(const Ch* s, SizeType n, bool) { return Emit(Event::kKey, {s, n}); }
  bool StartObject() { return Open(Event::kStartObject); }
  bool StartArray() { return Open(Event::kStartArray); }
  bool EndObject(SizeType) { return Close(Event::kEndObject); }
  bool EndArray(SizeType) { return Close(Event::kEndArray); }

  int depth() const noexcept { return depth_; }
  int max_depth() const noexcept { return max_depth_; }
  size_t Tell() const noexcept { return in_.Tell(); }
  bool depth_exceeded() const noexcept { return depth_exceeded_; }
  // The error a derived handler stopped with (OK if none).
  const Status& error() const noexcept { return error_; }

 protected:
  // Stops the parse with kInvalidArgument "<Where()>: <what>".
  bool Fail(std::string_view what) {
    std::string msg = static_cast<const Derived*>(this)->Where();
    msg += ": ";
    msg += what;
    error_ = Status::InvalidArgument(std::move(msg));
    return false;
  }

 private:
  bool Emit(Event e, std::string_view text) {
    return static_cast<Derived*>(this)->OnEvent(e, text);
  }
  bool Open(Event e) {
    if (depth_ >= max_depth_) {  // refuse before anything is built
      depth_exceeded_ = true;
      return false;
    }
    ++depth_;
    return Emit(e, {});
  }
  bool Close(Event e) {
    bool ok = Emit(e, {});
    --depth_;
    return ok;
  }

  const SpanStream& in_;
  int max_depth_;
  int depth_ = 0;
  bool depth_exceeded_ = false;
  Status error_;
};

// Length of the valid UTF-8 sequence (RFC 3629: no overlongs, surrogates
// or code points above U+10FFFF) at p, 0 if invalid. REQUIRES: p < end.
inline size_t Utf8SequenceLength(const unsigned char* p,
                                 const unsigned char* end) noexcept {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (static_cast<size_t>(end - p) < n || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  }
  return n;
}

// The offset of the first byte of `text` that is not valid UTF-8, or
// text.size(). ASCII runs are skipped eight bytes at a time.
inline size_t FindInvalidUtf8(std::string_view text) noexcept {
  const auto* const begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = begin + text.size();
  const auto* p = begin;
  while (p < end) {
    if (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        p += 8;
        continue;
      }
    }
    const size_t n = Utf8SequenceLength(p, end);
    if (n == 0) return static_cast<size_t>(p - begin);
    p += n;
  }
  return text.size();
}

// UTF-8 is validated once for the whole input by FindInvalidUtf8, which is
// several times faster than RapidJSON's per-character
// kParseValidateEncodingFlag (see docs/decisions/json-library.md).
inline constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag;

// Parses all of `text` with `handler` (whose stream must be `in`, built over
// `text`). On failure returns, in this order: the handler's own error; a
// depth error "<Where()>: nesting deeper than N"; or a syntax error
// "<what>: not valid JSON at offset N: <reason>".
template <class Handler>
Status Parse(std::string_view text, SpanStream& in, Handler& handler,
             std::string_view what) {
  size_t offset = FindInvalidUtf8(text);
  const char* reason = nullptr;
  if (offset != text.size()) {
    reason = "Invalid UTF-8.";
  } else {
    rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>> reader;
    rapidjson::ParseResult result = reader.Parse<kParseFlags>(in, handler);
    if (result.Code() == rapidjson::kParseErrorTermination) {
      if (!handler.error().ok()) return handler.error();
      if (handler.depth_exceeded()) {
        return Status::InvalidArgument(handler.Where() +
                                       ": nesting deeper than " +
                                       std::to_string(handler.max_depth()));
      }
    }
    if (result.IsError()) {
      offset = result.Offset();
      reason = rapidjson::GetParseError_En(result.Code());
    } else if (in.Tell() != text.size()) {
      // The reader stops at a NUL byte as if at the end of the input.
      offset = in.Tell();
      reason = "Unexpected NUL byte.";
    }
  }
  if (reason == nullptr) return Status::Ok();
  std::string msg(what);
  if (!msg.empty()) msg += ": ";
  msg += "not valid JSON at offset ";
  msg += std::to_string(offset);
  msg += ": ";
  msg += reason;
  return Status::InvalidArgument(std::move(msg));
}

}  // namespace syncstack::json
