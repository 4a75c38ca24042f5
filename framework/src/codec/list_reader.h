// Private to the codec: the DOM-free reader of the list-shaped messages.
// One SAX state machine (over json_reader.h) reads three shapes of input,
// each through its own entry point:
//   ReadSyncBody      synchronise.json, both ways: top-level sections, each
//                     an object of collections, each a list of entries;
//   ReadManifestBody  fetch.json: the object of collections itself, each id
//                     key read from the entries;
//   ReadRecordObject  one application record object, its id key optional.
// Record payloads are cut from the input as raw spans, never re-serialised.
// Errors are kInvalidArgument naming the part, e.g. `add.budget[2].bid: ...`.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "syncstack/codec.h"

namespace syncstack::codec_internal {

enum class ListKind : unsigned char {
  kRecords,    // [{<id key>: uuid, [last_update], payload...}, ...]
  kIds,        // ["uuid", ...]
  kStamps,     // [{<id key>: uuid, last_update: ts}, ...]
  kConflicts,  // [{<id key>: uuid, kept: "server"|"client"|"merged"}, ...]
  kManifest,   // kStamps with the id key read from the entries
  kSkip,       // an unknown section of a response: validated, ignored
  kFlag,       // a top-level boolean (`_versions`)
};

// One top-level key of a synchronise.json body and where its lists go
// (the member matching `kind`).
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

// Reads a synchronise.json `body` into `sections`. A top-level key that
// names no section is an error listing `allowed_keys` when that is not
// empty, else it is skipped. Collections are checked against `schema`.
Status ReadSyncBody(std::string_view body, const Schema& schema,
                    const CodecLimits& limits, std::span<Section> sections,
                    std::string_view allowed_keys);

// Reads a fetch.json `body`, appending its collections to `collections`.
Status ReadManifestBody(std::string_view body, const CodecLimits& limits,
                        std::vector<Manifest::Collection>& collections);

// Reads one record object into `record` (id, last_update, payload); sets
// `has_id` to whether it holds `id_key`.
Status ReadRecordObject(std::string_view json, std::string_view id_key,
                        const CodecLimits& limits, WireRecord& record,
                        bool& has_id);

}  // namespace syncstack::codec_internal
