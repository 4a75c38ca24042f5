#include "syncstack/schema.h"

#include <algorithm>
#include <cassert>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

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

  // Long on purpose: the reader's state machine, one case per state, read
  // top to bottom as the document nests.
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
        has_id_ = has_table_ = has_account_ = has_references_ = false;
        mapping_ = TableMapping{};
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
        if (e == Event::kEndObject) return EndCollection();
        return OnOptionKey(text);
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
      case State::kTableValue:
      case State::kAccountValue:
        return OnNameValue(e, text);
      case State::kReferences:
        if (e != Event::kStartObject) return Fail(NotA("an object", e));
        state_ = State::kRefKey;
        return true;
      case State::kRefKey:
        if (e == Event::kEndObject) {
          state_ = State::kOptionKey;
          return true;
        }
        if (!IsValidCollectionName(text)) {
          return Fail("bad column name " + Quoted(text) + " (want " +
                      std::string(kNamePattern) + ")");
        }
        ref_column_.assign(text);
        if (mapping_.references.count(ref_column_) != 0) {
          return Fail("duplicate column " + Quoted(text));
        }
        state_ = State::kRefValue;
        return true;
      case State::kRefValue:
        if (e != Event::kString) return Fail(NotA("a string", e));
        if (!IsValidCollectionName(text)) {
          return Fail("bad collection name " + Quoted(text) + " (want " +
                      std::string(kNamePattern) + ")");
        }
        mapping_.references.emplace(ref_column_, std::string(text));
        state_ = State::kRefKey;
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
      case State::kTableValue:
        return "collections." + collection_ + ".table";
      case State::kAccountValue:
        return "collections." + collection_ + ".account";
      case State::kReferences:
      case State::kRefKey:
        return "collections." + collection_ + ".references";
      case State::kRefValue:
        return "collections." + collection_ + ".references." + ref_column_;
    }
    return "schema";
  }

  bool has_collections() const noexcept { return has_collections_; }
  // The mapped collections read, to be checked and set once all are known.
  std::map<std::string, std::pair<std::string, TableMapping>>& mapped() {
    return mapped_;
  }

 private:
  enum class State : unsigned char {
    kTop,
    kTopKey,
    kCollections,
    kCollKey,
    kCollValue,
    kOptionKey,
    kIdValue,
    kTableValue,
    kAccountValue,
    kReferences,
    kRefKey,
    kRefValue,
    kDone,
  };

  bool OnOptionKey(std::string_view key) {
    State next;
    bool seen;
    if (key == "id") {
      next = State::kIdValue;
      seen = has_id_;
    } else if (key == "table") {
      next = State::kTableValue;
      seen = has_table_;
      has_table_ = true;
    } else if (key == "account") {
      next = State::kAccountValue;
      seen = has_account_;
      has_account_ = true;
    } else if (key == "references") {
      next = State::kReferences;
      seen = has_references_;
      has_references_ = true;
    } else {
      return Fail("unknown key " + Quoted(key) +
                  " (want \"id\", \"table\", \"account\" or "
                  "\"references\")");
    }
    if (seen) return Fail("duplicate key " + Quoted(key));
    state_ = next;
    return true;
  }

  // The value of "table" or "account": a table or column name.
  bool OnNameValue(Event e, std::string_view text) {
    if (e != Event::kString) return Fail(NotA("a string", e));
    if (!IsValidCollectionName(text)) {
      return Fail("bad name " + Quoted(text) + " (want " +
                  std::string(kNamePattern) + ")");
    }
    (state_ == State::kTableValue ? mapping_.table : mapping_.account)
        .assign(text);
    state_ = State::kOptionKey;
    return true;
  }

  bool EndCollection() {
    if (!has_id_) return Fail("missing \"id\"");
    if ((has_account_ || has_references_) && !has_table_) {
      return Fail("\"account\" and \"references\" need \"table\"");
    }
    if (has_table_) {
      mapped_.emplace(collection_, std::make_pair(id_key_, mapping_));
    }
    schema_.Set(collection_, id_key_);
    state_ = State::kCollKey;
    return true;
  }

  static std::string NotA(std::string_view want, Event e) {
    return "expected " + std::string(want) + ", not " + json::Describe(e);
  }

  Schema& schema_;
  State state_ = State::kTop;
  bool has_collections_ = false;
  bool has_id_ = false;
  bool has_table_ = false;
  bool has_account_ = false;
  bool has_references_ = false;
  std::string collection_;
  std::string id_key_;
  std::string ref_column_;
  TableMapping mapping_;
  std::map<std::string, std::pair<std::string, TableMapping>> mapped_;
};

