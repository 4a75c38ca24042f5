// The loopback transport: an in-process call of a Handler (the service),
// with the same request and answer bytes as over the network. For tests,
// the simulator and the demo.
#pragma once

#include <memory>

#include "syncstack/transport.h"

namespace syncstack {

// `handler` must outlive the transport.
std::unique_ptr<Transport> NewLoopbackTransport(Handler& handler);

}  // namespace syncstack
