#include "syncstack/service.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "random_token.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/pages.h"
#include "syncstack/protocol.h"
#include "syncstack/reconcile/item_index.h"
#include "syncstack/reconcile/reconcile.h"
#include "syncstack/tombstones.h"

namespace syncstack {
namespace {

class InProcessAuthenticator final : public Authenticator {
 public:
  Result<std::string> Login(std::string_view user,
                            std::string_view) noexcept override {
    if (user.empty() || user.size() > 128) {
      return Status::Unauthorized("bad user name");
    }
    return std::string(user);
  }
};

Response ErrorResponse(const Status& status, int64_t retry_after = -1) {
  Response response;
  response.status = HttpStatusFor(status.code());
  response.retry_after = retry_after;
  EncodeError(status, retry_after, response.body);
  return response;
}

// Splits "a,b,c" (already URL-decoded by the transport) into names.
std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

// Returns the value of `key` in a query string "k=v&k2=v2", if present.
std::optional<std::string_view> QueryParam(std::string_view query,
                                           std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string_view()
                                          : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// One pending write of this request to one record.
struct Pending {
  bool touched = false;  // differs from what the store holds
  std::optional<Record> row;
};

// Idempotency keys: the stamps and conflicts of the last kIdempotencySlots
// applied requests of an account, kept in its metadata ("idem/<slot>" =
// "<key>\n<answer without get>", "idem/next" = the slot to use next) and
// written in the same transaction as the request's writes.
constexpr int kIdempotencySlots = 32;

struct IdempotencySlot {
  int next = 0;                       // where a new key goes
  std::optional<std::string> answer;  // the first answer, if seen
};

Result<IdempotencySlot> FindIdempotencyKey(Store& store, std::string_view key) {
  IdempotencySlot slot;
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> next,
                             store.GetMeta(meta::kIdemNext));
  if (next) slot.next = std::atoi(next->c_str()) % kIdempotencySlots;
  for (int i = 0; i < kIdempotencySlots; ++i) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> entry,
                               store.GetMeta(meta::IdemSlot(i)));
    if (entry && entry->size() > key.size() && entry->starts_with(key) &&
        (*entry)[key.size()] == '\n') {
      slot.answer = entry->substr(key.size() + 1);
      break;
    }
  }
  return slot;
}

void RecordIdempotencyKey(const IdempotencySlot& slot, std::string_view key,
                          const SyncResponse& response, const Schema& schema,
                          ChangeBatch& batch) {
  std::string entry(key);
  entry += '\n';
  std::string body;
  EncodeSyncResponse(response, schema, body);
  entry += body;
  batch.SetMeta(meta::IdemSlot(slot.next), std::move(entry));
  batch.SetMeta(std::string(meta::kIdemNext),
                std::to_string((slot.next + 1) % kIdempotencySlots));
}

// Fills response.get: the records `request` asks for plus, for every write
// the policy did not take as sent, the server's version, so the client ends
// up holding what the server holds. Deleted records are left out.
Status AnswerGets(Store& store, const SyncRequest& request,
                  SyncResponse& response) {
  const bool versions = request.want_versions;
  std::map<std::string, std::vector<RecordId>, std::less<>> wanted;
  for (const auto& c : request.get) {
    auto& list = wanted[c.collection];
    list.insert(list.end(), c.ids.begin(), c.ids.end());
  }
  for (const auto& c : response.conflicts) {
    auto& list = wanted[c.collection];
    for (const auto& note : c.conflicts) list.push_back(note.id);
  }
  response.get.clear();
  for (auto& [collection, list] : wanted) {
    std::unordered_set<RecordId, RecordIdHash> seen;
    std::vector<RecordId> unique;
    for (const auto& id : list) {
      if (seen.insert(id).second) unique.push_back(id);
    }
    CollectionRecords out;
    out.collection = collection;
    SYNCSTACK_RETURN_IF_ERROR(
        store.Get(collection, unique, [&](const Record& r) {
          if (r.deleted) return;
          out.records.push_back(
              WireRecord{r.id, r.version.timestamp, r.payload,
                         versions ? r.version.extra : std::string()});
        }));
    if (!out.records.empty()) response.get.push_back(std::move(out));
  }
  return Status::Ok();
}

// One side of a conflict as the journal shows it.
void AppendJournalSide(std::string_view name, const Version& version,
                       bool deleted, std::string_view payload,
                       std::string& out) {
  AppendJsonString(name, out);
  out += ":{\"last_update\":";
  AppendJsonString(version.timestamp == kNoTimestamp
                       ? std::string()
                       : FormatTimestamp(version.timestamp),
                   out);
  out += ",\"version\":";
  AppendJsonString(version.extra, out);
  out += ",\"deleted\":";
  out += deleted ? "true" : "false";
  out += ",\"payload\":";
  out += deleted || payload.empty() ? std::string_view("null") : payload;
  out += '}';
}

// The account's write sequence ("policy/seq"): it grows with every stored
// write, so a cached view of the account is current while it is unchanged.
Result<uint64_t> ReadSequence(Store& store) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> text,
                             store.GetMeta(meta::kSequence));
  return text ? std::strtoull(text->c_str(), nullptr, 10) : 0;
}

