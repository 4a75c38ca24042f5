// FaultTransport: a Transport decorator that loses, repeats, replays and
// delays messages on purpose, so tests can prove the engine and the service
// lose nothing when the network misbehaves.
//
// Each call draws its fate from a seeded generator (the same seed, the same
// faults), or takes the next scripted fault. Faults:
//   drop request  the request never reaches the server (kUnavailable)
//   drop answer   the server handles the request, the answer is lost
//                 (kUnavailable): the case idempotency keys exist for
//   duplicate     the request reaches the server twice; the caller gets the
//                 second answer
//   replay        an earlier request (one of the last 16) reaches the server
//                 again, late, just before this one: reordering and delayed
//                 delivery; its answer goes nowhere
//   delay         `on_delay` is called (e.g. to move a simulated clock past
//                 a lease) before the request is delivered
// While down (set_down(true), e.g. for a crashed device) every call fails
// with kUnavailable and nothing is delivered.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <random>

#include "syncstack/transport.h"

namespace syncstack {

struct TransportFaultRates {
  double drop_request = 0;
  double drop_answer = 0;
  double duplicate = 0;
  double replay = 0;
  double delay = 0;
  // Called for a delay with a duration drawn up to `max_delay_ms`.
  std::function<void(int64_t ms)> on_delay;
  int64_t max_delay_ms = 1000;

  // Every rate set to `p` (delay included).
  static TransportFaultRates Uniform(double p);
};

// What the transport did, for reports and assertions.
struct TransportFaultCounts {
  uint64_t calls = 0;
  uint64_t dropped_requests = 0;
  uint64_t dropped_answers = 0;
  uint64_t duplicated = 0;
  uint64_t replayed = 0;
  uint64_t delayed = 0;
  uint64_t refused_down = 0;

  uint64_t injected() const noexcept {
    return dropped_requests + dropped_answers + duplicated + replayed + delayed;
  }
};

class FaultTransport : public TransportWrapper {
 public:
  enum class Fault : uint8_t {
    kNone,
    kDropRequest,
    kDropAnswer,
    kDuplicate,
    kReplay,
    kDelay
  };

  // `target` must outlive the wrapper. Rates default to 0: no faults until
  // set_rates or Script.
  FaultTransport(Transport& target, uint64_t seed,
                 TransportFaultRates rates = {});

  Result<Response> Call(const Request& request) noexcept override;

  void set_rates(TransportFaultRates rates);
  // The next calls take these faults, in order, before any random one.
  void Script(Fault fault);
  void set_down(bool down);
  bool down() const;
  TransportFaultCounts counts() const;

 private:
  Fault Draw();  // REQUIRES: mu_ held

  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  TransportFaultRates rates_;
  std::deque<Fault> script_;
  std::deque<Request> history_;  // recent requests, for replays
  bool down_ = false;
  TransportFaultCounts counts_;
};

}  // namespace syncstack
