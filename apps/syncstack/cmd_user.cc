// syncstack user add|remove: the server's user list.
#include <signal.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>
#include <thread>

#include "commands.h"
#include "remote_common.h"
#include "syncstack/codec.h"
#include "syncstack/file/file_transport.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/login_throttle.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/policies/registry.h"
#include "syncstack/service.h"
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
  DatabaseRegistry registry;
  RegisterBuiltins(registry);
  auto database = registry.Open(uri);
  if (!database.ok()) return Fail(database.status());
  Status s = RemoveUser(**database, user);
  if (!s.ok()) return Fail(s);
  std::printf("syncstack: user \"%s\" removed; its tokens no longer work\n",
              user.c_str());
  return kExitOk;
}

}  // namespace

int RunUser(int argc, char** argv) {
  const std::string_view sub = argc >= 2 ? argv[1] : "";
  if (sub == "remove") return RunUserRemove(argc - 1, argv + 1);
  if (sub != "add") {
    if (sub == "--help" || sub == "-h") {
      std::printf(
          "usage: syncstack user add --store URI --user NAME [--password PW "
          "| --password-file FILE] [--replace]\n"
          "       syncstack user remove --store URI --user NAME\n");
      return kExitOk;
    }
    return Fail("usage: syncstack user add|remove --store URI --user NAME ...");
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