// The query of a manifest or records page.
struct PageQuery {
  std::string collection;
  std::string id_key;
  std::optional<RecordId> after;
  size_t limit = kDefaultPageEntries;
  bool binary = false;
};

Result<PageQuery> ParsePageQuery(std::string_view query, const Schema& schema) {
  PageQuery q;
  auto collection = QueryParam(query, "collection");
  if (!collection || collection->empty()) {
    return Status::InvalidArgument("collection: missing");
  }
  q.collection = std::string(*collection);
  auto key = schema.IdKey(q.collection);
  if (!key.ok()) return key.status().WithContext("collection");
  q.id_key = std::string(*key);
  if (auto after = QueryParam(query, "after")) {
    auto id = RecordId::Parse(*after);
    if (!id.ok()) return id.status().WithContext("after");
    q.after = *id;
  }
  if (auto limit = QueryParam(query, "limit")) {
    char* end = nullptr;
    std::string text(*limit);
    unsigned long long n = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || text[0] == '-' || n < 1 ||
        n > kMaxPageEntries) {
      return Status::InvalidArgument(
          "limit: must be a whole number from 1 to " +
          std::to_string(kMaxPageEntries));
    }
    q.limit = static_cast<size_t>(n);
  }
  if (auto format = QueryParam(query, "format")) {
    if (*format == "binary") {
      q.binary = true;
    } else if (*format != "json") {
      return Status::InvalidArgument("format: must be json or binary");
    }
  }
  return q;
}

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

}  // namespace

std::unique_ptr<Authenticator> NewInProcessAuthenticator() {
  return std::make_unique<InProcessAuthenticator>();
}

struct SyncService::Impl {
  Database& database;
  const ConflictPolicy& policy;
  Clock& clock;
  SyncLock& lock;
  Authenticator& authenticator;
  Schema schema;
  SyncServiceOptions options;

  struct Session {
    std::string account;
    Timestamp expires_at;
  };
  std::mutex mu;  // guards sessions, stores, account_mu
  std::unordered_map<std::string, Session> sessions;
  std::map<std::string, std::shared_ptr<Store>, std::less<>> stores;
  std::map<std::string, std::shared_ptr<std::mutex>, std::less<>> account_mu;
  // Reconciliation items of the live records of (account, collection),
  // current while the account's write sequence is `seq`. An entry is
  // read and updated only under its account's mutex (MutexFor).
  struct ItemCache {
    uint64_t seq = 0;
    std::unique_ptr<ItemIndex> items;
    uint64_t last_used = 0;  // guarded by mu
  };
  // The most (account, collection) item caches kept; the least recently
  // used goes first. An entry in use stays alive until its user is done.
  static constexpr size_t kMaxItemCaches = 64;
  uint64_t item_cache_clock = 0;  // guarded by mu
  std::map<std::pair<std::string, std::string>, std::shared_ptr<ItemCache>>
      item_caches;  // guarded by mu
  // The last clock offset estimated per (account, device), in ms.
  std::map<std::pair<std::string, std::string>, int64_t> clock_offsets;

  // What Decide needs beyond the write itself.
  struct WriteContext {
    Timestamp now = kNoTimestamp;
    uint64_t sequence = 0;  // the account's last used write number
    std::string_view device;
    int64_t clock_offset = kNoTimestamp;
    std::vector<std::string>* journal = nullptr;  // entries to write
  };

  int64_t ClockOffset(const std::string& account, std::string_view device) {
    std::lock_guard<std::mutex> guard(mu);
    auto it = clock_offsets.find({account, std::string(device)});
    return it == clock_offsets.end() ? kNoTimestamp : it->second;
  }

  void Log(const std::string& line) {
    if (options.log) options.log(line);
  }

  Impl(Database& d, const ConflictPolicy& p, Clock& c, SyncLock& l,
       Authenticator& a, Schema s, SyncServiceOptions o)
      : database(d),
        policy(p),
        clock(c),
        lock(l),
        authenticator(a),
        schema(std::move(s)),
        options(o) {}

  Result<std::shared_ptr<Store>> StoreFor(std::string_view account) {
    std::lock_guard<std::mutex> guard(mu);
    auto it = stores.find(account);
    if (it != stores.end()) return it->second;
    auto opened = database.OpenAccount(account);
    if (!opened.ok()) return opened.status();
    stores.emplace(std::string(account), *opened);
    return *opened;
  }

  std::shared_ptr<std::mutex> MutexFor(std::string_view account) {
    std::lock_guard<std::mutex> guard(mu);
    auto& slot = account_mu[std::string(account)];
    if (!slot) slot = std::make_shared<std::mutex>();
    return slot;
  }

  Result<std::string> Authenticate(const Request& request) {
    if (request.token.empty()) {
      return Status::Unauthorized("missing bearer token");
    }
    std::unique_lock<std::mutex> guard(mu);
    auto it = sessions.find(request.token);
    if (it == sessions.end()) {
      guard.unlock();
      // A token of the database's authenticator, from any process.
      return authenticator.VerifyToken(request.token, clock.Now());
    }
    if (it->second.expires_at <= clock.Now()) {
      sessions.erase(it);
      return Status::Unauthorized("token expired");
    }
    return it->second.account;
  }

