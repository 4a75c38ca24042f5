#include "syncstack/policies/server_clock.h"

#include <algorithm>
#include <charconv>
#include <optional>

namespace syncstack {
namespace {

// `_version` forms: "s<seq>" a server stamp; "b<seq>" a device edit based
// on server stamp <seq>; "b" a device write with no base (a new record);
// "" no server-clock data (a seed client, or a record from another policy).
struct Parsed {
  char kind = 0;  // 's', 'b' or 0
  std::optional<uint64_t> seq;
};

Parsed Parse(std::string_view extra) noexcept {
  Parsed p;
  if (extra.empty() || (extra[0] != 's' && extra[0] != 'b')) return p;
  p.kind = extra[0];
  uint64_t v = 0;
  const char* b = extra.data() + 1;
  const char* e = extra.data() + extra.size();
  if (b != e) {
    auto r = std::from_chars(b, e, v);
    if (r.ec == std::errc() && r.ptr == e) p.seq = v;
  }
  return p;
}

class ServerClock final : public ConflictPolicy {
 public:
  explicit ServerClock(ServerClockOptions options) : options_(options) {}

  std::string_view name() const noexcept override {
    return options_.client_wins ? "server-clock-client-wins" : "server-clock";
  }

  PolicyTraits traits() const noexcept override {
    PolicyTraits t;
    t.server_stamps = true;
    return t;
  }

  // A device edit carries its base; its own clock only names new records
  // (and is ignored by the server).
  Version StampLocal(const LocalWrite& w) const override {
    if (w.previous == nullptr) return Version{w.now, "b"};
    Parsed p = Parse(w.previous->extra);
    Version v{w.previous->timestamp, "b"};
    if (p.seq) v.extra += std::to_string(*p.seq);
    return v;
  }

  Version StampIncoming(const IncomingWrite& w) const override {
    Timestamp ts = w.server_now;
    if (w.current != nullptr && w.current->timestamp != kNoTimestamp) {
      ts = std::max(ts, w.current->timestamp + 1);
    }
    return Version{ts, "s" + std::to_string(w.sequence)};
  }

  Order Compare(const Version& a, const Version& b) const noexcept override {
    if (a == b) return Order::kEqual;
    Parsed pa = Parse(a.extra), pb = Parse(b.extra);
    if (pa.kind == 'b' || pb.kind == 'b') return Order::kConcurrent;
    if (pa.kind == 's' && pb.kind == 's' && pa.seq && pb.seq &&
        *pa.seq != *pb.seq) {
      return *pa.seq < *pb.seq ? Order::kBefore : Order::kAfter;
    }
    if (a.timestamp != b.timestamp) {
      return a.timestamp < b.timestamp ? Order::kBefore : Order::kAfter;
    }
    return Order::kConcurrent;
  }

  Resolution Resolve(const WriteView& server,
                     const WriteView& client) const override {
    Resolution r;
    if (server.deleted == client.deleted &&
        (client.deleted || server.payload == client.payload)) {
      r.outcome = Resolution::Outcome::kSame;  // e.g. a retried request
      return r;
    }
    const bool creation = client.proposed != nullptr &&
                          client.proposed->extra == "b" && !client.deleted;
    if ((creation && server.deleted) ||
        BaseIsCurrent(server.version, client.proposed)) {
      // (An id created again over its tombstone is a new life.)
      r.outcome = Resolution::Outcome::kTakeClient;
      return r;
    }
    r.conflict = true;
    r.outcome = options_.client_wins ? Resolution::Outcome::kTakeClient
                                     : Resolution::Outcome::kKeepServer;
    return r;
  }

 private:
  static bool BaseIsCurrent(const Version& current, const Version* sent) {
    if (sent == nullptr) return true;  // a seed client's bare write
    Parsed base = Parse(sent->extra);
    if (base.kind == 0) {  // a seed client: last_update is its base
      return sent->timestamp == kNoTimestamp ||
             sent->timestamp >= current.timestamp;
    }
    if (!base.seq) return false;  // created here, but the id exists
    Parsed cur = Parse(current.extra);
    if (cur.kind == 's' && cur.seq) return *cur.seq == *base.seq;
    return sent->timestamp >= current.timestamp;
  }

  ServerClockOptions options_;
};

}  // namespace

std::unique_ptr<ConflictPolicy> NewServerClockPolicy(
    ServerClockOptions options) {
  return std::make_unique<ServerClock>(options);
}

}  // namespace syncstack
