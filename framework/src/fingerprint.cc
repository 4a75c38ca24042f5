#include "syncstack/fingerprint.h"

#include <charconv>

#include "sha256.h"

namespace syncstack {

uint64_t RecordHash(const RecordId& id, const Version& version) noexcept {
  Sha256 sha;
  sha.Update(id.raw());
  char ms[8];
  uint64_t ts = static_cast<uint64_t>(version.timestamp);
  for (int i = 0; i < 8; ++i) ms[i] = static_cast<char>(ts >> (8 * i));
  sha.Update(std::string_view(ms, 8));
  sha.Update(version.extra);
  std::array<uint8_t, 32> digest = sha.Finish();
  uint64_t h = 0;
  for (int i = 7; i >= 0; --i) h = (h << 8) | digest[i];
  return h;
}

void SetFingerprint::Add(const RecordId& id, const Version& version) noexcept {
  ++count;
  sum += RecordHash(id, version);
}

void SetFingerprint::Remove(const RecordId& id,
                            const Version& version) noexcept {
  --count;
  sum -= RecordHash(id, version);
}

std::string SetFingerprint::ToHex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 0; i < 16; ++i) out[15 - i] = kDigits[(sum >> (4 * i)) & 0xf];
  return out;
}

std::string SetFingerprint::Encode() const {
  return std::to_string(count) + ":" + ToHex();
}

Result<uint64_t> ParseFingerprintHex(std::string_view text) {
  uint64_t v = 0;
  if (text.size() != 16) {
    return Status::InvalidArgument("fingerprint: want 16 hex digits");
  }
  for (char c : text) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return Status::InvalidArgument("fingerprint: want 16 hex digits");
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

Result<SetFingerprint> SetFingerprint::Decode(std::string_view text) {
  auto bad = [&] {
    return Status::Corruption("fingerprint: bad stored value \"" +
                              std::string(text.substr(0, 60)) + "\"");
  };
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  SetFingerprint f;
  auto [end, ec] = std::from_chars(text.data(), text.data() + colon, f.count);
  if (ec != std::errc() || end != text.data() + colon) return bad();
  auto sum = ParseFingerprintHex(text.substr(colon + 1));
  if (!sum.ok()) return bad();
  f.sum = *sum;
  return f;
}

}  // namespace syncstack
