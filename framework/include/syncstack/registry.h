// DatabaseRegistry: store URIs ("sqlite:PATH", "memory:", ...) to opened
// Databases. Filled explicitly by the program (no static initialisers):
// RegisterDeviceStores (syncstack/stores/device_stores.h) registers the
// device stores; the CLI's RegisterBuiltins adds PostgreSQL.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "syncstack/store.h"

namespace syncstack {

class DatabaseRegistry {
 public:
  // Opens a database from the part of the URI after "<scheme>:".
  using Factory =
      std::function<Result<std::unique_ptr<Database>>(std::string_view rest)>;

  // REQUIRES: `scheme` not registered yet.
  void Register(std::string scheme, Factory factory);

  // Opens `uri` ("<scheme>:<rest>"). Errors: kInvalidArgument for a URI
  // without a scheme or with an unknown one (the message lists the known
  // schemes), and whatever the factory returns.
  Result<std::unique_ptr<Database>> Open(std::string_view uri) const;

  std::vector<std::string> schemes() const;

 private:
  std::map<std::string, Factory, std::less<>> factories_;
};

}  // namespace syncstack
