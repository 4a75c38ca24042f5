// Users of a sync server, kept in the server's own Database. Passwords are
// stored only as salted Argon2id hashes (libsodium's crypto_pwhash_str with
// its "interactive" limits); nothing else about a password is kept.
//
// Users live in the reserved account "_users" (account names starting with
// '_' are never user accounts: user names cannot start with '_'). A user's
// records live in the account of the same name.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "syncstack/clock.h"
#include "syncstack/service.h"
#include "syncstack/store.h"

namespace syncstack {

// Checks a user name: 1-64 characters of [A-Za-z0-9._@-], not starting
// with '.', '_' or '-'. Errors: kInvalidArgument.
Status ValidateUserName(std::string_view user);

// Creates `user` with `password`, noting `clock`'s time as its creation
// (replacing the password if the user exists and `replace`; every token
// issued to the user before then stops working, and its creation time
// stays). Errors: kInvalidArgument (bad name, empty password), kConflict
// (exists and !replace), kIOError.
Status AddUser(Database& database, std::string_view user,
               std::string_view password, bool replace = false,
               Clock& clock = SystemClock());

// Removes `user` and its account, in one transaction
// (Database::RemoveAccount): every record and tombstone of every
// collection, the account's metadata, its lease in a shared lock, its
// password hash and times; every token issued to it stops working (also if
// a user of the same name is added later, which starts with an empty
// account). Errors: kInvalidArgument (bad name), kNotFound, kNotSupported
// (a database without RemoveAccount), kIOError.
Status RemoveUser(Database& database, std::string_view user);

// What `user list` shows of a user. Times are ms since the Unix epoch.
struct UserInfo {
  std::string name;
  // nullopt: the user was added before the store kept creation times.
  std::optional<Timestamp> created;
  // The last successful login, kept to the minute (a login less than
  // kLoginNoteInterval after the noted one writes nothing); nullopt: none
  // since the store kept login times.
  std::optional<Timestamp> last_login;
};

// Logins closer than this to the noted last login are not written again,
// so a device logging in for every sync costs no write per sync.
inline constexpr Timestamp kLoginNoteInterval = 60'000;

// The users of `database`, sorted by name (bytewise). Errors: those of
// Store::ScanMeta (kNotSupported for a store without it), kCorruption (a
// damaged time).
Result<std::vector<UserInfo>> ListUsers(Database& database);

// True if `user` was added to `database` (a bad name is simply absent).
// Errors: those of Store::GetMeta.
Result<bool> HasUser(Database& database, std::string_view user);

// An Authenticator that checks passwords against the users of `database`
// (which must outlive it). Unknown users and wrong passwords take the same
// time and get the same answer. Its tokens name the user's token
// generation: a password change or removal ends them (VerifyToken reads
// the generation from the database, so every process sharing it agrees).
// A successful login notes `clock`'s time as the user's last login (see
// UserInfo::last_login; a failure to note it does not fail the login).
// `clock` must outlive it.
std::unique_ptr<Authenticator> NewDatabaseAuthenticator(
    Database& database, Clock& clock = SystemClock());

}  // namespace syncstack
