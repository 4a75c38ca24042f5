// JSON text: strings written as JSON, the check that a text is one JSON
// object, and the helpers of the decoders' error messages.
#include <string>

#include "codec_internal.h"
#include "json_reader.h"
#include "syncstack/codec.h"

namespace syncstack {
namespace codec_internal {

std::string Quoted(std::string_view s) {
  std::string out = "\"";
  if (s.size() > 64) {
    out.append(s.substr(0, 64));
    out += "...";
  } else {
    out.append(s);
  }
  out += '"';
  return out;
}

std::string NotA(std::string_view want, json::Event e) {
  std::string msg = "expected ";
  msg += want;
  msg += ", not ";
  msg += json::Describe(e);
  return msg;
}

}  // namespace codec_internal

namespace {

using codec_internal::NotA;
using json::Event;

// Refuses a text that does not open with an object; json::Parse checks
// that the object is the whole text.
class ObjectValidator final : public json::EventHandler<ObjectValidator> {
 public:
  ObjectValidator(const json::SpanStream& in, int max_depth)
      : EventHandler(in, max_depth) {}

  bool OnEvent(Event e, std::string_view) {
    if (started_) return true;
    started_ = true;
    if (e != Event::kStartObject) return Fail(NotA("a JSON object", e));
    return true;
  }
  std::string Where() const { return "offset " + std::to_string(Tell()); }

 private:
  bool started_ = false;
};

}  // namespace

void AppendJsonString(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + text.size() + 2);
  out += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  const auto* run = p;  // start of bytes not yet copied
  auto flush = [&](const unsigned char* upto) {
    out.append(reinterpret_cast<const char*>(run),
               static_cast<size_t>(upto - run));
  };
  while (p < end) {
    const unsigned char c = *p;
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++p;
      continue;
    }
    if (c >= 0x80) {
      if (size_t n = json::Utf8SequenceLength(p, end)) {
        p += n;
        continue;
      }
      // Not UTF-8 (e.g. a cut error snippet): keep the output valid JSON.
      flush(p);
      out += "\\ufffd";
      run = ++p;
      continue;
    }
    flush(p);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, 6);
      }
    }
    run = ++p;
  }
  flush(p);
  out += '"';
}

Status ValidateJsonObject(std::string_view text, const CodecLimits& limits) {
  json::SpanStream in(text);
  ObjectValidator validator(in, limits.max_depth);
  return json::Parse(text, in, validator, "");
}

}  // namespace syncstack
