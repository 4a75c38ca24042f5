#include "syncstack/loopback/in_process_server.h"

#include <cassert>
#include <utility>

#include "syncstack/loopback/loopback_transport.h"

namespace syncstack {

InProcessServer::InProcessServer(InProcessServerOptions options)
    : clock_(options.clock != nullptr ? options.clock : &SystemClock()),
      database_(std::move(options.database)),
      policy_(std::move(options.policy)),
      lock_(std::move(options.lock)),
      authenticator_(std::move(options.authenticator)) {
  assert(database_ != nullptr && policy_ != nullptr);
  if (lock_ == nullptr) lock_ = NewMemorySyncLock(*clock_, options.lease);
  if (authenticator_ == nullptr) {
    authenticator_ = NewInProcessAuthenticator();
  }
  service_ = std::make_unique<SyncService>(
      *database_, *policy_, *clock_, *lock_, *authenticator_,
      std::move(options.schema), std::move(options.service));
  transport_ = NewLoopbackTransport(*service_);
}

InProcessServer::~InProcessServer() = default;

}  // namespace syncstack
