#include "syncstack/users.h"

#include <sodium.h>

#include <charconv>
#include <mutex>

#include "syncstack/metadata_keys.h"

namespace syncstack {
namespace {

constexpr std::string_view kUsersAccount = "_users";

std::string UserKey(std::string_view user) { return meta::UserHash(user); }

// The user's token generation: tokens carry the generation they were made
// in, and changing the password or removing the user moves it on, which
// ends every token made before. Kept after a removal, so a user added again
// under the same name never revives old tokens. Absent means 0.
std::string GenerationKey(std::string_view user) {
  return meta::UserTokenGeneration(user);
}

// When the user was added and when it last logged in (decimal ms); ""
// after a removal, absent for users added before they were kept.
std::string CreatedKey(std::string_view user) {
  return meta::UserCreated(user);
}
std::string LoginKey(std::string_view user) { return meta::UserLogin(user); }

// A stored time; nullopt for an absent or emptied one. Errors: kCorruption.
Result<std::optional<Timestamp>> ParseTime(std::string_view key,
                                           std::string_view text) {
  if (text.empty()) return std::optional<Timestamp>();
  Timestamp t = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), t);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::Corruption("the time in _users " + std::string(key) +
                              " is damaged");
  }
  return std::optional<Timestamp>(t);
}

// A removed user's entry: the password hash is overwritten with nothing.
bool IsUser(const std::optional<std::string>& hash) {
  return hash.has_value() && !hash->empty();
}

Result<uint64_t> TokenGeneration(Store& users, std::string_view user) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> text,
                             users.GetMeta(GenerationKey(user)));
  if (!text) return uint64_t{0};
  uint64_t generation = 0;
  auto [end, ec] =
      std::from_chars(text->data(), text->data() + text->size(), generation);
  if (ec != std::errc() || end != text->data() + text->size()) {
    return Status::Corruption("the token generation of \"" + std::string(user) +
                              "\" is damaged");
  }
  return generation;
}

// Adds to `batch` the step that ends every token of `user` made so far.
Status EndTokens(Store& users, std::string_view user, ChangeBatch& batch) {
  SYNCSTACK_ASSIGN_OR_RETURN(uint64_t generation, TokenGeneration(users, user));
  batch.SetMeta(GenerationKey(user), std::to_string(generation + 1));
  return Status::Ok();
}

Status InitSodium() {
  static const int result = sodium_init();
  if (result < 0) return Status::IOError("libsodium failed to initialise");
  return Status::Ok();
}

class DatabaseAuthenticator final : public Authenticator {
 public:
  DatabaseAuthenticator(Database& database, Clock& clock)
      : database_(database), clock_(clock) {}

