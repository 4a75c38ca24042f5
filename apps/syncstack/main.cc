// syncstack: the command-line program. One subcommand per job; every
// subcommand has --help.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "commands.h"

namespace {

void Usage(std::FILE* out) {
  std::fputs(
      "usage: syncstack <command> [options]   (syncstack <command> --help)\n"
      "\n"
      "commands:\n"
      "  demo   a server and two offline devices on embedded SQLite: edits,\n"
      "         syncs through all three cases, and a summary\n"
      "  put    write a record locally, as an app would\n"
      "  rm     delete a record locally\n"
      "  ls     list local records\n"
      "  serve  run a sync server over HTTP\n"
      "  user   manage the server's users (user add, user remove)\n"
      "  sync   sync a device's store with a server\n"
      "  simulate  compare conflict policies on a simulated workload\n"
      "  conflicts list a server store's conflict journal\n"
      "  gc     collect a server store's old tombstones\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace syncstack::cli;
  if (argc < 2) {
    Usage(stderr);
    return kExitUsage;
  }
  std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    Usage(stdout);
    return kExitOk;
  }
  int sub_argc = argc - 1;
  char** sub_argv = argv + 1;
  if (command == "demo") return RunDemo(sub_argc, sub_argv);
  if (command == "put") return RunPut(sub_argc, sub_argv);
  if (command == "rm") return RunRm(sub_argc, sub_argv);
  if (command == "ls") return RunLs(sub_argc, sub_argv);
  if (command == "serve") return RunServe(sub_argc, sub_argv);
  if (command == "user") return RunUser(sub_argc, sub_argv);
  if (command == "sync") return RunSync(sub_argc, sub_argv);
  if (command == "simulate") return RunSimulate(sub_argc, sub_argv);
  if (command == "conflicts") return RunConflicts(sub_argc, sub_argv);
  if (command == "gc") return RunGc(sub_argc, sub_argv);
  std::fprintf(stderr, "syncstack: unknown command \"%s\" (see --help)\n",
               argv[1]);
  return kExitUsage;
}
