// Private: the login token a device keeps in its store's metadata between
// runs (meta::kKeptLogin), so that a device syncing every minute does not
// make the server check its password (Argon2id, ~64 MiB and ~100 ms) every
// time. docs/decisions/kept-login-token.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "syncstack/record.h"
#include "syncstack/status.h"
#include "syncstack/store.h"

namespace syncstack::engine {

struct KeptLogin {
  std::string user;    // the user it was issued to
  std::string server;  // SyncOptions::server when it was issued
  std::string policy;  // the login answer's policy name ("" if none)
  std::string token;
  Timestamp issued_at = 0;   // the device's clock, ms
  Timestamp expires_at = 0;  // issued_at + the answer's expires_in
};

// The text kept under meta::kKeptLogin.
std::string EncodeKeptLogin(const KeptLogin& login);
// nullopt for anything malformed (treated as no kept token).
std::optional<KeptLogin> DecodeKeptLogin(std::string_view text);

// Whether `login` may be presented as `user` to `server` at `now`: issued
// for exactly that user and server (a non-empty server), not in the
// future, and with at least half its lifetime left (so that it outlives
// the run that uses it).
bool Reusable(const KeptLogin& login, std::string_view user,
              std::string_view server, Timestamp now);

// The kept login, nullopt when none is kept or it cannot be read (a read
// error is not a reason to fail the run: it logs in instead).
std::optional<KeptLogin> ReadKeptLogin(Store& store);
// Keeps `login`, replacing any. Errors: the store's.
Status WriteKeptLogin(Store& store, const WriteOptions& options,
                      const KeptLogin& login);
// Forgets the kept login (a 401 refused it). Errors: the store's.
Status DropKeptLogin(Store& store, const WriteOptions& options);

}  // namespace syncstack::engine
