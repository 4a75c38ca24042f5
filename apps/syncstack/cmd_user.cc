// syncstack user add|list|remove: the server's user list.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "remote_common.h"
#include "syncstack/users.h"

namespace syncstack::cli {
namespace {

// syncstack user remove --store URI --user NAME
int RunUserRemove(int argc, char** argv) {
  po::options_description options("user remove options");
  std::string uri, user;
  options.add_options()("store", po::value(&uri)->required(),
                        "server store URI, e.g. sqlite:server.db")(
      "user", po::value(&user)->required(), "user name");
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc, argv, "syncstack user remove --store URI --user NAME",
                 options, vm, exit_code)) {
    return exit_code;
  }
  Status valid = ValidateUserName(user);
  if (!valid.ok()) return Fail(valid);
  auto database = OpenServerDatabase(uri);
  if (!database.ok()) return Fail(database.status());
  Status s = RemoveUser(**database, user);
  if (!s.ok()) return Fail(s);
  std::printf(
      "syncstack: user \"%s\" removed with its records; its tokens no "
      "longer work\n",
      user.c_str());
  return kExitOk;
}

// A time for people ("2026-12-02 05:45:07", UTC) or for programs
// ("2026-12-02T05:45:07.123Z"); "-" or null when unknown.
std::string FormatTime(const std::optional<Timestamp>& t, bool json) {
  if (!t) return json ? "null" : "-";
  time_t seconds = static_cast<time_t>(*t / 1000);
  int64_t ms = *t % 1000;
  if (ms < 0) {
    ms += 1000;
    seconds -= 1;
  }
  struct tm utc {};
  if (gmtime_r(&seconds, &utc) == nullptr) return json ? "null" : "-";
  char text[64];
  if (json) {
    std::snprintf(text, sizeof text, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
                  utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                  utc.tm_min, utc.tm_sec, static_cast<int>(ms));
  } else {
    std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d",
                  utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                  utc.tm_min, utc.tm_sec);
  }
  return text;
}

// One JSON object per user and line (names need no escaping: see
// ValidateUserName).
void PrintUsersJson(const std::vector<UserInfo>& users) {
  for (const UserInfo& u : users) {
    std::printf("{\"name\":\"%s\",\"created\":%s,\"last_login\":%s}\n",
                u.name.c_str(), FormatTime(u.created, true).c_str(),
                FormatTime(u.last_login, true).c_str());
  }
}

// A table: NAME, CREATED and LAST LOGIN (UTC) columns.
void PrintUsersTable(const std::vector<UserInfo>& users) {
  int width = 4;
  for (const UserInfo& u : users) {
    width = std::max(width, static_cast<int>(u.name.size()));
  }
  std::printf("%-*s  %-19s  %s\n", width, "NAME", "CREATED (UTC)",
              "LAST LOGIN (UTC)");
  for (const UserInfo& u : users) {
    std::printf("%-*s  %-19s  %s\n", width, u.name.c_str(),
                FormatTime(u.created, false).c_str(),
                FormatTime(u.last_login, false).c_str());
  }
}

// syncstack user list --store URI [--json]
int RunUserList(int argc, char** argv) {
  po::options_description options("user list options");
  std::string uri;
  options.add_options()("store", po::value(&uri)->required(),
                        "server store URI, e.g. sqlite:server.db")(
      "json", "one JSON object per user and line, for programs");
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc, argv, "syncstack user list --store URI [--json]",
                 options, vm, exit_code)) {
    return exit_code;
  }
  auto database = OpenServerDatabase(uri);
  if (!database.ok()) return Fail(database.status());
  auto users = ListUsers(**database);
  if (!users.ok()) return Fail(users.status());
  if (vm.count("json")) {
    PrintUsersJson(*users);
  } else {
    PrintUsersTable(*users);
  }
  return kExitOk;
}

}  // namespace

int RunUser(int argc, char** argv) {
  const std::string_view sub = argc >= 2 ? argv[1] : "";
  if (sub == "remove") return RunUserRemove(argc - 1, argv + 1);
  if (sub == "list") return RunUserList(argc - 1, argv + 1);
  if (sub != "add") {
    if (sub == "--help" || sub == "-h") {
      std::printf(
          "usage: syncstack user add --store URI --user NAME [--password PW "
          "| --password-file FILE] [--replace]\n"
          "       syncstack user list --store URI [--json]\n"
          "       syncstack user remove --store URI --user NAME\n");
      return kExitOk;
    }
    return Fail("usage: syncstack user add|list|remove --store URI ...");
  }
  po::options_description options("user add options");
  std::string uri;
  options.add_options()("store", po::value(&uri)->required(),
                        "server store URI, e.g. sqlite:server.db")(
      "replace",
      "change the password of an existing user (ends its earlier tokens)");
  AddPasswordOptions(options);
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc - 1, argv + 1,
                 "syncstack user add --store URI --user NAME [--password PW | "
                 "--password-file FILE]  (or SYNCSTACK_PASSWORD, or a prompt)",
                 options, vm, exit_code)) {
    return exit_code;
  }
  std::string user = vm["user"].as<std::string>();
  Status valid = ValidateUserName(user);
  if (!valid.ok()) return Fail(valid);
  auto password = GetPassword(vm);
  if (!password.ok()) return Fail(password.status());
  DatabaseRegistry registry;
  RegisterBuiltins(registry);
  auto database = registry.Open(uri);
  if (!database.ok()) return Fail(database.status());
  Status s = AddUser(**database, user, *password, vm.count("replace") > 0);
  if (!s.ok()) return Fail(s);
  std::printf("syncstack: user \"%s\" %s\n", user.c_str(),
              vm.count("replace") ? "updated" : "added");
  return kExitOk;
}

}  // namespace syncstack::cli
