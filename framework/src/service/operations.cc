// The operator's side of the service: /healthz, /readyz, /metrics (no
// account, no lock), and the observer's report of each answered request.
#include "service/service_impl.h"
#include "syncstack/codec.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/protocol.h"

namespace syncstack {
namespace {

constexpr std::string_view kOkBody = "{\"status\":\"ok\"}";
constexpr std::string_view kPrometheusText =
    "text/plain; version=0.0.4; charset=utf-8";

Response Ok() {
  Response response;
  response.body = kOkBody;
  return response;
}

// 503 {"status":"unavailable","reason":"..."}.
Response NotReady(const Status& why) {
  Response response;
  response.status = 503;
  response.body = "{\"status\":\"unavailable\",\"reason\":";
  AppendJsonString(why.ToString(), response.body);
  response.body += '}';
  return response;
}

// Compares without an early exit, so the time taken tells nothing about
// how much of a guess was right.
bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

}  // namespace

std::optional<Response> SyncService::Impl::HandleOperations(
    const Request& request) {
  switch (EndpointOf(request.method, request.path)) {
    case Endpoint::kHealthz:
      return Ok();
    case Endpoint::kReadyz:
      return HandleReadyz();
    case Endpoint::kMetrics:
      return HandleMetrics(request);
    default:
      return std::nullopt;
  }
}

Response SyncService::Impl::HandleReadyz() {
  std::shared_ptr<Store> store = probe;
  if (store == nullptr) {
    auto opened = database.OpenAccount(kProbeAccount);
    if (!opened.ok()) return NotReady(opened.status().WithContext("store"));
    store = std::move(*opened);
  }
  auto read = store->GetMeta(meta::kSequence);
  if (!read.ok()) return NotReady(read.status().WithContext("store"));
  return Ok();
}

Response SyncService::Impl::HandleMetrics(const Request& request) {
  if (!options.metrics_token.empty() &&
      !SameSecret(request.token, options.metrics_token)) {
    return service::ErrorResponse(Status::Unauthorized(
        "/metrics wants the metrics token (Authorization: Bearer)"));
  }
  Response response;
  if (!observer.WriteMetrics(response.body)) {
    return service::ErrorResponse(
        Status::NotFound("this server keeps no metrics"));
  }
  response.content_type = kPrometheusText;
  return response;
}

void SyncService::Impl::Observe(
    const Request& request, const Response& response,
    const service::RequestNote& note,
    std::chrono::steady_clock::time_point start) noexcept {
  if (&observer == &service::NoObserver()) return;  // nobody listens
  RequestEvent event;
  event.endpoint = EndpointOf(request.method, request.path);
  event.status = response.status;
  event.duration = std::chrono::steady_clock::now() - start;
  event.request_id = request.request_id;
  event.user = note.user;
  event.device = note.device;
  std::string message;
  try {
    if (response.status >= 400 && response.content_type.empty()) {
      message = DecodeError(response.status, response.body).message();
    }
  } catch (const std::exception&) {
    // Out of memory: the event goes without its message.
  }
  event.message = message;
  observer.OnRequest(event);
}

}  // namespace syncstack
