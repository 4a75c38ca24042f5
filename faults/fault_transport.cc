#include "syncstack/faults/fault_transport.h"

#include <utility>

namespace syncstack {

namespace {
constexpr size_t kHistory = 16;
}  // namespace

TransportFaultRates TransportFaultRates::Uniform(double p) {
  TransportFaultRates rates;
  rates.drop_request = rates.drop_answer = rates.duplicate = rates.replay =
      rates.delay = p;
  return rates;
}

FaultTransport::FaultTransport(Transport& target, uint64_t seed,
                               TransportFaultRates rates)
    : TransportWrapper(target), rng_(seed), rates_(std::move(rates)) {}

FaultTransport::Fault FaultTransport::Draw() {
  if (!script_.empty()) {
    Fault f = script_.front();
    script_.pop_front();
    return f;
  }
  // One fault at most per call; the rates are each fault's own chance.
  std::uniform_real_distribution<double> unit(0, 1);
  double x = unit(rng_);
  const std::pair<double, Fault> table[] = {
      {rates_.drop_request, Fault::kDropRequest},
      {rates_.drop_answer, Fault::kDropAnswer},
      {rates_.duplicate, Fault::kDuplicate},
      {rates_.replay, Fault::kReplay},
      {rates_.delay, Fault::kDelay},
  };
  for (const auto& [rate, fault] : table) {
    if (x < rate) return fault;
    x -= rate;
  }
  return Fault::kNone;
}

Result<Response> FaultTransport::Call(const Request& request) noexcept {
  Fault fault;
  std::optional<Request> replay;
  std::function<void(int64_t)> on_delay;
  int64_t delay_ms = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_.calls;
    if (down_) {
      ++counts_.refused_down;
      return Status::Unavailable("injected fault: the device is down");
    }
    fault = Draw();
    switch (fault) {
      case Fault::kNone:
        break;
      case Fault::kDropRequest:
        ++counts_.dropped_requests;
        break;
      case Fault::kDropAnswer:
        ++counts_.dropped_answers;
        break;
      case Fault::kDuplicate:
        ++counts_.duplicated;
        break;
      case Fault::kReplay:
        if (history_.empty()) {
          fault = Fault::kNone;
          break;
        }
        ++counts_.replayed;
        replay = history_[rng_() % history_.size()];
        break;
      case Fault::kDelay:
        if (!rates_.on_delay) {
          fault = Fault::kNone;
          break;
        }
        ++counts_.delayed;
        on_delay = rates_.on_delay;
        delay_ms = 1 + static_cast<int64_t>(
                           rng_() % static_cast<uint64_t>(std::max<int64_t>(
                                        1, rates_.max_delay_ms)));
        break;
    }
    try {
      history_.push_back(request);
      if (history_.size() > kHistory) history_.pop_front();
    } catch (...) {
      return Status::IOError("out of memory");
    }
  }

  switch (fault) {
    case Fault::kDropRequest:
      return Status::Unavailable("injected fault: the request was lost");
    case Fault::kDropAnswer: {
      (void)target().Call(request);
      return Status::Unavailable("injected fault: the answer was lost");
    }
    case Fault::kDuplicate:
      (void)target().Call(request);
      return target().Call(request);
    case Fault::kReplay:
      (void)target().Call(*replay);
      return target().Call(request);
    case Fault::kDelay:
      on_delay(delay_ms);
      return target().Call(request);
    case Fault::kNone:
      break;
  }
  return target().Call(request);
}

void FaultTransport::set_rates(TransportFaultRates rates) {
  std::lock_guard<std::mutex> lock(mu_);
  rates_ = std::move(rates);
}

void FaultTransport::Script(Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  script_.push_back(fault);
}

void FaultTransport::set_down(bool down) {
  std::lock_guard<std::mutex> lock(mu_);
  down_ = down;
}

bool FaultTransport::down() const {
  std::lock_guard<std::mutex> lock(mu_);
  return down_;
}

TransportFaultCounts FaultTransport::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

}  // namespace syncstack
