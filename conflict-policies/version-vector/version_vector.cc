#include "syncstack/policies/version_vector.h"

#include <algorithm>
#include <charconv>

namespace syncstack {

namespace {

constexpr std::string_view kServerReplica = "server";

bool ValidReplica(std::string_view r) noexcept {
  if (r.empty()) return false;
  for (char c : r) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::optional<VersionVector> ParseVersionVector(std::string_view text) {
  VersionVector vv;
  if (text.starts_with('+')) text.remove_prefix(1);  // the creation mark
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view replica = item.substr(0, colon);
    std::string_view count = item.substr(colon + 1);
    uint64_t n = 0;
    auto r = std::from_chars(count.data(), count.data() + count.size(), n);
    if (!ValidReplica(replica) || count.empty() || r.ec != std::errc() ||
        r.ptr != count.data() + count.size()) {
      return std::nullopt;
    }
    uint64_t& slot = vv[std::string(replica)];
    slot = std::max(slot, n);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return vv;
}

std::string FormatVersionVector(const VersionVector& vv) {
  std::string out;
  for (const auto& [replica, n] : vv) {
    if (n == 0) continue;
    if (!out.empty()) out += ',';
    out += replica;
    out += ':';
    out += std::to_string(n);
  }
  return out;
}

VersionVector MergeVersionVectors(const VersionVector& a,
                                  const VersionVector& b) {
  VersionVector out = a;
  for (const auto& [replica, n] : b) {
    uint64_t& slot = out[replica];
    slot = std::max(slot, n);
  }
  return out;
}

Order CompareVersionVectors(const VersionVector& a, const VersionVector& b) {
  bool a_more = false, b_more = false;
  auto count = [](const VersionVector& vv, const std::string& r) -> uint64_t {
    auto it = vv.find(r);
    return it == vv.end() ? 0 : it->second;
  };
  for (const auto& [r, n] : a) {
    uint64_t m = count(b, r);
    if (n > m) a_more = true;
    if (n < m) b_more = true;
  }
  for (const auto& [r, n] : b) {
    if (n > count(a, r)) b_more = true;
  }
  if (a_more && b_more) return Order::kConcurrent;
  if (a_more) return Order::kAfter;
  if (b_more) return Order::kBefore;
  return Order::kEqual;
}

namespace {

// A write that created its record here, based on no version of it.
bool IsCreation(const Version& v) noexcept { return v.extra.starts_with('+'); }

VersionVector VectorOf(const Version& v) {
  auto vv = ParseVersionVector(v.extra);
  return vv ? std::move(*vv) : VersionVector{};
}

class VersionVectorPolicy final : public ConflictPolicy {
 public:
  explicit VersionVectorPolicy(VersionVectorOptions options)
      : options_(std::move(options)) {}

  std::string_view name() const noexcept override { return "version-vector"; }

  // The record's vector with this replica's counter advanced. The
  // timestamp never goes backwards along one record's history, so a
  // causally later write also has the later last_update.
  Version StampLocal(const LocalWrite& w) const override {
    VersionVector vv;
    Timestamp ts = w.now;
    std::string replica =
        ValidReplica(w.replica) ? std::string(w.replica) : "local";
    if (w.previous != nullptr) {
      vv = VectorOf(*w.previous);
      if (w.previous->timestamp != kNoTimestamp) {
        ts = std::max(ts, w.previous->timestamp + 1);
      }
      vv[replica] += 1;
      return Version{ts, FormatVersionVector(vv)};
    }
    // A new record (or an id created again after a delete this device no
    // longer remembers): its counter starts at the clock, so the event
    // (replica, counter) never repeats one of an earlier life of the id;
    // '+' marks it as a creation.
    vv[replica] = static_cast<uint64_t>(std::max<Timestamp>(1, w.now));
    return Version{ts, "+" + FormatVersionVector(vv)};
  }

  // A client's vector is kept as sent. A write without one (a seed client)
  // is the server's own: the stored vector with "server" advanced.
  Version StampIncoming(const IncomingWrite& w) const override {
    if (w.proposed != nullptr && !w.proposed->extra.empty() &&
        ParseVersionVector(w.proposed->extra)) {
      Version v = *w.proposed;
      if (v.timestamp == kNoTimestamp) v.timestamp = w.server_now;
      return v;
    }
    VersionVector vv;
    Timestamp ts = w.server_now;
    if (w.proposed != nullptr && w.proposed->timestamp != kNoTimestamp) {
      ts = w.proposed->timestamp;
    }
    if (w.current != nullptr) {
      vv = VectorOf(*w.current);
      if (w.current->timestamp != kNoTimestamp && w.proposed == nullptr) {
        ts = std::max(ts, w.current->timestamp + 1);
      }
    }
    vv[std::string(kServerReplica)] += 1;
    return Version{ts, FormatVersionVector(vv)};
  }

  Order Compare(const Version& a, const Version& b) const noexcept override {
    try {
      if (a.extra.empty() && b.extra.empty()) {
        if (a.timestamp == b.timestamp) return Order::kEqual;
        return a.timestamp < b.timestamp ? Order::kBefore : Order::kAfter;
      }
      return CompareVersionVectors(VectorOf(a), VectorOf(b));
    } catch (...) {
      return Order::kConcurrent;  // allocation failure: let the server decide
    }
  }

  Resolution Resolve(const WriteView& server,
                     const WriteView& client) const override {
    Resolution r;
    const bool same_content =
        server.deleted == client.deleted &&
        (client.deleted || server.payload == client.payload);
    const bool seed = client.proposed == nullptr ||
                      client.proposed->extra.empty() ||
                      !ParseVersionVector(client.proposed->extra);
    if (seed) {
      // A seed client's write: based on the stored version unless its
      // last_update is older.
      if (same_content) return r;
      bool stale = client.proposed != nullptr &&
                   client.proposed->timestamp != kNoTimestamp &&
                   client.proposed->timestamp < server.version.timestamp;
      r.outcome = stale ? Resolution::Outcome::kKeepServer
                        : Resolution::Outcome::kTakeClient;
      return r;
    }
    if (server.deleted && IsCreation(client.version)) {
      // An id created again over its tombstone: a new life, not a
      // conflict; stored above both histories.
      r.outcome = Resolution::Outcome::kTakeClient;
      r.has_version = true;
      r.version =
          Version{client.version.timestamp,
                  FormatVersionVector(MergeVersionVectors(
                      VectorOf(server.version), VectorOf(client.version)))};
      return r;
    }
    VersionVector s = VectorOf(server.version), c = VectorOf(client.version);
    switch (CompareVersionVectors(c, s)) {
      case Order::kAfter:
        r.outcome = Resolution::Outcome::kTakeClient;
        return r;
      case Order::kEqual:
      case Order::kBefore:
        // Already seen: a repeat, or superseded here.
        r.outcome = same_content ? Resolution::Outcome::kSame
                                 : Resolution::Outcome::kKeepServer;
        return r;
      case Order::kConcurrent:
        break;
    }
    // Concurrent: one write under the maximum of both vectors, reported.
    r.conflict = true;
    r.has_version = true;
    r.version.extra = FormatVersionVector(MergeVersionVectors(s, c));
    r.version.timestamp =
        std::max(server.version.timestamp, client.version.timestamp);
    // The kept write keeps its own time, so that "the later write among
    // those not yet seen" stays the rule whatever the arrival order.
    auto keep = [&](bool client_side) {
      r.outcome = client_side ? Resolution::Outcome::kTakeClient
                              : Resolution::Outcome::kKeepServer;
      r.version.timestamp =
          client_side ? client.version.timestamp : server.version.timestamp;
      return r;
    };
    if (server.deleted || client.deleted) {
      bool both = server.deleted && client.deleted;
      return keep(both ? false : (client.deleted == options_.delete_wins));
    }
    if (options_.merge) {
      if (auto merged = options_.merge(server, client)) {
        if (*merged == client.payload) return keep(true);
        if (*merged == server.payload) return keep(false);
        r.outcome = Resolution::Outcome::kMerged;
        r.payload = std::move(*merged);
        return r;
      }
    }
    int cmp =
        client.version.timestamp != server.version.timestamp
            ? (client.version.timestamp > server.version.timestamp ? 1 : -1)
            : client.payload.compare(server.payload);
    return keep(cmp > 0);
  }

 private:
  VersionVectorOptions options_;
};

}  // namespace

std::unique_ptr<ConflictPolicy> NewVersionVectorPolicy(
    VersionVectorOptions options) {
  return std::make_unique<VersionVectorPolicy>(std::move(options));
}

}  // namespace syncstack