  std::shared_ptr<ItemCache> CacheFor(std::string_view account,
                                      std::string_view collection) {
    std::lock_guard<std::mutex> guard(mu);
    auto& slot = item_caches[{std::string(account), std::string(collection)}];
    if (!slot) slot = std::make_shared<ItemCache>();
    slot->last_used = ++item_cache_clock;
    std::shared_ptr<ItemCache> mine = slot;
    while (item_caches.size() > kMaxItemCaches) {
      auto oldest = item_caches.begin();
      for (auto it = item_caches.begin(); it != item_caches.end(); ++it) {
        if (it->second->last_used < oldest->second->last_used) oldest = it;
      }
      item_caches.erase(oldest);
    }
    return mine;
  }

  // After a write of `account` (under its mutex) moved its sequence from
  // `before` to `after`: brings the account's cached items up to date,
  // O(log n) per written row (collections it did not touch just move to
  // `after`), or drops those that were stale already (another process
  // wrote).
  void WroteItems(std::string_view account,
                  const std::map<std::string, std::map<RecordId, Pending>,
                                 std::less<>>& state,
                  uint64_t before, uint64_t after) {
    std::vector<std::pair<std::string, std::shared_ptr<ItemCache>>> caches;
    {
      std::lock_guard<std::mutex> guard(mu);
      for (auto it = item_caches.lower_bound({std::string(account), ""});
           it != item_caches.end() && it->first.first == account; ++it) {
        caches.emplace_back(it->first.second, it->second);
      }
    }
    for (auto& [collection, cache] : caches) {
      if (!cache->items || cache->seq != before) {
        cache->items.reset();
        continue;
      }
      auto rows = state.find(collection);
      if (rows != state.end()) {
        for (const auto& [id, p] : rows->second) {
          if (!p.touched || !p.row) continue;
          if (p.row->deleted) {
            cache->items->Erase(id);
          } else {
            cache->items->Upsert(
                ReconcileItem{id, p.row->version.timestamp, 0});
          }
        }
      }
      cache->seq = after;
    }
  }

  Response HandleManifest(const Request& request, const std::string& account) {
    auto store = StoreFor(account);
    if (!store.ok()) return ErrorResponse(store.status());
    Response response;
    if (!QueryParam(request.query, "collection")) {
      // The list of collections and the account's sequence.
      CollectionList list;
      auto seq = ReadSequence(**store);
      if (!seq.ok()) return ErrorResponse(seq.status());
      list.seq = *seq;
      std::vector<std::string> names;
      if (schema.strict()) {
        for (const auto& [name, key] : schema.collections()) {
          names.push_back(name);
        }
      } else {
        auto stored = (*store)->Collections();
        if (!stored.ok()) return ErrorResponse(stored.status());
        names = std::move(*stored);
      }
      for (auto& name : names) {
        auto key = schema.IdKey(name);
        if (!key.ok()) continue;
        list.collections.push_back({std::move(name), std::string(*key)});
      }
      EncodeCollectionList(list, response.body);
      return response;
    }
    auto q = ParsePageQuery(request.query, schema);
    if (!q.ok()) return ErrorResponse(q.status());
    ManifestPage page;
    auto seq = ReadSequence(**store);
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
    if (q->binary) {
      EncodeManifestPageBinary(page, response.body);
      response.content_type = std::string(kBinaryContentType);
    } else {
      EncodeManifestPageJson(page, response.body);
    }
    return response;
  }

  Response HandleRecords(const Request& request, const std::string& account) {
    auto store = StoreFor(account);
    if (!store.ok()) return ErrorResponse(store.status());
    auto q = ParsePageQuery(request.query, schema);
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
    page.records.reserve(ids.size());
    Status s = (*store)->Get(q->collection, ids, [&](const Record& r) {
      // Only the binary form can say "more" on a short page.
      if (r.deleted || (q->binary && bytes >= kPageBytes)) return;
      bytes += r.payload.size();
      page.records.push_back(
          WireRecord{r.id, r.version.timestamp, r.payload, r.version.extra});
    });
    if (!s.ok()) return ErrorResponse(s);
    if (bytes >= kPageBytes && page.records.size() < ids.size()) {
      page.more = true;
    }
    // Read after the records: a write during the scan shows as a new seq.
    auto seq = ReadSequence(**store);
    if (!seq.ok()) return ErrorResponse(seq.status());
    page.seq = *seq;
    Response response;
    if (q->binary) {
      EncodeRecordsPageBinary(page, response.body);
      response.content_type = std::string(kBinaryContentType);
    } else {
      EncodeRecordsPageJson(page, response.body);
    }
    return response;
  }

