// conflicts: the conflict journal of a server store, for people or as JSON.
#include <cstdio>
#include <string>

#include "commands.h"
#include "syncstack/service.h"

namespace syncstack::cli {
namespace {

// One conflict as a line of the table.
void PrintEntry(const ConflictJournalEntry& e) {
  std::string offset;
  if (e.clock_offset_ms != kNoTimestamp) {
    offset = " (clock " + std::to_string(e.clock_offset_ms) + " ms)";
  }
  std::printf("%s  %s/%s  device \"%s\"%s  %s: kept %s\n",
              FormatTimestamp(e.time).c_str(), e.collection.c_str(),
              e.id.ToString().c_str(), e.device.c_str(), offset.c_str(),
              e.policy.c_str(), std::string(KeptName(e.kept)).c_str());
}

}  // namespace

int RunConflicts(int argc, char** argv) {
  po::options_description options("conflicts options");
  std::string uri, user;
  options.add_options()("store", po::value(&uri)->required(),
                        "server store URI, e.g. sqlite:server.db")(
      "user", po::value(&user)->required(), "the account (user name)")(
      "json", "one JSON object per conflict and line");
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc, argv,
                 "syncstack conflicts --store URI --user NAME [--json]",
                 options, vm, exit_code)) {
    return exit_code;
  }
  auto account = OpenServerAccount(uri, user);
  if (!account.ok()) return Fail(account.status());
  const bool json = vm.count("json") > 0;
  uint64_t count = 0;
  Status bad;  // the first entry that does not decode
  Status s = ReadConflictJournal(
      *account->store, [&](uint64_t index, std::string_view entry) {
        if (!bad.ok()) return;
        ++count;
        if (json) {
          std::printf("%.*s\n", static_cast<int>(entry.size()), entry.data());
          return;
        }
        auto decoded = DecodeJournalEntry(entry);
        if (!decoded.ok()) {
          bad = decoded.status().WithContext("journal entry " +
                                             std::to_string(index));
          return;
        }
        PrintEntry(*decoded);
      });
  if (s.ok()) s = bad;
  if (!s.ok()) return Fail(s);
  if (!json) {
    std::printf("syncstack: %llu conflict%s\n",
                static_cast<unsigned long long>(count), count == 1 ? "" : "s");
  }
  return kExitOk;
}

}  // namespace syncstack::cli
