// The JSON codec of PROTOCOL.md. Decoding: RapidJSON's SAX reader in
// iterative mode (json_reader.h) driving one state machine per message
// shape; record payloads are cut from the input as raw spans, never
// re-serialised. Encoding: direct appends into the caller's string.
// docs/decisions/json-library.md explains the choice and its measurements.
#include "syncstack/codec.h"

#include <cassert>
#include <charconv>
#include <cstring>
#include <iterator>
#include <string>
#include <unordered_set>
#include <utility>

#include "id_parse.h"
#include "json_reader.h"
#include "syncstack/protocol.h"

namespace syncstack {
namespace {

using json::Event;

constexpr std::string_view kLastUpdate = "last_update";
constexpr std::string_view kKeptKey = "kept";
constexpr std::string_view kVersionKey = "_version";

// `s` as a quoted string for an error message, cut after 64 bytes.
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

std::string NotA(std::string_view want, Event e) {
  std::string msg = "expected ";
  msg += want;
  msg += ", not ";
  msg += json::Describe(e);
  return msg;
}

// The schema used to check collection names where no schema applies.
const Schema& OpenSchema() {
  static const Schema* const kOpen = new Schema();
  return *kOpen;
}

// ---------------------------------------------------------------------------
// Writing

void AppendQuotedId(const RecordId& id, std::string& out) {
  const size_t n = out.size();
  out.resize(n + 38);
  out[n] = '"';
  id.FormatTo(&out[n + 1]);
  out[n + 37] = '"';
}

void AppendQuotedTimestamp(Timestamp ts, std::string& out) {
  const size_t n = out.size();
  out.resize(n + 25);
  out[n] = '"';
  FormatTimestampTo(ts, &out[n + 1]);
  out[n + 24] = '"';
}

void AppendInt(int64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

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

// The id key to write for `collection`; "id" if the schema does not know
// it (encoders cannot fail; the caller passes validated collections).
std::string_view IdKeyFor(const Schema& schema, std::string_view collection) {
  auto key = schema.IdKey(collection);
  return key.ok() ? *key : std::string_view("id");
}

// {"<id key>":"<uuid>",<payload members>,"last_update":"<ts>"}
void AppendRecord(const WireRecord& record, std::string_view quoted_key_colon,
                  std::string& out, std::string_view extra_members = {}) {
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

// `"<key>":` for a key of the schema.
std::string KeyColon(std::string_view key) {
  std::string s;
  AppendJsonString(key, s);
  s += ':';
  return s;
}

// {"<collection>":[...],...} with `each(collection, out)` writing the list
// items of one collection.
template <class C, class Fn>
void AppendSection(const std::vector<C>& collections, std::string& out,
                   Fn&& each) {
  out += '{';
  bool first = true;
  for (const C& c : collections) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(c.collection, out);
    out += ":[";
    each(c, out);
    out += ']';
  }
  out += '}';
}

void AppendRecordSection(const std::vector<CollectionRecords>& section,
                         const Schema& schema, std::string& out) {
  AppendSection(section, out, [&](const CollectionRecords& c, std::string& o) {
    const std::string key = KeyColon(IdKeyFor(schema, c.collection));
    bool first = true;
    for (const WireRecord& r : c.records) {
      if (!first) o += ',';
      first = false;
      AppendRecord(r, key, o);
    }
  });
}

void AppendIdSection(const std::vector<CollectionIds>& section,
                     std::string& out) {
  AppendSection(section, out, [](const CollectionIds& c, std::string& o) {
    o.reserve(o.size() + c.ids.size() * 39);
    bool first = true;
    for (const RecordId& id : c.ids) {
      if (!first) o += ',';
      first = false;
      AppendQuotedId(id, o);
    }
  });
}

// Writes `[{"<key>":"<uuid>","last_update":"<ts>"},...]` items (without
// the brackets) in one resize: the manifest's hot loop.
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

// ---------------------------------------------------------------------------
// Reading the list-shaped messages: synchronise.json (both ways) and
// fetch.json.

enum class ListKind : unsigned char {
  kRecords,    // [{<id key>: uuid, [last_update], payload...}, ...]
  kIds,        // ["uuid", ...]
  kStamps,     // [{<id key>: uuid, last_update: ts}, ...]
  kConflicts,  // [{<id key>: uuid, kept: "server"|"client"|"merged"}, ...]
  kManifest,   // kStamps with the id key read from the entries
  kSkip,       // an unknown section of a response: validated, ignored
  kFlag,       // a top-level boolean (`_versions`)
};

struct Section {
  std::string_view name;
  ListKind kind;
  std::vector<CollectionRecords>* records = nullptr;
  std::vector<CollectionIds>* ids = nullptr;
  std::vector<CollectionStamps>* stamps = nullptr;
  std::vector<CollectionConflicts>* conflicts = nullptr;
  std::vector<Manifest::Collection>* manifest = nullptr;
  bool* flag = nullptr;
  bool seen = false;
};

class ListReader final : public json::EventHandler<ListReader> {
 public:
  // A synchronise.json body: the top-level keys are `sections`; others are
  // an error if `unknown_keys` is non-empty (it then lists the allowed
  // ones), else skipped.
  ListReader(std::string_view text, const json::SpanStream& in,
             const CodecLimits& limits, const Schema& schema, Section* sections,
             size_t n_sections, std::string_view unknown_keys)
      : EventHandler(in, limits.max_depth),
        text_(text.data()),
        schema_(schema),
        sections_(sections),
        n_sections_(n_sections),
        unknown_keys_(unknown_keys) {}

  // A fetch.json body: the top level is the collections object of
  // `manifest`.
  ListReader(std::string_view text, const json::SpanStream& in,
             const CodecLimits& limits, Section* manifest)
      : EventHandler(in, limits.max_depth),
        text_(text.data()),
        schema_(OpenSchema()),
        sections_(manifest),
        n_sections_(1),
        is_manifest_(true),
        sec_(manifest) {}

  // One application record object (SplitRecordObject), read into `record`;
  // its id key is optional.
  ListReader(std::string_view text, const json::SpanStream& in,
             const CodecLimits& limits, std::string_view id_key,
             WireRecord* record)
      : EventHandler(in, limits.max_depth),
        text_(text.data()),
        schema_(OpenSchema()),
        sections_(&single_section_),
        n_sections_(1),
        is_single_(true),
        sec_(&single_section_),
        id_key_(id_key),
        record_(record) {}

  bool has_id() const noexcept { return has_id_; }

  bool OnEvent(Event e, std::string_view text) {
    switch (state_) {
      case State::kTop:
        if (e != Event::kStartObject) return Fail(NotA("an object", e));
        if (is_single_) {
          BeginRecord();
          return true;
        }
        state_ = is_manifest_ ? State::kCollKey : State::kSectionKey;
        return true;
      case State::kSectionKey:
        if (e == Event::kEndObject) {
          state_ = State::kDone;
          return true;
        }
        return BeginSection(text);
      case State::kSectionValue:
        if (sec_ == nullptr) return Skip(e, State::kSectionKey);
        if (sec_->kind == ListKind::kFlag) {
          if (e != Event::kTrue && e != Event::kFalse) {
            return Fail(NotA("true or false", e));
          }
          *sec_->flag = e == Event::kTrue;
          state_ = State::kSectionKey;
          return true;
        }
        if (e != Event::kStartObject) return Fail(NotA("an object", e));
        seen_collections_.clear();
        state_ = State::kCollKey;
        return true;
      case State::kCollKey:
        if (e == Event::kEndObject) {
          state_ = is_manifest_ ? State::kDone : State::kSectionKey;
          return true;
        }
        return BeginCollection(text);
      case State::kCollValue:
        if (e == Event::kStartArray) {
          index_ = 0;
          state_ = State::kElement;
          return true;
        }
        if (e == Event::kStartObject) {  // the seed's `{}` for "none"
          state_ = State::kEmptyObject;
          return true;
        }
        return Fail(NotA("an array", e));
      case State::kEmptyObject:
        if (e == Event::kEndObject) {
          state_ = State::kCollKey;
          return true;
        }
        return Fail("expected an array (an object here must be empty)");
      case State::kElement:
        if (e == Event::kEndArray) {
          state_ = State::kCollKey;
          return true;
        }
        return BeginElement(e, text);
      case State::kMemberKey:
        if (e == Event::kEndObject) return EndEntry();
        return BeginMember(text);
      case State::kMemberValue:
        return MemberValue(e, text);
      case State::kInPayload:
        if (json::IsEnd(e) && depth() == value_depth_) {
          AppendPayloadMember(Tell() + 1);
          state_ = State::kMemberKey;
        }
        return true;
      case State::kSkipping:
        if (json::IsEnd(e) && depth() == value_depth_) state_ = skip_return_;
        return true;
      case State::kDone:
        break;
    }
    return Fail("unexpected data");
  }

  // The part being read, e.g. `add.budget[2].bid`.
  std::string Where() const {
    if (is_single_) {
      if (state_ != State::kMemberValue || member_ == Member::kPayload) {
        return "record";
      }
      return "record." +
             std::string(member_ == Member::kId ? IdKey() : kLastUpdate);
    }
    std::string w;
    switch (state_) {
      case State::kTop:
      case State::kSectionKey:
      case State::kSkipping:
      case State::kDone:
        return "body";
      case State::kSectionValue:
        return std::string(sec_ != nullptr ? sec_->name : "body");
      case State::kCollKey:
        return std::string(is_manifest_ ? "body" : sec_->name);
      case State::kCollValue:
      case State::kEmptyObject:
        return CollectionPath();
      case State::kElement:
      case State::kMemberKey:
      case State::kInPayload:
        w = CollectionPath();
        break;
      case State::kMemberValue:
        w = CollectionPath();
        if (member_ == Member::kPayload) break;
        w += '[';
        w += std::to_string(index_);
        w += "].";
        w += member_ == Member::kId        ? IdKey()
             : member_ == Member::kKept    ? kKeptKey
             : member_ == Member::kVersion ? kVersionKey
                                           : kLastUpdate;
        return w;
    }
    w += '[';
    w += std::to_string(index_);
    w += ']';
    return w;
  }

 private:
  enum class State : unsigned char {
    kTop,
    kSectionKey,    // in the top object, before a key or its end
    kSectionValue,  // after a section key
    kCollKey,       // in a section object, before a key or its end
    kCollValue,     // after a collection key
    kEmptyObject,   // in `{}` standing for an empty list
    kElement,       // in a list, before an element or its end
    kMemberKey,     // in an entry object, before a key or its end
    kMemberValue,   // after a member key
    kInPayload,     // inside a payload member's array/object value
    kSkipping,      // inside a skipped value
    kDone,
  };
  enum class Member : unsigned char {
    kId,
    kLastUpdate,
    kKept,
    kVersion,
    kPayload
  };

  std::string CollectionPath() const {
    if (is_manifest_) return collection_;
    std::string p(sec_->name);
    p += '.';
    p += collection_;
    return p;
  }

  std::string_view IdKey() const {
    return is_manifest_ ? std::string_view(mcoll_->id_key) : id_key_;
  }

  // Starts skipping the value that begins with `e`, then returns to `back`.
  bool Skip(Event e, State back) {
    if (json::IsStart(e)) {
      value_depth_ = depth();
      skip_return_ = back;
      state_ = State::kSkipping;
    } else {
      state_ = back;
    }
    return true;
  }

  bool BeginSection(std::string_view key) {
    sec_ = nullptr;
    for (size_t i = 0; i < n_sections_; ++i) {
      if (sections_[i].name == key) sec_ = &sections_[i];
    }
    if (sec_ == nullptr) {
      if (!unknown_keys_.empty()) {
        return Fail("unknown key " + Quoted(key) + " (want " +
                    std::string(unknown_keys_) + ")");
      }
    } else if (sec_->seen) {
      return Fail("duplicate key " + Quoted(key));
    } else {
      sec_->seen = true;
    }
    state_ = State::kSectionValue;
    return true;
  }

  bool BeginCollection(std::string_view name) {
    auto key = schema_.IdKey(name);
    if (!key.ok()) return Fail(key.status().message());
    id_key_ = *key;
    collection_.assign(name);
    state_ = State::kCollValue;
    if (!seen_collections_.insert(collection_).second) {
      return Fail("duplicate collection");
    }
    switch (sec_->kind) {
      case ListKind::kRecords:
        crecords_ = &sec_->records->emplace_back();
        crecords_->collection = collection_;
        break;
      case ListKind::kIds:
        cids_ = &sec_->ids->emplace_back();
        cids_->collection = collection_;
        break;
      case ListKind::kStamps:
        cstamps_ = &sec_->stamps->emplace_back();
        cstamps_->collection = collection_;
        break;
      case ListKind::kConflicts:
        cconflicts_ = &sec_->conflicts->emplace_back();
        cconflicts_->collection = collection_;
        break;
      case ListKind::kManifest:
        mcoll_ = &sec_->manifest->emplace_back();
        mcoll_->name = collection_;
        break;
      case ListKind::kSkip:
      case ListKind::kFlag:
        break;
    }
    return true;
  }

  bool BeginElement(Event e, std::string_view text) {
    const ListKind kind = sec_->kind;
    if (kind == ListKind::kIds) {
      if (e != Event::kString) return Fail(NotA("a UUID string", e));
      auto id = ParseId(text);
      if (!id.ok()) return Fail(id.status().message());
      cids_->ids.push_back(*id);
      ++index_;
      return true;
    }
    if (e != Event::kStartObject) {
      return Fail(NotA(
          kind == ListKind::kRecords ? "a record object" : "an object", e));
    }
    if (kind == ListKind::kRecords) {
      record_ = &crecords_->records.emplace_back();
      BeginRecord();
      return true;
    }
    has_id_ = has_last_update_ = has_kept_ = has_version_ = false;
    switch (kind) {
      case ListKind::kStamps:
        stamp_ = &cstamps_->stamps.emplace_back();
        break;
      case ListKind::kManifest:
        stamp_ = &mcoll_->entries.emplace_back();
        break;
      case ListKind::kConflicts:
        note_ = &cconflicts_->conflicts.emplace_back();
        break;
      case ListKind::kRecords:
      case ListKind::kIds:
      case ListKind::kSkip:
      case ListKind::kFlag:
        break;
    }
    last_end_ = Tell() + 1;  // just past the '{'
    state_ = State::kMemberKey;
    return true;
  }

  // At the '{' of a record to be read into record_.
  void BeginRecord() {
    has_id_ = has_last_update_ = has_version_ = false;
    record_->payload.assign(1, '{');
    first_payload_member_ = true;
    last_end_ = Tell() + 1;  // just past the '{'
    state_ = State::kMemberKey;
  }

  bool BeginMember(std::string_view key) {
    const ListKind kind = sec_->kind;
    if (kind == ListKind::kManifest && key != kLastUpdate &&
        key != kVersionKey && mcoll_->id_key.empty()) {
      if (key.empty()) return Fail("empty member name");
      mcoll_->id_key.assign(key);  // the first entry names the id key
    }
    if (key == IdKey()) {
      if (has_id_) return Fail("duplicate " + Quoted(key) + " key");
      member_ = Member::kId;
    } else if (key == kLastUpdate && kind != ListKind::kConflicts) {
      if (has_last_update_) return Fail("duplicate \"last_update\" key");
      member_ = Member::kLastUpdate;
    } else if (key == kKeptKey && kind == ListKind::kConflicts) {
      if (has_kept_) return Fail("duplicate \"kept\" key");
      member_ = Member::kKept;
    } else if (key == kVersionKey && !is_single_ &&
               kind != ListKind::kConflicts) {
      if (has_version_) return Fail("duplicate \"_version\" key");
      member_ = Member::kVersion;
    } else if (kind == ListKind::kRecords) {
      member_ = Member::kPayload;
      // Only whitespace and ',' lie between the previous member (or the
      // '{') and this key's opening quote.
      const void* quote =
          std::memchr(text_ + last_end_, '"', Tell() - last_end_);
      assert(quote != nullptr);
      member_start_ =
          static_cast<size_t>(static_cast<const char*>(quote) - text_);
    } else if (kind == ListKind::kManifest && !has_id_) {
      return Fail("id key " + Quoted(key) + " differs from " +
                  Quoted(mcoll_->id_key) + " of the entries before");
    } else {
      return Fail("unexpected member " + Quoted(key));
    }
    state_ = State::kMemberValue;
    return true;
  }

  bool MemberValue(Event e, std::string_view text) {
    switch (member_) {
      case Member::kId: {
        if (e != Event::kString) return Fail(NotA("a UUID string", e));
        auto id = ParseId(text);
        if (!id.ok()) return Fail(id.status().message());
        has_id_ = true;
        switch (sec_->kind) {
          case ListKind::kRecords:
            record_->id = *id;
            break;
          case ListKind::kConflicts:
            note_->id = *id;
            break;
          default:
            stamp_->id = *id;
            break;
        }
        break;
      }
      case Member::kLastUpdate: {
        if (e != Event::kString) return Fail(NotA("a timestamp string", e));
        auto ts = ParseTimestamp(text);
        if (!ts.ok()) return Fail(ts.status().message());
        has_last_update_ = true;
        if (sec_->kind == ListKind::kRecords) {
          record_->last_update = *ts;
        } else {
          stamp_->last_update = *ts;
        }
        break;
      }
      case Member::kVersion:
        if (e != Event::kString) return Fail(NotA("a string", e));
        has_version_ = true;
        if (sec_->kind == ListKind::kRecords) {
          record_->version.assign(text);
        } else {
          stamp_->version.assign(text);
        }
        break;
      case Member::kKept: {
        constexpr std::string_view kWant =
            "expected \"server\", \"client\" or \"merged\"";
        if (e != Event::kString) return Fail(NotA("a string", e));
        if (text == "server") {
          note_->kept = Kept::kServer;
        } else if (text == "client") {
          note_->kept = Kept::kClient;
        } else if (text == "merged") {
          note_->kept = Kept::kMerged;
        } else {
          return Fail(std::string(kWant) + ", not " + Quoted(text));
        }
        has_kept_ = true;
        break;
      }
      case Member::kPayload:
        if (json::IsStart(e)) {
          value_depth_ = depth();
          state_ = State::kInPayload;
          return true;
        }
        AppendPayloadMember(Tell());
        break;
    }
    last_end_ = Tell();
    state_ = State::kMemberKey;
    return true;
  }

  void AppendPayloadMember(size_t end) {
    if (!first_payload_member_) record_->payload += ',';
    first_payload_member_ = false;
    record_->payload.append(text_ + member_start_, end - member_start_);
    last_end_ = end;
  }

  bool EndEntry() {
    const ListKind kind = sec_->kind;
    if (is_single_) {
      record_->payload += '}';
      state_ = State::kDone;
      return true;
    }
    if (!has_id_) {
      if (kind == ListKind::kManifest && mcoll_->id_key.empty()) {
        return Fail("entry has no id key");
      }
      return Fail(std::string(kind == ListKind::kRecords ? "record" : "entry") +
                  " has no " + Quoted(IdKey()) + " key");
    }
    if (kind == ListKind::kRecords) {
      record_->payload += '}';
    } else if (kind == ListKind::kConflicts) {
      if (!has_kept_) return Fail("entry has no \"kept\" key");
    } else if (!has_last_update_) {
      return Fail("entry has no \"last_update\" key");
    }
    ++index_;
    state_ = State::kElement;
    return true;
  }

  const char* const text_;
  const Schema& schema_;
  Section* const sections_;
  const size_t n_sections_;
  const std::string_view unknown_keys_;
  const bool is_manifest_ = false;
  const bool is_single_ = false;
  Section single_section_{.name = "record", .kind = ListKind::kRecords};

  State state_ = State::kTop;
  State skip_return_ = State::kTop;
  int value_depth_ = 0;  // depth() of the array/object being skipped/copied

  Section* sec_ = nullptr;
  std::unordered_set<std::string> seen_collections_;
  std::string collection_;
  std::string_view id_key_;  // the schema's; a manifest's is in mcoll_
  CollectionRecords* crecords_ = nullptr;
  CollectionIds* cids_ = nullptr;
  CollectionStamps* cstamps_ = nullptr;
  CollectionConflicts* cconflicts_ = nullptr;
  Manifest::Collection* mcoll_ = nullptr;
  size_t index_ = 0;

  WireRecord* record_ = nullptr;
  Stamp* stamp_ = nullptr;
  ConflictNote* note_ = nullptr;
  bool has_id_ = false;
  bool has_last_update_ = false;
  bool has_kept_ = false;
  bool has_version_ = false;
  Member member_ = Member::kPayload;
  bool first_payload_member_ = true;
  size_t last_end_ = 0;      // offset just past the previous member
  size_t member_start_ = 0;  // offset of a payload member's key
};

// ---------------------------------------------------------------------------
// Reading flat objects: login, lock and error bodies. Unknown members are
// skipped (validated, ignored) so that peers may add fields.

struct Field {
  std::string_view name;
  std::string* str = nullptr;  // a string member, or
  int64_t* num = nullptr;      // an integer member, or
  bool* flag = nullptr;        // a boolean member
  bool required = true;
  bool seen = false;
};

class FlatReader final : public json::EventHandler<FlatReader> {
 public:
  FlatReader(const json::SpanStream& in, Field* fields, size_t n)
      : EventHandler(in, CodecLimits{}.max_depth), fields_(fields), n_(n) {}

  bool OnEvent(Event e, std::string_view text) {
    switch (state_) {
      case State::kTop:
        if (e != Event::kStartObject) return Fail(NotA("an object", e));
        state_ = State::kKey;
        return true;
      case State::kKey:
        if (e == Event::kEndObject) {
          state_ = State::kDone;
          return true;
        }
        field_ = nullptr;
        for (size_t i = 0; i < n_; ++i) {
          if (fields_[i].name == text) field_ = &fields_[i];
        }
        if (field_ != nullptr) {
          if (field_->seen) return Fail("duplicate key " + Quoted(text));
          field_->seen = true;
        }
        state_ = State::kValue;
        return true;
      case State::kValue:
        if (field_ == nullptr) {
          if (json::IsStart(e)) {
            skip_depth_ = depth();
            state_ = State::kSkipping;
          } else {
            state_ = State::kKey;
          }
          return true;
        }
        if (field_->str != nullptr) {
          if (e != Event::kString) return Fail(NotA("a string", e));
          field_->str->assign(text);
        } else if (field_->flag != nullptr) {
          if (e != Event::kTrue && e != Event::kFalse) {
            return Fail(NotA("a boolean", e));
          }
          *field_->flag = e == Event::kTrue;
        } else {
          int64_t v = 0;
          auto r = std::from_chars(text.data(), text.data() + text.size(), v);
          if (e != Event::kNumber || r.ec != std::errc() ||
              r.ptr != text.data() + text.size()) {
            return Fail(e == Event::kNumber ? "expected an integer"
                                            : NotA("an integer", e));
          }
          *field_->num = v;
        }
        state_ = State::kKey;
        return true;
      case State::kSkipping:
        if (json::IsEnd(e) && depth() == skip_depth_) state_ = State::kKey;
        return true;
      case State::kDone:
        break;
    }
    return Fail("unexpected data");
  }

  std::string Where() const {
    if (state_ == State::kValue && field_ != nullptr) {
      return std::string(field_->name);
    }
    return "body";
  }

 private:
  enum class State : unsigned char { kTop, kKey, kValue, kSkipping, kDone };
  Field* const fields_;
  const size_t n_;
  State state_ = State::kTop;
  Field* field_ = nullptr;
  int skip_depth_ = 0;
};

Status ReadFlat(std::string_view body, Field* fields, size_t n) {
  json::SpanStream in(body);
  FlatReader reader(in, fields, n);
  SYNCSTACK_RETURN_IF_ERROR(json::Parse(body, in, reader, "body"));
  for (size_t i = 0; i < n; ++i) {
    if (fields[i].required && !fields[i].seen) {
      return Status::InvalidArgument("body: missing " + Quoted(fields[i].name));
    }
  }
  return Status::Ok();
}

Status RequireNonEmpty(std::string_view name, const std::string& value) {
  if (!value.empty()) return Status::Ok();
  return Status::InvalidArgument(std::string(name) + ": must not be empty");
}

Status RequireNonNegative(std::string_view name, int64_t value) {
  if (value >= 0) return Status::Ok();
  return Status::InvalidArgument(std::string(name) + ": must not be negative");
}

// {"<a>":"<va>","<b>":<vb>}
void EncodeStringAndInt(std::string_view a, std::string_view va,
                        std::string_view b, int64_t vb, std::string& out) {
  out.clear();
  out += '{';
  AppendJsonString(a, out);
  out += ':';
  AppendJsonString(va, out);
  out += ',';
  AppendJsonString(b, out);
  out += ':';
  AppendInt(vb, out);
  out += '}';
}

// ---------------------------------------------------------------------------
// ValidateJsonObject

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

std::string_view KeptName(Kept kept) noexcept {
  switch (kept) {
    case Kept::kServer:
      return "server";
    case Kept::kClient:
      return "client";
    case Kept::kMerged:
      return "merged";
  }
  return "server";
}

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

// --- synchronise.json ---

Result<SyncRequest> DecodeSyncRequest(std::string_view body,
                                      const Schema& schema,
                                      const CodecLimits& limits) {
  SyncRequest request;
  Section sections[] = {
      {.name = "add", .kind = ListKind::kRecords, .records = &request.add},
      {.name = "update",
       .kind = ListKind::kRecords,
       .records = &request.update},
      {.name = "delete", .kind = ListKind::kIds, .ids = &request.del},
      {.name = "get", .kind = ListKind::kIds, .ids = &request.get},
      {.name = "_delete_versions",
       .kind = ListKind::kStamps,
       .stamps = &request.delete_versions},
      {.name = "_versions",
       .kind = ListKind::kFlag,
       .flag = &request.want_versions},
  };
  json::SpanStream in(body);
  ListReader reader(body, in, limits, schema, sections, std::size(sections),
                    "add, update, delete or get");
  SYNCSTACK_RETURN_IF_ERROR(json::Parse(body, in, reader, "body"));
  return request;
}

void EncodeSyncRequest(const SyncRequest& request, const Schema& schema,
                       std::string& out) {
  out.clear();
  out += "{\"add\":";
  AppendRecordSection(request.add, schema, out);
  out += ",\"update\":";
  AppendRecordSection(request.update, schema, out);
  out += ",\"delete\":";
  AppendIdSection(request.del, out);
  out += ",\"get\":";
  AppendIdSection(request.get, out);
  if (!request.delete_versions.empty()) {
    out += ",\"_delete_versions\":";
    AppendSection(request.delete_versions, out,
                  [&](const CollectionStamps& c, std::string& o) {
                    AppendStampItems(c.stamps, IdKeyFor(schema, c.collection),
                                     o);
                  });
  }
  if (request.want_versions) out += ",\"_versions\":true";
  out += '}';
}

Result<SyncResponse> DecodeSyncResponse(std::string_view body,
                                        const Schema& schema,
                                        const CodecLimits& limits) {
  SyncResponse response;
  Section sections[] = {
      {.name = "get", .kind = ListKind::kRecords, .records = &response.get},
      {.name = "stamps", .kind = ListKind::kStamps, .stamps = &response.stamps},
      {.name = "conflicts",
       .kind = ListKind::kConflicts,
       .conflicts = &response.conflicts},
  };
  json::SpanStream in(body);
  // Unknown top-level keys of an answer are skipped: a newer server may add
  // some.
  ListReader reader(body, in, limits, schema, sections, std::size(sections),
                    "");
  SYNCSTACK_RETURN_IF_ERROR(json::Parse(body, in, reader, "body"));
  return response;
}

void EncodeSyncResponse(const SyncResponse& response, const Schema& schema,
                        std::string& out) {
  out.clear();
  out += "{\"get\":";
  AppendRecordSection(response.get, schema, out);
  out += ",\"stamps\":";
  AppendSection(response.stamps, out,
                [&](const CollectionStamps& c, std::string& o) {
                  AppendStampItems(c.stamps, IdKeyFor(schema, c.collection), o);
                });
  out += ",\"conflicts\":";
  AppendSection(response.conflicts, out,
                [&](const CollectionConflicts& c, std::string& o) {
                  const std::string key =
                      KeyColon(IdKeyFor(schema, c.collection));
                  bool first = true;
                  for (const ConflictNote& note : c.conflicts) {
                    if (!first) o += ',';
                    first = false;
                    o += '{';
                    o += key;
                    AppendQuotedId(note.id, o);
                    o += ",\"kept\":\"";
                    o += KeptName(note.kept);
                    o += "\"}";
                  }
                });
  out += '}';
}

// --- fetch.json ---

Result<Manifest> DecodeManifest(std::string_view body,
                                const CodecLimits& limits) {
  Manifest manifest;
  Section section{.name = "",
                  .kind = ListKind::kManifest,
                  .manifest = &manifest.collections};
  json::SpanStream in(body);
  ListReader reader(body, in, limits, &section);
  SYNCSTACK_RETURN_IF_ERROR(json::Parse(body, in, reader, "body"));
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

// --- single records ---

Result<RecordParts> SplitRecordObject(std::string_view json,
                                      std::string_view id_key,
                                      const CodecLimits& limits) {
  WireRecord record;
  json::SpanStream in(json);
  ListReader reader(json, in, limits, id_key, &record);
  SYNCSTACK_RETURN_IF_ERROR(json::Parse(json, in, reader, "record"));
  RecordParts parts;
  parts.has_id = reader.has_id();
  parts.id = record.id;
  parts.last_update = record.last_update;
  parts.payload = std::move(record.payload);
  return parts;
}

void EncodeRecordObject(const WireRecord& record, std::string_view id_key,
                        std::string_view extra_members, std::string& out) {
  AppendRecord(record, KeyColon(id_key), out, extra_members);
}

// --- login, lock, errors ---

Result<LoginRequest> DecodeLoginRequest(std::string_view body) {
  LoginRequest request;
  Field fields[] = {{.name = "user", .str = &request.user},
                    {.name = "password", .str = &request.password}};
  SYNCSTACK_RETURN_IF_ERROR(ReadFlat(body, fields, std::size(fields)));
  SYNCSTACK_RETURN_IF_ERROR(RequireNonEmpty("user", request.user));
  return request;
}

void EncodeLoginRequest(const LoginRequest& request, std::string& out) {
  out.clear();
  out += "{\"user\":";
  AppendJsonString(request.user, out);
  out += ",\"password\":";
  AppendJsonString(request.password, out);
  out += '}';
}

Result<LoginResponse> DecodeLoginResponse(std::string_view body) {
  LoginResponse response;
  Field fields[] = {
      {.name = "token", .str = &response.token},
      {.name = "expires_in", .num = &response.expires_in},
      {.name = "policy", .str = &response.policy, .required = false}};
  SYNCSTACK_RETURN_IF_ERROR(ReadFlat(body, fields, std::size(fields)));
  SYNCSTACK_RETURN_IF_ERROR(RequireNonEmpty("token", response.token));
  SYNCSTACK_RETURN_IF_ERROR(
      RequireNonNegative("expires_in", response.expires_in));
  return response;
}

void EncodeLoginResponse(const LoginResponse& response, std::string& out) {
  EncodeStringAndInt("token", response.token, "expires_in", response.expires_in,
                     out);
  if (!response.policy.empty()) {
    out.pop_back();
    out += ",\"policy\":";
    AppendJsonString(response.policy, out);
    out += '}';
  }
}

Result<LockRequest> DecodeLockRequest(std::string_view body) {
  LockRequest request;
  Field fields[] = {{.name = "device", .str = &request.device},
                    {.name = "_client_time_ms",
                     .num = &request.client_time,
                     .required = false},
                    {.name = "_synced_through",
                     .num = &request.synced_through,
                     .required = false}};
  SYNCSTACK_RETURN_IF_ERROR(ReadFlat(body, fields, std::size(fields)));
  SYNCSTACK_RETURN_IF_ERROR(RequireNonEmpty("device", request.device));
  if (fields[2].seen) {
    SYNCSTACK_RETURN_IF_ERROR(
        RequireNonNegative("_synced_through", request.synced_through));
  }
  return request;
}

void EncodeLockRequest(const LockRequest& request, std::string& out) {
  out.clear();
  out += "{\"device\":";
  AppendJsonString(request.device, out);
  if (request.client_time != kNoTimestamp) {
    out += ",\"_client_time_ms\":";
    AppendInt(request.client_time, out);
  }
  if (request.synced_through >= 0) {
    out += ",\"_synced_through\":";
    AppendInt(request.synced_through, out);
  }
  out += '}';
}

Result<LockResponse> DecodeLockResponse(std::string_view body) {
  LockResponse response;
  Field fields[] = {
      {.name = "lease", .str = &response.lease},
      {.name = "expires_in", .num = &response.expires_in},
      {.name = "_clock_offset_ms",
       .num = &response.clock_offset_ms,
       .required = false},
      {.name = "_seq", .num = &response.seq, .required = false},
      {.name = "_resync", .flag = &response.resync, .required = false}};
  SYNCSTACK_RETURN_IF_ERROR(ReadFlat(body, fields, std::size(fields)));
  SYNCSTACK_RETURN_IF_ERROR(RequireNonEmpty("lease", response.lease));
  SYNCSTACK_RETURN_IF_ERROR(
      RequireNonNegative("expires_in", response.expires_in));
  return response;
}

void EncodeLockResponse(const LockResponse& response, std::string& out) {
  EncodeStringAndInt("lease", response.lease, "expires_in", response.expires_in,
                     out);
  if (response.clock_offset_ms != kNoTimestamp) {
    out.pop_back();
    out += ",\"_clock_offset_ms\":";
    AppendInt(response.clock_offset_ms, out);
    out += '}';
  }
  if (response.seq >= 0) {
    out.pop_back();
    out += ",\"_seq\":";
    AppendInt(response.seq, out);
    if (response.resync) out += ",\"_resync\":true";
    out += '}';
  }
}

void EncodeError(const Status& status, int64_t retry_after_seconds,
                 std::string& out) {
  out.clear();
  out += "{\"error\":";
  AppendJsonString(ErrorCodeFor(status.code()), out);
  out += ",\"message\":";
  AppendJsonString(status.message(), out);
  if (status.code() == Status::Code::kLocked && retry_after_seconds >= 0) {
    out += ",\"retry_after\":";
    AppendInt(retry_after_seconds, out);
  }
  out += '}';
}

Status DecodeError(int http_status, std::string_view body,
                   int64_t* retry_after_seconds) {
  std::string error, message;
  int64_t retry_after = -1;
  Field fields[] = {
      {.name = "error", .str = &error},
      {.name = "message", .str = &message, .required = false},
      {.name = "retry_after", .num = &retry_after, .required = false},
  };
  const bool is_error_body =
      ReadFlat(body, fields, std::size(fields)).ok() && !error.empty();
  if (retry_after_seconds != nullptr) {
    *retry_after_seconds = is_error_body ? retry_after : -1;
  }
  Status::Code code = CodeForError(http_status, is_error_body ? error : "");
  if (code == Status::Code::kOk) code = Status::Code::kIOError;
  if (is_error_body) {
    return Status(code, message.empty() ? error : std::move(message));
  }
  std::string msg = "HTTP " + std::to_string(http_status);
  if (!body.empty()) {
    msg += ": ";
    msg.append(body.substr(0, 200));
  }
  return Status(code, std::move(msg));
}

}  // namespace syncstack
