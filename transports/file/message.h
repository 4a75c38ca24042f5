// The bytes of the exchange files: an HTTP/1.1 request or response with a
// Content-Length, exactly as they would travel over a socket. Internal to
// syncstack::file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "syncstack/status.h"
#include "syncstack/transport.h"

namespace syncstack::file_internal {

// "POST /v1/synchronise.json HTTP/1.1\r\n" + headers + "\r\n" + body.
std::string EncodeRequestMessage(const Request& request);

// The inverse. The message must be complete: a declared Content-Length that
// the bytes do not match (a truncated or padded file) is an error.
// Errors: kInvalidArgument (not a well-formed request; the message says
// where), kTooLarge (body over `max_body`).
Result<Request> DecodeRequestMessage(std::string_view message, size_t max_body);

// "HTTP/1.1 200 OK\r\n" + headers + "\r\n" + body.
std::string EncodeResponseMessage(const Response& response);

// Errors: kCorruption (not a complete, well-formed response).
Result<Response> DecodeResponseMessage(std::string_view message);

// The BLAKE2b-128 of `bytes`, as 32 lower-case hex digits.
std::string ContentHash(std::string_view bytes);

}  // namespace syncstack::file_internal
