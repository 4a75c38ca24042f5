// conflicts: the conflict journal of a server store, for people or as JSON.
#include <cstdio>
#include <string>

#include "commands.h"
#include "syncstack/service.h"

namespace syncstack::cli {
namespace {

// A top-level string (or number/null) member of a journal entry, which
// the service writes in a fixed order before the nested "server" and
// "client" objects.
std::string Member(std::string_view json, std::string_view key) {
  std::string_view head = json.substr(0, json.find(",\"server\":"));
  std::string needle = "\"" + std::string(key) + "\":";
  size_t at = head.find(needle);
  if (at == std::string_view::npos) return "";
  std::string_view value = head.substr(at + needle.size());
  if (value.starts_with('"')) {
    size_t end = 1;
    while (end < value.size() && value[end] != '"') {
      end += value[end] == '\\' ? 2 : 1;
    }
    return std::string(value.substr(1, end - 1));
  }
  return std::string(value.substr(0, value.find_first_of(",}")));
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
  Status s = ReadConflictJournal(
      *account->store, [&](uint64_t, std::string_view entry) {
        ++count;
        if (json) {
          std::printf("%.*s\n", static_cast<int>(entry.size()), entry.data());
          return;
        }
        std::string offset = Member(entry, "clock_offset_ms");
        std::printf(
            "%s  %s/%s  device \"%s\"%s  %s: kept %s\n",
            Member(entry, "time").c_str(), Member(entry, "collection").c_str(),
            Member(entry, "id").c_str(), Member(entry, "device").c_str(),
            offset.empty() || offset == "null"
                ? ""
                : (" (clock " + offset + " ms)").c_str(),
            Member(entry, "policy").c_str(), Member(entry, "kept").c_str());
      });
  if (!s.ok()) return Fail(s);
  if (!json) {
    std::printf("syncstack: %llu conflict%s\n",
                static_cast<unsigned long long>(count), count == 1 ? "" : "s");
  }
  return kExitOk;
}

}  // namespace syncstack::cli
