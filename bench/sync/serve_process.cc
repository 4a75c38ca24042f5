#include "serve_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "syncstack/http/http_transport.h"
#include "syncstack/remote.h"

extern char** environ;

namespace syncstack::bench {

using Steady = std::chrono::steady_clock;

ServeProcess::~ServeProcess() { (void)Stop(); }

Status ServeProcess::Start(const ServeOptions& options) {
  auto deadline = Steady::now() + options.start_timeout;
  std::string out_file = (options.output_dir / "server.out").string();
  log_file_ = (options.output_dir / "server.log").string();
  SYNCSTACK_RETURN_IF_ERROR(Spawn(options, out_file));
  SYNCSTACK_RETURN_IF_ERROR(ReadUrl(out_file, deadline));
  return WaitForLogin(options, deadline);
}

Status ServeProcess::Spawn(const ServeOptions& options,
                           const std::string& out_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_file_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> args = {"syncstack", "serve",
                                   "--store",   options.store_uri,
                                   "--listen",  "127.0.0.1:0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = posix_spawn(&pid_, options.binary.c_str(), &actions, nullptr,
                       argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    return Status::IOError("cannot start " + options.binary + ": " +
                           std::strerror(rc));
  }
  return Status::Ok();
}

// The first line: "syncstack: serving URI on http://127.0.0.1:PORT (...)".
Status ServeProcess::ReadUrl(const std::string& out_file,
                             Steady::time_point deadline) {
  while (url_.empty()) {
    std::ifstream in(out_file);
    std::string line;
    if (std::getline(in, line) && !in.eof()) {
      size_t at = line.find("http://127.0.0.1:");
      if (at != std::string::npos) {
        url_ = line.substr(at, line.find(' ', at) - at);
        break;
      }
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::IOError("the server exited at start: " + LogTail());
    }
    if (Steady::now() > deadline) {
      return Status::Unavailable("the server did not start: " + LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Ok();
}

// Listening already; a login proves it answers.
Status ServeProcess::WaitForLogin(const ServeOptions& options,
                                  Steady::time_point deadline) {
  HttpClientOptions http;
  http.url = url_;
  SYNCSTACK_ASSIGN_OR_RETURN(auto transport, NewHttpTransport(http));
  Status s;
  do {
    RemoteClient client(*transport);
    s = client.Login(options.user, options.password);
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (Steady::now() < deadline);
  return s.ok() ? s : s.WithContext("the server does not answer");
}

Status ServeProcess::Stop() {
  if (pid_ <= 0) return Status::Ok();
  kill(pid_, SIGTERM);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::IOError("the server did not stop cleanly: " + LogTail());
  }
  return Status::Ok();
}

std::string ServeProcess::LogTail() const {
  std::ifstream in(log_file_);
  std::string line, last = "(no output)";
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

}  // namespace syncstack::bench
