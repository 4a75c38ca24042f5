// The exchange folder on disk: its subfolders held open as directory file
// descriptors, so every file operation stays inside them (openat, renameat,
// unlinkat; symbolic links are never followed). Internal to syncstack::file.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "syncstack/status.h"

namespace syncstack::file_internal {

class ExchangeDir {
 public:
  enum Sub { kRequests, kAnswers, kTmp, kRejected, kSubs };

  // Creates `path` and its subfolders if missing (0700) and opens them.
  // Files written later get their folder's read and write bits (0600 in
  // the folders made here). Errors:
  // kInvalidArgument (empty path), kIOError (cannot create or open; a
  // subfolder that is a symbolic link or not a folder).
  static Result<std::unique_ptr<ExchangeDir>> Open(const std::string& path);
  ~ExchangeDir();

  // Writes `bytes` to tmp/, flushes it to disk and renames it to
  // `sub`/`name`, replacing a file of that name: readers see the whole
  // file or none.
  Status WriteAtomic(Sub sub, std::string_view name, std::string_view bytes);
  // Reads `sub`/`name` if it is a regular file of at most `max` bytes.
  // Errors: kNotFound (no such file), kTooLarge, kIOError (not a regular
  // file, e.g. a symbolic link; unreadable).
  Result<std::string> Read(Sub sub, std::string_view name, size_t max);
  bool Exists(Sub sub, std::string_view name);
  // Whether `sub`/`name` is a regular file (not a folder, link, ...).
  bool IsRegular(Sub sub, std::string_view name);
  // Removes `sub`/`name`; a missing file is not an error.
  Status Remove(Sub sub, std::string_view name);
  // Moves `from`/`name` to `to`/`new_name` (same folder tree).
  Status Move(Sub from, std::string_view name, Sub to,
              std::string_view new_name);

  struct Entry {
    std::string name;
    bool regular = false;  // a regular file (not a link, folder, ...)
    int64_t mtime_ns = 0;
  };
  // The entries of `sub` (without "." and ".."), oldest first.
  Result<std::vector<Entry>> List(Sub sub);

  const std::string& path() const { return path_; }

 private:
  ExchangeDir() = default;
  std::string path_;
  int fds_[kSubs] = {-1, -1, -1, -1};
  unsigned file_modes_[kSubs] = {0600, 0600, 0600, 0600};
};

}  // namespace syncstack::file_internal
