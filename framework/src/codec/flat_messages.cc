// The flat messages: login, lock and error bodies, objects of scalar
// members. Unknown members are skipped (validated, ignored) so that peers
// may add fields.
#include <charconv>
#include <iterator>
#include <string>

#include "codec_internal.h"
#include "json_reader.h"
#include "syncstack/codec.h"
#include "syncstack/protocol.h"

namespace syncstack {
namespace {

using codec_internal::AppendInt;
using codec_internal::NotA;
using codec_internal::Quoted;
using json::Event;

// One member a flat message may hold, and where its value goes.
struct Field {
  std::string_view name;
  std::string* str = nullptr;  // a string member, or
  int64_t* num = nullptr;      // an integer member, or
  bool* flag = nullptr;        // a boolean member
  bool required = true;
  bool seen = false;
};

// The SAX handler of a flat object: each member's value goes to its Field.
class FlatReader final : public json::EventHandler<FlatReader> {
 public:
  FlatReader(const json::SpanStream& in, Field* fields, size_t n)
      : EventHandler(in, CodecLimits{}.max_depth), fields_(fields), n_(n) {}

  bool OnEvent(Event e, std::string_view text) {
    switch (state_) {
      case State::kTop:
        if (e != Event::kStartObject) return Fail(NotA("an object", e));
        state_ = State::kKey;
        return true;
      case State::kKey:
        if (e == Event::kEndObject) {
          state_ = State::kDone;
          return true;
        }
        field_ = nullptr;
        for (size_t i = 0; i < n_; ++i) {
          if (fields_[i].name == text) field_ = &fields_[i];
        }
        if (field_ != nullptr) {
          if (field_->seen) return Fail("duplicate key " + Quoted(text));
          field_->seen = true;
        }
        state_ = State::kValue;
        return true;
      case State::kValue:
        if (field_ == nullptr) {
          if (json::IsStart(e)) {
            skip_depth_ = depth();
            state_ = State::kSkipping;
          } else {
            state_ = State::kKey;
          }
          return true;
        }
        if (field_->str != nullptr) {
          if (e != Event::kString) return Fail(NotA("a string", e));
          field_->str->assign(text);
        } else if (field_->flag != nullptr) {
          if (e != Event::kTrue && e != Event::kFalse) {
            return Fail(NotA("a boolean", e));
          }
          *field_->flag = e == Event::kTrue;
        } else {
          int64_t v = 0;
          auto r = std::from_chars(text.data(), text.data() + text.size(), v);
          if (e != Event::kNumber || r.ec != std::errc() ||
              r.ptr != text.data() + text.size()) {
            return Fail(e == Event::kNumber ? "expected an integer"
                                            : NotA("an integer", e));
          }
          *field_->num = v;
        }
        state_ = State::kKey;
        return true;
      case State::kSkipping:
        if (json::IsEnd(e) && depth() == skip_depth_) state_ = State::kKey;
        return true;
      case State::kDone:
        break;
    }
    return Fail("unexpected data");
  }

  std::string Where() const {
    if (state_ == State::kValue && field_ != nullptr) {
      return std::string(field_->name);
    }
    return "body";
  }

