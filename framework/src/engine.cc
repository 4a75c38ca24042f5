// SyncEngine's public surface. The run itself lives in engine/ (see
// engine/run.h for the map of its parts).
#include "syncstack/engine.h"

#include <exception>

#include "engine/run.h"

namespace syncstack {

std::string_view SyncModeName(SyncMode mode) noexcept {
  switch (mode) {
    case SyncMode::kAuto:
      return "auto";
    case SyncMode::kFull:
      return "full";
    case SyncMode::kReconcile:
      return "reconcile";
    case SyncMode::kChanges:
      return "changes";
  }
  return "unknown";
}

SyncEngine::SyncEngine(Store& store, Transport& transport,
                       const ConflictPolicy& policy, Schema schema) noexcept
    : store_(store),
      transport_(transport),
      policy_(policy),
      schema_(std::move(schema)) {}

Result<SyncReport> SyncEngine::Run(const SyncOptions& options,
                                   SyncObserver* observer) {
  try {
    engine::SyncRun run(store_, transport_, policy_, schema_, options,
                        observer);
    return run.Go();
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("sync: ") + e.what());
  }
}

}  // namespace syncstack
