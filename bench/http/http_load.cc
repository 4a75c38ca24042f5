// A load generator for `syncstack serve`: N keep-alive connections send one
// GET after another for T seconds, while S more connections sit stalled on
// half a request line and a probe opens a fresh connection every 200 ms
// for one request. It reports requests/s, latency percentiles and every
// socket error, for the old and the new server alike
// (docs/benchmarks.md, "HTTP connections").
//
//   http_load --port P --path /v1/fetch.json --token T
//             [--connections 2000] [--seconds 10] [--stalled 256]
//             [--timeout-ms 5000]
//
// Errors are counted, never hidden: a failed connect, a reset or a close
// by the server (the connection is then reopened), a request unanswered
// after --timeout-ms (closed and reopened), and answers other than 2xx.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  uint16_t port = 0;
  std::string path = "/v1/fetch.json";
  std::string token;
  int connections = 2000;
  int seconds = 10;
  int stalled = 256;
  int timeout_ms = 5000;
};

struct Counts {
  uint64_t answers = 0;     // 2xx
  uint64_t bad_status = 0;  // not 2xx
  uint64_t connect_errors = 0;
  uint64_t read_errors = 0;  // reset, or closed by the server
  uint64_t write_errors = 0;
  uint64_t timeouts = 0;
  std::vector<uint32_t> latency_us;
};

sockaddr_in Address(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

std::string RequestText(const Options& o, bool close) {
  std::string r = "GET " + o.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!o.token.empty()) r += "Authorization: Bearer " + o.token + "\r\n";
  if (close) r += "Connection: close\r\n";
  return r + "\r\n";
}

// The status of the first whole answer in `in`, and its length there;
// 0 while it is incomplete.
size_t WholeAnswer(const std::string& in, int& status) {
  size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos || in.size() < 12) return 0;
  status = std::atoi(in.c_str() + 9);
  size_t length = 0;
  std::string head = in.substr(0, head_end);
  for (char& c : head) c = static_cast<char>(std::tolower(c));
  size_t at = head.find("content-length:");
  if (at != std::string::npos)
    length = std::strtoul(head.c_str() + at + 15, nullptr, 10);
  size_t total = head_end + 4 + length;
  return in.size() >= total ? total : 0;
}

double Percentile(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1,
                      static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;
}

// N keep-alive connections driven by one epoll loop.
class Load {
 public:
  explicit Load(const Options& o) : o_(o), request_(RequestText(o, false)) {}

  void Run(Counts& counts) {
    epoll_ = epoll_create1(0);
    conns_.resize(static_cast<size_t>(o_.connections));
    auto end = Clock::now() + std::chrono::seconds(o_.seconds);
    for (size_t i = 0; i < conns_.size(); ++i) Open(i, counts);
    std::vector<epoll_event> events(1024);
    char buffer[16384];
    while (Clock::now() < end) {
      int n = epoll_wait(epoll_, events.data(), 1024, 50);
      auto now = Clock::now();
      for (int e = 0; e < n; ++e) {
        size_t i = events[static_cast<size_t>(e)].data.u64;
        Conn& c = conns_[i];
        if (c.connecting) {
          int error = 0;
          socklen_t len = sizeof error;
          getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len);
          if (error != 0) {
            counts.connect_errors++;
            Reopen(i, counts);
            continue;
          }
          c.connecting = false;
          Send(i, counts, now);
          continue;
        }
        ssize_t got = recv(c.fd, buffer, sizeof buffer, 0);
        if (got < 0 && errno == EAGAIN) continue;
        if (got <= 0) {
          counts.read_errors++;
          Reopen(i, counts);
          continue;
        }
        c.in.append(buffer, static_cast<size_t>(got));
        int status = 0;
        size_t whole = WholeAnswer(c.in, status);
        if (whole == 0) continue;
        c.in.erase(0, whole);
        if (status >= 200 && status < 300) {
          counts.answers++;
        } else {
          counts.bad_status++;
        }
        counts.latency_us.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(now - c.sent)
                .count()));
        Send(i, counts, now);
      }
      Expire(now, counts);
    }
    for (Conn& c : conns_) {
      if (c.fd >= 0) close(c.fd);
    }
    close(epoll_);
  }

 private:
  struct Conn {
    int fd = -1;
    bool connecting = false;
    bool dead = false;  // to be reopened
    Clock::time_point sent;
    std::string in;
  };

  void Open(size_t i, Counts& counts) {
    Conn& c = conns_[i];
    c = Conn{};
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr = Address(o_.port);
    c.sent = Clock::now();
    int r = connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (r != 0 && errno != EINPROGRESS) {
      counts.connect_errors++;
      c.dead = true;  // reopened by the next Expire, not in a tight loop
      return;
    }
    // Connected or not yet: either way the first send waits for EPOLLOUT.
    c.connecting = true;
    epoll_event event{EPOLLOUT, {.u64 = i}};
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &event);
  }

  void Reopen(size_t i, Counts& counts) {
    if (conns_[i].fd >= 0) close(conns_[i].fd);
    Open(i, counts);
  }

  void Send(size_t i, Counts& counts, Clock::time_point now) {
    Conn& c = conns_[i];
    c.sent = now;
    ssize_t n = send(c.fd, request_.data(), request_.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(request_.size())) {
      counts.write_errors++;
      return Reopen(i, counts);
    }
    epoll_event event{EPOLLIN, {.u64 = i}};
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &event);
  }

  // Requests (or connects) unanswered for longer than the timeout.
  void Expire(Clock::time_point now, Counts& counts) {
    if (now < next_expire_) return;
    next_expire_ = now + std::chrono::milliseconds(100);
    auto limit = std::chrono::milliseconds(o_.timeout_ms);
    for (size_t i = 0; i < conns_.size(); ++i) {
      if (conns_[i].dead) {
        Reopen(i, counts);
      } else if (now - conns_[i].sent > limit) {
        counts.timeouts++;
        Reopen(i, counts);
      }
    }
  }

  const Options o_;
  const std::string request_;
  int epoll_ = -1;
  std::vector<Conn> conns_;
  Clock::time_point next_expire_ = Clock::now();
};