  Result<std::string> Login(std::string_view user,
                            std::string_view password) noexcept override {
    SYNCSTACK_RETURN_IF_ERROR(InitSodium());
    std::optional<std::string> hash;
    if (ValidateUserName(user).ok()) {
      SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> users,
                                 database_.OpenAccount(kUsersAccount));
      SYNCSTACK_ASSIGN_OR_RETURN(hash, users->GetMeta(UserKey(user)));
      if (!IsUser(hash)) hash.reset();
    }
    // Verify against a real hash even for unknown users, so timing does not
    // tell which user names exist.
    const std::string& stored = hash ? *hash : DummyHash();
    bool ok = stored.size() < crypto_pwhash_STRBYTES &&
              crypto_pwhash_str_verify(stored.c_str(), password.data(),
                                       password.size()) == 0;
    if (!ok || !hash) return Status::Unauthorized("wrong user or password");
    NoteLogin(user);
    return std::string(user);
  }

  // "s2.<hex account>.<generation>.<expiry ms>.<hex HMAC-SHA-512/256>",
  // keyed by a secret kept in the database: any process sharing it
  // verifies. The generation is the user's (see GenerationKey).
  std::optional<std::string> SignToken(std::string_view account,
                                       Timestamp expires_at) noexcept override {
    try {
      auto key = Key();
      if (!key.ok()) return std::nullopt;  // the service falls back
      auto generation = GenerationOf(account);
      if (!generation.ok()) return std::nullopt;
      std::string body = "s2." + Hex(account) + "." +
                         std::to_string(*generation) + "." +
                         std::to_string(expires_at);
      unsigned char mac[crypto_auth_BYTES];
      crypto_auth(mac, reinterpret_cast<const unsigned char*>(body.data()),
                  body.size(),
                  reinterpret_cast<const unsigned char*>(key->data()));
      return body + "." +
             Hex(std::string_view(reinterpret_cast<const char*>(mac),
                                  sizeof mac));
    } catch (...) {
      return std::nullopt;
    }
  }

  Result<std::string> VerifyToken(std::string_view token,
                                  Timestamp now) noexcept override {
    try {
      const Status bad = Status::Unauthorized("unknown token");
      if (token.substr(0, 3) != "s2.") return bad;
      size_t dot_mac = token.rfind('.');
      if (dot_mac == std::string_view::npos || dot_mac < 3) return bad;
      size_t dot_exp = token.rfind('.', dot_mac - 1);
      if (dot_exp == std::string_view::npos || dot_exp <= 2) return bad;
      size_t dot_gen = token.rfind('.', dot_exp - 1);
      if (dot_gen == std::string_view::npos || dot_gen <= 2) return bad;
      std::string_view body = token.substr(0, dot_mac);
      std::string mac;
      if (!Unhex(token.substr(dot_mac + 1), mac) ||
          mac.size() != crypto_auth_BYTES) {
        return bad;
      }
      SYNCSTACK_ASSIGN_OR_RETURN(std::string key, Key());
      if (crypto_auth_verify(
              reinterpret_cast<const unsigned char*>(mac.data()),
              reinterpret_cast<const unsigned char*>(body.data()), body.size(),
              reinterpret_cast<const unsigned char*>(key.data())) != 0) {
        return bad;
      }
      std::string account;
      if (!Unhex(token.substr(3, dot_gen - 3), account)) return bad;
      uint64_t generation = std::stoull(
          std::string(token.substr(dot_gen + 1, dot_exp - dot_gen - 1)));
      Timestamp expires_at = std::stoll(
          std::string(token.substr(dot_exp + 1, dot_mac - dot_exp - 1)));
      if (expires_at <= now) return Status::Unauthorized("token expired");
      SYNCSTACK_ASSIGN_OR_RETURN(uint64_t current, GenerationOf(account));
      if (generation != current) {
        return Status::Unauthorized(
            "token ended by a password change or removal: log in again");
      }
      return account;
    } catch (...) {
      return Status::Unauthorized("unknown token");
    }
  }

 private:
  // Notes the time of a successful login, unless the noted one is less
  // than kLoginNoteInterval old. Best effort: the login stands either way.
  void NoteLogin(std::string_view user) noexcept {
    try {
      auto users = database_.OpenAccount(kUsersAccount);
      if (!users.ok()) return;
      const std::string key = LoginKey(user);
      const Timestamp now = clock_.Now();
      auto noted = (*users)->GetMeta(key);
      if (!noted.ok()) return;
      if (*noted) {
        auto last = ParseTime(key, **noted);
        if (last.ok() && *last && now - **last < kLoginNoteInterval &&
            now >= **last) {
          return;
        }
      }
      ChangeBatch batch;
      batch.SetMeta(key, std::to_string(now));
      (void)(*users)->Apply(WriteOptions{.sync = false}, batch);
    } catch (...) {
    }
  }

  Result<uint64_t> GenerationOf(std::string_view account) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> users,
                               database_.OpenAccount(kUsersAccount));
    return TokenGeneration(*users, account);
  }

  static std::string Hex(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
    return out;
  }

  static bool Unhex(std::string_view hex, std::string& out) {
    if (hex.size() % 2 != 0) return false;
    auto value = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    out.clear();
    for (size_t i = 0; i < hex.size(); i += 2) {
      int hi = value(hex[i]), lo = value(hex[i + 1]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
    }
    return true;
  }

  // The token key: made once per database (the first process to store it
  // wins; the others read it), then cached.
  Result<std::string> Key() {
    std::lock_guard<std::mutex> guard(key_mu_);
    if (!key_.empty()) return key_;
    SYNCSTACK_RETURN_IF_ERROR(InitSodium());
    SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> users,
                               database_.OpenAccount(kUsersAccount));
    const RecordId id = KeyId();
    for (int attempt = 0; attempt < 3; ++attempt) {
      SYNCSTACK_ASSIGN_OR_RETURN(std::optional<Record> stored,
                                 users->GetOne(kKeyCollection, id));
      if (stored) {
        std::string key;
        if (!Unhex(stored->payload.substr(8, crypto_auth_KEYBYTES * 2), key) ||
            key.size() != crypto_auth_KEYBYTES) {
          return Status::Corruption("the token key in _users is damaged");
        }
        key_ = key;
        return key_;
      }
      unsigned char fresh[crypto_auth_KEYBYTES];
      crypto_auth_keygen(fresh);
      Record r;
      r.collection = std::string(kKeyCollection);
      r.id = id;
      r.payload = "{\"key\":\"" +
                  Hex(std::string_view(reinterpret_cast<const char*>(fresh),
                                       sizeof fresh)) +
                  "\"}";
      ChangeBatch batch;
      batch.Put(std::move(r), Expect{});  // only if absent: one key wins
      Status s = users->Apply(WriteOptions{}, batch);
      if (!s.ok() && s.code() != Status::Code::kConflict) return s;
    }
    return Status::Unavailable("cannot settle the token key");
  }

  static RecordId KeyId() {
    std::array<uint8_t, 16> b{};
    b[15] = 1;
    return RecordId(b);
  }

  static constexpr std::string_view kKeyCollection = "token_keys";
  std::mutex key_mu_;
  std::string key_;

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
  Clock& clock_;
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
               std::string_view password, bool replace, Clock& clock) {
  SYNCSTACK_RETURN_IF_ERROR(ValidateUserName(user));
  if (password.empty()) return Status::InvalidArgument("empty password");
  SYNCSTACK_RETURN_IF_ERROR(InitSodium());
  SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> users,
                             database.OpenAccount(kUsersAccount));
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> existing,
                             users->GetMeta(UserKey(user)));
  if (IsUser(existing) && !replace) {
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
  if (IsUser(existing)) {
    SYNCSTACK_RETURN_IF_ERROR(EndTokens(*users, user, batch));
  } else {
    batch.SetMeta(CreatedKey(user), std::to_string(clock.Now()));
    batch.SetMeta(LoginKey(user), "");
  }
  return users->Apply(WriteOptions{}, batch);
}

