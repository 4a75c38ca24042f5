// A process's peak resident set (Linux VmHWM), reset per measured phase.
#pragma once

#include <string>

namespace syncstack::bench {

// Resets the peak of process `pid` ("self" for this one) to its current
// resident set (writes 5 to /proc/PID/clear_refs). Best effort.
void ResetPeakRss(const std::string& pid);

// The peak resident set of process `pid` since the last reset, in MB;
// -1 if /proc/PID/status cannot be read.
double PeakRssMb(const std::string& pid);

}  // namespace syncstack::bench
