// The reader of the list-shaped messages (see list_reader.h): one SAX
// state machine, set up for one of three shapes of input.
#include "list_reader.h"

#include <cassert>
#include <cstring>
#include <string>
#include <unordered_set>

#include "codec_internal.h"
#include "id_parse.h"
#include "json_reader.h"

namespace syncstack::codec_internal {
namespace {

using json::Event;

// The schema used to check collection names where no schema applies.
const Schema& OpenSchema() {
  static const Schema* const kOpen = new Schema();
  return *kOpen;
}

// The three shapes of input (see list_reader.h).
enum class Shape : unsigned char { kSyncBody, kManifest, kRecord };

// What a reader reads and where its results go.
struct Setup {
  Shape shape;
  const Schema* schema = nullptr;   // kSyncBody: checks collection names
  std::span<Section> sections{};    // kSyncBody: all; kManifest: one
  std::string_view allowed_keys{};  // kSyncBody: see ReadSyncBody
  std::string_view id_key{};        // kRecord: the optional id key
  WireRecord* record = nullptr;     // kRecord: the result
};

// The SAX handler: a state machine over the events of one input of
// `setup.shape`, writing entries straight into their lists. `text` is the
// input that `in` streams (payload members are cut from it).
class ListReader final : public json::EventHandler<ListReader> {
 public:
  ListReader(std::string_view text, const json::SpanStream& in,
             const CodecLimits& limits, const Setup& setup)
      : EventHandler(in, limits.max_depth),
        text_(text.data()),
        shape_(setup.shape),
        schema_(setup.schema != nullptr ? *setup.schema : OpenSchema()),
        sections_(setup.shape == Shape::kRecord
                      ? std::span<Section>(&single_section_, 1)
                      : setup.sections),
        allowed_keys_(setup.allowed_keys),
        id_key_(setup.id_key),
        record_(setup.record) {
    assert(!sections_.empty());
    if (shape_ != Shape::kSyncBody) sec_ = &sections_.front();
  }
  ListReader(const ListReader&) = delete;
  ListReader& operator=(const ListReader&) = delete;

  bool has_id() const noexcept { return has_id_; }

  bool OnEvent(Event e, std::string_view text) {
    switch (state_) {
      case State::kTop:
        if (e != Event::kStartObject) return Fail(NotA("an object", e));
        BeginTop();
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
          state_ =
              shape_ == Shape::kManifest ? State::kDone : State::kSectionKey;
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
    if (shape_ == Shape::kRecord) {
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
        return std::string(shape_ == Shape::kManifest ? "body" : sec_->name);
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
    if (shape_ == Shape::kManifest) return collection_;
    std::string p(sec_->name);
    p += '.';
    p += collection_;
    return p;
  }

  std::string_view IdKey() const {
    return shape_ == Shape::kManifest ? std::string_view(mcoll_->id_key)
                                      : id_key_;
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

  // At the top-level '{': what follows depends on the shape.
  void BeginTop() {
    switch (shape_) {
      case Shape::kSyncBody:
        state_ = State::kSectionKey;
        break;
      case Shape::kManifest:
        state_ = State::kCollKey;
        break;
      case Shape::kRecord:
        BeginRecord();
        break;
    }
  }

  bool BeginSection(std::string_view key) {
    sec_ = nullptr;
    for (Section& s : sections_) {
      if (s.name == key) sec_ = &s;
    }
    if (sec_ == nullptr) {
      if (!allowed_keys_.empty()) {
        return Fail("unknown key " + Quoted(key) + " (want " +
                    std::string(allowed_keys_) + ")");
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
    } else if (key == kVersionKey && shape_ != Shape::kRecord &&
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
    if (shape_ == Shape::kRecord) {
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
  const Shape shape_;
  const Schema& schema_;
  Section single_section_{.name = "record", .kind = ListKind::kRecords};
  const std::span<Section> sections_;
  const std::string_view allowed_keys_;

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

}  // namespace

Status ReadSyncBody(std::string_view body, const Schema& schema,
                    const CodecLimits& limits, std::span<Section> sections,
                    std::string_view allowed_keys) {
  json::SpanStream in(body);
  ListReader reader(body, in, limits,
                    {.shape = Shape::kSyncBody,
                     .schema = &schema,
                     .sections = sections,
                     .allowed_keys = allowed_keys});
  return json::Parse(body, in, reader, "body");
}

Status ReadManifestBody(std::string_view body, const CodecLimits& limits,
                        std::vector<Manifest::Collection>& collections) {
  Section section{
      .name = "", .kind = ListKind::kManifest, .manifest = &collections};
  json::SpanStream in(body);
  ListReader reader(body, in, limits,
                    {.shape = Shape::kManifest, .sections = {&section, 1}});
  return json::Parse(body, in, reader, "body");
}

Status ReadRecordObject(std::string_view json, std::string_view id_key,
                        const CodecLimits& limits, WireRecord& record,
                        bool& has_id) {
  json::SpanStream in(json);
  ListReader reader(
      json, in, limits,
      {.shape = Shape::kRecord, .id_key = id_key, .record = &record});
  SYNCSTACK_RETURN_IF_ERROR(json::Parse(json, in, reader, "record"));
  has_id = reader.has_id();
  return Status::Ok();
}

}  // namespace syncstack::codec_internal
