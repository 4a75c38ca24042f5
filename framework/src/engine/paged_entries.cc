#include "engine/paged_entries.h"

#include <algorithm>
#include <optional>

namespace syncstack::engine {

const Stamp* PagedEntries::Peek() {
  while (pos_ == page_.entries.size()) {
    if (done_ || !status_.ok()) return nullptr;
    FetchNext();
  }
  return &page_.entries[pos_];
}

void PagedEntries::FetchNext() {
  auto start = std::chrono::steady_clock::now();
  std::optional<RecordId> after;
  if (!page_.entries.empty()) after = page_.entries.back().id;
  auto next = remote_.ManifestPageAfter(collection_, after, page_size_);
  network_ += std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  if (!next.ok()) {
    status_ = next.status();
    return;
  }
  done_ = !next->more;
  page_ = std::move(*next);
  pos_ = 0;
  for (const Stamp& e : page_.entries) {
    highest_seen_ = std::max(highest_seen_, e.last_update);
  }
}

}  // namespace syncstack::engine
