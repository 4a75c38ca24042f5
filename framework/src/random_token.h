// Random opaque tokens (login tokens, leases): 128 bits from the OS.
#pragma once

#include <string>

namespace syncstack {

// 32 lower-case hex characters from std::random_device (getrandom on Linux).
std::string NewRandomToken();

}  // namespace syncstack
