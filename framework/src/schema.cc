#include "syncstack/schema.h"

#include <cassert>
#include <fstream>
#include <sstream>

#include "json_reader.h"
#include "syncstack/codec.h"

namespace syncstack {
namespace {

using json::Event;

constexpr std::string_view kNamePattern = "[A-Za-z_][A-Za-z0-9_]{0,63}";

bool IsNameStart(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool IsValidCollectionName(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64 || !IsNameStart(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!IsNameStart(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool IsValidIdKey(std::string_view key) noexcept {
  return !key.empty() && key != "last_update";
}

std::string Quoted(std::string_view s) {
  std::string out = "\"";
  out.append(s.substr(0, 64));
  if (s.size() > 64) out += "...";
  out += '"';
  return out;
}

// Reads {"collections": {"<name>": {"id": "<key>"}, ...}}.
class SchemaReader final : public json::EventHandler<SchemaReader> {
 public:
  SchemaReader(const json::SpanStream& in, Schema& schema)
      : EventHandler(in, CodecLimits{}.max_depth), schema_(schema) {}

  bool OnEvent(Event e, std::string_view text) {
    switch (state_) {
      case State::kTop:
        if (e != Event::kStartObject) return Fail(NotA("an object", e));
        state_ = State::kTopKey;
        return true;
      case State::kTopKey:
        if (e == Event::kEndObject) {
          state_ = State::kDone;
          return true;
        }
        if (text != "collections") {
          return Fail("unknown key " + Quoted(text) +
                      " (want \"collections\")");
        }
        if (has_collections_) return Fail("duplicate key \"collections\"");
        has_collections_ = true;
        state_ = State::kCollections;
        return true;
      case State::kCollections:
        if (e != Event::kStartObject) return Fail(NotA("an object", e));
        state_ = State::kCollKey;
        return true;
      case State::kCollKey:
        if (e == Event::kEndObject) {
          state_ = State::kTopKey;
          return true;
        }
        if (!IsValidCollectionName(text)) {
          return Fail("bad collection name " + Quoted(text) + " (want " +
                      std::string(kNamePattern) + ")");
        }
        collection_.assign(text);
        id_key_.clear();
        has_id_ = false;
        state_ = State::kCollValue;
        if (schema_.collections().count(collection_) != 0) {
          return Fail("duplicate collection");
        }
        return true;
      case State::kCollValue:
        if (e != Event::kStartObject) return Fail(NotA("an object", e));
        state_ = State::kOptionKey;
        return true;
      case State::kOptionKey:
        if (e == Event::kEndObject) {
          if (!has_id_) return Fail("missing \"id\"");
          schema_.Set(collection_, id_key_);
          state_ = State::kCollKey;
          return true;
        }
        if (text != "id") {
          return Fail("unknown key " + Quoted(text) + " (want \"id\")");
        }
        if (has_id_) return Fail("duplicate key \"id\"");
        state_ = State::kIdValue;
        return true;
      case State::kIdValue:
        if (e != Event::kString) return Fail(NotA("a string", e));
        if (text.empty()) return Fail("must not be empty");
        if (!IsValidIdKey(text)) {
          return Fail("\"last_update\" cannot be an id key");
        }
        id_key_.assign(text);
        has_id_ = true;
        state_ = State::kOptionKey;
        return true;
      case State::kDone:
        break;
    }
    return Fail("unexpected data");
  }

  std::string Where() const {
    switch (state_) {
      case State::kTop:
      case State::kTopKey:
      case State::kDone:
        return "schema";
      case State::kCollections:
      case State::kCollKey:
        return "collections";
      case State::kCollValue:
      case State::kOptionKey:
        return "collections." + collection_;
      case State::kIdValue:
        return "collections." + collection_ + ".id";
    }
    return "schema";
  }

  bool has_collections() const noexcept { return has_collections_; }

 private:
  enum class State : unsigned char {
    kTop,
    kTopKey,
    kCollections,
    kCollKey,
    kCollValue,
    kOptionKey,
    kIdValue,
    kDone,
  };

  static std::string NotA(std::string_view want, Event e) {
    return "expected " + std::string(want) + ", not " + json::Describe(e);
  }

  Schema& schema_;
  State state_ = State::kTop;
  bool has_collections_ = false;
  bool has_id_ = false;
  std::string collection_;
  std::string id_key_;
};

}  // namespace

Result<Schema> Schema::Parse(std::string_view json) {
  Schema schema;
  schema.MakeStrict();
  json::SpanStream in(json);
  SchemaReader reader(in, schema);
  SYNCSTACK_RETURN_IF_ERROR(json::Parse(json, in, reader, "schema"));
  if (!reader.has_collections()) {
    return Status::InvalidArgument("schema: missing \"collections\"");
  }
  return schema;
}

Result<Schema> Schema::Load(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::IOError("cannot open schema file " + path);
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return Status::IOError("cannot read schema file " + path);
  auto schema = Parse(text.str());
  if (!schema.ok()) return schema.status().WithContext(path);
  return schema;
}

Result<std::string_view> Schema::IdKey(std::string_view collection) const {
  if (!IsValidCollectionName(collection)) {
    return Status::InvalidArgument("bad collection name " + Quoted(collection) +
                                   " (want " + std::string(kNamePattern) + ")");
  }
  auto it = collections_.find(collection);
  if (it != collections_.end()) return std::string_view(it->second);
  if (strict_) {
    return Status::InvalidArgument("unknown collection " + Quoted(collection));
  }
  return std::string_view("id");
}

void Schema::Set(std::string collection, std::string id_key) {
  assert(IsValidCollectionName(collection));
  assert(IsValidIdKey(id_key));
  collections_.insert_or_assign(std::move(collection), std::move(id_key));
}

std::string Schema::ToJson() const {
  std::string out = "{\"collections\": {";
  bool first = true;
  for (const auto& [name, id_key] : collections_) {
    out += first ? "\n  " : ",\n  ";
    first = false;
    AppendJsonString(name, out);
    out += ": {\"id\": ";
    AppendJsonString(id_key, out);
    out += '}';
  }
  out += first ? "}}\n" : "\n}}\n";
  return out;
}

}  // namespace syncstack
