#include "syncstack/policies/last_write_wins.h"

#include <algorithm>

namespace syncstack {
namespace {

class LastWriteWins final : public ConflictPolicy {
 public:
  std::string_view name() const noexcept override { return "lww"; }

  // The device clock, as the seed says: a device whose clock is behind
  // writes "in the past" and loses to older writes. (The hybrid-clock
  // variant fixes exactly that.)
  Version StampLocal(const Version*, Timestamp now) const noexcept override {
    return Version{now, {}};
  }

  // A write that carries last_update keeps it. One without (a seed client's
  // delete, or an update with no timestamp) happens now on the server's
  // clock, and never before what it replaces.
  Version StampIncoming(const Version* proposed, const Version* current,
                        Timestamp server_now) const noexcept override {
    if (proposed != nullptr && proposed->timestamp != kNoTimestamp) {
      return Version{proposed->timestamp, {}};
    }
    Timestamp ts = server_now;
    if (current != nullptr && current->timestamp != kNoTimestamp) {
      ts = std::max(ts, current->timestamp + 1);
    }
    return Version{ts, {}};
  }

  Order Compare(const Version& a, const Version& b) const noexcept override {
    if (a.timestamp < b.timestamp) return Order::kBefore;
    if (a.timestamp > b.timestamp) return Order::kAfter;
    return Order::kEqual;
  }

  Resolution Resolve(const WriteView& server,
                     const WriteView& client) const override {
    Resolution r;
    if (client.version.timestamp != server.version.timestamp) {
      r.outcome = client.version.timestamp > server.version.timestamp
                      ? Resolution::Outcome::kTakeClient
                      : Resolution::Outcome::kKeepServer;
      return r;
    }
    // Equal timestamps: a deterministic tie-break every replica agrees on.
    // A deletion loses to any live write; otherwise the larger payload
    // bytes win.
    int cmp = TieRank(client) - TieRank(server);
    if (cmp == 0 && !client.deleted) {
      cmp = client.payload.compare(server.payload);
    }
    r.outcome = cmp == 0  ? Resolution::Outcome::kSame
                : cmp > 0 ? Resolution::Outcome::kTakeClient
                          : Resolution::Outcome::kKeepServer;
    return r;
  }

 private:
  static int TieRank(const WriteView& w) noexcept { return w.deleted ? 0 : 1; }
};

}  // namespace

std::unique_ptr<ConflictPolicy> NewLastWriteWinsPolicy() {
  return std::make_unique<LastWriteWins>();
}

}  // namespace syncstack
