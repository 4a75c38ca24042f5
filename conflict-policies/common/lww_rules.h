// The last-write-wins rules shared by `lww` and `hlc` (internal).
#pragma once

#include <algorithm>

#include "syncstack/conflict_policy.h"

namespace syncstack::policy_internal {

// A write that carries last_update keeps it. One without (a seed client's
// delete, or an update with no timestamp) happens now on the server's
// clock, and never before what it replaces.
inline Version LwwStampIncoming(const IncomingWrite& w) {
  if (w.proposed != nullptr && w.proposed->timestamp != kNoTimestamp) {
    return Version{w.proposed->timestamp, {}};
  }
  Timestamp ts = w.server_now;
  if (w.current != nullptr && w.current->timestamp != kNoTimestamp) {
    ts = std::max(ts, w.current->timestamp + 1);
  }
  return Version{ts, {}};
}

inline Order LwwCompare(const Version& a, const Version& b) noexcept {
  if (a.timestamp < b.timestamp) return Order::kBefore;
  if (a.timestamp > b.timestamp) return Order::kAfter;
  return Order::kEqual;
}

// The later timestamp wins. Equal timestamps: a deterministic tie-break
// every replica agrees on: a deletion loses to any live write; otherwise
// the larger payload bytes win. Returns >0 if `a` wins, <0 if `b`, 0 if
// they are the same write.
inline int LwwRank(const WriteView& a, const WriteView& b) noexcept {
  if (a.version.timestamp != b.version.timestamp) {
    return a.version.timestamp > b.version.timestamp ? 1 : -1;
  }
  int cmp = (a.deleted ? 0 : 1) - (b.deleted ? 0 : 1);
  if (cmp == 0 && !a.deleted) cmp = a.payload.compare(b.payload);
  return cmp;
}

inline Resolution LwwResolve(const WriteView& server, const WriteView& client) {
  Resolution r;
  int cmp = LwwRank(client, server);
  r.outcome = cmp == 0  ? Resolution::Outcome::kSame
              : cmp > 0 ? Resolution::Outcome::kTakeClient
                        : Resolution::Outcome::kKeepServer;
  return r;
}

}  // namespace syncstack::policy_internal
