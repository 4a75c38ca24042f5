// Private: the login tokens a service keeps in memory, for authenticators
// that sign none (Authenticator::SignToken returns nullopt).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "syncstack/record.h"
#include "syncstack/status.h"

namespace syncstack::service {

// Thread safety: all methods may be called concurrently.
class SessionTable {
 public:
  // The most tokens kept per account and in all: beyond them the token
  // expiring first goes (its holder logs in again).
  // Each sync logs in again: a device waiting for the lock must keep its
  // token while another device of the account syncs many times.
  static constexpr size_t kMaxPerAccount = 1024;
  static constexpr size_t kMaxTokens = 65536;

  // Makes a new random token for `account`, valid until `expires_at`, and
  // forgets every token expired at `now`, then those expiring first while
  // the account holds more than kMaxPerAccount or the table more than
  // kMaxTokens. Returns the token.
  std::string Issue(std::string account, Timestamp expires_at, Timestamp now);

  // The account of `token` when this table issued it, nullopt when it did
  // not. An expired token is forgotten and answers kUnauthorized ("token
  // expired").
  std::optional<Result<std::string>> Find(const std::string& token,
                                          Timestamp now);

  // The number of tokens kept (for tests and measurements).
  size_t size();

 private:
  struct Session {
    std::string account;
    Timestamp expires_at;
  };
  // Forgets the token of `account` ("" for any) that expires first.
  // REQUIRES: mu_ held.
  void DropFirstExpiringLocked(std::string_view account);

  std::mutex mu_;
  std::unordered_map<std::string, Session> sessions_;  // guarded by mu_
};

}  // namespace syncstack::service
