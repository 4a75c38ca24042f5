// Routing: which endpoint answers a request, who is asking, and the
// decoding of request bodies and query strings.
#include <cstdlib>

#include "service/service_impl.h"
#include "syncstack/pages.h"
#include "syncstack/protocol.h"

namespace syncstack {
namespace service {

Response ErrorResponse(const Status& status, int64_t retry_after) {
  Response response;
  response.status = HttpStatusFor(status.code());
  response.retry_after = retry_after;
  EncodeError(status, retry_after, response.body);
  return response;
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::optional<std::string_view> QueryParam(std::string_view query,
                                           std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string_view()
                                          : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

namespace {

// A page's `limit`: a whole number from 1 to kMaxPageEntries.
Result<size_t> ParseLimit(std::string_view limit) {
  char* end = nullptr;
  std::string text(limit);
  unsigned long long n = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || text[0] == '-' || n < 1 ||
      n > kMaxPageEntries) {
    return Status::InvalidArgument("limit: must be a whole number from 1 to " +
                                   std::to_string(kMaxPageEntries));
  }
  return static_cast<size_t>(n);
}

}  // namespace

Result<PageQuery> ParsePageQuery(std::string_view query, const Schema& schema) {
  PageQuery q;
  q.limit = kDefaultPageEntries;
  auto collection = QueryParam(query, "collection");
  if (!collection || collection->empty()) {
    return Status::InvalidArgument("collection: missing");
  }
  q.collection = std::string(*collection);
  auto key = schema.IdKey(q.collection);
  if (!key.ok()) return key.status().WithContext("collection");
  q.id_key = std::string(*key);
  if (auto after = QueryParam(query, "after")) {
    auto id = RecordId::Parse(*after);
    if (!id.ok()) return id.status().WithContext("after");
    q.after = *id;
  }
  if (auto limit = QueryParam(query, "limit")) {
    SYNCSTACK_ASSIGN_OR_RETURN(q.limit, ParseLimit(*limit));
  }
  if (auto format = QueryParam(query, "format")) {
    if (*format == "binary") {
      q.binary = true;
    } else if (*format != "json") {
      return Status::InvalidArgument("format: must be json or binary");
    }
  }
  return q;
}

std::optional<Response> RefuseLargeBody(const Request& request,
                                        size_t max_body) {
  if (request.body.size() <= max_body) return std::nullopt;
  return ErrorResponse(Status::TooLarge(
      "body of " + std::to_string(request.body.size()) +
      " bytes is over the limit of " + std::to_string(max_body) + " for " +
      request.method + " " + request.path));
}

namespace {

// Whether a request reaches an endpoint (login excepted) with a method it
// answers.
bool KnownEndpoint(const std::string& path, const std::string& method) {
  return (path == kLockPath && (method == "POST" || method == "DELETE")) ||
         (path == kFetchPath && method == "GET") ||
         (path == kSynchronisePath && method == "POST") ||
         (path == kManifestPath && method == "GET") ||
         (path == kRecordsPath && method == "GET") ||
         (path == kReconcilePath && method == "POST") ||
         (path == kChangesPath && method == "GET");
}

}  // namespace
}  // namespace service

Response SyncService::Impl::Route(const Request& request, SyncService& self,
                                  service::RequestNote& note) {
  const std::string& path = request.path;
  const std::string& method = request.method;
  if (auto refused =
          service::RefuseLargeBody(request, self.MaxBody(method, path))) {
    return std::move(*refused);
  }
  if (path == kLoginPath && method == "POST") return HandleLogin(request, note);
  if (auto answered = HandleOperations(request)) return std::move(*answered);
  if (!service::KnownEndpoint(path, method)) {
    return service::ErrorResponse(
        Status::NotFound("no endpoint " + method + " " + path));
  }
  auto account = Authenticate(request);
  if (!account.ok()) return service::ErrorResponse(account.status());
  note.user = *account;
  if (path == kLockPath) return HandleLock(request, *account, note);
  if (path == kFetchPath) return HandleFetch(request, *account);
  if (path == kManifestPath) return HandleManifest(request, *account);
  if (path == kRecordsPath) return HandleRecords(request, *account);
  if (path == kReconcilePath) return HandleReconcile(request, *account);
  if (path == kChangesPath) return HandleChanges(request, *account);
  return HandleSynchronise(request, *account, self, note);
}

size_t SyncService::MaxBody(std::string_view method,
                            std::string_view path) const noexcept {
  if (method == "POST" &&
      (path == kSynchronisePath || path == kReconcilePath)) {
    return impl_->options.max_body;
  }
  return kSmallBodyLimit;
}

Response SyncService::Impl::HandleSynchronise(const Request& request,
                                              const std::string& account,
                                              SyncService& self,
                                              service::RequestNote& note) {
  if (auto refused = service::RefuseLargeBody(request, options.max_body)) {
    return std::move(*refused);
  }
  auto lease = lock.Check(account, request.lease);
  if (!lease.ok()) return service::ErrorResponse(lease.status());
  note.device = lease->device;
  auto decoded = DecodeSyncRequest(request.body, schema, options.limits);
  if (!decoded.ok()) return service::ErrorResponse(decoded.status());
  auto answer = self.Synchronise(account, *decoded, request.lease,
                                 request.idempotency_key);
  if (!answer.ok()) return service::ErrorResponse(answer.status());
  Response response;
  EncodeSyncResponse(*answer, schema, response.body);
  return response;
}

}  // namespace syncstack
