#include "syncstack/paged_iterator.h"

#include <array>
#include <cassert>
#include <cstdint>
#include <new>

namespace syncstack {

ManifestPageSource::~ManifestPageSource() = default;

ManifestEntry& EntryPage::Add(const RecordId& id) {
  if (size_ == entries_.size()) {
    if (entries_.empty()) entries_.reserve(capacity_);
    entries_.emplace_back();
  }
  ManifestEntry& e = entries_[size_++];
  e.id = id;
  last_ = id;
  examined_ = true;
  return e;
}

bool NextRecordId(const RecordId& id, RecordId* next) noexcept {
  std::array<uint8_t, 16> b = id.bytes();
  int i = 15;
  while (i >= 0 && ++b[i] == 0) --i;
  if (i < 0) return false;
  *next = RecordId(b);
  return true;
}

PagedManifestIterator::PagedManifestIterator(
    std::unique_ptr<ManifestPageSource> source, const ScanOptions& options,
    size_t page_limit)
    : source_(std::move(source)),
      request_{options.range, options.include_tombstones, page_limit},
      page_(page_limit) {
  assert(source_ != nullptr && page_limit > 0);
  const IdRange& range = options.range;
  done_ = range.has_end && range.end <= range.begin;
  Fill();
}

void PagedManifestIterator::Next() noexcept {
  assert(Valid());
  if (++pos_ >= page_.size()) Fill();
}

void PagedManifestIterator::Fill() noexcept {
  pos_ = 0;
  page_.Clear();
  while (page_.size() == 0 && !done_) {
    page_.Clear();
    Status s;
    try {
      s = source_->Fill(request_, page_);
    } catch (const std::bad_alloc&) {
      s = Status::IOError("scan: out of memory");
    }
    if (!s.ok()) {
      page_.Clear();
      done_ = true;
      status_ = std::move(s);
      return;
    }
    done_ = !Advance();
  }
}

bool PagedManifestIterator::Advance() noexcept {
  if (page_.end()) return false;
  if (!page_.examined()) {
    // A source that neither examined a row nor ended would loop forever;
    // ending quietly would truncate the manifest, so it is an error.
    page_.Clear();
    status_ = Status::IOError("scan: page source made no progress");
    return false;
  }
  return NextRecordId(page_.last_examined(), &request_.range.begin);
}

}  // namespace syncstack
