#include "syncstack/registry.h"

#include <cassert>

namespace syncstack {

void DatabaseRegistry::Register(std::string scheme, Factory factory) {
  bool inserted =
      factories_.emplace(std::move(scheme), std::move(factory)).second;
  assert(inserted && "scheme registered twice");
  (void)inserted;
}

Result<std::unique_ptr<Database>> DatabaseRegistry::Open(
    std::string_view uri) const {
  size_t colon = uri.find(':');
  std::string known;
  for (const auto& [scheme, factory] : factories_) {
    known += known.empty() ? "" : ", ";
    known += scheme + ":";
  }
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("store URI \"" + std::string(uri) +
                                   "\" has no scheme; known: " + known);
  }
  auto it = factories_.find(uri.substr(0, colon));
  if (it == factories_.end()) {
    return Status::InvalidArgument(
        "store URI \"" + std::string(uri) + "\": unknown kind \"" +
        std::string(uri.substr(0, colon)) + "\"; this build knows " + known);
  }
  return it->second(uri.substr(colon + 1));
}

std::vector<std::string> DatabaseRegistry::schemes() const {
  std::vector<std::string> out;
  for (const auto& [scheme, factory] : factories_) out.push_back(scheme);
  return out;
}

}  // namespace syncstack
