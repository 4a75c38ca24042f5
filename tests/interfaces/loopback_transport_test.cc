// The loopback transport (transports/loopback), alone and under the
// forwarding TransportWrapper, under the Transport conformance kit.
#include "syncstack/loopback/loopback_transport.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "syncstack/conformance/transport_conformance.h"

namespace syncstack {
namespace {

using conformance::TransportConformance;
using conformance::TransportFactory;

std::vector<TransportFactory> LoopbackTransports() {
  std::vector<TransportFactory> all;
  all.push_back(TransportFactory{
      "loopback", [](Handler& handler) {
        std::shared_ptr<Transport> loopback = NewLoopbackTransport(handler);
        return conformance::TransportHarness{{loopback}, loopback.get()};
      }});
  all.push_back(TransportFactory{
      "wrapper_over_loopback", [](Handler& handler) {
        std::shared_ptr<Transport> inner = NewLoopbackTransport(handler);
        auto outer = std::make_shared<TransportWrapper>(*inner);
        return conformance::TransportHarness{{inner, outer}, outer.get()};
      }});
  return all;
}

INSTANTIATE_TEST_SUITE_P(Transports, TransportConformance,
                         ::testing::ValuesIn(LoopbackTransports()),
                         conformance::TransportFactoryName);

}  // namespace
}  // namespace syncstack