  Response HandleReconcile(const Request& request, const std::string& account) {
    if (request.body.size() > options.max_body) {
      return ErrorResponse(Status::TooLarge(
          "body of " + std::to_string(request.body.size()) +
          " bytes is over the limit of " + std::to_string(options.max_body)));
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
    auto account_mu = MutexFor(account);
    std::lock_guard<std::mutex> guard(*account_mu);
    auto seq = ReadSequence(**store);
    if (!seq.ok()) return ErrorResponse(seq.status());
    auto cache = CacheFor(account, name);
    if (!cache->items || cache->seq != *seq) {
      std::vector<ReconcileItem> items;
      ScanOptions scan;
      scan.include_tombstones = false;
      auto it = (*store)->Scan(name, scan);
      for (; it->Valid(); it->Next()) {
        items.push_back(
            ReconcileItem{it->entry().id, it->entry().version.timestamp, 0});
      }
      if (!it->status().ok()) return ErrorResponse(it->status());
      cache->items = std::make_unique<ItemIndex>(std::move(items));
      cache->seq = *seq;
    }
    auto answer = ReconcileRespond(*cache->items, request.body);
    if (!answer.ok()) {
      return ErrorResponse(answer.status().WithContext("reconcile"));
    }
    Response response;
    response.body = std::move(*answer);
    response.content_type = std::string(kBinaryContentType);
    return response;
  }

  Response HandleLogin(const Request& request) {
    auto login = DecodeLoginRequest(request.body);
    if (!login.ok()) return ErrorResponse(login.status());
    // Login throttling (issue 14 item 7): a throttled login is 429.
    int64_t retry_after = -1;
    auto account = authenticator.LoginFrom(request.peer, login->user,
                                           login->password, retry_after);
    if (!account.ok()) {
      Response refused = ErrorResponse(account.status(), retry_after);
      if (retry_after >= 0) refused.status = 429;
      return refused;
    }
    LoginResponse answer;
    answer.policy = std::string(policy.name());
    answer.expires_in = options.token_ttl.count();
    Timestamp expires_at = clock.Now() + answer.expires_in * 1000;
    if (auto signed_token = authenticator.SignToken(*account, expires_at)) {
      answer.token = std::move(*signed_token);
    } else {
      answer.token = NewRandomToken();
      std::lock_guard<std::mutex> guard(mu);
      Timestamp now = clock.Now();
      std::erase_if(sessions,
                    [&](const auto& s) { return s.second.expires_at <= now; });
      sessions[answer.token] = Session{std::move(*account), expires_at};
    }
    Response response;
    EncodeLoginResponse(answer, response.body);
    return response;
  }

  Response HandleLock(const Request& request, const std::string& account) {
    if (request.method == "DELETE") {
      Status s = lock.Release(account, request.lease);
      if (!s.ok()) return ErrorResponse(s);
      Response response;
      response.status = 204;
      return response;
    }
    auto body = DecodeLockRequest(request.body);
    if (!body.ok()) return ErrorResponse(body.status());
    auto attempt = lock.Acquire(account, body->device, request.lease);
    if (!attempt.ok()) return ErrorResponse(attempt.status());
    if (!attempt->granted) {
      int64_t retry = (attempt->retry_after_ms + 999) / 1000;
      return ErrorResponse(
          Status::Locked("locked by device \"" + attempt->holder +
                         "\", retry in " + std::to_string(retry) + " s"),
          retry);
    }
    LockResponse answer;
    if (body->client_time != kNoTimestamp) {
      // Half the request's travel time is unknown; receive time is close
      // enough for skews that matter (seconds and more).
      answer.clock_offset_ms = body->client_time - clock.Now();
      {
        std::lock_guard<std::mutex> guard(mu);
        clock_offsets[{account, body->device}] = answer.clock_offset_ms;
      }
      Log("device \"" + body->device + "\" of \"" + account +
          "\": clock offset " + std::to_string(answer.clock_offset_ms) + " ms");
    }
    if (body->synced_through >= 0) {
      auto noted = NoteDeviceMark(account, body->device,
                                  static_cast<uint64_t>(body->synced_through));
      if (!noted.ok()) return ErrorResponse(noted.status());
      answer.seq = static_cast<int64_t>(noted->first);
      answer.resync = noted->second;
    }
    answer.lease = attempt->lease.token;
    answer.expires_in =
        std::max<int64_t>(0, (attempt->lease.expires_at - clock.Now()) / 1000);
    Response response;
    EncodeLockResponse(answer, response.body);
    return response;
  }

  // Remembers a device's tombstone mark and that it was seen now; returns
  // the account's sequence and whether the device must resync (its mark is
  // below the collection horizon).
  Result<std::pair<uint64_t, bool>> NoteDeviceMark(const std::string& account,
                                                   const std::string& device,
                                                   uint64_t mark) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> store, StoreFor(account));
    auto account_mu = MutexFor(account);
    std::lock_guard<std::mutex> guard(*account_mu);
    SYNCSTACK_ASSIGN_OR_RETURN(uint64_t seq, AccountSequence(*store));
    SYNCSTACK_ASSIGN_OR_RETURN(uint64_t horizon, TombstoneHorizon(*store));
    SYNCSTACK_ASSIGN_OR_RETURN(std::vector<DeviceMark> marks,
                               ReadDeviceMarks(*store));
    DeviceMark m;
    m.device = device;
    m.mark = std::min(mark, seq);
    m.seen = clock.Now();
    m.resync = m.mark < horizon;
    const bool resync = m.resync;
    ChangeBatch batch;
    SetDeviceMark(marks, std::move(m), batch);
    SYNCSTACK_RETURN_IF_ERROR(store->Apply(WriteOptions{}, batch));
    if (resync) {
      Log("device \"" + device + "\" of \"" + account + "\": mark " +
          std::to_string(mark) + " is below the tombstone " + "horizon " +
          std::to_string(horizon) + ": full resync");
    }
    return std::make_pair(seq, resync);
  }

  // kAborted if tombstones `device` may need were collected after its lock
  // answer told it not to resync (a collection that did not hold the lock).
  Status CheckHorizon(Store& store, std::string_view device) {
    if (device.empty()) return Status::Ok();
    SYNCSTACK_ASSIGN_OR_RETURN(uint64_t horizon, TombstoneHorizon(store));
    if (horizon == 0) return Status::Ok();
    SYNCSTACK_ASSIGN_OR_RETURN(std::vector<DeviceMark> marks,
                               ReadDeviceMarks(store));
    for (const DeviceMark& m : marks) {
      if (m.device == device && !m.resync && m.mark < horizon) {
        return Status::Aborted(
            "tombstones were collected during this sync; sync again (the "
            "next sync is a full resync)");
      }
    }
    return Status::Ok();
  }

  Response HandleFetch(const Request& request, const std::string& account,
                       SyncService& self) {
    std::vector<std::string> collections;
    if (auto list = QueryParam(request.query, "collections")) {
      collections = SplitList(*list);
      if (collections.empty()) {
        return ErrorResponse(
            Status::InvalidArgument("collections: empty list"));
      }
    }
    bool versions = QueryParam(request.query, "versions") == "1";
    auto manifest = self.Fetch(account, collections, versions);
    if (!manifest.ok()) return ErrorResponse(manifest.status());
    Response response;
    EncodeManifest(*manifest, response.body);
    return response;
  }

  Response HandleSynchronise(const Request& request, const std::string& account,
                             SyncService& self) {
    if (request.body.size() > options.max_body) {
      return ErrorResponse(Status::TooLarge(
          "body of " + std::to_string(request.body.size()) +
          " bytes is over the limit of " + std::to_string(options.max_body)));
    }
    auto lease = lock.Check(account, request.lease);
    if (!lease.ok()) return ErrorResponse(lease.status());
    auto decoded = DecodeSyncRequest(request.body, schema, options.limits);
    if (!decoded.ok()) return ErrorResponse(decoded.status());
    auto answer = self.Synchronise(account, *decoded, request.lease,
                                   request.idempotency_key);
    if (!answer.ok()) return ErrorResponse(answer.status());
    Response response;
    EncodeSyncResponse(*answer, schema, response.body);
    return response;
  }

  // Decides one incoming write against the record's current state (the
  // store's, or an earlier write of this request). `sent` is the version
  // the client sent (nullptr: none). Returns the conflict outcome when the
  // write is to be reported: the policy kept the server's version, merged,
  // or took the client's write but flagged a real conflict. Every reported
  // conflict is added to ctx.journal.
  std::optional<Kept> Decide(Pending& p, const RecordId& id,
                             std::string_view collection, bool deleted,
                             const WireRecord* incoming, const Version* sent,
                             WriteContext& ctx) {
    const Record* cur = p.row ? &*p.row : nullptr;
    // Deleting what is not there changes nothing, unless the delete carries
    // its version and the record is a tombstone: a later delete must move
    // the tombstone's version, or an edit made between the two deletes
    // would win over the later one (found by tests/faults).
    if (deleted && (cur == nullptr || (cur->deleted && sent == nullptr))) {
      return std::nullopt;
    }
    // A write without a timestamp that changes nothing is a no-op, so a
    // seed client's retried request applies once.
    if (!deleted && cur != nullptr && !cur->deleted && sent == nullptr &&
        cur->payload == incoming->payload) {
      return std::nullopt;
    }
    std::string_view payload =
        incoming != nullptr ? std::string_view(incoming->payload) : "";
    IncomingWrite write;
    write.proposed = sent;
    write.current = cur ? &cur->version : nullptr;
    write.server_now = ctx.now;
    write.sequence = ctx.sequence + 1;
    write.device = ctx.device;
    write.deleted = deleted;
    write.payload = payload;
    Version stamped = policy.StampIncoming(write);
    Resolution resolution;
    if (cur == nullptr) {
      resolution.outcome = Resolution::Outcome::kTakeClient;
    } else {
      resolution =
          policy.Resolve(WriteView{cur->version, cur->deleted, cur->payload},
                         WriteView{stamped, deleted, payload, sent});
    }
    using Outcome = Resolution::Outcome;
    if (resolution.outcome == Outcome::kSame) return std::nullopt;
    std::optional<Kept> kept;
    std::optional<Record> row;
    switch (resolution.outcome) {
      case Outcome::kSame:
        break;
      case Outcome::kKeepServer:
        kept = Kept::kServer;
        if (resolution.has_version && resolution.version != cur->version) {
          row = *cur;  // the server's write, under a new version
          row->version = std::move(resolution.version);
        }
        break;
      case Outcome::kTakeClient:
        if (resolution.conflict) kept = Kept::kClient;
        row.emplace();
        row->deleted = deleted;
        row->version =
            resolution.has_version ? std::move(resolution.version) : stamped;
        if (!deleted) row->payload = std::string(payload);
        break;
      case Outcome::kMerged:
        kept = Kept::kMerged;
        row.emplace();
        row->version = std::move(resolution.version);
        row->payload = std::move(resolution.payload);
        break;
    }
    if (kept && ctx.journal != nullptr) {
      std::string entry = "{\"time\":";
      AppendJsonString(FormatTimestamp(ctx.now), entry);
      entry += ",\"policy\":";
      AppendJsonString(policy.name(), entry);
      entry += ",\"collection\":";
      AppendJsonString(collection, entry);
      entry += ",\"id\":";
      AppendJsonString(id.ToString(), entry);
      entry += ",\"device\":";
      AppendJsonString(ctx.device, entry);
      entry += ",\"clock_offset_ms\":";
      entry += ctx.clock_offset == kNoTimestamp
                   ? std::string("null")
                   : std::to_string(ctx.clock_offset);
      entry += ",\"kept\":";
      AppendJsonString(KeptName(*kept), entry);
      entry += ',';
      AppendJournalSide("server", cur->version, cur->deleted, cur->payload,
                        entry);
      entry += ',';
      AppendJournalSide("client", sent != nullptr ? *sent : stamped, deleted,
                        payload, entry);
      entry += '}';
      ctx.journal->push_back(std::move(entry));
    }
    if (row) {
      ++ctx.sequence;
      // Server rows keep the sequence of the write that made them in
      // `base` (unused on the server otherwise), so that tombstone
      // collection knows which devices have seen a delete.
      row->base = static_cast<Timestamp>(ctx.sequence);
      // The manifest shows only last_update, so a stored change must move
      // it: a write that won a tie (or a merge) goes after what it replaces.
      if (cur != nullptr && row->version.timestamp <= cur->version.timestamp) {
        row->version.timestamp = cur->version.timestamp + 1;
      }
      row->collection = std::string(collection);
      row->id = id;
      p.row = std::move(*row);
      p.touched = true;
    }
    return kept;
  }
};

