#include "peak_rss.h"

#include <malloc.h>

#include <cstdlib>
#include <fstream>
#include <string_view>

namespace syncstack::bench {
namespace {

// The value of `field` ("VmHWM:") in a line of /proc/PID/status, in MB.
bool ReadField(const std::string& line, std::string_view field, double& mb) {
  if (line.rfind(field, 0) != 0) return false;
  mb = std::strtod(line.c_str() + field.size(), nullptr) / 1024.0;
  return true;
}

}  // namespace

void ResetPeakRss(const std::string& pid) {
  std::ofstream("/proc/" + pid + "/clear_refs") << "5";
}

double PeakRssMb(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  double mb = -1;
  while (std::getline(in, line)) {
    if (ReadField(line, "VmHWM:", mb)) break;
  }
  return mb;
}

ResidentMb CurrentRss(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  ResidentMb r;
  while (std::getline(in, line)) {
    if (!ReadField(line, "VmRSS:", r.rss)) ReadField(line, "RssAnon:", r.anon);
  }
  return r;
}

void TrimHeap() { malloc_trim(0); }

}  // namespace syncstack::bench
