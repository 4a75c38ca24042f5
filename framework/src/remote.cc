#include "syncstack/remote.h"

#include "random_token.h"
#include "syncstack/protocol.h"

namespace syncstack {

Result<Response> RemoteClient::Send(Request& request) {
  request.token = token_;
  traffic_.calls++;
  traffic_.bytes_sent += request.body.size();
  last_retry_after_ = -1;
  auto response = transport_.Call(request);
  if (!response.ok()) return response.status();
  traffic_.bytes_received += response->body.size();
  if (response->status >= 400) {
    last_retry_after_ = response->retry_after;
    return DecodeError(response->status, response->body, &last_retry_after_);
  }
  return response;
}

Status RemoteClient::Login(std::string_view user, std::string_view password) {
  Request request;
  request.method = "POST";
  request.path = kLoginPath;
  EncodeLoginRequest(LoginRequest{std::string(user), std::string(password)},
                     request.body);
  token_.clear();
  auto response = Send(request);
  if (!response.ok()) return response.status().WithContext("login");
  auto answer = DecodeLoginResponse(response->body);
  if (!answer.ok()) return answer.status().WithContext("login answer");
  token_ = std::move(answer->token);
  token_expires_in_ = answer->expires_in;
  server_policy_ = std::move(answer->policy);
  return Status::Ok();
}

Result<LockResponse> RemoteClient::Lock(std::string_view device,
                                        int64_t* retry_after_seconds,
                                        Timestamp client_time,
                                        int64_t synced_through,
                                        std::string_view history) {
  Request request;
  request.method = "POST";
  request.path = kLockPath;
  request.lease = lease_;
  EncodeLockRequest(
      LockRequest{std::string(device), client_time, synced_through,
                  std::string(history), device_secret_},
      request.body);
  auto response = Send(request);
  if (!response.ok()) {
    if (retry_after_seconds != nullptr)
      *retry_after_seconds = last_retry_after_;
    return response.status();
  }
  auto answer = DecodeLockResponse(response->body);
  if (!answer.ok()) return answer.status().WithContext("lock answer");
  lease_ = answer->lease;
  if (!answer->device_secret.empty()) device_secret_ = answer->device_secret;
  return answer;
}

Status RemoteClient::Unlock() {
  if (lease_.empty()) return Status::Ok();
  Request request;
  request.method = "DELETE";
  request.path = kLockPath;
  request.lease = lease_;
  lease_.clear();
  auto response = Send(request);
  if (!response.ok()) return response.status().WithContext("unlock");
  return Status::Ok();
}

Result<Manifest> RemoteClient::Fetch(
    const std::vector<std::string>& collections, bool with_versions) {
  Request request;
  request.method = "GET";
  request.path = kFetchPath;
  if (!collections.empty()) {
    request.query = "collections=";
    for (size_t i = 0; i < collections.size(); ++i) {
      if (i > 0) request.query += ',';
      request.query += collections[i];
    }
  }
  if (with_versions) {
    if (!request.query.empty()) request.query += '&';
    request.query += "versions=1";
  }
  auto response = Send(request);
  if (!response.ok()) return response.status().WithContext("fetch");
  auto manifest = DecodeManifest(response->body, limits_);
  if (!manifest.ok()) return manifest.status().WithContext("fetch answer");
  return manifest;
}

namespace {

std::string PageQuery(std::string_view collection,
                      const std::optional<RecordId>& after, size_t limit) {
  std::string query = "collection=";
  query += collection;
  if (after) {
    query += "&after=";
    query += after->ToString();
  }
  query += "&limit=";
  query += std::to_string(limit);
  query += "&format=binary";
  return query;
}

}  // namespace

Result<CollectionList> RemoteClient::ListCollections() {
  Request request;
  request.method = "GET";
  request.path = kManifestPath;
  auto response = Send(request);
  if (!response.ok()) return response.status().WithContext("manifest");
  auto list = DecodeCollectionList(response->body);
  if (!list.ok()) return list.status().WithContext("manifest answer");
  return list;
}

Result<std::string> RemoteClient::PageBody(std::string_view path,
                                           std::string_view collection,
                                           const std::optional<RecordId>& after,
                                           size_t limit) {
  Request request;
  request.method = "GET";
  request.path = std::string(path);
  request.query = PageQuery(collection, after, limit);
  auto response = Send(request);
  if (!response.ok()) return response.status();
  return std::move(response->body);
}

namespace {

// Checks that a decoded page is the one asked for: its collection, and
// ids after `after`.
template <class Page, class Items>
Result<Page> CheckPage(Result<Page> page, const Items Page::*items,
                       std::string_view collection,
                       const std::optional<RecordId>& after) {
  if (!page.ok()) return page.status();
  const Items& list = (*page).*items;
  if (page->collection != collection ||
      (after && !list.empty() && !(*after < list.front().id))) {
    return Status::InvalidArgument("not the page asked for");
  }
  return page;
}

}  // namespace

Result<ManifestPage> RemoteClient::ManifestPageAfter(
    std::string_view collection, const std::optional<RecordId>& after,
    size_t limit) {
  auto body = PageBody(kManifestPath, collection, after, limit);
  if (!body.ok()) return body.status().WithContext("manifest page");
  auto page = CheckPage(DecodeManifestPageBinary(*body), &ManifestPage::entries,
                        collection, after);
  if (!page.ok()) return page.status().WithContext("manifest page answer");
  return page;
}

Result<RecordsPage> RemoteClient::RecordsPageAfter(
    std::string_view collection, const std::optional<RecordId>& after,
    size_t limit) {
  auto body = PageBody(kRecordsPath, collection, after, limit);
  if (!body.ok()) return body.status().WithContext("records page");
  auto page = CheckPage(DecodeRecordsPageBinary(*body), &RecordsPage::records,
                        collection, after);
  if (!page.ok()) return page.status().WithContext("records page answer");
  return page;
}

Result<ChangesPage> RemoteClient::Changes(std::string_view collection,
                                          uint64_t after, size_t limit,
                                          std::string_view history) {
  Request request;
  request.method = "GET";
  request.path = kChangesPath;
  request.query = "collection=";
  request.query += collection;
  request.query += "&after=" + std::to_string(after);
  request.query += "&limit=" + std::to_string(limit);
  request.query += "&format=binary";
  if (!history.empty()) {
    request.query += "&history=";
    request.query += history;
  }
  auto response = Send(request);
  if (!response.ok()) return response.status().WithContext("changes");
  auto page = DecodeChangesPageBinary(response->body);
  if (!page.ok()) return page.status().WithContext("changes answer");
  if (page->collection != collection ||
      (!page->changes.empty() && page->changes.front().seq <= after) ||
      (page->changes.empty() && page->last != after)) {
    return Status::InvalidArgument("changes answer: not the page asked for");
  }
  return page;
}

Result<std::string> RemoteClient::Reconcile(std::string_view collection,
                                            std::string message) {
  Request request;
  request.method = "POST";
  request.path = kReconcilePath;
  request.query = "collection=";
  request.query += collection;
  request.content_type = std::string(kBinaryContentType);
  request.body = std::move(message);
  auto response = Send(request);
  if (!response.ok()) return response.status().WithContext("reconcile");
  return std::move(response->body);
}

Result<SyncResponse> RemoteClient::Synchronise(const SyncRequest& sync,
                                               const Schema& schema) {
  Request request;
  request.method = "POST";
  request.path = kSynchronisePath;
  request.lease = lease_;
  // A fresh key per call: a transport's retry of this very request (the
  // answer was lost) is then applied once.
  request.idempotency_key = NewRandomToken();
  request.body = std::move(buffer_);
  request.body.clear();
  EncodeSyncRequest(sync, schema, request.body);
  auto response = Send(request);
  buffer_ = std::move(request.body);
  if (!response.ok()) return response.status().WithContext("synchronise");
  auto answer = DecodeSyncResponse(response->body, schema, limits_);
  if (!answer.ok()) return answer.status().WithContext("synchronise answer");
  return answer;
}

}  // namespace syncstack