// One request on a fresh connection; its latency in µs, or -1 on failure.
int64_t Probe(const Options& o) {
  auto start = Clock::now();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{o.timeout_ms / 1000, (o.timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr = Address(o.port);
  std::string request = RequestText(o, true);
  std::string in;
  int status = 0;
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(request.size());
  char buffer[16384];
  while (ok && WholeAnswer(in, status) == 0) {
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0)
      ok = false;
    else
      in.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  if (!ok || status < 200 || status >= 300) return -1;
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() -
                                                               start)
      .count();
}

bool ParseOptions(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--port")
      o.port = static_cast<uint16_t>(std::atoi(value));
    else if (flag == "--path")
      o.path = value;
    else if (flag == "--token")
      o.token = value;
    else if (flag == "--connections")
      o.connections = std::atoi(value);
    else if (flag == "--seconds")
      o.seconds = std::atoi(value);
    else if (flag == "--stalled")
      o.stalled = std::atoi(value);
    else if (flag == "--timeout-ms")
      o.timeout_ms = std::atoi(value);
    else
      return false;
  }
  return o.port != 0 && o.connections >= 0 && o.seconds > 0 && o.stalled >= 0 &&
         o.timeout_ms > 0;
}

void RaiseDescriptorLimit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc % 2 == 0 || !ParseOptions(argc, argv, o)) {
    std::fprintf(
        stderr,
        "usage: http_load --port P [--path /v1/fetch.json] [--token T] "
        "[--connections 2000] [--seconds 10] [--stalled 256] "
        "[--timeout-ms 5000]\n");
    return 2;
  }
  RaiseDescriptorLimit();
  // The stalled: half a request line each, then nothing.
  std::vector<int> stalled;
  int stalled_refused = 0;
  for (int i = 0; i < o.stalled; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = Address(o.port);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        send(fd, "GET /v1/fetch.js", 16, MSG_NOSIGNAL) != 16) {
      stalled_refused++;
    }
    stalled.push_back(fd);
  }
  // The probe: a fresh connection every 200 ms, beside the load.
  std::atomic<bool> done{false};
  std::vector<int64_t> probes;
  std::thread prober([&] {
    while (!done.load()) {
      probes.push_back(Probe(o));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  Counts counts;
  auto start = Clock::now();
  if (o.connections > 0) {
    Load(o).Run(counts);
  } else {
    std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  done = true;
  prober.join();
  // Which stalled connections the server closed meanwhile.
  int stalled_closed = 0;
  for (int fd : stalled) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 0) > 0) stalled_closed++;
    close(fd);
  }
  std::vector<uint32_t> probe_us;
  int probe_failed = 0;
  for (int64_t p : probes) {
    if (p < 0)
      probe_failed++;
    else
      probe_us.push_back(static_cast<uint32_t>(p));
  }
  double probe_max =
      probe_us.empty()
          ? 0
          : *std::max_element(probe_us.begin(), probe_us.end()) / 1000.0;
  std::printf(
      "connections %d, stalled %d (refused %d, closed by the server %d), %d s\n"
      "requests/s %.0f  (2xx %llu, other status %llu)\n"
      "latency ms: p50 %.2f  p99 %.2f  max %.2f\n"
      "socket errors: connect %llu, read %llu, write %llu, timeout %llu\n"
      "probe (fresh connection, one request every 200 ms): %zu answered, "
      "%d failed, p50 %.2f ms, max %.2f ms\n",
      o.connections, o.stalled, stalled_refused, stalled_closed, o.seconds,
      static_cast<double>(counts.answers + counts.bad_status) / elapsed,
      static_cast<unsigned long long>(counts.answers),
      static_cast<unsigned long long>(counts.bad_status),
      Percentile(counts.latency_us, 0.5), Percentile(counts.latency_us, 0.99),
      counts.latency_us.empty() ? 0.0
                                : *std::max_element(counts.latency_us.begin(),
                                                    counts.latency_us.end()) /
                                      1000.0,
      static_cast<unsigned long long>(counts.connect_errors),
      static_cast<unsigned long long>(counts.read_errors),
      static_cast<unsigned long long>(counts.write_errors),
      static_cast<unsigned long long>(counts.timeouts), probe_us.size(),
      probe_failed, Percentile(probe_us, 0.5), probe_max);
  return 0;
}
