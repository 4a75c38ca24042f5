#include "syncstack/loopback/loopback_transport.h"

namespace syncstack {
namespace {

// Copies the request and the answer, as a network would: the handler never
// sees the caller's buffers, and the caller never sees the handler's.
class LoopbackTransport final : public Transport {
 public:
  explicit LoopbackTransport(Handler& handler) : handler_(handler) {}

  Result<Response> Call(const Request& request) noexcept override {
    Request copy = request;
    return handler_.Handle(copy);
  }

 private:
  Handler& handler_;
};

}  // namespace

std::unique_ptr<Transport> NewLoopbackTransport(Handler& handler) {
  return std::make_unique<LoopbackTransport>(handler);
}

}  // namespace syncstack
