// A raw HTTP client over a blocking socket on 127.0.0.1, for tests that
// send what a well-behaved client never would.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace syncstack {

class RawSocket {
 public:
  explicit RawSocket(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  ~RawSocket() { ::close(fd_); }
  bool connected() const { return connected_; }

  // Returns false when the peer is gone.
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Whether something (an answer or EOF) can be read right now.
  bool Readable(int timeout_ms = 0) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
  }
  // Reads until the peer closes or `timeout` passes.
  std::string ReadAll(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    std::string out;
    auto end = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < end) {
      if (!Readable(20)) continue;
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }
  // Reads one answer of a kept-alive connection: its head and as many body
  // bytes as its Content-Length says. "" when the peer closes first or
  // `timeout` passes.
  std::string ReadOne(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < end) {
      size_t head_end = in_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t length = 0;
        std::string head = in_.substr(0, head_end);
        for (char& c : head) c = static_cast<char>(std::tolower(c));
        size_t at = head.find("content-length:");
        if (at != std::string::npos) length = std::stoul(head.substr(at + 15));
        size_t total = head_end + 4 + length;
        if (in_.size() >= total) {
          std::string one = in_.substr(0, total);
          in_.erase(0, total);
          return one;
        }
      }
      if (!Readable(20)) continue;
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return "";
      in_.append(buffer, static_cast<size_t>(n));
    }
    return "";
  }
  // Waits for EOF (or a reset); returns false on timeout.
  bool WaitClosed(std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < end) {
      if (!Readable(20)) continue;
      if (::recv(fd_, buffer, sizeof buffer, 0) <= 0) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string in_;  // read ahead by ReadOne
};

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

inline RawResponse ParseResponse(const std::string& text) {
  RawResponse r;
  size_t head_end = text.find("\r\n\r\n");
  if (text.size() < 12 || head_end == std::string::npos) return r;
  r.status = std::stoi(text.substr(9, 3));
  size_t pos = text.find("\r\n") + 2;
  while (pos < head_end) {
    size_t eol = text.find("\r\n", pos);
    std::string line = text.substr(pos, eol - pos);
    size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    size_t v = line.find_first_not_of(' ', colon + 1);
    r.headers[name] = v == std::string::npos ? "" : line.substr(v);
    pos = eol + 2;
  }
  r.body = text.substr(head_end + 4);
  return r;
}

inline RawResponse RawExchange(uint16_t port, const std::string& request) {
  RawSocket s(port);
  EXPECT_TRUE(s.connected());
  s.Send(request);
  return ParseResponse(s.ReadAll());
}

}  // namespace syncstack
