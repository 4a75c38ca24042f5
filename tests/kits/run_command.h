// RunCommand: a program run to its end through the shell, as a user runs
// it, with what it printed and its exit code. For the tests of the
// command-line programs (`syncstack`, `syncstack-bench-sync`).
//
//   CommandOutcome r = RunCommand(std::string(SYNCSTACK_BIN) + " ls --json",
//                                 scratch_dir);
//   EXPECT_EQ(r.exit_code, 0) << r.err;
#pragma once

#include <filesystem>
#include <string>

namespace syncstack::testing {

struct CommandOutcome {
  // The exit status; -1 if it could not be started or a signal ended it.
  int exit_code = -1;
  std::string out;  // everything it wrote to stdout
  std::string err;  // everything it wrote to stderr
};

// Runs `command` (one shell command line, its words quoted by the caller)
// through /bin/sh and waits for it. Its stderr passes through the file
// "stderr.txt" in `scratch_dir`, which must exist; the file is overwritten.
CommandOutcome RunCommand(const std::string& command,
                          const std::filesystem::path& scratch_dir);

}  // namespace syncstack::testing
