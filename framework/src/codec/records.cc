// Records and stamps as JSON: the record objects and stamp lists that
// synchronise.json and fetch.json carry, fetch.json itself, and single
// records as applications hold them.
#include <cassert>
#include <cstring>
#include <string>

#include "codec_internal.h"
#include "list_reader.h"
#include "syncstack/codec.h"

namespace syncstack {
namespace codec_internal {
namespace {

// The members of a payload object without its braces ("" if none).
std::string_view PayloadMembers(std::string_view payload) {
  constexpr std::string_view kSpace = " \t\r\n";
  size_t b = payload.find_first_not_of(kSpace);
  size_t e = payload.find_last_not_of(kSpace);
  if (b == std::string_view::npos) return {};  // "" counts as {}
  assert(payload[b] == '{' && payload[e] == '}' && "payload is an object");
  if (payload[b] != '{' || payload[e] != '}' || e <= b) return {};
  std::string_view inner = payload.substr(b + 1, e - b - 1);
  if (inner.find_first_not_of(kSpace) == std::string_view::npos) return {};
  return inner;
}

}  // namespace

std::string KeyColon(std::string_view key) {
  std::string s;
  AppendJsonString(key, s);
  s += ':';
  return s;
}

void AppendRecord(const WireRecord& record, std::string_view quoted_key_colon,
                  std::string& out, std::string_view extra_members) {
  out += '{';
  out += quoted_key_colon;
  AppendQuotedId(record.id, out);
  std::string_view members = PayloadMembers(record.payload);
  if (!members.empty()) {
    out += ',';
    out += members;
  }
  if (record.last_update != kNoTimestamp) {
    out += ",\"last_update\":";
    AppendQuotedTimestamp(record.last_update, out);
  }
  if (!record.version.empty()) {
    out += ",\"_version\":";
    AppendJsonString(record.version, out);
  }
  if (!extra_members.empty()) {
    out += ',';
    out += extra_members;
  }
  out += '}';
}

void AppendStampItems(const std::vector<Stamp>& stamps, std::string_view key,
                      std::string& out) {
  if (stamps.empty()) return;
  bool versions = false;
  for (const Stamp& s : stamps) versions |= !s.version.empty();
  if (versions) {  // the general (slower) path, with `_version`
    std::string head = "{";
    AppendJsonString(key, head);
    head += ':';
    bool first = true;
    for (const Stamp& s : stamps) {
      if (!first) out += ',';
      first = false;
      out += head;
      AppendQuotedId(s.id, out);
      if (s.last_update != kNoTimestamp) {
        out += ",\"last_update\":";
        AppendQuotedTimestamp(s.last_update, out);
      }
      if (!s.version.empty()) {
        out += ",\"_version\":";
        AppendJsonString(s.version, out);
      }
      out += '}';
    }
    return;
  }
  std::string head = "{";
  AppendJsonString(key, head);
  head += ":\"";
  constexpr std::string_view kMid = "\",\"last_update\":\"";
  constexpr std::string_view kTail = "\"}";
  const size_t full = head.size() + 36 + kMid.size() + 23 + kTail.size();
  const size_t bare = head.size() + 36 + 2;  // `"}` without last_update
  size_t total = stamps.size() - 1;          // commas
  for (const Stamp& s : stamps) {
    total += s.last_update != kNoTimestamp ? full : bare;
  }
  size_t pos = out.size();
  out.resize(pos + total);
  char* p = out.data() + pos;
  bool first = true;
  for (const Stamp& s : stamps) {
    if (!first) *p++ = ',';
    first = false;
    std::memcpy(p, head.data(), head.size());
    p += head.size();
    s.id.FormatTo(p);
    p += 36;
    if (s.last_update != kNoTimestamp) {
      std::memcpy(p, kMid.data(), kMid.size());
      p += kMid.size();
      FormatTimestampTo(s.last_update, p);
      p += 23;
    }
    std::memcpy(p, kTail.data(), kTail.size());
    p += kTail.size();
  }
  assert(p == out.data() + out.size());
}

}  // namespace codec_internal

using codec_internal::AppendRecord;
using codec_internal::AppendStampItems;
using codec_internal::KeyColon;
using codec_internal::ReadManifestBody;
using codec_internal::ReadRecordObject;

// --- fetch.json ---

Result<Manifest> DecodeManifest(std::string_view body,
                                const CodecLimits& limits) {
  Manifest manifest;
  SYNCSTACK_RETURN_IF_ERROR(
      ReadManifestBody(body, limits, manifest.collections));
  return manifest;
}

void EncodeManifest(const Manifest& manifest, std::string& out) {
  out.clear();
  size_t estimate = 2;
  for (const Manifest::Collection& c : manifest.collections) {
    estimate += c.name.size() + 6 + c.entries.size() * (c.id_key.size() + 84);
  }
  out.reserve(estimate);
  out += '{';
  bool first = true;
  for (const Manifest::Collection& c : manifest.collections) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(c.name, out);
    out += ":[";
    AppendStampItems(c.entries, c.id_key.empty() ? "id" : c.id_key, out);
    out += ']';
  }
  out += '}';
}

void AppendManifestEntries(const std::vector<Stamp>& entries,
                           std::string_view id_key, bool* first,
                           std::string& out) {
  if (entries.empty()) return;
  if (!*first) out += ',';
  *first = false;
  AppendStampItems(entries, id_key.empty() ? "id" : id_key, out);
}

// --- single records ---

Result<RecordParts> SplitRecordObject(std::string_view json,
                                      std::string_view id_key,
                                      const CodecLimits& limits) {
  WireRecord record;
  bool has_id = false;
  SYNCSTACK_RETURN_IF_ERROR(
      ReadRecordObject(json, id_key, limits, record, has_id));
  RecordParts parts;
  parts.has_id = has_id;
  parts.id = record.id;
  parts.last_update = record.last_update;
  parts.payload = std::move(record.payload);
  return parts;
}

void EncodeRecordObject(const WireRecord& record, std::string_view id_key,
                        std::string_view extra_members, std::string& out) {
  AppendRecord(record, KeyColon(id_key), out, extra_members);
}

}  // namespace syncstack
