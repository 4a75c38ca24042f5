#include "syncstack/record.h"

#include <cstring>
#include <random>

namespace syncstack {
namespace {

int HexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char kHex[] = "0123456789abcdef";

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) noexcept {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool IsLeap(int64_t y) noexcept {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned DaysInMonth(int64_t y, unsigned m) noexcept {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at text[pos]; false if any is not a digit.
bool Digits(std::string_view text, size_t pos, size_t n, int& out) noexcept {
  if (pos + n > text.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

void Put2(char* out, unsigned v) noexcept {
  out[0] = static_cast<char>('0' + v / 10);
  out[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

Result<RecordId> RecordId::Parse(std::string_view text) {
  if (text.size() != 36) {
    return Status::InvalidArgument("not a UUID (want 36 characters): \"" +
                                   std::string(text.substr(0, 64)) + "\"");
  }
  std::array<uint8_t, 16> bytes{};
  size_t b = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') break;
      ++i;
      continue;
    }
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) break;
    bytes[b++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  if (b != 16) {
    return Status::InvalidArgument("not a UUID: \"" + std::string(text) + "\"");
  }
  return RecordId(bytes);
}

RecordId RecordId::FromBytes(std::string_view raw) noexcept {
  std::array<uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), raw.data(), 16);
  return RecordId(bytes);
}

RecordId RecordId::Random() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::array<uint8_t, 16> bytes{};
  uint64_t a = rng(), b = rng();
  std::memcpy(bytes.data(), &a, 8);
  std::memcpy(bytes.data() + 8, &b, 8);
  bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 4122
  return RecordId(bytes);
}

void RecordId::FormatTo(char* out) const noexcept {
  size_t o = 0;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = kHex[bytes_[i] >> 4];
    out[o++] = kHex[bytes_[i] & 15];
  }
}

std::string RecordId::ToString() const {
  std::string s(36, '\0');
  FormatTo(s.data());
  return s;
}

size_t RecordIdHash::operator()(const RecordId& id) const noexcept {
  uint64_t a, b;
  std::memcpy(&a, id.bytes().data(), 8);
  std::memcpy(&b, id.bytes().data() + 8, 8);
  return static_cast<size_t>(a ^ (b * 0x9E3779B97F4A7C15ull));
}

Result<Timestamp> ParseTimestamp(std::string_view text) {
  auto bad = [&](const char* why) {
    return Status::InvalidArgument(
        "bad timestamp \"" + std::string(text.substr(0, 64)) + "\": " + why);
  };
  int year, month, day, hour, minute, second;
  if (!Digits(text, 0, 4, year) || text.size() < 19 || text[4] != '-' ||
      !Digits(text, 5, 2, month) || text[7] != '-' ||
      !Digits(text, 8, 2, day) || (text[10] != ' ' && text[10] != 'T') ||
      !Digits(text, 11, 2, hour) || text[13] != ':' ||
      !Digits(text, 14, 2, minute) || text[16] != ':' ||
      !Digits(text, 17, 2, second)) {
    return bad("want YYYY-MM-DD HH:MM:SS[.mmm] or ISO-8601");
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return bad("field out of range");
  }
  size_t pos = 19;
  int millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - start < 3) millis = millis * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == start) return bad("empty fraction");
    for (size_t n = pos - start; n < 3; ++n) millis *= 10;
  }
  int64_t offset_minutes = 0;
  if (pos < text.size()) {
    if (text[10] != 'T' && text[pos] != 'Z' && text[pos] != '+' &&
        text[pos] != '-') {
      return bad("unexpected trailing characters");
    }
    if (text[pos] == 'Z') {
      ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
      int sign = text[pos] == '-' ? -1 : 1;
      int oh, om;
      if (!Digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() ||
          text[pos + 3] != ':' || !Digits(text, pos + 4, 2, om) || oh > 23 ||
          om > 59) {
        return bad("bad UTC offset");
      }
      offset_minutes = sign * (oh * 60 + om);
      pos += 6;
    }
    if (pos != text.size()) return bad("unexpected trailing characters");
  }
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month),
                               static_cast<unsigned>(day));
  int64_t secs =
      days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  // The range is checked on the UTC instant, after the offset: every
  // accepted value formats back to the same instant.
  Timestamp ts = secs * 1000 + millis;
  if (ts < kMinTimestamp || ts > kMaxTimestamp) {
    return bad("outside 1970-01-01 00:00:00..9999-12-31 23:59:59.999 UTC");
  }
  return ts;
}

void FormatTimestampTo(Timestamp ts, char* out) noexcept {
  int64_t secs = ts >= 0 ? ts / 1000 : (ts - 999) / 1000;
  unsigned millis = static_cast<unsigned>(ts - secs * 1000);
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  unsigned sod = static_cast<unsigned>(secs - days * 86400);
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  if (y < 0) y = 0;
  if (y > 9999) y = 9999;
  unsigned yy = static_cast<unsigned>(y);
  out[0] = static_cast<char>('0' + yy / 1000);
  out[1] = static_cast<char>('0' + yy / 100 % 10);
  out[2] = static_cast<char>('0' + yy / 10 % 10);
  out[3] = static_cast<char>('0' + yy % 10);
  out[4] = '-';
  Put2(out + 5, m);
  out[7] = '-';
  Put2(out + 8, d);
  out[10] = ' ';
  Put2(out + 11, sod / 3600);
  out[13] = ':';
  Put2(out + 14, sod / 60 % 60);
  out[16] = ':';
  Put2(out + 17, sod % 60);
  out[19] = '.';
  out[20] = static_cast<char>('0' + millis / 100);
  out[21] = static_cast<char>('0' + millis / 10 % 10);
  out[22] = static_cast<char>('0' + millis % 10);
}

std::string FormatTimestamp(Timestamp ts) {
  std::string s(23, '\0');
  FormatTimestampTo(ts, s.data());
  return s;
}

std::string_view SyncStateName(SyncState state) noexcept {
  switch (state) {
    case SyncState::kSynced:
      return "synced";
    case SyncState::kCreated:
      return "created";
    case SyncState::kChanged:
      return "changed";
    case SyncState::kDeleted:
      return "deleted";
  }
  return "unknown";
}

}  // namespace syncstack
