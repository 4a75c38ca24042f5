// The read side: fetch.json (the whole manifest), the paged /v1/manifest and
// /v1/records, and /v1/reconcile over the cached ItemIndex.
#include <algorithm>

#include "history.h"
#include "service/service_impl.h"
#include "syncstack/pages.h"
#include "syncstack/reconcile/reconcile.h"
#include "syncstack/tombstones.h"

namespace syncstack {
namespace {

using service::ErrorResponse;
using service::PageQuery;
using service::QueryParam;

// Calls `fn` for the live entries of a page: ids after q.after, at most
// q.limit of them. Sets *more when another live entry follows.
Status ScanPage(Store& store, const PageQuery& q,
                FunctionRef<void(const ManifestEntry&)> fn, bool* more) {
  ScanOptions options;
  options.include_tombstones = false;
  if (q.after) options.range.begin = *q.after;
  auto it = store.Scan(q.collection, options);
  size_t n = 0;
  for (; it->Valid(); it->Next()) {
    const ManifestEntry& e = it->entry();
    if (q.after && e.id == *q.after) continue;
    if (n == q.limit) {
      *more = true;
      break;
    }
    fn(e);
    ++n;
  }
  return it->status();
}

// The collections a manifest lists: the schema's when it is strict, else
// those the store holds.
Result<std::vector<std::string>> ListedCollections(Store& store,
                                                   const Schema& schema) {
  if (!schema.strict()) return store.Collections();
  std::vector<std::string> names;
  for (const auto& [name, key] : schema.collections()) names.push_back(name);
  return names;
}

// The collections fetch.json asked for: checked against the schema,
// sorted, each once.
Result<std::vector<std::string>> RequestedCollections(
    const std::vector<std::string>& collections, const Schema& schema) {
  for (const auto& name : collections) {
    auto key = schema.IdKey(name);
    if (!key.ok()) return key.status().WithContext("collections");
  }
  std::vector<std::string> names = collections;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Response Encoded(bool binary, const auto& page, auto encode_binary,
                 auto encode_json) {
  Response response;
  if (binary) {
    encode_binary(page, response.body);
    response.content_type = std::string(kBinaryContentType);
  } else {
    encode_json(page, response.body);
  }
  return response;
}

// The list of collections and the account's sequence (/v1/manifest
// without a collection).
Response CollectionListResponse(Store& store, const Schema& schema) {
  CollectionList list;
  auto seq = AccountSequence(store);
  if (!seq.ok()) return ErrorResponse(seq.status());
  list.seq = *seq;
  auto point = history::PointAt(store, *seq);
  if (!point.ok()) return ErrorResponse(point.status());
  list.history = std::move(*point);
  auto names = ListedCollections(store, schema);
  if (!names.ok()) return ErrorResponse(names.status());
  for (auto& name : *names) {
    auto key = schema.IdKey(name);
    if (!key.ok()) continue;
    list.collections.push_back({std::move(name), std::string(*key)});
  }
  Response response;
  EncodeCollectionList(list, response.body);
  return response;
}

}  // namespace

Result<Manifest> SyncService::Impl::Fetch(
    std::string_view account, const std::vector<std::string>& collections,
    bool with_versions) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> store, StoreFor(account));
  std::vector<std::string> names;
  if (!collections.empty()) {
    SYNCSTACK_ASSIGN_OR_RETURN(names,
                               RequestedCollections(collections, schema));
  } else {
    SYNCSTACK_ASSIGN_OR_RETURN(names, ListedCollections(*store, schema));
  }
  Manifest manifest;
  manifest.collections.reserve(names.size());
  ScanOptions scan_options;
  scan_options.include_tombstones = false;
  for (auto& name : names) {
    Manifest::Collection out;
    auto key = schema.IdKey(name);
    if (!key.ok()) continue;  // a stored name the schema no longer has
    out.id_key = std::string(*key);
    auto it = store->Scan(name, scan_options);
    for (; it->Valid(); it->Next()) {
      const ManifestEntry& e = it->entry();
      out.entries.push_back(
          Stamp{e.id, e.version.timestamp,
                with_versions ? e.version.extra : std::string()});
    }
    SYNCSTACK_RETURN_IF_ERROR(it->status());
    out.name = std::move(name);
    manifest.collections.push_back(std::move(out));
  }
  return manifest;
}

Response SyncService::Impl::HandleFetch(const Request& request,
                                        const std::string& account) {
  std::vector<std::string> collections;
  if (auto list = QueryParam(request.query, "collections")) {
    collections = service::SplitList(*list);
    if (collections.empty()) {
      return ErrorResponse(Status::InvalidArgument("collections: empty list"));
    }
  }
  bool versions = QueryParam(request.query, "versions") == "1";
  auto source = ManifestSource(account, collections, versions);
  if (!source.ok()) return ErrorResponse(source.status());
  Response response;
  response.source = std::move(*source);
  if (request.accepts_source) return response;
  Status read = ReadWholeBody(response);
  if (!read.ok()) return ErrorResponse(read);
  return response;
}

