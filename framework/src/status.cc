#include "syncstack/status.h"

namespace syncstack {

std::string_view CodeName(Status::Code code) noexcept {
  switch (code) {
    case Status::Code::kOk:
      return "ok";
    case Status::Code::kInvalidArgument:
      return "invalid_argument";
    case Status::Code::kNotFound:
      return "not_found";
    case Status::Code::kUnauthorized:
      return "unauthorized";
    case Status::Code::kLocked:
      return "locked";
    case Status::Code::kLeaseLost:
      return "lease_lost";
    case Status::Code::kLeaseRequired:
      return "lease_required";
    case Status::Code::kConflict:
      return "conflict";
    case Status::Code::kTooLarge:
      return "too_large";
    case Status::Code::kUnavailable:
      return "unavailable";
    case Status::Code::kIOError:
      return "io_error";
    case Status::Code::kCorruption:
      return "corruption";
    case Status::Code::kNotSupported:
      return "not_supported";
    case Status::Code::kAborted:
      return "aborted";
    case Status::Code::kGone:
      return "gone";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(CodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

}  // namespace syncstack
