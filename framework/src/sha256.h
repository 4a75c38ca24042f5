// Private: SHA-256 (FIPS 180-4), for binding an idempotency key to its
// request. Not for passwords (users.cc uses libsodium's Argon2id).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace syncstack {

// An incremental SHA-256: Update any number of times, then Finish once.
class Sha256 {
 public:
  Sha256() noexcept;
  void Update(std::string_view data) noexcept;
  // The digest of everything given to Update. REQUIRES: called once.
  std::array<uint8_t, 32> Finish() noexcept;

 private:
  void Block(const uint8_t* p) noexcept;

  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t used_ = 0;      // bytes in buf_
  uint64_t length_ = 0;  // bytes given to Update
};

// The digest of `data` as 64 lower-case hex characters.
std::string Sha256Hex(std::string_view data);

}  // namespace syncstack
