// Private: the writes one synchronise.json request makes, as the write path
// decides them and the reconcile item cache follows them.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "syncstack/record.h"

namespace syncstack::service {

// One pending write of this request to one record.
struct Pending {
  bool touched = false;  // differs from what the store holds
  std::optional<Record> row;
};

// Every record a request touches: collection -> id -> its pending write.
using PendingWrites =
    std::map<std::string, std::map<RecordId, Pending>, std::less<>>;

}  // namespace syncstack::service
