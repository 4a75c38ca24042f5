#include "syncstack/policies/last_write_wins.h"

#include <algorithm>

#include "lww_rules.h"

namespace syncstack {
namespace {

using namespace policy_internal;

class LastWriteWins final : public ConflictPolicy {
 public:
  std::string_view name() const noexcept override { return "lww"; }

  // The device clock, as the seed says: a device whose clock is behind
  // writes "in the past" and loses to older writes. (The hybrid-clock
  // policy, hlc, fixes exactly that.)
  // A delete, though, is never stamped before the version it deletes
  // (the device holds that version, so the delete comes after it).
  Version StampLocal(const LocalWrite& w) const override {
    Timestamp ts = w.now;
    if (w.deleted && w.previous != nullptr &&
        w.previous->timestamp != kNoTimestamp) {
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

std::unique_ptr<ConflictPolicy> NewLastWriteWinsPolicy() {
  return std::make_unique<LastWriteWins>();
}

}  // namespace syncstack
