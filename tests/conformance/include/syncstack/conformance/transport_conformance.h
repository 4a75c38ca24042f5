// The Transport conformance kit: a request arrives at the server's Handler
// exactly as sent (content type included), and the answer (any status,
// content type included) comes back exactly as given, also with large
// bodies, concurrent calls and the real SyncService behind it.
//
// The suite is written once, as TEST_P over TransportConformance, and
// compiled into the object library syncstack::transport_conformance. A
// transport runs it from its own test program by linking that library and
// naming its factory in one instantiation (see docs/conformance.md):
//
//   #include "syncstack/conformance/transport_conformance.h"
//   using syncstack::conformance::TransportConformance;
//   using syncstack::conformance::TransportFactory;
//   INSTANTIATE_TEST_SUITE_P(
//       Transports, TransportConformance,
//       ::testing::Values(TransportFactory{"mine", MakeMine}),
//       syncstack::conformance::TransportFactoryName);
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "syncstack/transport.h"

namespace syncstack::conformance {

// A client transport whose requests reach one Handler, plus whatever must
// stay alive while it is used (a server, a processor thread, a folder).
struct TransportHarness {
  // Destroyed after the test, in reverse order; the last one destroyed
  // must leave nothing running that calls the Handler.
  std::vector<std::shared_ptr<void>> keep;
  Transport* transport = nullptr;  // owned by something in `keep`
};

struct TransportFactory {
  // The instance's name in test names: letters, digits and '_' only.
  std::string name;
  // A transport to `handler`, which outlives the harness.
  std::function<TransportHarness(Handler& handler)> make;
};

// Names each instance after TransportFactory::name (INSTANTIATE_TEST_SUITE_P's
// fourth argument).
std::string TransportFactoryName(
    const ::testing::TestParamInfo<TransportFactory>& info);
void PrintTo(const TransportFactory& factory, std::ostream* os);

class TransportConformance : public ::testing::TestWithParam<TransportFactory> {
};

}  // namespace syncstack::conformance
