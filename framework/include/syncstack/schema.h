// Schema: the collections a server syncs and each one's id key.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "syncstack/status.h"

namespace syncstack {

// Without a schema file every valid collection name is accepted with id key
// "id" (an open schema). With one, only its collections exist (strict).
class Schema {
 public:
  // An open schema: any valid collection name, id key "id".
  Schema() = default;

  // Parses a schema file: {"collections": {"budget": {"id": "bid"}, ...}}.
  // Errors: kInvalidArgument naming the offending part.
  static Result<Schema> Parse(std::string_view json);
  // Reads and parses the file at `path`. Errors: kIOError, kInvalidArgument.
  static Result<Schema> Load(const std::string& path);

  // The id key of `collection`. Errors: kInvalidArgument for a name that is
  // not [A-Za-z_][A-Za-z0-9_]{0,63}, or not in a strict schema.
  Result<std::string_view> IdKey(std::string_view collection) const;

  // Adds or changes a collection (a strict schema stays strict).
  // REQUIRES: valid names.
  void Set(std::string collection, std::string id_key);
  // Makes the schema strict: only collections set so far exist.
  void MakeStrict() noexcept { strict_ = true; }

  bool strict() const noexcept { return strict_; }
  // Collections known by name (all of them when strict), sorted.
  const std::map<std::string, std::string, std::less<>>& collections()
      const noexcept {
    return collections_;
  }

  // The schema file form of this schema.
  std::string ToJson() const;

 private:
  bool strict_ = false;
  std::map<std::string, std::string, std::less<>> collections_;
};

}  // namespace syncstack