SyncService::SyncService(Database& database, const ConflictPolicy& policy,
                         Clock& clock, SyncLock& lock,
                         Authenticator& authenticator, Schema schema,
                         SyncServiceOptions options)
    : impl_(std::make_unique<Impl>(database, policy, clock, lock, authenticator,
                                   std::move(schema), options)) {}

SyncService::~SyncService() = default;

const Schema& SyncService::schema() const noexcept { return impl_->schema; }

Response SyncService::Handle(const Request& request) noexcept {
  try {
    const std::string& path = request.path;
    const std::string& method = request.method;
    if (path == kLoginPath && method == "POST") {
      return impl_->HandleLogin(request);
    }
    bool known =
        (path == kLockPath && (method == "POST" || method == "DELETE")) ||
        (path == kFetchPath && method == "GET") ||
        (path == kSynchronisePath && method == "POST") ||
        (path == kManifestPath && method == "GET") ||
        (path == kRecordsPath && method == "GET") ||
        (path == kReconcilePath && method == "POST");
    if (!known) {
      return ErrorResponse(
          Status::NotFound("no endpoint " + method + " " + path));
    }
    auto account = impl_->Authenticate(request);
    if (!account.ok()) return ErrorResponse(account.status());
    if (path == kLockPath) return impl_->HandleLock(request, *account);
    if (path == kFetchPath) return impl_->HandleFetch(request, *account, *this);
    if (path == kManifestPath) return impl_->HandleManifest(request, *account);
    if (path == kRecordsPath) return impl_->HandleRecords(request, *account);
    if (path == kReconcilePath) {
      return impl_->HandleReconcile(request, *account);
    }
    return impl_->HandleSynchronise(request, *account, *this);
  } catch (const std::exception& e) {
    // Allocation failure and the like: never crash the server.
    return ErrorResponse(
        Status::Unavailable(std::string("server: ") + e.what()));
  }
}

