// What the C API's translation units share: the device handle, the
// thread-local last error, and the helpers that turn a Status or an
// exception into a syncstack_status.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "syncstack/clock.h"
#include "syncstack/conflict_policy.h"
#include "syncstack/replica.h"
#include "syncstack/schema.h"
#include "syncstack/status.h"
#include "syncstack/store.h"
#include "syncstack/syncstack.h"

namespace syncstack::capi {

// The policy local writes are stamped with, and the Replica stamping them
// (it caches the replica id); a sync that adopts the server's policy
// replaces both at once.
struct DeviceWriter {
  DeviceWriter(Store& store, std::shared_ptr<const ConflictPolicy> p)
      : policy(std::move(p)), replica(store, *policy, SystemClock()) {}
  std::shared_ptr<const ConflictPolicy> policy;
  Replica replica;
};

}  // namespace syncstack::capi

struct syncstack_device {
  std::unique_ptr<syncstack::Database> database;
  std::shared_ptr<syncstack::Store> store;
  // One sync at a time per device (SyncEngine runs are not concurrent).
  std::mutex sync_mu;
  // Guards `writer` and `schema`, which a sync may replace while the app
  // writes: writers copy them under it.
  std::mutex state_mu;
  std::shared_ptr<syncstack::capi::DeviceWriter> writer;
  syncstack::Schema schema;
};

namespace syncstack::capi {

// Records `message` as this thread's last error; returns `status`.
syncstack_status Fail(syncstack_status status, std::string message);
// Maps `status` (not OK) to its C code and records its message.
syncstack_status Fail(const Status& status);
// Clears this thread's last error; returns SYNCSTACK_OK.
syncstack_status Ok();

// Copies `text` into a NUL-terminated malloc'd string freed with
// syncstack_free (nullptr when out of memory).
char* Dup(std::string_view text);
// Stores Dup(text) in *out; SYNCSTACK_INTERNAL when out of memory.
syncstack_status Hand(std::string_view text, char** out);

// Runs `fn` (returning syncstack_status) and turns an escaping exception
// into SYNCSTACK_INTERNAL: no exception crosses the C boundary.
template <typename F>
syncstack_status Guard(F&& fn) noexcept {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Fail(SYNCSTACK_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return Fail(SYNCSTACK_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return Fail(SYNCSTACK_INTERNAL, "internal error");
  }
}

// Inside a Guard: fails with SYNCSTACK_INVALID_ARGUMENT when `arg` is NULL.
#define SYNCSTACK_REQUIRE(arg)                                  \
  if ((arg) == nullptr) {                                       \
    return ::syncstack::capi::Fail(SYNCSTACK_INVALID_ARGUMENT,  \
                                   #arg " is required (NULL)"); \
  }

// The store's learned schema (metadata "schema"): id keys per collection.
Result<Schema> LoadSchema(Store& store);

}  // namespace syncstack::capi
