// Deletion by absence needs the server's proof (LESSONS.md #14): a synced
// record missing from the server's list is deleted here only when the
// server shows a tombstone for it that is not older than this device's
// copy. A server that has neither the record nor its tombstone lost it (a
// restore from a backup): the device pushes it again.
// docs/decisions/server-restore.md.
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "engine/run.h"

namespace syncstack::engine {
namespace {

// What the server said of the ids it was asked about.
struct Evidence {
  std::unordered_set<RecordId, RecordIdHash> live;
  std::unordered_map<RecordId, Timestamp, RecordIdHash> tombstones;
};

Evidence Collect(const SyncResponse& answer) {
  Evidence e;
  for (const auto& c : answer.get) {
    for (const auto& r : c.records) e.live.insert(r.id);
  }
  for (const auto& c : answer.tombstones) {
    for (const auto& t : c.stamps) e.tombstones[t.id] = t.last_update;
  }
  return e;
}

// Turns a planned delete by absence into what the evidence supports.
void Settle(PlanOp& op, const Evidence& e, CaseCounts& cases) {
  op.by_absence = false;
  if (e.live.contains(op.id)) {  // listed nowhere, but there after all
    op.action = Action::kPull;
    cases.deleted_here--;
    cases.pulled++;
    return;
  }
  auto t = e.tombstones.find(op.id);
  if (t != e.tombstones.end() && t->second >= op.local_ts) return;  // proven
  op.action = Action::kPushAdd;
  cases.deleted_here--;
  cases.pushed_adds++;
  cases.repushed++;
}

}  // namespace

Status SyncRun::ProveAbsences() {
  std::map<uint32_t, std::vector<PlanOp*>> asked;
  for (PlanOp& op : plan_.ops) {
    if (op.by_absence) asked[op.collection].push_back(&op);
  }
  const size_t per_call = std::max<size_t>(1, options_.batch_records);
  for (auto& [collection, ops] : asked) {
    for (size_t begin = 0; begin < ops.size(); begin += per_call) {
      const size_t end = std::min(ops.size(), begin + per_call);
      SyncRequest request;
      request.want_tombstones = true;
      request.get.push_back(CollectionIds{names_[collection], {}});
      for (size_t i = begin; i < end; ++i) {
        request.get.back().ids.push_back(ops[i]->id);
      }
      SYNCSTACK_RETURN_IF_ERROR(RenewLockIfDue());
      auto start = SteadyClock::now();
      auto answer = remote_.Synchronise(request, schema_);
      network_ += Since(start);
      if (!answer.ok()) {
        return answer.status().WithContext(
            "asking the server to prove deletes");
      }
      const Evidence evidence = Collect(*answer);
      for (size_t i = begin; i < end; ++i) {
        Settle(*ops[i], evidence, plan_.cases);
      }
    }
  }
  return Status::Ok();
}

}  // namespace syncstack::engine
