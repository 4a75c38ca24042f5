#include "kits/serve_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

extern char** environ;

namespace syncstack::testing {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(10);

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The exit code of a status from waitpid.
int ExitCode(int status) {
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Starts `binary serve args...` with stdout and stderr to the given files.
Result<pid_t> Spawn(const ServeProcessOptions& options, const std::string& out,
                    const std::string& err) {
  std::vector<std::string> words = {options.binary, "serve"};
  words.insert(words.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, options.binary.c_str(), &actions, nullptr,
                       argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return Status::IOError("cannot start " + options.binary + ": " +
                           std::strerror(rc));
  }
  return pid;
}

}  // namespace

std::string UrlInLine(const std::string& line) {
  size_t at = std::min(line.find("http://"), line.find("https://"));
  if (at == std::string::npos) return "";
  return line.substr(at, line.find(' ', at) - at);
}

Result<std::unique_ptr<ServeProcess>> ServeProcess::Start(
    const ServeProcessOptions& options) {
  std::unique_ptr<ServeProcess> p(new ServeProcess);
  p->options_ = options;
  p->dir_ = options.output_dir;
  if (p->dir_.empty()) {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "syncstack-serve-XXXXXX")
            .string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      return Status::IOError("cannot make a temporary directory");
    }
    p->dir_ = tmpl;
    p->own_dir_ = true;
  }
  auto pid = Spawn(options, p->dir_ + "/stdout", p->dir_ + "/stderr");
  if (!pid.ok()) return pid.status();
  p->pid_ = *pid;
  const auto deadline =
      std::chrono::steady_clock::now() + options.start_timeout;
  while (true) {
    std::string out = p->Stdout();
    if (size_t nl = out.find('\n'); nl != std::string::npos) {
      p->first_line_ = out.substr(0, nl);
      p->url_ = UrlInLine(p->first_line_);
      return p;
    }
    int status = 0;
    if (waitpid(p->pid_, &status, WNOHANG) == p->pid_) {
      p->pid_ = -1;
      return Status::IOError("serve exited (" +
                             std::to_string(ExitCode(status)) +
                             ") before its first line: " + p->Stderr());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      p->Stop();
      return Status::Unavailable("serve printed no line in time: " +
                                 p->Stderr());
    }
    std::this_thread::sleep_for(kPoll);
  }
}

ServeProcess::~ServeProcess() {
  Stop();
  std::error_code ec;
  if (own_dir_) std::filesystem::remove_all(dir_, ec);
}

int ServeProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const auto deadline =
      std::chrono::steady_clock::now() + options_.stop_timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(kPoll);
  }
  pid_ = -1;
  return ExitCode(status);
}

std::string ServeProcess::Stderr() const { return ReadAll(dir_ + "/stderr"); }

std::string ServeProcess::Stdout() const { return ReadAll(dir_ + "/stdout"); }

}  // namespace syncstack::testing
