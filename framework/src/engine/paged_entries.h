// Private: the planner's view of the server's paged manifest.
#pragma once

#include <chrono>
#include <string>

#include "engine/plan.h"
#include "syncstack/pages.h"
#include "syncstack/remote.h"

namespace syncstack::engine {

// The paged manifest (GET /v1/manifest?collection=...), fetched a page at a
// time as the merge-join reaches its end: memory stays one page. Adds the
// time spent waiting for pages to `network` and raises `highest_seen` to
// the highest last_update read. Every reference must outlive the object.
class PagedEntries final : public RemoteEntries {
 public:
  PagedEntries(RemoteClient& remote, std::string collection, size_t page_size,
               std::chrono::microseconds& network, Timestamp& highest_seen)
      : remote_(remote),
        collection_(std::move(collection)),
        page_size_(page_size),
        network_(network),
        highest_seen_(highest_seen) {}

  const Stamp* Peek() override;
  void Next() override { ++pos_; }
  Status status() const override { return status_; }

 private:
  // Fetches the page after the current one.
  void FetchNext();

  RemoteClient& remote_;
  std::string collection_;
  size_t page_size_;
  std::chrono::microseconds& network_;
  Timestamp& highest_seen_;
  ManifestPage page_;
  size_t pos_ = 0;
  bool done_ = false;
  Status status_;
};

}  // namespace syncstack::engine
