// Login and bearer tokens: /v1/login, the in-memory token table, and the
// in-process authenticator.
#include "service/sessions.h"

#include "random_token.h"
#include "service/service_impl.h"

namespace syncstack {
namespace {

class InProcessAuthenticator final : public Authenticator {
 public:
  Result<std::string> Login(std::string_view user,
                            std::string_view) noexcept override {
    if (user.empty() || user.size() > 128) {
      return Status::Unauthorized("bad user name");
    }
    return std::string(user);
  }
};

}  // namespace

std::unique_ptr<Authenticator> NewInProcessAuthenticator() {
  return std::make_unique<InProcessAuthenticator>();
}

namespace service {

std::string SessionTable::Issue(std::string account, Timestamp expires_at,
                                Timestamp now) {
  std::string token = NewRandomToken();
  std::lock_guard<std::mutex> guard(mu_);
  std::erase_if(sessions_,
                [&](const auto& s) { return s.second.expires_at <= now; });
  size_t mine = 0;
  for (const auto& [t, s] : sessions_) mine += s.account == account ? 1 : 0;
  for (; mine >= kMaxPerAccount; --mine) DropFirstExpiringLocked(account);
  while (sessions_.size() >= kMaxTokens) DropFirstExpiringLocked("");
  sessions_[token] = Session{std::move(account), expires_at};
  return token;
}

void SessionTable::DropFirstExpiringLocked(std::string_view account) {
  auto first = sessions_.end();
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    if (!account.empty() && it->second.account != account) continue;
    if (first == sessions_.end() ||
        it->second.expires_at < first->second.expires_at) {
      first = it;
    }
  }
  if (first != sessions_.end()) sessions_.erase(first);
}

size_t SessionTable::size() {
  std::lock_guard<std::mutex> guard(mu_);
  return sessions_.size();
}

std::optional<Result<std::string>> SessionTable::Find(const std::string& token,
                                                      Timestamp now) {
  std::lock_guard<std::mutex> guard(mu_);
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires_at <= now) {
    sessions_.erase(it);
    return Result<std::string>(Status::Unauthorized("token expired"));
  }
  return Result<std::string>(it->second.account);
}

}  // namespace service

Result<std::string> SyncService::Impl::Authenticate(const Request& request) {
  if (request.token.empty()) {
    return Status::Unauthorized("missing bearer token");
  }
  const Timestamp now = clock.Now();
  if (auto mine = sessions.Find(request.token, now)) return std::move(*mine);
  // A token of the database's authenticator, from any process.
  return authenticator.VerifyToken(request.token, now);
}

Response SyncService::Impl::HandleLogin(const Request& request,
                                        service::RequestNote& note) {
  auto login = DecodeLoginRequest(request.body);
  if (!login.ok()) return service::ErrorResponse(login.status());
  note.user = login->user;
  // Login throttling (issue 14 item 7): a throttled login is 429.
  int64_t retry_after = -1;
  auto account = authenticator.LoginFrom(request.peer, login->user,
                                         login->password, retry_after);
  if (!account.ok()) {
    if (account.status().code() == Status::Code::kUnauthorized) {
      observer.OnLoginFailure();
    }
    Response refused = service::ErrorResponse(account.status(), retry_after);
    if (retry_after >= 0) refused.status = 429;
    return refused;
  }
  LoginResponse answer;
  answer.policy = std::string(policy.name());
  answer.expires_in = options.token_ttl.count();
  Timestamp expires_at = clock.Now() + answer.expires_in * 1000;
  if (auto signed_token = authenticator.SignToken(*account, expires_at)) {
    answer.token = std::move(*signed_token);
  } else {
    answer.token = sessions.Issue(std::move(*account), expires_at, clock.Now());
  }
  Response response;
  EncodeLoginResponse(answer, response.body);
  return response;
}

}  // namespace syncstack
