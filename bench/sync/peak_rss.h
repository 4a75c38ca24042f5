// A process's resident set (Linux /proc/PID/status): its peak (VmHWM),
// reset per measured phase, its current size (VmRSS) and the anonymous
// part of it (RssAnon: heap and stacks, not mapped files such as LMDB's).
#pragma once

#include <string>

namespace syncstack::bench {

// Resets the peak of process `pid` ("self" for this one) to its current
// resident set (writes 5 to /proc/PID/clear_refs). Best effort.
void ResetPeakRss(const std::string& pid);

// The peak resident set of process `pid` since the last reset, in MB;
// -1 if /proc/PID/status cannot be read.
double PeakRssMb(const std::string& pid);

// What process `pid` holds resident now, in MB; -1 for a figure that
// /proc/PID/status does not give.
struct ResidentMb {
  double rss = -1;   // VmRSS
  double anon = -1;  // RssAnon
};
ResidentMb CurrentRss(const std::string& pid);

// Gives the free memory this process's malloc keeps back to the system
// (malloc_trim(0)), so that a following reset starts from the memory in
// use rather than from what earlier phases freed.
void TrimHeap();

}  // namespace syncstack::bench
