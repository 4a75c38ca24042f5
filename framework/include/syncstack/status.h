// Status and Result<T>: how every syncstack interface reports failure.
//
// No exception crosses an interface. A Status is a code plus a human
// message; an OK Status allocates nothing. The mapping from codes to the
// protocol's HTTP statuses lives in protocol.h, in one place.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace syncstack {

class [[nodiscard]] Status {
 public:
  enum class Code : int {
    kOk = 0,
    kInvalidArgument,  // bad input: nothing was changed
    kNotFound,
    kUnauthorized,
    kLocked,         // another device holds the account's sync lock
    kLeaseLost,      // the caller's lease expired or belongs to another device
    kLeaseRequired,  // a write came without a lease
    kConflict,       // a failed precondition (not a sync conflict: see policy)
    kTooLarge,       // a message over the configured size limit
    kUnavailable,    // transient: retry with backoff
    kIOError,
    kCorruption,
    kNotSupported,
    kAborted,  // stopped on purpose, e.g. by the mass-deletion guard
    kGone,     // the server can no longer answer from the point given (a
               // changes-feed checkpoint it refused): fall back
  };

  Status() noexcept = default;
  Status(Code code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() noexcept { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) {
    return {Code::kNotFound, std::move(msg)};
  }
  static Status Unauthorized(std::string msg) {
    return {Code::kUnauthorized, std::move(msg)};
  }
  static Status Locked(std::string msg) {
    return {Code::kLocked, std::move(msg)};
  }
  static Status LeaseLost(std::string msg) {
    return {Code::kLeaseLost, std::move(msg)};
  }
  static Status LeaseRequired(std::string msg) {
    return {Code::kLeaseRequired, std::move(msg)};
  }
  static Status Conflict(std::string msg) {
    return {Code::kConflict, std::move(msg)};
  }
  static Status TooLarge(std::string msg) {
    return {Code::kTooLarge, std::move(msg)};
  }
  static Status Unavailable(std::string msg) {
    return {Code::kUnavailable, std::move(msg)};
  }
  static Status IOError(std::string msg) {
    return {Code::kIOError, std::move(msg)};
  }
  static Status Corruption(std::string msg) {
    return {Code::kCorruption, std::move(msg)};
  }
  static Status NotSupported(std::string msg) {
    return {Code::kNotSupported, std::move(msg)};
  }
  static Status Aborted(std::string msg) {
    return {Code::kAborted, std::move(msg)};
  }
  static Status Gone(std::string msg) { return {Code::kGone, std::move(msg)}; }

  bool ok() const noexcept { return code_ == Code::kOk; }
  Code code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

  // Returns "<code name>: <message>", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context`.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;  // empty for OK: std::string does not allocate
};

// Returns the stable name of a code, e.g. "invalid_argument".
std::string_view CodeName(Status::Code code) noexcept;

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "a Result needs a value or an error");
  }

  bool ok() const noexcept { return value_.has_value(); }
  const Status& status() const noexcept { return status_; }

  // REQUIRES: ok()
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace syncstack

// Returns early from the enclosing function if `expr` is not OK.
#define SYNCSTACK_RETURN_IF_ERROR(expr) \
  do {                                  \
    ::syncstack::Status _st = (expr);   \
    if (!_st.ok()) return _st;          \
  } while (0)

#define SYNCSTACK_CONCAT_INNER(a, b) a##b
#define SYNCSTACK_CONCAT(a, b) SYNCSTACK_CONCAT_INNER(a, b)

// Declares `lhs` from a Result, or returns its Status from the function.
#define SYNCSTACK_ASSIGN_OR_RETURN(lhs, expr) \
  SYNCSTACK_ASSIGN_OR_RETURN_IMPL(SYNCSTACK_CONCAT(_res_, __LINE__), lhs, expr)
#define SYNCSTACK_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return tmp.status();                   \
  lhs = std::move(tmp).value()
