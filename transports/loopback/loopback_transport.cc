#include "syncstack/loopback/loopback_transport.h"

namespace syncstack {
namespace {

// Copies the request and the answer, as a network would: the handler never
// sees the caller's buffers, and the caller never sees the handler's. An
// answer that comes in pieces (fetch.json) is read whole here, as the
// HTTP client reads a chunked one.
class LoopbackTransport final : public Transport {
 public:
  explicit LoopbackTransport(Handler& handler) : handler_(handler) {}

  Result<Response> Call(const Request& request) noexcept override {
    Request copy = request;
    copy.accepts_source = true;
    Response answer = handler_.Handle(copy);
    Status read = ReadWholeBody(answer);
    if (!read.ok()) {
      return Status::Unavailable("loopback: the answer was cut short: " +
                                 read.ToString());
    }
    return answer;
  }

 private:
  Handler& handler_;
};

}  // namespace

std::unique_ptr<Transport> NewLoopbackTransport(Handler& handler) {
  return std::make_unique<LoopbackTransport>(handler);
}

}  // namespace syncstack
