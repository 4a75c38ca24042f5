#include "exchange_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

namespace syncstack::file_internal {
namespace {

constexpr const char* kSubNames[] = {"requests", "answers", "tmp", "rejected"};

Status Errno(std::string_view what, const std::string& path) {
  return Status::IOError(std::string(what) + " " + path + ": " +
                         std::strerror(errno));
}

std::string TmpName() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "w-";
  uint64_t x = rng();
  for (int i = 0; i < 16; ++i) name += kHex[(x >> (i * 4)) & 15];
  return name + ".tmp";
}

}  // namespace

Result<std::unique_ptr<ExchangeDir>> ExchangeDir::Open(
    const std::string& path) {
  if (path.empty()) {
    return Status::InvalidArgument("the exchange folder path is empty");
  }
  std::unique_ptr<ExchangeDir> dir(new ExchangeDir());
  dir->path_ = path;
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno("cannot create the exchange folder", path);
  }
  int root = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return Errno("cannot open the exchange folder", path);
  for (int i = 0; i < kSubs; ++i) {
    std::string sub = path + "/" + kSubNames[i];
    if (mkdirat(root, kSubNames[i], 0700) != 0 && errno != EEXIST) {
      Status s = Errno("cannot create", sub);
      close(root);
      return s;
    }
    // O_NOFOLLOW: a subfolder replaced by a link to elsewhere is refused.
    dir->fds_[i] = openat(root, kSubNames[i],
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir->fds_[i] < 0) {
      Status s = Errno("cannot open (a folder, not a link, is required)", sub);
      close(root);
      return s;
    }
    // A file gets the access of its folder, without execute: 0600 in the
    // folders made here, group access where the operator shared them.
    struct stat st {};
    if (fstat(dir->fds_[i], &st) == 0) {
      dir->file_modes_[i] = static_cast<unsigned>(st.st_mode) & 0666u;
    }
  }
  close(root);
  return dir;
}

ExchangeDir::~ExchangeDir() {
  for (int fd : fds_) {
    if (fd >= 0) close(fd);
  }
}

Status ExchangeDir::WriteAtomic(Sub sub, std::string_view name,
                                std::string_view bytes) {
  std::string tmp = TmpName();
  int fd = openat(fds_[kTmp], tmp.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  file_modes_[sub]);
  if (fd < 0) return Errno("cannot create", path_ + "/tmp/" + tmp);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status s = Errno("cannot write", path_ + "/tmp/" + tmp);
      close(fd);
      unlinkat(fds_[kTmp], tmp.c_str(), 0);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    Status s = Errno("cannot flush", path_ + "/tmp/" + tmp);
    close(fd);
    unlinkat(fds_[kTmp], tmp.c_str(), 0);
    return s;
  }
  close(fd);
  std::string target(name);
  if (renameat(fds_[kTmp], tmp.c_str(), fds_[sub], target.c_str()) != 0) {
    Status s = Errno("cannot rename into", path_ + "/" + kSubNames[sub]);
    unlinkat(fds_[kTmp], tmp.c_str(), 0);
    return s;
  }
  fsync(fds_[sub]);  // the rename itself survives a crash
  return Status::Ok();
}

Result<std::string> ExchangeDir::Read(Sub sub, std::string_view name,
                                      size_t max) {
  std::string file(name);
  std::string shown = path_ + "/" + kSubNames[sub] + "/" + file;
  int fd = openat(fds_[sub], file.c_str(),
                  O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(shown);
    return Errno("cannot open (a regular file is required)", shown);
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status::IOError(shown + " is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max) {
    close(fd);
    return Status::TooLarge(shown + " is " + std::to_string(st.st_size) +
                            " bytes, over the limit of " + std::to_string(max));
  }
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Errno("cannot read", shown);
      close(fd);
      return s;
    }
    if (n == 0) break;  // shrank while reading
    done += static_cast<size_t>(n);
  }
  close(fd);
  out.resize(done);
  return out;
}

bool ExchangeDir::Exists(Sub sub, std::string_view name) {
  std::string file(name);
  struct stat st {};
  return fstatat(fds_[sub], file.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool ExchangeDir::IsRegular(Sub sub, std::string_view name) {
  std::string file(name);
  struct stat st {};
  return fstatat(fds_[sub], file.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISREG(st.st_mode);
}

Status ExchangeDir::Remove(Sub sub, std::string_view name) {
  std::string file(name);
  if (unlinkat(fds_[sub], file.c_str(), 0) != 0 && errno != ENOENT) {
    return Errno("cannot remove", path_ + "/" + kSubNames[sub] + "/" + file);
  }
  return Status::Ok();
}

Status ExchangeDir::Move(Sub from, std::string_view name, Sub to,
                         std::string_view new_name) {
  std::string a(name), b(new_name);
  if (renameat(fds_[from], a.c_str(), fds_[to], b.c_str()) != 0) {
    return Errno("cannot move", path_ + "/" + kSubNames[from] + "/" + a);
  }
  return Status::Ok();
}

Result<std::vector<ExchangeDir::Entry>> ExchangeDir::List(Sub sub) {
  int fd = openat(fds_[sub], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot list", path_ + "/" + kSubNames[sub]);
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return Errno("cannot list", path_ + "/" + kSubNames[sub]);
  }
  std::vector<Entry> entries;
  while (dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    Entry entry;
    entry.name = std::string(n);
    struct stat st {};
    if (fstatat(fds_[sub], e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      entry.regular = S_ISREG(st.st_mode);
      entry.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                       st.st_mtim.tv_nsec;
    }
    entries.push_back(std::move(entry));
  }
  closedir(d);
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.mtime_ns != b.mtime_ns ? a.mtime_ns < b.mtime_ns : a.name < b.name;
  });
  return entries;
}

}  // namespace syncstack::file_internal
