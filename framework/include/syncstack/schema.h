// Schema: the collections a server syncs, each one's id key, and for a
// mapped collection the application table that holds its rows.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "syncstack/status.h"

namespace syncstack {

// Where a mapped collection's rows live: an application table whose
// columns are the record's fields (docs/mapped-tables.md).
struct TableMapping {
  // The table's name in the application's database.
  std::string table;
  // Server only: the column holding the owning user's name ("" on devices
  // and for unmapped use).
  std::string account;
  // Column -> the collection whose id the column holds (a foreign key).
  std::map<std::string, std::string, std::less<>> references;

  friend bool operator==(const TableMapping&, const TableMapping&) = default;
};

// Without a schema file every valid collection name is accepted with id key
// "id" (an open schema). With one, only its collections exist (strict).
class Schema {
 public:
  // An open schema: any valid collection name, id key "id".
  Schema() = default;

  // Parses a schema file:
  //   {"collections": {"todo": {"id": "id"},
  //                    "budget": {"id": "bid", "table": "budget",
  //                               "account": "owner",
  //                               "references": {"couple_id": "couples"}}}}
  // "table", "account" and "references" are optional; "account" and
  // "references" need "table"; a reference names a mapped collection of
  // the file. Errors: kInvalidArgument naming the offending part,
  // including references that form a cycle (parents-first order would not
  // exist).
  static Result<Schema> Parse(std::string_view json);
  // Reads and parses the file at `path`. Errors: kIOError, kInvalidArgument.
  static Result<Schema> Load(const std::string& path);

  // The id key of `collection`. Errors: kInvalidArgument for a name that is
  // not [A-Za-z_][A-Za-z0-9_]{0,63}, or not in a strict schema.
  Result<std::string_view> IdKey(std::string_view collection) const;

  // Adds or changes a collection (a strict schema stays strict); a
  // collection's mapping, if any, is kept.
  // REQUIRES: valid names.
  void Set(std::string collection, std::string id_key);
  // Adds or changes a mapped collection. Checks what Parse checks for the
  // mapping (names, references to mapped collections, no cycle) against
  // the schema as it then is; on error nothing changes.
  // Errors: kInvalidArgument.
  Status SetMapped(std::string collection, std::string id_key,
                   TableMapping mapping);
  // Makes the schema strict: only collections set so far exist.
  void MakeStrict() noexcept { strict_ = true; }

  bool strict() const noexcept { return strict_; }
  // Collections known by name (all of them when strict), sorted.
  const std::map<std::string, std::string, std::less<>>& collections()
      const noexcept {
    return collections_;
  }
  // The mapped collections and their tables, sorted by collection.
  const std::map<std::string, TableMapping, std::less<>>& mappings()
      const noexcept {
    return mappings_;
  }
  // The mapping of `collection`, or nullptr for an unmapped one.
  const TableMapping* Mapping(std::string_view collection) const noexcept;

  // The mapped collections, every one after the collections it references
  // (parents first); ties in name order. Children first is the reverse.
  std::vector<std::string> ParentsFirst() const;
  // The length of the longest chain of references from `collection` to a
  // collection that references nothing: 0 for a root or an unmapped
  // collection. Parents have a smaller depth than their children.
  int Depth(std::string_view collection) const noexcept;

  // The schema file form of this schema (Parse reads it back).
  std::string ToJson() const;

 private:
  // Checks the mappings (names, one table per collection, references to
  // mapped collections) and computes depth_. Errors: kInvalidArgument.
  Status CheckMappings();
  // kInvalidArgument naming the cycle, if the references have one;
  // computes depth_.
  Status CheckAcyclic();

  bool strict_ = false;
  std::map<std::string, std::string, std::less<>> collections_;
  std::map<std::string, TableMapping, std::less<>> mappings_;
  std::map<std::string, int, std::less<>> depth_;  // mapped collections
};

}  // namespace syncstack