Result<Manifest> SyncService::Fetch(std::string_view account,
                                    const std::vector<std::string>& collections,
                                    bool with_versions) noexcept {
  try {
    const Schema& schema = impl_->schema;
    SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> store,
                               impl_->StoreFor(account));
    std::vector<std::string> names;
    if (!collections.empty()) {
      for (const auto& name : collections) {
        auto key = schema.IdKey(name);
        if (!key.ok()) return key.status().WithContext("collections");
      }
      names = collections;
      std::sort(names.begin(), names.end());
      names.erase(std::unique(names.begin(), names.end()), names.end());
    } else if (schema.strict()) {
      for (const auto& [name, key] : schema.collections()) {
        names.push_back(name);
      }
    } else {
      SYNCSTACK_ASSIGN_OR_RETURN(names, store->Collections());
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
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("fetch: ") + e.what());
  }
}

Result<SyncResponse> SyncService::Synchronise(
    std::string_view account, const SyncRequest& request,
    std::string_view lease, std::string_view idempotency_key) noexcept {
  try {
    SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> store,
                               impl_->StoreFor(account));
    // One writer per account in this process; the Expect on every write
    // catches writers in other processes (then the whole request is redone).
    auto account_mu = impl_->MutexFor(account);
    std::lock_guard<std::mutex> guard(*account_mu);

    // A repeat of a request already applied: answer as the first time (its
    // stamps and conflicts, recorded with its writes), apply nothing.
    IdempotencySlot slot;
    if (!idempotency_key.empty()) {
      SYNCSTACK_ASSIGN_OR_RETURN(slot,
                                 FindIdempotencyKey(*store, idempotency_key));
      if (slot.answer) {
        auto first = DecodeSyncResponse(*slot.answer, impl_->schema);
        if (!first.ok()) return first.status().WithContext("stored answer");
        SYNCSTACK_RETURN_IF_ERROR(AnswerGets(*store, request, *first));
        return std::move(*first);
      }
    }

    // The device behind this request (the lease holder) and its clock.
    std::string device;
    if (!lease.empty()) {
      auto holder = impl_->lock.Check(account, lease);
      if (!holder.ok()) return holder.status();
      device = holder->device;
    }
    const int64_t clock_offset =
        impl_->ClockOffset(std::string(account), device);
    // The versions of deletes, for policies that order them.
    std::map<std::pair<std::string, RecordId>, Version> delete_versions;
    for (const auto& c : request.delete_versions) {
      for (const auto& st : c.stamps) {
        delete_versions[{c.collection, st.id}] =
            Version{st.last_update, st.version};
      }
    }

    for (int attempt = 0;; ++attempt) {
      // Every record this request touches, per collection, read once.
      std::map<std::string, std::map<RecordId, Pending>, std::less<>> state;
      auto note = [&](const std::string& c, const RecordId& id) {
        state[c].try_emplace(id);
      };
      for (const auto* list : {&request.add, &request.update}) {
        for (const auto& c : *list) {
          for (const auto& r : c.records) note(c.collection, r.id);
        }
      }
      for (const auto& c : request.del) {
        for (const auto& id : c.ids) note(c.collection, id);
      }
      std::map<std::string, std::map<RecordId, Record>, std::less<>> before;
      std::vector<RecordId> ids;
      for (auto& [collection, rows] : state) {
        ids.clear();
        for (auto& [id, p] : rows) ids.push_back(id);
        SYNCSTACK_RETURN_IF_ERROR(
            store->Get(collection, ids, [&](const Record& r) {
              rows[r.id].row = r;
              before[collection].emplace(r.id, r);
            }));
      }

      SYNCSTACK_RETURN_IF_ERROR(impl_->CheckHorizon(*store, device));

      // Decide every write in request order: add, update, delete.
      Impl::WriteContext ctx;
      ctx.now = impl_->clock.Now();
      ctx.device = device;
      ctx.clock_offset = clock_offset;
      std::vector<std::string> journal;
      ctx.journal = &journal;
      SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> seq_text,
                                 store->GetMeta(meta::kSequence));
      if (seq_text)
        ctx.sequence = std::strtoull(seq_text->c_str(), nullptr, 10);
      const uint64_t first_sequence = ctx.sequence;
      SyncResponse response;
      std::map<std::string, std::map<RecordId, Kept>, std::less<>> conflicts;
      std::map<std::string, std::map<RecordId, Version>, std::less<>> stamps;
      for (const auto* list : {&request.add, &request.update}) {
        for (const auto& c : *list) {
          for (const auto& r : c.records) {
            Pending& p = state[c.collection][r.id];
            Version sent{r.last_update, r.version};
            bool has_sent = r.last_update != kNoTimestamp || !r.version.empty();
            auto kept = impl_->Decide(p, r.id, c.collection, false, &r,
                                      has_sent ? &sent : nullptr, ctx);
            // The last write of an id in this request decides its note.
            conflicts[c.collection].erase(r.id);
            stamps[c.collection].erase(r.id);
            if (kept) conflicts[c.collection][r.id] = *kept;
            if (kept != Kept::kServer && p.row && !p.row->deleted) {
              stamps[c.collection][r.id] = p.row->version;
            }
          }
        }
      }
      for (const auto& c : request.del) {
        for (const auto& id : c.ids) {
          Pending& p = state[c.collection][id];
          auto v = delete_versions.find({c.collection, id});
          auto kept = impl_->Decide(
              p, id, c.collection, true, nullptr,
              v != delete_versions.end() ? &v->second : nullptr, ctx);
          if (kept) conflicts[c.collection][id] = *kept;
          stamps[c.collection].erase(id);
        }
      }

      ChangeBatch batch;
      for (auto& [collection, rows] : state) {
        for (auto& [id, p] : rows) {
          if (!p.touched) continue;
          auto b = before.find(collection);
          const Record* old = nullptr;
          if (b != before.end()) {
            auto r = b->second.find(id);
            if (r != b->second.end()) old = &r->second;
          }
          Expect expect = ExpectRow(old);
          batch.Put(*p.row, std::move(expect));
        }
      }
      for (auto& [collection, list] : stamps) {
        if (list.empty()) continue;
        CollectionStamps out;
        out.collection = collection;
        for (const auto& [id, v] : list) {
          out.stamps.push_back(
              Stamp{id, v.timestamp,
                    request.want_versions ? v.extra : std::string()});
        }
        response.stamps.push_back(std::move(out));
      }
      for (auto& [collection, notes] : conflicts) {
        if (notes.empty()) continue;
        CollectionConflicts out;
        out.collection = collection;
        for (const auto& [id, kept] : notes) {
          out.conflicts.push_back(ConflictNote{id, kept});
        }
        response.conflicts.push_back(std::move(out));
      }
      if (ctx.sequence != first_sequence) {
        batch.SetMeta(std::string(meta::kSequence),
                      std::to_string(ctx.sequence));
      }
      if (!journal.empty()) {
        // The conflict journal, in the resolution's own transaction.
        SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> next,
                                   store->GetMeta(meta::kJournalNext));
        uint64_t n = next ? std::strtoull(next->c_str(), nullptr, 10) : 0;
        for (auto& entry : journal) {
          batch.SetMeta(meta::JournalEntry(n++), std::move(entry));
        }
        batch.SetMeta(std::string(meta::kJournalNext), std::to_string(n));
        for (const auto& [collection, notes] : conflicts) {
          for (const auto& [id, kept] : notes) {
            impl_->Log("conflict on " + std::string(account) + ":" +
                       collection + "/" + id.ToString() + " from \"" + device +
                       "\": kept " + std::string(KeptName(kept)));
          }
        }
      }
      if (!idempotency_key.empty() && !batch.empty()) {
        RecordIdempotencyKey(slot, idempotency_key, response, impl_->schema,
                             batch);
      }
      if (!lease.empty()) {
        // The fence: the lease must be live when the write commits. Another
        // device granted the lock now cannot write before this one is done
        // (it needs this account's write lock, held here). A lock shared by
        // several processes also has the store re-check the lease inside
        // the write's transaction (SyncLock::Fence).
        auto live = impl_->lock.Check(account, lease);
        if (!live.ok()) return live.status();
        impl_->lock.Fence(*live, batch);
      }
      if (!batch.empty()) {
        WriteOptions write;
        Status s = store->Apply(write, batch);
        if (s.code() == Status::Code::kConflict && attempt < 5) continue;
        SYNCSTACK_RETURN_IF_ERROR(s);
        impl_->WroteItems(account, state, first_sequence, ctx.sequence);
      }

      // The answer's get is read after the writes.
      SYNCSTACK_RETURN_IF_ERROR(AnswerGets(*store, request, response));
      return response;
    }
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("synchronise: ") + e.what());
  }
}

