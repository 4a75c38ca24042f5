// ServeProcess: the real `syncstack serve` as a child process, for tests
// that need a server in another process (end to end, the CLI, crashes).
//
// It starts `<binary> serve <args...>` with stdout and stderr going to files
// of its own, waits for the first line of stdout (serve prints it once it
// listens or watches its folder: "syncstack: serving ... on
// http://127.0.0.1:PORT (...)", https:// with --tls-cert), and takes the
// URL from it. Stop() sends SIGTERM and reaps the process; the destructor
// stops it if still running.
//
//   auto serve = ServeProcess::Start({SYNCSTACK_BIN, {"--store", store,
//                                     "--listen", "127.0.0.1:0"}});
//   ASSERT_TRUE(serve.ok()) << serve.status().ToString();
//   Sync((*serve)->url());
//   EXPECT_EQ((*serve)->Stop(), 0) << (*serve)->Stderr();
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "syncstack/status.h"

namespace syncstack::testing {

struct ServeProcessOptions {
  // The syncstack binary. Required.
  std::string binary;
  // The arguments after "serve", e.g. {"--store", uri, "--listen",
  // "127.0.0.1:0"}.
  std::vector<std::string> args;
  // How long to wait for the first line. Default: 30 s.
  std::chrono::milliseconds start_timeout{std::chrono::seconds(30)};
  // How long Stop() waits after SIGTERM before SIGKILL. Default: 30 s.
  std::chrono::milliseconds stop_timeout{std::chrono::seconds(30)};
  // An existing folder for the files "stdout" and "stderr", kept afterwards.
  // Default: a new temporary folder, removed with the ServeProcess.
  std::string output_dir{};
};

class ServeProcess {
 public:
  // Starts serve and waits for its first line of output.
  // Errors: kIOError (cannot start it, or it exited before printing a
  // line; the message has its stderr), kUnavailable (no line within
  // start_timeout; the process is stopped).
  static Result<std::unique_ptr<ServeProcess>> Start(
      const ServeProcessOptions& options);

  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;
  ~ServeProcess();

  // serve's first line of stdout, without the newline.
  const std::string& first_line() const { return first_line_; }
  // "http://127.0.0.1:PORT" (or "https://..." with --tls-cert) from the
  // first line; "" when it names none (serving an exchange folder).
  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }

  // Sends SIGTERM and waits for the process to end (SIGKILL after
  // stop_timeout). Returns its exit code, 128 + the signal if a signal
  // ended it, or -1 if it was already stopped.
  int Stop();
  // Everything serve wrote to stderr so far.
  std::string Stderr() const;
  // Everything serve wrote to stdout so far.
  std::string Stdout() const;

 private:
  ServeProcess() = default;

  ServeProcessOptions options_;
  std::string dir_;       // holds stdout and stderr
  bool own_dir_ = false;  // dir_ is ours to remove
  pid_t pid_ = -1;
  std::string first_line_;
  std::string url_;
};

// The "http://host:port" or "https://host:port" in `line` ("" if none):
// from the first "http://" or "https://" to the next space.
std::string UrlInLine(const std::string& line);

}  // namespace syncstack::testing
