// A device's lock request carries the sequence and history token of its
// last complete sync; the answer says whether this server still has that
// history (docs/decisions/server-restore.md).
#include "history.h"
#include "service/service_impl.h"

namespace syncstack {

Status SyncService::Impl::CheckHistory(const std::string& account,
                                       const LockRequest& request,
                                       LockResponse& answer) {
  if (answer.seq < 0) return Status::Ok();
  SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> store, StoreFor(account));
  const auto seq = static_cast<uint64_t>(answer.seq);
  SYNCSTACK_ASSIGN_OR_RETURN(answer.history, history::PointAt(*store, seq));
  SYNCSTACK_ASSIGN_OR_RETURN(answer.restored,
                             history::WentBack(*store, seq, request.history));
  if (answer.restored) {
    Log("device \"" + request.device + "\" of \"" + account + "\" saw write " +
        request.history.substr(0, request.history.find(':')) +
        " of a history this server does not have: its history went back "
        "(restored from a backup?); the device pushes again what was lost");
  }
  return Status::Ok();
}

}  // namespace syncstack
