#include "syncstack/users.h"

#include <sodium.h>

#include <mutex>

namespace syncstack {
namespace {

constexpr std::string_view kUsersAccount = "_users";

std::string UserKey(std::string_view user) {
  return "user/" + std::string(user);
}

Status InitSodium() {
  static const int result = sodium_init();
  if (result < 0) return Status::IOError("libsodium failed to initialise");
  return Status::Ok();
}

class DatabaseAuthenticator final : public Authenticator {
 public:
  explicit DatabaseAuthenticator(Database& database) : database_(database) {}

  Result<std::string> Login(std::string_view user,
                            std::string_view password) noexcept override {
    SYNCSTACK_RETURN_IF_ERROR(InitSodium());
    std::optional<std::string> hash;
    if (ValidateUserName(user).ok()) {
      SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> users,
                                 database_.OpenAccount(kUsersAccount));
      SYNCSTACK_ASSIGN_OR_RETURN(hash, users->GetMeta(UserKey(user)));
    }
    // Verify against a real hash even for unknown users, so timing does not
    // tell which user names exist.
    const std::string& stored = hash ? *hash : DummyHash();
    bool ok = stored.size() < crypto_pwhash_STRBYTES &&
              crypto_pwhash_str_verify(stored.c_str(), password.data(),
                                       password.size()) == 0;
    if (!ok || !hash) return Status::Unauthorized("wrong user or password");
    return std::string(user);
  }

 private:
  const std::string& DummyHash() {
    std::call_once(dummy_once_, [this] {
      char out[crypto_pwhash_STRBYTES];
      if (crypto_pwhash_str(out, "x", 1, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0) {
        dummy_ = out;
      }
    });
    return dummy_;
  }

  Database& database_;
  std::once_flag dummy_once_;
  std::string dummy_;
};

}  // namespace

Status ValidateUserName(std::string_view user) {
  auto bad = [&] {
    return Status::InvalidArgument(
        "bad user name \"" + std::string(user.substr(0, 80)) +
        "\": want 1-64 of [A-Za-z0-9._@-], not starting with . _ or -");
  };
  if (user.empty() || user.size() > 64) return bad();
  if (user[0] == '.' || user[0] == '_' || user[0] == '-') return bad();
  for (char c : user) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
              c == '-';
    if (!ok) return bad();
  }
  return Status::Ok();
}

Status AddUser(Database& database, std::string_view user,
               std::string_view password, bool replace) {
  SYNCSTACK_RETURN_IF_ERROR(ValidateUserName(user));
  if (password.empty()) return Status::InvalidArgument("empty password");
  SYNCSTACK_RETURN_IF_ERROR(InitSodium());
  SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> users,
                             database.OpenAccount(kUsersAccount));
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> existing,
                             users->GetMeta(UserKey(user)));
  if (existing && !replace) {
    return Status::Conflict("user \"" + std::string(user) + "\" exists");
  }
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hash, password.data(), password.size(),
                        crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return Status::IOError("out of memory while hashing the password");
  }
  ChangeBatch batch;
  batch.SetMeta(UserKey(user), hash);
  return users->Apply(WriteOptions{}, batch);
}

std::unique_ptr<Authenticator> NewDatabaseAuthenticator(Database& database) {
  return std::make_unique<DatabaseAuthenticator>(database);
}

}  // namespace syncstack
