// The streamed first sync: a device with nothing of a collection takes the
// server's records page by page straight into the store, without a
// manifest or a plan, each batch committed with a checkpoint so an
// interrupted run goes on where it stopped.
#include <future>

#include "engine/run.h"
#include "syncstack/metadata_keys.h"

namespace syncstack::engine {
namespace {

// The server's records as synced local rows, each expected to be absent.
void FillBatch(const std::string& name, std::vector<WireRecord>& records,
               Timestamp& highest_seen, ChangeBatch& batch) {
  batch.Clear();
  for (WireRecord& w : records) {
    Record r;
    r.collection = name;
    r.id = w.id;
    r.version = Version{w.last_update, std::move(w.version)};
    r.base = w.last_update;
    r.state = SyncState::kSynced;
    r.payload = std::move(w.payload);
    highest_seen = std::max(highest_seen, r.version.timestamp);
    batch.Put(std::move(r), Expect{});  // must still be absent here
  }
}

}  // namespace

Result<FirstSyncOutcome> SyncRun::ColdSync(uint32_t index) {
  const std::string& name = names_[index];
  const std::string key = meta::ColdCheckpoint(name);
  FirstSyncOutcome outcome;
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> mark,
                             store_.GetMeta(key));
  std::optional<RecordId> after;
  if (mark && !mark->empty()) {
    auto id = RecordId::Parse(*mark);
    if (!id.ok()) return id.status().WithContext("checkpoint " + key);
    after = *id;
    outcome.changed = true;  // the server may have moved since the first run
    report_.cold_batches_resumed++;
  } else {
    // Nothing here yet: the figure starts empty and counts each batch.
    figures_[index] = SetFingerprint{};
  }
  // The next page is fetched while this one is applied: the server reads
  // and the device writes at the same time.
  auto fetch = [this, &name](std::optional<RecordId> from) {
    return std::async(std::launch::async, [this, &name, from] {
      return remote_.RecordsPageAfter(name, from, kColdPageRecords);
    });
  };
  SYNCSTACK_RETURN_IF_ERROR(RenewLockIfDue());
  auto pending = fetch(after);
  ChangeBatch batch;
  while (true) {
    auto start = SteadyClock::now();
    auto page = pending.get();
    network_ += Since(start);
    if (!page.ok()) return page.status();
    if (page->more && !page->records.empty()) {
      SYNCSTACK_RETURN_IF_ERROR(RenewLockIfDue());
      pending = fetch(page->records.back().id);
    }
    if (page->seq != server_seq_) outcome.changed = true;
    FillBatch(name, page->records, highest_seen_, batch);
    if (!page->records.empty()) after = page->records.back().id;
    const bool last = !page->more;
    // The checkpoint commits with the batch: a later run goes on from here.
    batch.SetMeta(key, last || !after ? std::string() : after->ToString());
    PendingFigures figures;
    SYNCSTACK_RETURN_IF_ERROR(TrackFigures(batch, nullptr, figures));
    Status s = store_.Apply(options_.write, batch);
    if (s.ok()) CommitFigures(figures);
    if (s.code() == Status::Code::kConflict) {
      // The app wrote one of these ids meanwhile: plan the rest the usual
      // way, which never overwrites an app write.
      ChangeBatch clear;
      clear.SetMeta(key, std::string());
      SYNCSTACK_RETURN_IF_ERROR(store_.Apply(options_.write, clear));
      outcome.records = report_.cold_records;
      return outcome;
    }
    SYNCSTACK_RETURN_IF_ERROR(s);
    report_.cold_records += page->records.size();
    report_.cases.fetched_new += page->records.size();  // case 1, in bulk
    Progress(SyncProgress::Phase::kFetch, report_.cold_records, 0);
    if (last) {
      outcome.done = true;
      outcome.records = report_.cold_records;
      return outcome;
    }
  }
}

}  // namespace syncstack::engine
