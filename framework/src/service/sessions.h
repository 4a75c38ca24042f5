// Private: the login tokens a service keeps in memory, for authenticators
// that sign none (Authenticator::SignToken returns nullopt).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "syncstack/record.h"
#include "syncstack/status.h"

namespace syncstack::service {

// Thread safety: all methods may be called concurrently.
class SessionTable {
 public:
  // Makes a new random token for `account`, valid until `expires_at`, and
  // forgets every token expired at `now`. Returns the token.
  std::string Issue(std::string account, Timestamp expires_at, Timestamp now);

  // The account of `token` when this table issued it, nullopt when it did
  // not. An expired token is forgotten and answers kUnauthorized ("token
  // expired").
  std::optional<Result<std::string>> Find(const std::string& token,
                                          Timestamp now);

 private:
  struct Session {
    std::string account;
    Timestamp expires_at;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Session> sessions_;  // guarded by mu_
};

}  // namespace syncstack::service
