#include "syncstack/policies/hybrid_logical_clock.h"

#include <algorithm>

#include "lww_rules.h"

namespace syncstack {
namespace {

using namespace policy_internal;

class HybridLogicalClock final : public ConflictPolicy {
 public:
  std::string_view name() const noexcept override { return "hlc"; }

  PolicyTraits traits() const noexcept override {
    PolicyTraits t;
    t.uses_highest_seen = true;
    return t;
  }

  Version StampLocal(const LocalWrite& w) const override {
    Timestamp ts = w.now;
    if (w.highest_seen != kNoTimestamp) {
      ts = std::max(ts, w.highest_seen + 1);
    }
    if (w.previous != nullptr && w.previous->timestamp != kNoTimestamp) {
      ts = std::max(ts, w.previous->timestamp + 1);
    }
    return Version{ts, {}};
  }

  Version StampIncoming(const IncomingWrite& w) const override {
    return LwwStampIncoming(w);
  }

  Order Compare(const Version& a, const Version& b) const noexcept override {
    return LwwCompare(a, b);
  }

  Resolution Resolve(const WriteView& server,
                     const WriteView& client) const override {
    return LwwResolve(server, client);
  }
};

}  // namespace

std::unique_ptr<ConflictPolicy> NewHybridLogicalClockPolicy() {
  return std::make_unique<HybridLogicalClock>();
}

}  // namespace syncstack
