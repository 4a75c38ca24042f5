#include "syncstack/service.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "random_token.h"
#include "syncstack/protocol.h"

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
                             store.GetMeta("idem/next"));
  if (next) slot.next = std::atoi(next->c_str()) % kIdempotencySlots;
  for (int i = 0; i < kIdempotencySlots; ++i) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> entry,
                               store.GetMeta("idem/" + std::to_string(i)));
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
  batch.SetMeta("idem/" + std::to_string(slot.next), std::move(entry));
  batch.SetMeta("idem/next",
                std::to_string((slot.next + 1) % kIdempotencySlots));
}

// Fills response.get: the records `request` asks for plus, for every write
// the policy did not take as sent, the server's version, so the client ends
// up holding what the server holds. Deleted records are left out.
Status AnswerGets(Store& store, const SyncRequest& request,
                  SyncResponse& response) {
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
              WireRecord{r.id, r.version.timestamp, r.payload});
        }));
    if (!out.records.empty()) response.get.push_back(std::move(out));
  }
  return Status::Ok();
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
    std::lock_guard<std::mutex> guard(mu);
    auto it = sessions.find(request.token);
    if (it == sessions.end()) return Status::Unauthorized("unknown token");
    if (it->second.expires_at <= clock.Now()) {
      sessions.erase(it);
      return Status::Unauthorized("token expired");
    }
    return it->second.account;
  }

  Response HandleLogin(const Request& request) {
    auto login = DecodeLoginRequest(request.body);
    if (!login.ok()) return ErrorResponse(login.status());
    auto account = authenticator.Login(login->user, login->password);
    if (!account.ok()) return ErrorResponse(account.status());
    LoginResponse answer;
    answer.token = NewRandomToken();
    answer.expires_in = options.token_ttl.count();
    {
      std::lock_guard<std::mutex> guard(mu);
      Timestamp now = clock.Now();
      std::erase_if(sessions,
                    [&](const auto& s) { return s.second.expires_at <= now; });
      sessions[answer.token] =
          Session{std::move(*account), now + answer.expires_in * 1000};
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
    answer.lease = attempt->lease.token;
    answer.expires_in =
        std::max<int64_t>(0, (attempt->lease.expires_at - clock.Now()) / 1000);
    Response response;
    EncodeLockResponse(answer, response.body);
    return response;
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
    auto manifest = self.Fetch(account, collections);
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
  // store's, or an earlier write of this request). Returns the conflict
  // outcome if the policy kept anything but the client's write.
  std::optional<Kept> Decide(Pending& p, const RecordId& id,
                             std::string_view collection, bool deleted,
                             const WireRecord* incoming, Timestamp now) {
    const Record* cur = p.row ? &*p.row : nullptr;
    if (deleted && (cur == nullptr || cur->deleted)) return std::nullopt;
    // A write without a timestamp that changes nothing is a no-op, so a
    // seed client's retried request applies once.
    if (!deleted && cur != nullptr && !cur->deleted &&
        incoming->last_update == kNoTimestamp &&
        cur->payload == incoming->payload) {
      return std::nullopt;
    }
    Version proposed;
    if (incoming != nullptr) proposed.timestamp = incoming->last_update;
    Version stamped = policy.StampIncoming(
        incoming != nullptr && incoming->last_update != kNoTimestamp ? &proposed
                                                                     : nullptr,
        cur ? &cur->version : nullptr, now);
    std::string_view payload =
        incoming != nullptr ? std::string_view(incoming->payload) : "";
    Resolution resolution;
    if (cur == nullptr) {
      resolution.outcome = Resolution::Outcome::kTakeClient;
    } else {
      resolution =
          policy.Resolve(WriteView{cur->version, cur->deleted, cur->payload},
                         WriteView{stamped, deleted, payload});
    }
    switch (resolution.outcome) {
      case Resolution::Outcome::kSame:
        return std::nullopt;
      case Resolution::Outcome::kKeepServer:
        return Kept::kServer;
      case Resolution::Outcome::kTakeClient:
      case Resolution::Outcome::kMerged: {
        bool merged = resolution.outcome == Resolution::Outcome::kMerged;
        Record row;
        // The manifest shows only last_update, so a stored change must move
        // it: a write that won a tie (or a merge) goes after what it replaces.
        if (cur != nullptr && !merged &&
            stamped.timestamp <= cur->version.timestamp) {
          stamped.timestamp = cur->version.timestamp + 1;
        }
        row.collection = std::string(collection);
        row.id = id;
        row.deleted = merged ? false : deleted;
        row.version = merged ? std::move(resolution.version) : stamped;
        if (!row.deleted) {
          row.payload =
              merged ? std::move(resolution.payload) : std::string(payload);
        }
        p.row = std::move(row);
        p.touched = true;
        if (merged) return Kept::kMerged;
        return std::nullopt;
      }
    }
    return std::nullopt;
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
        (path == kSynchronisePath && method == "POST");
    if (!known) {
      return ErrorResponse(
          Status::NotFound("no endpoint " + method + " " + path));
    }
    auto account = impl_->Authenticate(request);
    if (!account.ok()) return ErrorResponse(account.status());
    if (path == kLockPath) return impl_->HandleLock(request, *account);
    if (path == kFetchPath) return impl_->HandleFetch(request, *account, *this);
    return impl_->HandleSynchronise(request, *account, *this);
  } catch (const std::exception& e) {
    // Allocation failure and the like: never crash the server.
    return ErrorResponse(
        Status::Unavailable(std::string("server: ") + e.what()));
  }
}

Result<Manifest> SyncService::Fetch(
    std::string_view account,
    const std::vector<std::string>& collections) noexcept {
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
        out.entries.push_back(
            Stamp{it->entry().id, it->entry().version.timestamp});
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

      // Decide every write in request order: add, update, delete.
      Timestamp now = impl_->clock.Now();
      SyncResponse response;
      std::map<std::string, std::map<RecordId, Kept>, std::less<>> conflicts;
      std::map<std::string, std::map<RecordId, Timestamp>, std::less<>> stamps;
      for (const auto* list : {&request.add, &request.update}) {
        for (const auto& c : *list) {
          for (const auto& r : c.records) {
            Pending& p = state[c.collection][r.id];
            auto kept = impl_->Decide(p, r.id, c.collection, false, &r, now);
            // The last write of an id in this request decides its note.
            conflicts[c.collection].erase(r.id);
            stamps[c.collection].erase(r.id);
            if (kept) conflicts[c.collection][r.id] = *kept;
            if (kept != Kept::kServer && p.row && !p.row->deleted) {
              stamps[c.collection][r.id] = p.row->version.timestamp;
            }
          }
        }
      }
      for (const auto& c : request.del) {
        for (const auto& id : c.ids) {
          Pending& p = state[c.collection][id];
          auto kept = impl_->Decide(p, id, c.collection, true, nullptr, now);
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
        for (const auto& [id, ts] : list) out.stamps.push_back(Stamp{id, ts});
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
      if (!idempotency_key.empty() && !batch.empty()) {
        RecordIdempotencyKey(slot, idempotency_key, response, impl_->schema,
                             batch);
      }
      if (!lease.empty()) {
        // The fence: the lease must be live when the write commits. Another
        // device granted the lock now cannot write before this one is done
        // (it needs this account's write lock, held here).
        auto live = impl_->lock.Check(account, lease);
        if (!live.ok()) return live.status();
      }
      if (!batch.empty()) {
        WriteOptions write;
        Status s = store->Apply(write, batch);
        if (s.code() == Status::Code::kConflict && attempt < 5) continue;
        SYNCSTACK_RETURN_IF_ERROR(s);
      }

      // The answer's get is read after the writes.
      SYNCSTACK_RETURN_IF_ERROR(AnswerGets(*store, request, response));
      return response;
    }
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("synchronise: ") + e.what());
  }
}

}  // namespace syncstack
