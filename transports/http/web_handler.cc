// Static files of a web app and CORS in front of the sync API. Files are
// found by walking the path one part at a time from a folder descriptor
// opened once, each part opened with O_NOFOLLOW: no "..", no symbolic link
// and no absolute path can lead outside the folder.
#include "syncstack/http/web_handler.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <string_view>

#include "syncstack/codec.h"

namespace syncstack {
namespace {

constexpr std::string_view kApiPrefix = "/v1/";
constexpr size_t kMaxParts = 32;
constexpr size_t kMaxPartBytes = 255;

struct FileType {
  std::string_view extension;
  std::string_view content_type;
};

constexpr FileType kFileTypes[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".png", "image/png"},
    {".svg", "image/svg+xml"},
    {".webmanifest", "application/manifest+json"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
};

// The Content-Type of a file name, "" when its extension is not served.
std::string_view ContentTypeOf(std::string_view name) {
  for (const auto& t : kFileTypes) {
    if (name.size() > t.extension.size() && name.ends_with(t.extension)) {
      return t.content_type;
    }
  }
  return {};
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

bool SafePart(std::string_view part) {
  return !part.empty() && part.size() <= kMaxPartBytes && part[0] != '.' &&
         part.find('\\') == std::string_view::npos &&
         part.find('\0') == std::string_view::npos;
}

// The parts of a decoded request path below the folder; false when any
// part is unsafe. "/" and ".../" name their index.html.
bool SplitPath(std::string_view path, std::vector<std::string>& parts) {
  if (path.empty() || path[0] != '/') return false;
  std::string rest(path.substr(1));
  if (rest.empty() || rest.back() == '/') rest += "index.html";
  size_t begin = 0;
  while (true) {
    size_t slash = rest.find('/', begin);
    std::string_view part = std::string_view(rest).substr(
        begin, slash == std::string::npos ? std::string::npos : slash - begin);
    if (!SafePart(part) || parts.size() == kMaxParts) return false;
    parts.emplace_back(part);
    if (slash == std::string::npos) return true;
    begin = slash + 1;
  }
}

// Reads the regular file at `parts` below `root` into `out`, at most
// `max_file` bytes. False when there is no such file or it may not be
// served (a symbolic link on the way, not a regular file, too large).
bool ReadBelow(int root, const std::vector<std::string>& parts, size_t max_file,
               std::string& out) {
  int dir = root;
  std::vector<std::unique_ptr<Fd>> opened;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int fd = openat(dir, parts[i].c_str(),
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return false;
    opened.push_back(std::make_unique<Fd>(fd));
    dir = fd;
  }
  // O_NONBLOCK: a FIFO must not hang a worker; it is refused below.
  Fd file(openat(dir, parts.back().c_str(),
                 O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  struct stat st {};
  if (file.get() < 0 || fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) > max_file) {
    return false;
  }
  out.clear();
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = read(file.get(), out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // shrank while read: serve what is there
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return true;
}

Response NotFound() {
  Response r;
  r.status = 404;
  EncodeError(Status::NotFound("no such file"), -1, r.body);
  return r;
}

class WebHandler final : public Handler {
 public:
  WebHandler(Handler& api, const WebHandlerOptions& options, int root)
      : api_(api), options_(options), root_(root) {}
  ~WebHandler() override {
    if (root_ >= 0) close(root_);
  }

  Response Handle(const Request& request) noexcept override {
    const bool cors = !options_.cors_origins.empty();
    const bool allowed = cors && Allowed(request.origin);
    Response answer;
    if (cors && request.method == "OPTIONS") {
      answer = allowed ? Preflight() : Forbidden();
    } else if (root_ >= 0 && IsFilePath(request.path) &&
               (request.method == "GET" || request.method == "HEAD")) {
      answer = File(request.path);
    } else {
      answer = api_.Handle(request);
    }
    if (cors) answer.headers += "Vary: Origin\r\n";
    if (allowed) {
      answer.headers += "Access-Control-Allow-Origin: " + request.origin +
                        "\r\nAccess-Control-Expose-Headers: Retry-After\r\n";
    }
    return answer;
  }

  size_t MaxBody(std::string_view method,
                 std::string_view path) const noexcept override {
    return api_.MaxBody(method, path);
  }

 private:
  static bool IsFilePath(std::string_view path) {
    return !path.starts_with(kApiPrefix) && path != "/v1";
  }

  bool Allowed(const std::string& origin) const {
    return !origin.empty() &&
           std::find(options_.cors_origins.begin(), options_.cors_origins.end(),
                     origin) != options_.cors_origins.end();
  }

  static Response Preflight() {
    Response r;
    r.status = 204;
    r.headers =
        "Access-Control-Allow-Methods: GET, POST, DELETE\r\n"
        "Access-Control-Allow-Headers: Authorization, Content-Type, "
        "X-Sync-Lease, Idempotency-Key\r\n"
        "Access-Control-Max-Age: 600\r\n";
    return r;
  }

  static Response Forbidden() {
    Response r;
    r.status = 403;
    r.body =
        "{\"error\":\"forbidden\",\"message\":\"this origin may not call "
        "the API (serve --cors-origin lists the ones that may)\"}";
    return r;
  }

  Response File(std::string_view path) const {
    std::vector<std::string> parts;
    if (!SplitPath(path, parts)) return NotFound();
    const std::string_view type = ContentTypeOf(parts.back());
    Response r;
    if (type.empty() || !ReadBelow(root_, parts, options_.max_file, r.body)) {
      return NotFound();
    }
    r.content_type = std::string(type);
    // The app's service worker keeps its own copy; the browser asks again.
    r.headers =
        "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n";
    return r;
  }

  Handler& api_;
  const WebHandlerOptions options_;
  const int root_;  // -1: no files served
};

}  // namespace

bool IsWebOrigin(const std::string& origin) noexcept {
  std::string_view rest(origin);
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else {
    return false;
  }
  size_t host_end = 0;
  if (rest.starts_with("[")) {
    host_end = rest.find(']');
    if (host_end == std::string_view::npos || host_end < 3) return false;
    for (char c : rest.substr(1, host_end - 1)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' &&
          c != '.') {
        return false;
      }
    }
    ++host_end;
  } else {
    while (host_end < rest.size() &&
           ((rest[host_end] >= 'a' && rest[host_end] <= 'z') ||
            std::isdigit(static_cast<unsigned char>(rest[host_end])) ||
            rest[host_end] == '-' || rest[host_end] == '.')) {
      ++host_end;
    }
    if (host_end == 0) return false;
  }
  std::string_view port = rest.substr(host_end);
  if (port.empty()) return true;
  if (port[0] != ':' || port.size() < 2 || port.size() > 6) return false;
  int value = 0;
  for (char c : port.substr(1)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    value = value * 10 + (c - '0');
  }
  return value >= 1 && value <= 65535;
}

Result<std::unique_ptr<Handler>> NewWebHandler(
    Handler& api, const WebHandlerOptions& options) {
  for (const auto& origin : options.cors_origins) {
    if (!IsWebOrigin(origin)) {
      return Status::InvalidArgument(
          "--cors-origin \"" + origin +
          "\": want an origin as browsers send it, e.g. "
          "http://localhost:8080 (lower-case scheme and host, no path, no "
          "trailing /)");
    }
  }
  int root = -1;
  if (!options.dir.empty()) {
    root = open(options.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
      return Status::InvalidArgument("--web \"" + options.dir +
                                     "\": not a readable folder");
    }
  }
  return std::unique_ptr<Handler>(
      std::make_unique<WebHandler>(api, options, root));
}

}  // namespace syncstack