 private:
  enum class State : unsigned char { kTop, kKey, kValue, kSkipping, kDone };
  Field* const fields_;
  const size_t n_;
  State state_ = State::kTop;
  Field* field_ = nullptr;
  int skip_depth_ = 0;
};

// Reads `body` into `fields`. Errors: kInvalidArgument (not a flat object of
// the fields' types, or a required field missing).
Status ReadFlat(std::string_view body, Field* fields, size_t n) {
  json::SpanStream in(body);
  FlatReader reader(in, fields, n);
  SYNCSTACK_RETURN_IF_ERROR(json::Parse(body, in, reader, "body"));
  for (size_t i = 0; i < n; ++i) {
    if (fields[i].required && !fields[i].seen) {
      return Status::InvalidArgument("body: missing " + Quoted(fields[i].name));
    }
  }
  return Status::Ok();
}

Status RequireNonEmpty(std::string_view name, const std::string& value) {
  if (!value.empty()) return Status::Ok();
  return Status::InvalidArgument(std::string(name) + ": must not be empty");
}

Status RequireNonNegative(std::string_view name, int64_t value) {
  if (value >= 0) return Status::Ok();
  return Status::InvalidArgument(std::string(name) + ": must not be negative");
}

// The longest device name a lock request may carry, in bytes
// (docs/protocol.md, /v1/lock).
constexpr size_t kMaxDeviceNameBytes = 128;

// A device name is 1..kMaxDeviceNameBytes bytes of well-formed UTF-8
// without control characters (C0, DEL, C1): it ends up in logs, in the
// server's per-device bookkeeping and in other devices' messages.
Status RequireDeviceName(const std::string& name) {
  auto refuse = [](std::string_view why) {
    return Status::InvalidArgument(
        "device: must be 1 to " + std::to_string(kMaxDeviceNameBytes) +
        " bytes of printable UTF-8 (" + std::string(why) + ")");
  };
  if (name.empty()) return refuse("it is empty");
  if (name.size() > kMaxDeviceNameBytes) {
    return refuse("it is " + std::to_string(name.size()) + " bytes");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(name.data());
  const auto* const end = p + name.size();
  while (p < end) {
    const size_t n = json::Utf8SequenceLength(p, end);
    if (n == 0) return refuse("it is not well-formed UTF-8");
    // C0 and DEL are one byte; C1 (U+0080..U+009F) is C2 80..C2 9F.
    const bool control = n == 1 ? (p[0] < 0x20 || p[0] == 0x7F)
                                : (n == 2 && p[0] == 0xC2 && p[1] <= 0x9F);
    if (control) return refuse("it holds a control character");
    p += n;
  }
  return Status::Ok();
}

// {"<a>":"<va>","<b>":<vb>}
void EncodeStringAndInt(std::string_view a, std::string_view va,
                        std::string_view b, int64_t vb, std::string& out) {
  out.clear();
  out += '{';
  AppendJsonString(a, out);
  out += ':';
  AppendJsonString(va, out);
  out += ',';
  AppendJsonString(b, out);
  out += ':';
  AppendInt(vb, out);
  out += '}';
}

}  // namespace

Result<LoginRequest> DecodeLoginRequest(std::string_view body) {
  LoginRequest request;
  Field fields[] = {{.name = "user", .str = &request.user},
                    {.name = "password", .str = &request.password}};
  SYNCSTACK_RETURN_IF_ERROR(ReadFlat(body, fields, std::size(fields)));
  SYNCSTACK_RETURN_IF_ERROR(RequireNonEmpty("user", request.user));
  return request;
}

void EncodeLoginRequest(const LoginRequest& request, std::string& out) {
  out.clear();
  out += "{\"user\":";
  AppendJsonString(request.user, out);
  out += ",\"password\":";
  AppendJsonString(request.password, out);
  out += '}';
}

Result<LoginResponse> DecodeLoginResponse(std::string_view body) {
  LoginResponse response;
  Field fields[] = {
      {.name = "token", .str = &response.token},
      {.name = "expires_in", .num = &response.expires_in},
      {.name = "policy", .str = &response.policy, .required = false}};
  SYNCSTACK_RETURN_IF_ERROR(ReadFlat(body, fields, std::size(fields)));
  SYNCSTACK_RETURN_IF_ERROR(RequireNonEmpty("token", response.token));
  SYNCSTACK_RETURN_IF_ERROR(
      RequireNonNegative("expires_in", response.expires_in));
  return response;
}

void EncodeLoginResponse(const LoginResponse& response, std::string& out) {
  EncodeStringAndInt("token", response.token, "expires_in", response.expires_in,
                     out);
  if (!response.policy.empty()) {
    out.pop_back();
    out += ",\"policy\":";
    AppendJsonString(response.policy, out);
    out += '}';
  }
}

Result<LockRequest> DecodeLockRequest(std::string_view body) {
  LockRequest request;
  Field fields[] = {
      {.name = "device", .str = &request.device},
      {.name = "_client_time_ms",
       .num = &request.client_time,
       .required = false},
      {.name = "_synced_through",
       .num = &request.synced_through,
       .required = false},
      {.name = "_history", .str = &request.history, .required = false},
      {.name = "_device_secret",
       .str = &request.device_secret,
       .required = false}};
  SYNCSTACK_RETURN_IF_ERROR(ReadFlat(body, fields, std::size(fields)));
  SYNCSTACK_RETURN_IF_ERROR(RequireDeviceName(request.device));
  if (fields[2].seen) {
    SYNCSTACK_RETURN_IF_ERROR(
        RequireNonNegative("_synced_through", request.synced_through));
  }
  return request;
}

void EncodeLockRequest(const LockRequest& request, std::string& out) {
  out.clear();
  out += "{\"device\":";
  AppendJsonString(request.device, out);
  if (request.client_time != kNoTimestamp) {
    out += ",\"_client_time_ms\":";
    AppendInt(request.client_time, out);
  }
  if (request.synced_through >= 0) {
    out += ",\"_synced_through\":";
    AppendInt(request.synced_through, out);
  }
  if (!request.history.empty()) {
    out += ",\"_history\":";
    AppendJsonString(request.history, out);
  }
  if (!request.device_secret.empty()) {
    out += ",\"_device_secret\":";
    AppendJsonString(request.device_secret, out);
  }
  out += '}';
}

Result<LockResponse> DecodeLockResponse(std::string_view body) {
  LockResponse response;
  Field fields[] = {
      {.name = "lease", .str = &response.lease},
      {.name = "expires_in", .num = &response.expires_in},
      {.name = "_clock_offset_ms",
       .num = &response.clock_offset_ms,
       .required = false},
      {.name = "_seq", .num = &response.seq, .required = false},
      {.name = "_resync", .flag = &response.resync, .required = false},
      {.name = "_history", .str = &response.history, .required = false},
      {.name = "_restored", .flag = &response.restored, .required = false},
      {.name = "_device_secret",
       .str = &response.device_secret,
       .required = false}};
  SYNCSTACK_RETURN_IF_ERROR(ReadFlat(body, fields, std::size(fields)));
  SYNCSTACK_RETURN_IF_ERROR(RequireNonEmpty("lease", response.lease));
  SYNCSTACK_RETURN_IF_ERROR(
      RequireNonNegative("expires_in", response.expires_in));
  return response;
}

void EncodeLockResponse(const LockResponse& response, std::string& out) {
  EncodeStringAndInt("lease", response.lease, "expires_in", response.expires_in,
                     out);
  if (response.clock_offset_ms != kNoTimestamp) {
    out.pop_back();
    out += ",\"_clock_offset_ms\":";
    AppendInt(response.clock_offset_ms, out);
    out += '}';
  }
  if (response.seq >= 0) {
    out.pop_back();
    out += ",\"_seq\":";
    AppendInt(response.seq, out);
    if (response.resync) out += ",\"_resync\":true";
    if (!response.history.empty()) {
      out += ",\"_history\":";
      AppendJsonString(response.history, out);
    }
    if (response.restored) out += ",\"_restored\":true";
    out += '}';
  }
  if (!response.device_secret.empty()) {
    out.pop_back();
    out += ",\"_device_secret\":";
    AppendJsonString(response.device_secret, out);
    out += '}';
  }
}

void EncodeError(const Status& status, int64_t retry_after_seconds,
                 std::string& out) {
  out.clear();
  out += "{\"error\":";
  AppendJsonString(ErrorCodeFor(status.code()), out);
  out += ",\"message\":";
  AppendJsonString(status.message(), out);
  if (status.code() == Status::Code::kLocked && retry_after_seconds >= 0) {
    out += ",\"retry_after\":";
    AppendInt(retry_after_seconds, out);
  }
  out += '}';
}

Status DecodeError(int http_status, std::string_view body,
                   int64_t* retry_after_seconds) {
  std::string error, message;
  int64_t retry_after = -1;
  Field fields[] = {
      {.name = "error", .str = &error},
      {.name = "message", .str = &message, .required = false},
      {.name = "retry_after", .num = &retry_after, .required = false},
  };
  const bool is_error_body =
      ReadFlat(body, fields, std::size(fields)).ok() && !error.empty();
  if (retry_after_seconds != nullptr) {
    *retry_after_seconds = is_error_body ? retry_after : -1;
  }
  Status::Code code = CodeForError(http_status, is_error_body ? error : "");
  if (code == Status::Code::kOk) code = Status::Code::kIOError;
  if (is_error_body) {
    return Status(code, message.empty() ? error : std::move(message));
  }
  std::string msg = "HTTP " + std::to_string(http_status);
  if (!body.empty()) {
    msg += ": ";
    msg.append(body.substr(0, 200));
  }
  return Status(code, std::move(msg));
}

}  // namespace syncstack
