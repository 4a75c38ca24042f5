#include "kits/run_command.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>

namespace syncstack::testing {

CommandOutcome RunCommand(const std::string& command,
                          const std::filesystem::path& scratch_dir) {
  const std::string err_file = (scratch_dir / "stderr.txt").string();
  CommandOutcome run;
  FILE* pipe = popen((command + " 2>" + err_file).c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    run.out.append(buffer.data(), n);
  }
  int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_file, std::ios::binary);
  run.err.assign(std::istreambuf_iterator<char>(err), {});
  return run;
}

}  // namespace syncstack::testing