Result<std::shared_ptr<BodySource>> SyncService::Impl::ManifestSource(
    std::string_view account, const std::vector<std::string>& collections,
    bool with_versions) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> store, StoreFor(account));
  std::vector<std::string> names;
  if (!collections.empty()) {
    SYNCSTACK_ASSIGN_OR_RETURN(names,
                               RequestedCollections(collections, schema));
  } else {
    SYNCSTACK_ASSIGN_OR_RETURN(names, ListedCollections(*store, schema));
  }
  std::vector<service::ManifestWriter::Listed> listed;
  listed.reserve(names.size());
  for (std::string& name : names) {
    auto key = schema.IdKey(name);
    if (!key.ok()) continue;  // a stored name the schema no longer has
    listed.push_back({std::move(name), std::string(*key)});
  }
  return std::shared_ptr<BodySource>(std::make_shared<service::ManifestWriter>(
      std::move(store), std::move(listed), with_versions));
}

Response SyncService::Impl::HandleManifest(const Request& request,
                                           const std::string& account) {
  auto store = StoreFor(account);
  if (!store.ok()) return ErrorResponse(store.status());
  if (!QueryParam(request.query, "collection")) {
    return CollectionListResponse(**store, schema);
  }
  auto q = service::ParsePageQuery(request.query, schema);
  if (!q.ok()) return ErrorResponse(q.status());
  ManifestPage page;
  auto seq = AccountSequence(**store);
  if (!seq.ok()) return ErrorResponse(seq.status());
  page.seq = *seq;
  page.collection = q->collection;
  page.id_key = q->id_key;
  page.entries.reserve(std::min<size_t>(q->limit, 4096));
  Status scanned = ScanPage(
      **store, *q,
      [&](const ManifestEntry& e) {
        page.entries.push_back(
            Stamp{e.id, e.version.timestamp, e.version.extra});
      },
      &page.more);
  if (!scanned.ok()) return ErrorResponse(scanned);
  return Encoded(q->binary, page, EncodeManifestPageBinary,
                 EncodeManifestPageJson);
}

Response SyncService::Impl::HandleRecords(const Request& request,
                                          const std::string& account) {
  auto store = StoreFor(account);
  if (!store.ok()) return ErrorResponse(store.status());
  auto q = service::ParsePageQuery(request.query, schema);
  if (!q.ok()) return ErrorResponse(q.status());
  RecordsPage page;
  page.collection = q->collection;
  page.id_key = q->id_key;
  // Ids first (a scan), then their records, so the page is at most
  // `limit` records and about kPageBytes of payload.
  constexpr size_t kPageBytes = 4u << 20;
  std::vector<RecordId> ids;
  ids.reserve(std::min<size_t>(q->limit, 4096));
  Status scanned = ScanPage(
      **store, *q, [&](const ManifestEntry& e) { ids.push_back(e.id); },
      &page.more);
  if (!scanned.ok()) return ErrorResponse(scanned);
  size_t bytes = 0;
  // The JSON form cannot say "more" on a short page (a client takes it
  // for the last): a page whose payload would pass the body limit is
  // refused instead, with nothing held beyond the limit.
  const size_t json_cap = options.max_body;
  bool json_over = false;
  page.records.reserve(ids.size());
  Status s = (*store)->Get(q->collection, ids, [&](const Record& r) {
    if (r.deleted || json_over || (q->binary && bytes >= kPageBytes)) return;
    if (!q->binary && !page.records.empty() &&
        bytes + r.payload.size() > json_cap) {
      json_over = true;
      return;
    }
    bytes += r.payload.size();
    page.records.push_back(
        WireRecord{r.id, r.version.timestamp, r.payload, r.version.extra});
  });
  if (!s.ok()) return ErrorResponse(s);
  if (json_over) {
    return ErrorResponse(Status::TooLarge(
        "records page: more than " + std::to_string(json_cap) +
        " bytes of records; ask for a smaller limit (or format=binary)"));
  }
  if (bytes >= kPageBytes && page.records.size() < ids.size()) {
    page.more = true;
  }
  // Read after the records: a write during the scan shows as a new seq.
  auto seq = AccountSequence(**store);
  if (!seq.ok()) return ErrorResponse(seq.status());
  page.seq = *seq;
  return Encoded(q->binary, page, EncodeRecordsPageBinary,
                 EncodeRecordsPageJson);
}

Response SyncService::Impl::HandleReconcile(const Request& request,
                                            const std::string& account) {
  if (auto refused = service::RefuseLargeBody(request, options.max_body)) {
    return std::move(*refused);
  }
  auto store = StoreFor(account);
  if (!store.ok()) return ErrorResponse(store.status());
  auto collection = QueryParam(request.query, "collection");
  if (!collection || collection->empty()) {
    return ErrorResponse(Status::InvalidArgument("collection: missing"));
  }
  std::string name(*collection);
  auto key = schema.IdKey(name);
  if (!key.ok()) return ErrorResponse(key.status().WithContext("collection"));
  // Under the account's write lock, so the items cannot change mid-round.
  auto account_mutex = MutexFor(account);
  std::lock_guard<std::mutex> guard(*account_mutex);
  auto seq = AccountSequence(**store);
  if (!seq.ok()) return ErrorResponse(seq.status());
  auto cache = item_caches.Current(**store, account, name, *seq);
  if (!cache.ok()) return ErrorResponse(cache.status());
  auto answer = ReconcileRespond(*(*cache)->items, request.body);
  if (!item_caches.Holds(*cache)) {
    // Not kept (over the byte budget): its index, the size of the whole
    // collection, is freed here; hand those pages back now.
    cache->reset();
    service::ItemCaches::ReleaseFreedMemory();
  }
  if (!answer.ok()) {
    return ErrorResponse(answer.status().WithContext("reconcile"));
  }
  Response response;
  response.body = std::move(*answer);
  response.content_type = std::string(kBinaryContentType);
  return response;
}

}  // namespace syncstack
