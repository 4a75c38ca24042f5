// The password options and the conflict policy by name.
#include "remote_common.h"

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

Result<std::string> GetPassword(const po::variables_map& vm) {
  if (vm.count("password")) return vm["password"].as<std::string>();
  if (vm.count("password-file")) {
    std::string path = vm["password-file"].as<std::string>();
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) {
      return Status::InvalidArgument("cannot read a password from " + path);
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  if (const char* env = std::getenv("SYNCSTACK_PASSWORD")) {
    return std::string(env);
  }
  if (isatty(STDIN_FILENO)) {
    std::fprintf(stderr, "password: ");
    termios old{};
    bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (restore) tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
    return line;
  }
  return Status::InvalidArgument(
      "no password: give --password-file FILE, set SYNCSTACK_PASSWORD, or "
      "run on a terminal to be asked");
}

void AddPasswordOptions(po::options_description& options) {
  options.add_options()("password", po::value<std::string>(),
                        "the password (visible to other local users; prefer "
                        "the next two)")(
      "password-file", po::value<std::string>(),
      "read the password from the first line of this file")(
      "user", po::value<std::string>()->required(), "user name");
}

Result<std::unique_ptr<ConflictPolicy>> PolicyByName(std::string_view name) {
  return NewPolicyByName(name);
}

}  // namespace syncstack::cli
