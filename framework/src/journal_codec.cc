// The conflict journal's JSON (journal.h). Writing appends into the
// caller's string; reading is one state machine over the SAX events of
// json_reader.h, which cuts each side's payload from the input as a raw
// span, so a payload comes back byte for byte as it was written.
#include <array>
#include <charconv>
#include <cstdint>
#include <string>

#include "json_reader.h"
#include "syncstack/journal.h"

namespace syncstack {
namespace {

using json::Event;

// The members of an entry and of one side, in the order they are written.
enum class Top : unsigned char {
  kTime,
  kPolicy,
  kCollection,
  kId,
  kDevice,
  kClockOffset,
  kKept,
  kServer,
  kClient,
};
constexpr std::array<std::string_view, 9> kTopNames = {
    "time", "policy", "collection", "id", "device", "clock_offset_ms",
    "kept", "server", "client",
};

enum class Side : unsigned char { kLastUpdate, kVersion, kDeleted, kPayload };
constexpr std::array<std::string_view, 4> kSideNames = {
    "last_update", "version", "deleted", "payload"};

// The index of `name` in `names`, or names.size().
template <size_t N>
size_t Find(const std::array<std::string_view, N>& names,
            std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return i;
  }
  return N;
}

// "" stands for kNoTimestamp.
void AppendTime(Timestamp ts, std::string& out) {
  AppendJsonString(ts == kNoTimestamp ? std::string() : FormatTimestamp(ts),
                   out);
}

Result<Timestamp> ParseTime(std::string_view text) {
  if (text.empty()) return kNoTimestamp;
  return ParseTimestamp(text);
}

void AppendSide(std::string_view name, const JournalSide& side,
                std::string& out) {
  AppendJsonString(name, out);
  out += ":{\"last_update\":";
  AppendTime(side.version.timestamp, out);
  out += ",\"version\":";
  AppendJsonString(side.version.extra, out);
  out += ",\"deleted\":";
  out += side.deleted ? "true" : "false";
  out += ",\"payload\":";
  if (side.deleted || side.payload.empty()) {
    out += "null";
  } else {
    out += side.payload;
  }
  out += '}';
}

class EntryReader final : public json::EventHandler<EntryReader> {
 public:
  EntryReader(const json::SpanStream& in, std::string_view text, int max_depth,
              ConflictJournalEntry& out)
      : EventHandler(in, max_depth), text_(text), out_(out) {}

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
        return TopKey(text);
      case State::kValue:
        return TopValue(e, text);
      case State::kSideKey:
        if (e == Event::kEndObject) {
          state_ = State::kKey;
          return true;
        }
        return SideKey(text);
      case State::kSideValue:
        return SideValue(e, text);
      case State::kPayload:
        if (e == Event::kEndObject && depth() == nested_depth_) {
          side_->payload.assign(
              text_.substr(payload_begin_, Tell() - payload_begin_ + 1));
          state_ = State::kSideKey;
        }
        return true;
      case State::kSkipping:
        if (json::IsEnd(e) && depth() == nested_depth_) state_ = resume_;
        return true;
      case State::kDone:
        break;
    }
    return Fail("unexpected data");
  }

  std::string Where() const {
    if (state_ == State::kValue && top_ < kTopNames.size()) {
      return std::string(kTopNames[top_]);
    }
    if ((state_ == State::kSideValue || state_ == State::kPayload) &&
        member_ < kSideNames.size()) {
      return std::string(kTopNames[top_]) + "." +
             std::string(kSideNames[member_]);
    }
    if (state_ == State::kSideKey) return std::string(kTopNames[top_]);
    return "journal entry";
  }

  // Names the first member missing from the entry or one of its sides.
  Status CheckComplete() const {
    for (size_t i = 0; i < kTopNames.size(); ++i) {
      if ((top_seen_ & (1u << i)) == 0) return Missing(kTopNames[i]);
    }
    for (int s = 0; s < 2; ++s) {
      for (size_t i = 0; i < kSideNames.size(); ++i) {
        if ((side_seen_[s] & (1u << i)) == 0) {
          std::string name(s == 0 ? "server." : "client.");
          return Missing(name.append(kSideNames[i]));
        }
      }
    }
    return Status::Ok();
  }

 private:
  enum class State : unsigned char {
    kTop,
    kKey,
    kValue,
    kSideKey,
    kSideValue,
    kPayload,
    kSkipping,
    kDone,
  };

  static std::string NotA(std::string_view want, Event e) {
    return "expected " + std::string(want) + ", not " + json::Describe(e);
  }
  static Status Missing(std::string_view name) {
    return Status::InvalidArgument("journal entry: missing \"" +
                                   std::string(name) + "\"");
  }

  // Starts skipping the value of an unknown member when it is a container.
  bool SkipUnknown(Event e, State resume) {
    if (json::IsStart(e)) {
      nested_depth_ = depth();
      resume_ = resume;
      state_ = State::kSkipping;
    } else {
      state_ = resume;
    }
    return true;
  }

  bool TopKey(std::string_view name) {
    top_ = Find(kTopNames, name);
    if (top_ < kTopNames.size()) {
      if (top_seen_ & (1u << top_)) {
        return Fail("duplicate member \"" + std::string(name) + "\"");
      }
      top_seen_ |= 1u << top_;
    }
    state_ = State::kValue;
    return true;
  }

  bool TopValue(Event e, std::string_view text) {
    if (top_ >= kTopNames.size()) return SkipUnknown(e, State::kKey);
    const auto member = static_cast<Top>(top_);
    if (member == Top::kServer || member == Top::kClient) {
      if (e != Event::kStartObject) return Fail(NotA("an object", e));
      const int s = member == Top::kServer ? 0 : 1;
      side_ = s == 0 ? &out_.server : &out_.client;
      seen_ = &side_seen_[s];
      state_ = State::kSideKey;
      return true;
    }
    if (member == Top::kClockOffset) {
      if (e == Event::kNull) {
        out_.clock_offset_ms = kNoTimestamp;
      } else if (!ReadInt(e, text, out_.clock_offset_ms)) {
        return Fail("expected an integer or null");
      }
      state_ = State::kKey;
      return true;
    }
    if (e != Event::kString) return Fail(NotA("a string", e));
    if (!ReadTopString(member, text)) return false;
    state_ = State::kKey;
    return true;
  }

  bool ReadTopString(Top member, std::string_view text) {
    switch (member) {
      case Top::kTime: {
        auto time = ParseTime(text);
        if (!time.ok()) return Fail(time.status().message());
        out_.time = *time;
        return true;
      }
      case Top::kId: {
        auto id = RecordId::Parse(text);
        if (!id.ok()) return Fail(id.status().message());
        out_.id = *id;
        return true;
      }
      case Top::kKept:
        for (Kept k : {Kept::kServer, Kept::kClient, Kept::kMerged}) {
          if (KeptName(k) == text) {
            out_.kept = k;
            return true;
          }
        }
        return Fail("expected \"server\", \"client\" or \"merged\"");
      case Top::kPolicy:
        out_.policy.assign(text);
        return true;
      case Top::kCollection:
        out_.collection.assign(text);
        return true;
      case Top::kDevice:
        out_.device.assign(text);
        return true;
      default:
        return Fail("unexpected string");
    }
  }

  bool SideKey(std::string_view name) {
    member_ = Find(kSideNames, name);
    if (member_ < kSideNames.size()) {
      if (*seen_ & (1u << member_)) {
        return Fail("duplicate member \"" + std::string(name) + "\"");
      }
      *seen_ |= 1u << member_;
    }
    state_ = State::kSideValue;
    return true;
  }

  bool SideValue(Event e, std::string_view text) {
    if (member_ >= kSideNames.size()) return SkipUnknown(e, State::kSideKey);
    if (static_cast<Side>(member_) == Side::kPayload &&
        e == Event::kStartObject) {
      payload_begin_ = Tell();
      nested_depth_ = depth();
      state_ = State::kPayload;
      return true;
    }
    if (!ReadSideScalar(e, text)) return false;
    state_ = State::kSideKey;
    return true;
  }

  bool ReadSideScalar(Event e, std::string_view text) {
    switch (static_cast<Side>(member_)) {
      case Side::kLastUpdate: {
        if (e != Event::kString) return Fail(NotA("a string", e));
        auto time = ParseTime(text);
        if (!time.ok()) return Fail(time.status().message());
        side_->version.timestamp = *time;
        return true;
      }
      case Side::kVersion:
        if (e != Event::kString) return Fail(NotA("a string", e));
        side_->version.extra.assign(text);
        return true;
      case Side::kDeleted:
        if (e != Event::kTrue && e != Event::kFalse) {
          return Fail(NotA("a boolean", e));
        }
        side_->deleted = e == Event::kTrue;
        return true;
      case Side::kPayload:
        if (e != Event::kNull) return Fail(NotA("an object or null", e));
        side_->payload.clear();
        return true;
    }
    return Fail("unexpected value");
  }

  static bool ReadInt(Event e, std::string_view text, int64_t& out) {
    if (e != Event::kNumber) return false;
    auto r = std::from_chars(text.data(), text.data() + text.size(), out);
    return r.ec == std::errc() && r.ptr == text.data() + text.size();
  }

  const std::string_view text_;
  ConflictJournalEntry& out_;
  State state_ = State::kTop;
  State resume_ = State::kKey;
  size_t top_ = kTopNames.size();      // the top-level member being read
  size_t member_ = kSideNames.size();  // the side member being read
  uint32_t top_seen_ = 0;
  std::array<uint32_t, 2> side_seen_{};  // server, client
  uint32_t* seen_ = nullptr;             // of the side being read
  JournalSide* side_ = nullptr;
  size_t payload_begin_ = 0;
  int nested_depth_ = 0;  // of the payload or skipped value being read
};

}  // namespace

