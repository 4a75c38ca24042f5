#include "edits.h"

#include "syncstack/http/http_transport.h"
#include "syncstack/remote.h"
#include "syncstack/replica.h"

namespace syncstack::bench {
namespace {

constexpr size_t kWriterBatch = 500;  // records per writer synchronise

}  // namespace

Status WriteOnServer(const std::string& url, std::string_view user,
                     std::string_view password, const Workload& workload,
                     int round) {
  HttpClientOptions http;
  http.url = url;
  SYNCSTACK_ASSIGN_OR_RETURN(auto transport, NewHttpTransport(http));
  RemoteClient writer(*transport);
  SYNCSTACK_RETURN_IF_ERROR(writer.Login(user, password));
  SYNCSTACK_RETURN_IF_ERROR(
      writer.Lock("bench-writer", nullptr, SystemClock().Now()).status());
  const uint64_t total = workload.ServerChanges();
  for (uint64_t j = 0; j < total;) {
    SyncRequest request;
    CollectionRecords& list = request.update.emplace_back();
    list.collection = std::string(kCollection);
    for (; j < total && list.records.size() < kWriterBatch; ++j) {
      uint64_t i = workload.ChangedIndex(round, j);
      WireRecord& r = list.records.emplace_back();
      r.id = workload.Id(i);
      r.last_update = SystemClock().Now();
      r.payload = workload.Payload(i, round + 1, "server");
    }
    SYNCSTACK_ASSIGN_OR_RETURN(SyncResponse answer,
                               writer.Synchronise(request, Schema()));
    if (!answer.conflicts.empty()) {
      return Status::Conflict("the writer's edits met a conflict");
    }
  }
  return writer.Unlock();
}

Status WriteOnDevice(Store& store, const ConflictPolicy& policy,
                     const Workload& workload, int round) {
  Replica replica(store, policy, SystemClock());
  for (uint64_t j = workload.ServerChanges(); j < workload.changes; ++j) {
    uint64_t i = workload.ChangedIndex(round, j);
    SYNCSTACK_RETURN_IF_ERROR(replica.Put(
        kCollection, workload.Id(i), workload.Payload(i, round + 1, "device")));
  }
  return Status::Ok();
}

}  // namespace syncstack::bench
