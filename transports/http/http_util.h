// Helpers shared by the HTTP server and client: URL parsing and the
// percent-encoding of request targets. Internal to syncstack::http.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "syncstack/status.h"
#include "syncstack/transport.h"

namespace syncstack::http_internal {

struct Endpoint {
  std::string host;  // without brackets for IPv6
  uint16_t port = 80;
  bool tls = false;              // https://
  std::string HostPort() const;  // "host:port" ("[::1]:port" for IPv6)
};

// Parses "http://HOST[:PORT][/]" or "https://HOST[:PORT][/]" (port 80 or
// 443 by default). Errors: kInvalidArgument.
Result<Endpoint> ParseHttpUrl(std::string_view url);

// Percent-decodes `in` ('+' is a space when `plus_is_space`). Returns false
// on a malformed escape.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string& out);

// Decodes each key and value of "k=v&k2=v2" on its own, keeping the
// separators. Returns false on a malformed escape.
bool DecodeQuery(std::string_view in, std::string& out);

// Appends `in` percent-encoded; `keep` lists reserved characters left as
// they are (besides ALPHA / DIGIT / "-._~").
void PercentEncode(std::string_view in, std::string_view keep,
                   std::string& out);

// The request target for `request`: encoded path, then "?" and the encoded
// query when there is one.
std::string RequestTarget(const Request& request);

// Whether repeating `request` after a lost answer cannot apply it twice.
bool SafeToRepeat(const Request& request);

}  // namespace syncstack::http_internal