Status RemoveUser(Database& database, std::string_view user) {
  SYNCSTACK_RETURN_IF_ERROR(ValidateUserName(user));
  SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> users,
                             database.OpenAccount(kUsersAccount));
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> existing,
                             users->GetMeta(UserKey(user)));
  if (!IsUser(existing)) {
    return Status::NotFound("no user \"" + std::string(user) + "\"");
  }
  ChangeBatch batch;
  batch.SetMeta(UserKey(user), "");
  batch.SetMeta(CreatedKey(user), "");
  batch.SetMeta(LoginKey(user), "");
  SYNCSTACK_RETURN_IF_ERROR(EndTokens(*users, user, batch));
  return database.RemoveAccount(user, kUsersAccount, batch);
}

Result<std::vector<UserInfo>> ListUsers(Database& database) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> users,
                             database.OpenAccount(kUsersAccount));
  std::vector<UserInfo> list;
  SYNCSTACK_RETURN_IF_ERROR(users->ScanMeta(
      meta::kUserPrefix, [&](std::string_view key, std::string_view v) {
        if (!v.empty()) {
          list.push_back(
              {std::string(key.substr(meta::kUserPrefix.size())), {}, {}});
        }
      }));
  // Both scans are in name order, like `list`: merge each in one pass.
  auto attach = [&](std::string_view prefix,
                    std::optional<Timestamp> UserInfo::*field) -> Status {
    Status bad;
    size_t i = 0;
    SYNCSTACK_RETURN_IF_ERROR(users->ScanMeta(
        prefix, [&](std::string_view key, std::string_view value) {
          std::string_view name = key.substr(prefix.size());
          while (i < list.size() && list[i].name < name) ++i;
          if (i == list.size() || list[i].name != name || !bad.ok()) return;
          auto t = ParseTime(key, value);
          if (!t.ok()) {
            bad = t.status();
          } else {
            list[i].*field = *t;
          }
        }));
    return bad;
  };
  SYNCSTACK_RETURN_IF_ERROR(
      attach(meta::kUserCreatedPrefix, &UserInfo::created));
  SYNCSTACK_RETURN_IF_ERROR(
      attach(meta::kUserLoginPrefix, &UserInfo::last_login));
  return list;
}

Result<bool> HasUser(Database& database, std::string_view user) {
  if (!ValidateUserName(user).ok()) return false;
  SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> users,
                             database.OpenAccount(kUsersAccount));
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> existing,
                             users->GetMeta(UserKey(user)));
  return IsUser(existing);
}

std::unique_ptr<Authenticator> NewDatabaseAuthenticator(Database& database,
                                                        Clock& clock) {
  return std::make_unique<DatabaseAuthenticator>(database, clock);
}

}  // namespace syncstack
