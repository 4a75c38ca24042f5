#include "peak_rss.h"

#include <cstdlib>
#include <fstream>

namespace syncstack::bench {

void ResetPeakRss(const std::string& pid) {
  std::ofstream("/proc/" + pid + "/clear_refs") << "5";
}

double PeakRssMb(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
    }
  }
  return -1;
}

}  // namespace syncstack::bench
