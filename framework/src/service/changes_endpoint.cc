// GET /v1/changes: the rows of one collection written after a sequence, in
// sequence order, from the store's (collection, base) index, with the
// collection's count and fingerprint. docs/protocol.md ("GET /v1/changes")
// and docs/decisions/changes-feed.md.
#include <charconv>
#include <mutex>

#include "history.h"
#include "service/collection_figure.h"
#include "service/service_impl.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/pages.h"
#include "syncstack/tombstones.h"

namespace syncstack {
namespace {

using service::ErrorResponse;
using service::QueryParam;

struct ChangesQuery {
  std::string collection;
  std::string id_key;
  uint64_t after = 0;
  size_t limit = kDefaultChangesEntries;
  bool binary = false;
  std::string history;  // "" : not given
};

// A decimal whole number from `min` to `max`, or kInvalidArgument naming
// `name`.
Result<uint64_t> ParseWhole(std::string_view text, std::string_view name,
                            uint64_t min, uint64_t max) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      v < min || v > max) {
    return Status::InvalidArgument(
        std::string(name) + ": must be a whole number from " +
        std::to_string(min) + " to " + std::to_string(max));
  }
  return v;
}

// "<seq>:<token>", the token 1..64 characters of [0-9A-Za-z_-].
bool IsHistoryPoint(std::string_view point) {
  size_t colon = point.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 20) {
    return false;
  }
  for (char c : point.substr(0, colon)) {
    if (c < '0' || c > '9') return false;
  }
  std::string_view token = point.substr(colon + 1);
  if (token.empty() || token.size() > 64) return false;
  for (char c : token) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<ChangesQuery> ParseChangesQuery(std::string_view query,
                                       const Schema& schema) {
  ChangesQuery q;
  auto collection = QueryParam(query, "collection");
  if (!collection || collection->empty()) {
    return Status::InvalidArgument("collection: missing");
  }
  q.collection = std::string(*collection);
  auto key = schema.IdKey(q.collection);
  if (!key.ok()) return key.status().WithContext("collection");
  q.id_key = std::string(*key);
  if (auto after = QueryParam(query, "after")) {
    SYNCSTACK_ASSIGN_OR_RETURN(
        q.after, ParseWhole(*after, "after", 0, kMaxChangesAfter));
  }
  if (auto limit = QueryParam(query, "limit")) {
    SYNCSTACK_ASSIGN_OR_RETURN(
        uint64_t n, ParseWhole(*limit, "limit", 1, kMaxChangesEntries));
    q.limit = static_cast<size_t>(n);
  }
  if (auto format = QueryParam(query, "format")) {
    if (*format == "binary") {
      q.binary = true;
    } else if (*format != "json") {
      return Status::InvalidArgument("format: must be json or binary");
    }
  }
  if (auto history = QueryParam(query, "history")) {
    if (!IsHistoryPoint(*history)) {
      return Status::InvalidArgument("history: must be SEQ:TOKEN");
    }
    q.history = std::string(*history);
  }
  return q;
}

// kGone when the account cannot answer from q.after: it is past the
// write sequence, below the tombstone horizon, or from another history.
Status CheckAnswerable(Store& store, const ChangesQuery& q, uint64_t seq) {
  if (q.after > seq) {
    return Status::Gone("after: " + std::to_string(q.after) +
                        " is past the server's write sequence " +
                        std::to_string(seq) +
                        " (restored from a backup?); resync");
  }
  SYNCSTACK_ASSIGN_OR_RETURN(uint64_t horizon, TombstoneHorizon(store));
  if (q.after < horizon) {
    return Status::Gone("after: " + std::to_string(q.after) +
                        " is below the tombstone horizon " +
                        std::to_string(horizon) + "; resync");
  }
  if (!q.history.empty()) {
    SYNCSTACK_ASSIGN_OR_RETURN(bool went_back,
                               history::WentBack(store, seq, q.history));
    if (went_back) {
      return Status::Gone(
          "history: the server's history differs from the device's at " +
          q.history + " (restored from a backup?); resync");
    }
  }
  return Status::Ok();
}

// The entries after q.after, at most q.limit of them and about
// kChangesPageBytes of payload (at least one); sets page.more when another
// entry follows. Rows written after `seq` (by another process) are left
// for the next page.
Status ReadChanges(Store& store, const ChangesQuery& q, ChangesPage& page) {
  size_t bytes = 0;
  Status s = store.ScanSince(
      q.collection, static_cast<Timestamp>(q.after), q.limit + 1,
      [&](const Record& r) {
        if (page.more) return;
        const bool full = page.changes.size() == q.limit ||
                          (!page.changes.empty() && bytes >= kChangesPageBytes);
        if (full || static_cast<uint64_t>(r.base) > page.seq) {
          page.more = true;
          return;
        }
        ChangeEntry e;
        e.record.id = r.id;
        e.record.last_update = r.version.timestamp;
        e.record.version = r.version.extra;
        if (!r.deleted) e.record.payload = r.payload;
        e.seq = static_cast<uint64_t>(r.base);
        e.deleted = r.deleted;
        bytes += r.payload.size();
        page.changes.push_back(std::move(e));
      });
  SYNCSTACK_RETURN_IF_ERROR(s);
  page.last = page.changes.empty() ? q.after : page.changes.back().seq;
  return Status::Ok();
}

// The collection's figure; an account written before figures were kept
// gets it stored now, from one scan, and answers with the stored one (a
// store whose figure other code keeps, PostgreSQL's mapped tables, keeps
// a figure written meanwhile rather than the scan's).
Result<SetFingerprint> FigureFor(Store& store, std::string_view collection) {
  bool stored = false;
  SYNCSTACK_ASSIGN_OR_RETURN(
      SetFingerprint figure,
      service::CurrentFigure(store, collection, &stored));
  if (stored) return figure;
  ChangeBatch batch;
  batch.SetMeta(meta::CollectionFigure(collection), figure.Encode());
  SYNCSTACK_RETURN_IF_ERROR(store.Apply(WriteOptions{}, batch));
  return service::CurrentFigure(store, collection, &stored);
}

}  // namespace

Response SyncService::Impl::HandleChanges(const Request& request,
                                          const std::string& account) {
  auto q = ParseChangesQuery(request.query, schema);
  if (!q.ok()) return ErrorResponse(q.status());
  auto store = StoreFor(account);
  if (!store.ok()) return ErrorResponse(store.status());
  ChangesPage page;
  page.collection = q->collection;
  page.id_key = q->id_key;
  {
    // Under the account's write lock: the sequence, the figure and the
    // entries are of one state of the account.
    auto account_mutex = MutexFor(account);
    std::lock_guard<std::mutex> guard(*account_mutex);
    auto seq = AccountSequence(**store);
    if (!seq.ok()) return ErrorResponse(seq.status());
    page.seq = *seq;
    Status answerable = CheckAnswerable(**store, *q, page.seq);
    if (!answerable.ok()) return ErrorResponse(answerable);
    auto figure = FigureFor(**store, q->collection);
    if (!figure.ok()) return ErrorResponse(figure.status());
    page.count = figure->count;
    page.fingerprint = figure->sum;
    Status read = ReadChanges(**store, *q, page);
    if (!read.ok()) return ErrorResponse(read);
  }
  Response response;
  if (q->binary) {
    EncodeChangesPageBinary(page, response.body);
    response.content_type = std::string(kBinaryContentType);
  } else {
    EncodeChangesPageJson(page, response.body);
  }
  return response;
}

}  // namespace syncstack
