#include "http_util.h"

#include <cctype>
#include <charconv>

#include "syncstack/protocol.h"

namespace syncstack::http_internal {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string Endpoint::HostPort() const {
  std::string out =
      host.find(':') != std::string::npos ? "[" + host + "]" : host;
  out += ':';
  out += std::to_string(port);
  return out;
}

Result<Endpoint> ParseHttpUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("bad server URL \"" + std::string(url) +
                                   "\": " + std::string(why) +
                                   " (expected http://HOST:PORT or "
                                   "https://HOST:PORT)");
  };
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return bad("no scheme");
  std::string scheme(url.substr(0, scheme_end));
  for (char& c : scheme) c = static_cast<char>(std::tolower(c));
  if (scheme != "http" && scheme != "https") {
    return bad("only http:// and https:// are supported, not " + scheme +
               "://");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return bad("paths, queries and user names are not supported");
  }
  Endpoint endpoint;
  endpoint.tls = scheme == "https";
  endpoint.port = endpoint.tls ? 443 : 80;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    endpoint.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("empty port");
    }
  } else {
    size_t colon = rest.find(':');
    endpoint.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    }
  }
  if (endpoint.host.empty()) return bad("no host");
  for (char c : endpoint.host) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '%' || c == '\\') {
      return bad("invalid character in the host");
    }
  }
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(),
                                     port_text.data() + port_text.size(), port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() ||
        port == 0 || port > 65535) {
      return bad("the port must be a number from 1 to 65535");
    }
    endpoint.port = static_cast<uint16_t>(port);
  }
  return endpoint;
}

bool PercentDecode(std::string_view in, bool plus_is_space, std::string& out) {
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return true;
}

bool DecodeQuery(std::string_view in, std::string& out) {
  while (true) {
    size_t amp = in.find('&');
    std::string_view pair = in.substr(0, amp);
    size_t eq = pair.find('=');
    if (!PercentDecode(pair.substr(0, eq), true, out)) return false;
    if (eq != std::string_view::npos) {
      out += '=';
      if (!PercentDecode(pair.substr(eq + 1), true, out)) return false;
    }
    if (amp == std::string_view::npos) return true;
    out += '&';
    in.remove_prefix(amp + 1);
  }
}

void PercentEncode(std::string_view in, std::string_view keep,
                   std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : in) {
    if (Unreserved(c) || keep.find(c) != std::string_view::npos) {
      out += c;
    } else {
      auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
}

std::string RequestTarget(const Request& request) {
  std::string target;
  target.reserve(request.path.size() + request.query.size() + 8);
  if (request.path.empty() || request.path.front() != '/') target += '/';
  PercentEncode(request.path, "/,:@!$'()*;=", target);
  if (!request.query.empty()) {
    target += '?';
    PercentEncode(request.query, "=&,:/@!$'()*;", target);
  }
  return target;
}

bool SafeToRepeat(const Request& request) {
  if (request.method == "GET" || request.method == "HEAD") return true;
  if (request.path == kLockPath) {
    return request.method == "POST" || request.method == "DELETE";
  }
  if (request.path == kLoginPath) return request.method == "POST";
  if (request.path == kSynchronisePath) {
    return request.method == "POST" && !request.idempotency_key.empty();
  }
  return false;
}

}  // namespace syncstack::http_internal