void EncodeJournalEntry(const ConflictJournalEntry& entry, std::string& out) {
  out.clear();
  out += "{\"time\":";
  AppendTime(entry.time, out);
  out += ",\"policy\":";
  AppendJsonString(entry.policy, out);
  out += ",\"collection\":";
  AppendJsonString(entry.collection, out);
  out += ",\"id\":";
  AppendJsonString(entry.id.ToString(), out);
  out += ",\"device\":";
  AppendJsonString(entry.device, out);
  out += ",\"clock_offset_ms\":";
  out += entry.clock_offset_ms == kNoTimestamp
             ? std::string("null")
             : std::to_string(entry.clock_offset_ms);
  out += ",\"kept\":";
  AppendJsonString(KeptName(entry.kept), out);
  out += ',';
  AppendSide("server", entry.server, out);
  out += ',';
  AppendSide("client", entry.client, out);
  out += '}';
}

Result<ConflictJournalEntry> DecodeJournalEntry(std::string_view json,
                                                const CodecLimits& limits) {
  ConflictJournalEntry entry;
  json::SpanStream in(json);
  EntryReader reader(in, json, limits.max_depth, entry);
  SYNCSTACK_RETURN_IF_ERROR(json::Parse(json, in, reader, "journal entry"));
  SYNCSTACK_RETURN_IF_ERROR(reader.CheckComplete());
  return entry;
}

}  // namespace syncstack
