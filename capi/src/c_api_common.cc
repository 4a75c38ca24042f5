// The C API's status codes, last error and string ownership.
#include <cstdlib>
#include <cstring>
#include <new>

#include "c_api_internal.h"
#include "syncstack/metadata_keys.h"

namespace syncstack::capi {
namespace {

thread_local std::string last_error;

// The C codes share the Status codes' values (checked below).
using Code = Status::Code;
static_assert(static_cast<int>(Code::kInvalidArgument) ==
              SYNCSTACK_INVALID_ARGUMENT);
static_assert(static_cast<int>(Code::kNotFound) == SYNCSTACK_NOT_FOUND);
static_assert(static_cast<int>(Code::kUnauthorized) == SYNCSTACK_UNAUTHORIZED);
static_assert(static_cast<int>(Code::kLocked) == SYNCSTACK_LOCKED);
static_assert(static_cast<int>(Code::kLeaseLost) == SYNCSTACK_LEASE_LOST);
static_assert(static_cast<int>(Code::kLeaseRequired) ==
              SYNCSTACK_LEASE_REQUIRED);
static_assert(static_cast<int>(Code::kConflict) == SYNCSTACK_CONFLICT);
static_assert(static_cast<int>(Code::kTooLarge) == SYNCSTACK_TOO_LARGE);
static_assert(static_cast<int>(Code::kUnavailable) == SYNCSTACK_UNAVAILABLE);
static_assert(static_cast<int>(Code::kIOError) == SYNCSTACK_IO_ERROR);
static_assert(static_cast<int>(Code::kCorruption) == SYNCSTACK_CORRUPTION);
static_assert(static_cast<int>(Code::kNotSupported) == SYNCSTACK_NOT_SUPPORTED);
static_assert(static_cast<int>(Code::kAborted) == SYNCSTACK_ABORTED);

}  // namespace

syncstack_status Fail(syncstack_status status, std::string message) {
  last_error = std::move(message);
  return status;
}

syncstack_status Fail(const Status& status) {
  int code = static_cast<int>(status.code());
  bool known = code > 0 && code <= SYNCSTACK_ABORTED;
  return Fail(known ? static_cast<syncstack_status>(code) : SYNCSTACK_INTERNAL,
              status.message());
}

syncstack_status Ok() {
  last_error.clear();
  return SYNCSTACK_OK;
}

char* Dup(std::string_view text) {
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (out == nullptr) return nullptr;
  if (!text.empty()) std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  return out;
}

syncstack_status Hand(std::string_view text, char** out) {
  *out = Dup(text);
  if (*out == nullptr) return Fail(SYNCSTACK_INTERNAL, "out of memory");
  return Ok();
}

Result<Schema> LoadSchema(Store& store) {
  Schema schema;
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> learned,
                             store.GetMeta(meta::kSchema));
  if (!learned) return schema;
  auto parsed = Schema::Parse(*learned);
  if (!parsed.ok()) {
    return parsed.status().WithContext("the store's learned schema");
  }
  for (const auto& [name, key] : parsed->collections()) schema.Set(name, key);
  return schema;
}

}  // namespace syncstack::capi

extern "C" {

const char* syncstack_version(void) { return SYNCSTACK_VERSION_TEXT; }

const char* syncstack_status_name(syncstack_status status) {
  switch (status) {
    case SYNCSTACK_OK:
      return "ok";
    case SYNCSTACK_INVALID_ARGUMENT:
      return "invalid_argument";
    case SYNCSTACK_NOT_FOUND:
      return "not_found";
    case SYNCSTACK_UNAUTHORIZED:
      return "unauthorized";
    case SYNCSTACK_LOCKED:
      return "locked";
    case SYNCSTACK_LEASE_LOST:
      return "lease_lost";
    case SYNCSTACK_LEASE_REQUIRED:
      return "lease_required";
    case SYNCSTACK_CONFLICT:
      return "conflict";
    case SYNCSTACK_TOO_LARGE:
      return "too_large";
    case SYNCSTACK_UNAVAILABLE:
      return "unavailable";
    case SYNCSTACK_IO_ERROR:
      return "io_error";
    case SYNCSTACK_CORRUPTION:
      return "corruption";
    case SYNCSTACK_NOT_SUPPORTED:
      return "not_supported";
    case SYNCSTACK_ABORTED:
      return "aborted";
    case SYNCSTACK_INTERNAL:
      return "internal";
  }
  return "unknown";
}

const char* syncstack_last_error(void) {
  return syncstack::capi::last_error.c_str();
}

void syncstack_free(void* p) { std::free(p); }

}  // extern "C"
