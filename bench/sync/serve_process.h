// `syncstack serve` as a child process: the real server binary on a free
// port of 127.0.0.1, its output in files, stopped with SIGTERM.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "syncstack/status.h"

namespace syncstack::bench {

struct ServeOptions {
  std::string binary;                      // the syncstack program to run
  std::string store_uri;                   // its --store
  std::filesystem::path output_dir;        // server.out and server.log go here
  std::string user, password;              // a user of the store, for the probe
  std::chrono::seconds start_timeout{60};  // Default: 60 s.
};

// Not thread-safe. The destructor stops a running server.
class ServeProcess {
 public:
  ServeProcess() = default;
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;
  ~ServeProcess();

  // Starts `BINARY serve --store URI --listen 127.0.0.1:0`, reads the URL it
  // prints on its first line and waits until it answers a login of
  // options.user. Errors: kIOError (cannot start, or it exited; the message
  // carries the last line of its log), kUnavailable (no URL or no answer
  // within start_timeout), or the login's error.
  // REQUIRES: not started.
  Status Start(const ServeOptions& options);

  // Sends SIGTERM and waits for the exit. Errors: kIOError if it did not
  // exit with status 0. A no-op when not running.
  Status Stop();

  // The server's process id (valid while it runs).
  pid_t pid() const { return pid_; }
  // "http://127.0.0.1:PORT" once Start succeeded.
  const std::string& url() const { return url_; }

 private:
  Status Spawn(const ServeOptions& options, const std::string& out_file);
  Status ReadUrl(const std::string& out_file,
                 std::chrono::steady_clock::time_point deadline);
  Status WaitForLogin(const ServeOptions& options,
                      std::chrono::steady_clock::time_point deadline);
  // The last non-empty line of the server's stderr.
  std::string LogTail() const;

  pid_t pid_ = -1;
  std::string url_;
  std::string log_file_;
};

}  // namespace syncstack::bench
