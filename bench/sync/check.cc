#include "check.h"

#include <string>
#include <vector>

namespace syncstack::bench {
namespace {

// The manifests of both stores agree entry by entry.
Status CheckManifests(Store& device, Store& server, const Workload& w) {
  auto a = device.Scan(kCollection, ScanOptions{});
  auto b = server.Scan(kCollection, ScanOptions{});
  uint64_t count = 0;
  for (; a->Valid() && b->Valid(); a->Next(), b->Next(), ++count) {
    const ManifestEntry& x = a->entry();
    const ManifestEntry& y = b->entry();
    if (x.id != y.id || x.version.timestamp != y.version.timestamp ||
        x.deleted != y.deleted || x.state != SyncState::kSynced) {
      return Status::Corruption("device and server differ at " +
                                (x.id < y.id ? x.id : y.id).ToString());
    }
  }
  SYNCSTACK_RETURN_IF_ERROR(a->status());
  SYNCSTACK_RETURN_IF_ERROR(b->status());
  if (a->Valid() || b->Valid()) {
    return Status::Corruption(std::string("the ") +
                              (a->Valid() ? "device" : "server") +
                              " has more records");
  }
  if (count != w.records) {
    return Status::Corruption("both have " + std::to_string(count) +
                              " records, not " + std::to_string(w.records));
  }
  return Status::Ok();
}

// The payloads of a sample agree, and the round's changes are there.
Status CheckPayloads(Store& device, Store& server, const Workload& w,
                     int round) {
  std::vector<RecordId> sample = {w.Id(0), w.Id(w.records - 1)};
  for (uint64_t j = 0; round >= 0 && j < w.changes; ++j) {
    sample.push_back(w.Id(w.ChangedIndex(round, j)));
  }
  std::vector<std::string> left, right;
  SYNCSTACK_RETURN_IF_ERROR(
      device.Get(kCollection, sample,
                 [&](const Record& r) { left.push_back(r.payload); }));
  SYNCSTACK_RETURN_IF_ERROR(
      server.Get(kCollection, sample,
                 [&](const Record& r) { right.push_back(r.payload); }));
  if (left.size() != sample.size() || left != right) {
    return Status::Corruption("device and server payloads differ");
  }
  for (uint64_t j = 0; round >= 0 && j < w.changes; ++j) {
    std::string_view by = j < w.ServerChanges() ? "server" : "device";
    uint64_t i = w.ChangedIndex(round, j);
    if (left[2 + j] != w.Payload(i, round + 1, by)) {
      return Status::Corruption("a change of round " + std::to_string(round) +
                                " is missing: record " + std::to_string(i));
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckEqual(Store& device, Store& server, const Workload& workload,
                  int round) {
  SYNCSTACK_RETURN_IF_ERROR(CheckManifests(device, server, workload));
  return CheckPayloads(device, server, workload, round);
}

}  // namespace syncstack::bench