Result<GcReport> SyncService::CollectTombstones(
    std::string_view account, std::chrono::milliseconds device_ttl) noexcept {
  try {
    SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> store,
                               impl_->StoreFor(account));
    // Holding the account's lock keeps every device out while the
    // horizon moves, so no run can plan against a tombstone that goes.
    SYNCSTACK_ASSIGN_OR_RETURN(
        LockAttempt attempt,
        impl_->lock.Acquire(account, kTombstoneCollector, ""));
    if (!attempt.granted) {
      return Status::Locked("locked by device \"" + attempt.holder + "\"");
    }
    auto report = [&] {
      auto account_mu = impl_->MutexFor(account);
      std::lock_guard<std::mutex> guard(*account_mu);
      return syncstack::CollectTombstones(*store, impl_->clock.Now(),
                                          device_ttl);
    }();
    (void)impl_->lock.Release(account, attempt.lease.token);
    if (report.ok() && report->collected > 0) {
      impl_->Log("collected " + std::to_string(report->collected) +
                 " tombstones of \"" + std::string(account) + "\" (horizon " +
                 std::to_string(report->horizon) + ")");
    }
    return report;
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("collect tombstones: ") + e.what());
  }
}

std::vector<std::string> SyncService::Accounts() const {
  std::lock_guard<std::mutex> guard(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [name, store] : impl_->stores) out.push_back(name);
  return out;
}

Status ReadConflictJournal(
    Store& store, FunctionRef<void(uint64_t index, std::string_view json)> fn) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> next,
                             store.GetMeta(meta::kJournalNext));
  const uint64_t n = next ? std::strtoull(next->c_str(), nullptr, 10) : 0;
  for (uint64_t i = 0; i < n; ++i) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> entry,
                               store.GetMeta(meta::JournalEntry(i)));
    if (entry) fn(i, *entry);
  }
  return Status::Ok();
}

}  // namespace syncstack
