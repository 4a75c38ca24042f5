// Users of a sync server, kept in the server's own Database. Passwords are
// stored only as salted Argon2id hashes (libsodium's crypto_pwhash_str with
// its "interactive" limits); nothing else about a password is kept.
//
// Users live in the reserved account "_users" (account names starting with
// '_' are never user accounts: user names cannot start with '_'). A user's
// records live in the account of the same name.
#pragma once

#include <memory>
#include <string_view>

#include "syncstack/service.h"
#include "syncstack/store.h"

namespace syncstack {

// Checks a user name: 1-64 characters of [A-Za-z0-9._@-], not starting
// with '.', '_' or '-'. Errors: kInvalidArgument.
Status ValidateUserName(std::string_view user);

// Creates `user` with `password` (replacing the password if the user exists
// and `replace`; every token issued to the user before then stops working).
// Errors: kInvalidArgument (bad name, empty password), kConflict (exists and
// !replace), kIOError.
Status AddUser(Database& database, std::string_view user,
               std::string_view password, bool replace = false);

// Removes `user`: it can no longer log in, and every token issued to it
// stops working (also if a user of the same name is added later). The
// user's records stay in its account. Errors: kInvalidArgument (bad name),
// kNotFound, kIOError.
Status RemoveUser(Database& database, std::string_view user);

// True if `user` was added to `database` (a bad name is simply absent).
// Errors: those of Store::GetMeta.
Result<bool> HasUser(Database& database, std::string_view user);

// An Authenticator that checks passwords against the users of `database`
// (which must outlive it). Unknown users and wrong passwords take the same
// time and get the same answer. Its tokens name the user's token
// generation: a password change or removal ends them (VerifyToken reads
// the generation from the database, so every process sharing it agrees).
std::unique_ptr<Authenticator> NewDatabaseAuthenticator(Database& database);

}  // namespace syncstack