// Appends `, "table": ..., "account": ..., "references": {...}`.
void AppendMapping(const TableMapping& m, std::string& out) {
  out += ", \"table\": ";
  AppendJsonString(m.table, out);
  if (!m.account.empty()) {
    out += ", \"account\": ";
    AppendJsonString(m.account, out);
  }
  if (m.references.empty()) return;
  out += ", \"references\": {";
  bool first = true;
  for (const auto& [column, parent] : m.references) {
    if (!first) out += ", ";
    first = false;
    AppendJsonString(column, out);
    out += ": ";
    AppendJsonString(parent, out);
  }
  out += '}';
}

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
  for (auto& [name, mapped] : reader.mapped()) {
    schema.mappings_.emplace(name, std::move(mapped.second));
  }
  SYNCSTACK_RETURN_IF_ERROR(schema.CheckMappings());
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

const TableMapping* Schema::Mapping(
    std::string_view collection) const noexcept {
  auto it = mappings_.find(collection);
  return it == mappings_.end() ? nullptr : &it->second;
}

Status Schema::SetMapped(std::string collection, std::string id_key,
                         TableMapping mapping) {
  if (!IsValidCollectionName(collection)) {
    return Status::InvalidArgument("bad collection name " + Quoted(collection));
  }
  if (!IsValidIdKey(id_key)) {
    return Status::InvalidArgument("collection " + Quoted(collection) +
                                   ": bad id key " + Quoted(id_key));
  }
  Schema next = *this;
  next.collections_.insert_or_assign(collection, std::move(id_key));
  next.mappings_.insert_or_assign(std::move(collection), std::move(mapping));
  SYNCSTACK_RETURN_IF_ERROR(next.CheckMappings());
  *this = std::move(next);
  return Status::Ok();
}

Status Schema::CheckMappings() {
  std::map<std::string_view, std::string_view> tables;
  for (const auto& [name, m] : mappings_) {
    const std::string where = "schema: collections." + name;
    if (!IsValidCollectionName(m.table) ||
        (!m.account.empty() && !IsValidCollectionName(m.account))) {
      return Status::InvalidArgument(where + ": bad table or account name");
    }
    auto [at, fresh] = tables.emplace(m.table, name);
    if (!fresh) {
      return Status::InvalidArgument(where + ": table " + Quoted(m.table) +
                                     " is mapped by " + Quoted(at->second) +
                                     " too");
    }
    const std::string& id_key = collections_.at(name);
    if (!m.account.empty() && m.account == id_key) {
      return Status::InvalidArgument(
          where + ": the account column cannot be the id column");
    }
    for (const auto& [column, parent] : m.references) {
      const std::string ref = where + ".references." + column;
      if (!IsValidCollectionName(column)) {
        return Status::InvalidArgument(ref + ": bad column name");
      }
      if (column == id_key || column == m.account) {
        return Status::InvalidArgument(
            ref + ": the id or account column cannot reference");
      }
      if (mappings_.count(parent) == 0) {
        return Status::InvalidArgument(
            ref + ": " + Quoted(parent) +
            " is not a mapped collection of this schema (a reference names "
            "a collection with a \"table\")");
      }
    }
  }
  return CheckAcyclic();
}

Status Schema::CheckAcyclic() {
  // Depth-first search; `path` holds the chain being followed, so the
  // first edge back into it names the cycle.
  depth_.clear();
  std::vector<std::string> path;
  std::map<std::string, int, std::less<>> on_path;
  std::function<Status(const std::string&)> visit =
      [&](const std::string& name) -> Status {
    if (depth_.count(name) != 0) return Status::Ok();
    if (auto it = on_path.find(name); it != on_path.end()) {
      std::string cycle;
      for (size_t i = static_cast<size_t>(it->second); i < path.size(); ++i) {
        cycle += path[i] + " -> ";
      }
      return Status::InvalidArgument(
          "schema: references form a cycle: " + cycle + name +
          " (parents must be written before their children)");
    }
    on_path.emplace(name, static_cast<int>(path.size()));
    path.push_back(name);
    int depth = 0;
    for (const auto& [column, parent] : mappings_.at(name).references) {
      SYNCSTACK_RETURN_IF_ERROR(visit(parent));
      depth = std::max(depth, depth_.at(parent) + 1);
    }
    path.pop_back();
    on_path.erase(name);
    depth_.emplace(name, depth);
    return Status::Ok();
  };
  for (const auto& [name, m] : mappings_) {
    SYNCSTACK_RETURN_IF_ERROR(visit(name));
  }
  return Status::Ok();
}

std::vector<std::string> Schema::ParentsFirst() const {
  std::vector<std::string> out;
  for (const auto& [name, m] : mappings_) out.push_back(name);
  std::stable_sort(out.begin(), out.end(),
                   [&](const std::string& a, const std::string& b) {
                     return Depth(a) < Depth(b);
                   });
  return out;
}

int Schema::Depth(std::string_view collection) const noexcept {
  auto it = depth_.find(collection);
  return it == depth_.end() ? 0 : it->second;
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
    if (const TableMapping* m = Mapping(name)) AppendMapping(*m, out);
    out += '}';
  }
  out += first ? "}}\n" : "\n}}\n";
  return out;
}

}  // namespace syncstack
