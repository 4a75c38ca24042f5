// The subcommands. Each takes the arguments after "syncstack" (argv[0] is
// the subcommand's name) and returns the exit status.
#pragma once

#include "cli_common.h"

namespace syncstack::cli {

int RunDemo(int argc, char** argv);
int RunPut(int argc, char** argv);
int RunRm(int argc, char** argv);
int RunLs(int argc, char** argv);
int RunServe(int argc, char** argv);
int RunUser(int argc, char** argv);
int RunSync(int argc, char** argv);
int RunSimulate(int argc, char** argv);
int RunConflicts(int argc, char** argv);
int RunGc(int argc, char** argv);

}  // namespace syncstack::cli
