// Private to the codec (framework/src/codec/): the pieces its files share.
// Scalars and record-shaped values as JSON text, and the helpers of error
// messages. The public API is syncstack/codec.h.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "json_reader.h"
#include "syncstack/codec.h"

namespace syncstack::codec_internal {

inline constexpr std::string_view kLastUpdate = "last_update";
inline constexpr std::string_view kKeptKey = "kept";
inline constexpr std::string_view kVersionKey = "_version";

// --- error messages (json_text.cc) ---

// `s` as a quoted string for an error message, cut after 64 bytes.
std::string Quoted(std::string_view s);

// "expected <want>, not <what event `e` starts>".
std::string NotA(std::string_view want, json::Event e);

// --- scalars (inline: the encoders' per-record loops call them) ---

// Appends `"<uuid>"`.
inline void AppendQuotedId(const RecordId& id, std::string& out) {
  const size_t n = out.size();
  out.resize(n + 38);
  out[n] = '"';
  id.FormatTo(&out[n + 1]);
  out[n + 37] = '"';
}

// Appends `"<ISO 8601 timestamp>"` (ts is not kNoTimestamp).
inline void AppendQuotedTimestamp(Timestamp ts, std::string& out) {
  const size_t n = out.size();
  out.resize(n + 25);
  out[n] = '"';
  FormatTimestampTo(ts, &out[n + 1]);
  out[n + 24] = '"';
}

// Appends `v` in decimal.
inline void AppendInt(int64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// --- records and stamps (records.cc) ---

// `"<key>":`, the head of a record's id member.
std::string KeyColon(std::string_view key);

// Appends {"<id key>":"<uuid>",<payload members>[,"last_update":"<ts>"]
// [,"_version":"<v>"][,<extra_members>]}, the id key given as KeyColon().
void AppendRecord(const WireRecord& record, std::string_view quoted_key_colon,
                  std::string& out, std::string_view extra_members = {});

// Appends the items (without the brackets) of a stamp list:
// {"<key>":"<uuid>","last_update":"<ts>"[,"_version":"<v>"]},...
void AppendStampItems(const std::vector<Stamp>& stamps, std::string_view key,
                      std::string& out);

}  // namespace syncstack::codec_internal
