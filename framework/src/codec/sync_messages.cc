// synchronise.json, both ways: the request (add, update, delete, get and
// the extensions) and the answer (records, stamps, conflicts).
#include <iterator>
#include <string>

#include "codec_internal.h"
#include "list_reader.h"
#include "syncstack/codec.h"

namespace syncstack {
namespace {

using codec_internal::AppendQuotedId;
using codec_internal::AppendRecord;
using codec_internal::AppendStampItems;
using codec_internal::KeyColon;
using codec_internal::ListKind;
using codec_internal::ReadSyncBody;
using codec_internal::Section;

// The id key to write for `collection`; "id" if the schema does not know
// it (encoders cannot fail; the caller passes validated collections).
std::string_view IdKeyFor(const Schema& schema, std::string_view collection) {
  auto key = schema.IdKey(collection);
  return key.ok() ? *key : std::string_view("id");
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
      {.name = "_tombstones",
       .kind = ListKind::kFlag,
       .flag = &request.want_tombstones},
  };
  SYNCSTACK_RETURN_IF_ERROR(ReadSyncBody(body, schema, limits, sections,
                                         "add, update, delete or get"));
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
  if (request.want_tombstones) out += ",\"_tombstones\":true";
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
      {.name = "_tombstones",
       .kind = ListKind::kStamps,
       .stamps = &response.tombstones},
      {.name = "_get_left", .kind = ListKind::kIds, .ids = &response.get_left},
  };
  // Unknown top-level keys of an answer are skipped: a
  // newer server may add some.
  SYNCSTACK_RETURN_IF_ERROR(ReadSyncBody(body, schema, limits, sections, ""));
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
  if (!response.tombstones.empty()) {
    out += ",\"_tombstones\":";
    AppendSection(response.tombstones, out,
                  [&](const CollectionStamps& c, std::string& o) {
                    AppendStampItems(c.stamps, IdKeyFor(schema, c.collection),
                                     o);
                  });
  }
  if (!response.get_left.empty()) {
    out += ",\"_get_left\":";
    AppendIdSection(response.get_left, out);
  }
  out += '}';
}

}  // namespace syncstack
