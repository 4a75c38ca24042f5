// The reconcile driver: runs the transport-free ReconcileClient
// (reconcile/) against the server round by round, and turns the
// differences it finds into what the planner consumes (Reconciled).
#include <algorithm>
#include <iterator>

#include "engine/run.h"

namespace syncstack::engine {

Status SyncRun::ScanForReconcile(const std::string& name,
                                 std::vector<ReconcileItem>& items,
                                 Reconciled& out) {
  auto it = store_.Scan(name, ScanOptions{});
  for (; it->Valid(); it->Next()) {
    const ManifestEntry& e = it->entry();
    const bool item = IsServerItem(e);
    if (item) items.push_back(ReconcileItem{e.id, e.base, 0});
    if (e.state == SyncState::kSynced && !e.deleted) {
      out.counts.synced_local++;
    }
    if (item || e.state == SyncState::kCreated) out.counts.local_items++;
    if (e.state != SyncState::kSynced) out.local.push_back(e);  // changed
  }
  return it->status();
}

Status SyncRun::RereadDiffering(const std::string& name,
                                const std::vector<Difference>& differences,
                                Reconciled& out) {
  // The local rows of the differing ids (the changed ones are in already).
  std::vector<RecordId> wanted;
  for (const Difference& d : differences) wanted.push_back(d.id);
  std::sort(wanted.begin(), wanted.end());
  // Read now, so a row the app changed since the scan is planned as it is.
  std::vector<ManifestEntry> fresh;
  SYNCSTACK_RETURN_IF_ERROR(store_.Get(name, wanted, [&](const Record& r) {
    fresh.push_back(ManifestEntry{r.id, r.version, r.deleted, r.state, r.base});
  }));
  std::erase_if(out.local, [&](const ManifestEntry& e) {
    return std::binary_search(wanted.begin(), wanted.end(), e.id);
  });
  out.local.insert(out.local.end(), std::make_move_iterator(fresh.begin()),
                   std::make_move_iterator(fresh.end()));
  std::sort(out.local.begin(), out.local.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) {
              return a.id < b.id;
            });
  return Status::Ok();
}

Status SyncRun::Reconcile(uint32_t index, uint64_t budget, Reconciled& out,
                          bool* gave_up) {
  const std::string& name = names_[index];
  *gave_up = false;
  std::vector<ReconcileItem> items;
  SYNCSTACK_RETURN_IF_ERROR(ScanForReconcile(name, items, out));
  auto source = NewSortedItemSource(std::move(items));
  ReconcileClient client(*source);
  std::string message = client.Initiate();
  uint64_t bytes = 0;
  while (!message.empty()) {
    bytes += message.size();
    auto start = SteadyClock::now();
    auto answer = remote_.Reconcile(name, std::move(message));
    network_ += Since(start);
    if (!answer.ok()) return answer.status();
    bytes += answer->size();
    if (bytes > budget) {
      *gave_up = true;
      return Status::Ok();
    }
    auto next = client.Process(*answer);
    if (!next.ok()) return next.status().WithContext("reconcile answer");
    message = std::move(*next);
  }
  for (const Difference& d : client.differences()) {
    if (d.theirs) {
      out.remote.push_back(Stamp{d.id, d.theirs->timestamp, std::string()});
      highest_seen_ = std::max(highest_seen_, d.theirs->timestamp);
    } else {
      out.lacks.push_back(d.id);
    }
  }
  auto by_id = [](const Stamp& a, const Stamp& b) { return a.id < b.id; };
  std::sort(out.remote.begin(), out.remote.end(), by_id);
  std::sort(out.lacks.begin(), out.lacks.end());
  SYNCSTACK_RETURN_IF_ERROR(RereadDiffering(name, client.differences(), out));
  out.has_local = true;
  return Status::Ok();
}

}  // namespace syncstack::engine
