// /v1/lock: a device takes or gives back the account's lease; taking it
// also estimates the device's clock offset and notes its tombstone mark.
#include <algorithm>

#include "service/service_impl.h"

namespace syncstack {

namespace {

Response Released() {
  Response response;
  response.status = 204;
  return response;
}

// 423 with Retry-After in whole seconds. The message never names the
// holder: device names are the account's own business, and whoever asks
// may not be the account's device at all.
Response Locked(const LockAttempt& attempt) {
  int64_t retry = (attempt.retry_after_ms + 999) / 1000;
  return service::ErrorResponse(
      Status::Locked("locked by another device, retry in " +
                     std::to_string(retry) + " s"),
      retry);
}

}  // namespace

Response SyncService::Impl::HandleLock(const Request& request,
                                       const std::string& account,
                                       service::RequestNote& note) {
  if (request.method == "DELETE") {
    Status s = lock.Release(account, request.lease);
    if (!s.ok()) return service::ErrorResponse(s);
    if (auto ended = session_clock.Finish(account, request.lease)) {
      note.device = std::move(ended->device);
      observer.OnSyncSession(ended->duration);
    }
    return Released();
  }
  auto body = DecodeLockRequest(request.body);
  if (!body.ok()) return service::ErrorResponse(body.status());
  note.device = body->device;
  auto attempt =
      lock.Acquire(account, body->device, request.lease, body->device_secret);
  if (!attempt.ok()) return service::ErrorResponse(attempt.status());
  if (!attempt->granted) {
    observer.OnLockWait();
    return Locked(*attempt);
  }
  session_clock.Start(account, attempt->lease.token, body->device);
  LockResponse answer;
  answer.device_secret = std::move(attempt->device_secret);
  if (body->client_time != kNoTimestamp) {
    // Half the request's travel time is unknown; receive time is close
    // enough for skews that matter (seconds and more).
    answer.clock_offset_ms = body->client_time - clock.Now();
    NoteClockOffset(account, body->device, answer.clock_offset_ms);
    Log("device \"" + body->device + "\" of \"" + account +
        "\": clock offset " + std::to_string(answer.clock_offset_ms) + " ms");
  }
  if (body->synced_through >= 0) {
    auto noted = NoteDeviceMark(account, body->device,
                                static_cast<uint64_t>(body->synced_through));
    if (!noted.ok()) return service::ErrorResponse(noted.status());
    answer.seq = static_cast<int64_t>(noted->first);
    answer.resync = noted->second;
    Status history = CheckHistory(account, *body, answer);
    if (!history.ok()) return service::ErrorResponse(history);
  }
  answer.lease = attempt->lease.token;
  answer.expires_in =
      std::max<int64_t>(0, (attempt->lease.expires_at - clock.Now()) / 1000);
  Response response;
  EncodeLockResponse(answer, response.body);
  return response;
}

}  // namespace syncstack
