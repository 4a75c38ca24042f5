// Each fault of FaultTransport does what it says, seen from the server.
#include "syncstack/faults/fault_transport.h"

#include <gtest/gtest.h>

#include <vector>

namespace syncstack {
namespace {

// Records what reaches the server.
class Server final : public Transport {
 public:
  Result<Response> Call(const Request& request) noexcept override {
    received.push_back(request.body);
    return Response{200, "answer to " + request.body, -1};
  }
  std::vector<std::string> received;
};

Request Body(std::string body) {
  Request r;
  r.method = "POST";
  r.path = "/x";
  r.body = std::move(body);
  return r;
}

using Fault = FaultTransport::Fault;

TEST(FaultTransport, EachScriptedFault) {
  Server server;
  std::vector<int64_t> delays;
  TransportFaultRates rates;
  rates.on_delay = [&](int64_t ms) { delays.push_back(ms); };
  FaultTransport t(server, 7, rates);

  EXPECT_TRUE(t.Call(Body("a")).ok());  // no fault
  t.Script(Fault::kDropRequest);
  EXPECT_EQ(t.Call(Body("b")).status().code(), Status::Code::kUnavailable);
  t.Script(Fault::kDropAnswer);
  EXPECT_EQ(t.Call(Body("c")).status().code(), Status::Code::kUnavailable);
  t.Script(Fault::kDuplicate);
  auto d = t.Call(Body("d"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->body, "answer to d");
  t.Script(Fault::kReplay);
  auto e = t.Call(Body("e"));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->body, "answer to e");
  t.Script(Fault::kDelay);
  EXPECT_TRUE(t.Call(Body("f")).ok());
  ASSERT_EQ(delays.size(), 1u);
  EXPECT_GE(delays[0], 1);

  // b never arrived; c arrived (its answer was lost); d arrived twice; an
  // earlier request arrived again just before e.
  ASSERT_EQ(server.received.size(), 7u);
  EXPECT_EQ(server.received[0], "a");
  EXPECT_EQ(server.received[1], "c");
  EXPECT_EQ(server.received[2], "d");
  EXPECT_EQ(server.received[3], "d");
  EXPECT_NE(std::string("abcd").find(server.received[4]), std::string::npos);
  EXPECT_EQ(server.received[5], "e");
  EXPECT_EQ(server.received[6], "f");
  TransportFaultCounts c = t.counts();
  EXPECT_EQ(c.calls, 6u);
  EXPECT_EQ(c.dropped_requests, 1u);
  EXPECT_EQ(c.dropped_answers, 1u);
  EXPECT_EQ(c.duplicated, 1u);
  EXPECT_EQ(c.replayed, 1u);
  EXPECT_EQ(c.delayed, 1u);
}

TEST(FaultTransport, DownDeliversNothing) {
  Server server;
  FaultTransport t(server, 1);
  t.set_down(true);
  EXPECT_EQ(t.Call(Body("a")).status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(server.received.empty());
  t.set_down(false);
  EXPECT_TRUE(t.Call(Body("b")).ok());
  EXPECT_EQ(server.received, std::vector<std::string>{"b"});
  EXPECT_EQ(t.counts().refused_down, 1u);
}

TEST(FaultTransport, RatesAreRoughlyKeptAndSeeded) {
  auto run = [](uint64_t seed) {
    Server server;
    FaultTransport t(server, seed, TransportFaultRates::Uniform(0.05));
    int failed = 0;
    for (int i = 0; i < 4000; ++i) failed += !t.Call(Body("x")).ok();
    return std::make_pair(failed, t.counts().injected());
  };
  auto [failed, injected] = run(3);
  // drop request + drop answer: 10% of calls fail; with delay (no hook:
  // not counted) the injected faults are about 20%.
  EXPECT_GT(failed, 300);
  EXPECT_LT(failed, 500);
  EXPECT_GT(injected, 600u);
  EXPECT_LT(injected, 1000u);
  EXPECT_EQ(run(3), run(3));  // the same seed, the same faults
}

}  // namespace
}  // namespace syncstack
