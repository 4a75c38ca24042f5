#include "engine/kept_login.h"

#include <charconv>

#include "syncstack/metadata_keys.h"

namespace syncstack::engine {
namespace {

constexpr std::string_view kFormat = "1";

// "<length>:<bytes>"
void AppendField(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

// Reads one AppendField field from the front of `text`.
std::optional<std::string_view> TakeField(std::string_view& text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  size_t length = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + colon, length);
  if (ec != std::errc() || end != text.data() + colon) return std::nullopt;
  text.remove_prefix(colon + 1);
  if (length > text.size()) return std::nullopt;
  std::string_view field = text.substr(0, length);
  text.remove_prefix(length);
  return field;
}

std::optional<Timestamp> ParseTime(std::string_view text) {
  Timestamp t = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), t);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return t;
}

}  // namespace

std::string EncodeKeptLogin(const KeptLogin& login) {
  std::string out;
  // The times are named strings, not temporaries: a string_view of a
  // temporary in the loop's list would outlive the string it views.
  const std::string issued = std::to_string(login.issued_at);
  const std::string expires = std::to_string(login.expires_at);
  for (std::string_view field :
       {kFormat, std::string_view(issued), std::string_view(expires)}) {
    AppendField(out, field);
  }
  for (const std::string* field :
       {&login.user, &login.server, &login.policy, &login.token}) {
    AppendField(out, *field);
  }
  return out;
}

std::optional<KeptLogin> DecodeKeptLogin(std::string_view text) {
  std::string_view fields[7];
  for (std::string_view& field : fields) {
    auto taken = TakeField(text);
    if (!taken) return std::nullopt;
    field = *taken;
  }
  if (!text.empty() || fields[0] != kFormat) return std::nullopt;
  auto issued = ParseTime(fields[1]);
  auto expires = ParseTime(fields[2]);
  if (!issued || !expires || *expires < *issued) return std::nullopt;
  KeptLogin login;
  login.issued_at = *issued;
  login.expires_at = *expires;
  login.user = std::string(fields[3]);
  login.server = std::string(fields[4]);
  login.policy = std::string(fields[5]);
  login.token = std::string(fields[6]);
  if (login.token.empty()) return std::nullopt;
  return login;
}

bool Reusable(const KeptLogin& login, std::string_view user,
              std::string_view server, Timestamp now) {
  if (server.empty() || login.server != server || login.user != user) {
    return false;
  }
  const Timestamp half = (login.expires_at - login.issued_at) / 2;
  return now >= login.issued_at && now < login.issued_at + half;
}

std::optional<KeptLogin> ReadKeptLogin(Store& store) {
  auto text = store.GetMeta(meta::kKeptLogin);
  if (!text.ok() || !*text) return std::nullopt;
  return DecodeKeptLogin(**text);
}

Status WriteKeptLogin(Store& store, const WriteOptions& options,
                      const KeptLogin& login) {
  ChangeBatch batch;
  batch.SetMeta(std::string(meta::kKeptLogin), EncodeKeptLogin(login));
  return store.Apply(options, batch).WithContext("keeping the login token");
}

Status DropKeptLogin(Store& store, const WriteOptions& options) {
  ChangeBatch batch;
  batch.SetMeta(std::string(meta::kKeptLogin), std::string());
  return store.Apply(options, batch).WithContext("dropping the login token");
}

}  // namespace syncstack::engine
