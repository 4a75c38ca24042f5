// Keyset paging for Store::Scan, written once for every store. A store
// supplies one primitive, "fill the next page of entries whose ids lie in
// this range" (a ManifestPageSource), and PagedManifestIterator does the
// rest: it asks for the next page from the successor of the last id the
// previous page examined, so nothing (snapshot, lock, cursor, connection)
// is held between pages and a write between pages cannot invalidate the
// scan. Each id is yielded at most once and the scan never goes backwards,
// as ManifestIterator promises.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "syncstack/record.h"
#include "syncstack/status.h"
#include "syncstack/store.h"

namespace syncstack {

// What a page source is asked for.
struct PageRequest {
  // The ids the page may hold. `range.begin` is where the scan stands: the
  // scan's own begin on the first page, then the successor of the last id
  // examined; `range.end` is the scan's end throughout.
  IdRange range;
  // Yield tombstones (deleted rows) too.
  bool include_tombstones = true;
  // The most entries the page may hold (> 0).
  size_t limit = 0;

  // True if `id` lies at or after the range's end.
  bool PastEnd(const RecordId& id) const noexcept {
    return range.has_end && id >= range.end;
  }
};

// The page a ManifestPageSource fills. Entries keep their buffers from page
// to page (a version's `extra`), so a scan allocates little after its first
// page.
class EntryPage {
 public:
  // `capacity`: the entries to make room for at the first Add (one
  // allocation for a page of that many).
  explicit EntryPage(size_t capacity = 0) noexcept : capacity_(capacity) {}

  // Appends the entry of row `id` and returns it for the source to fill.
  // Its other fields hold an earlier page's values: set every one.
  // REQUIRES: ids strictly ascending within a page (with Skip's), inside
  // the request's range, at most the request's limit entries.
  ManifestEntry& Add(const RecordId& id);

  // Notes that row `id` was examined but not yielded (a tombstone skipped
  // by the source), so the next page starts after it.
  // REQUIRES: ascending with Add's ids.
  void Skip(const RecordId& id) noexcept {
    last_ = id;
    examined_ = true;
  }

  // Notes that no row of the range follows the last one examined (or, on
  // an empty page, that the range holds no row from its begin on): the
  // scan ends after this page.
  void SetEnd() noexcept { end_ = true; }

  size_t size() const noexcept { return size_; }
  // REQUIRES: i < size()
  const ManifestEntry& operator[](size_t i) const noexcept {
    return entries_[i];
  }
  bool end() const noexcept { return end_; }
  // Whether the source examined a row, and the last one it examined.
  bool examined() const noexcept { return examined_; }
  const RecordId& last_examined() const noexcept { return last_; }

  // Empties the page for the next fill, keeping the entries' buffers.
  void Clear() noexcept {
    size_ = 0;
    examined_ = false;
    end_ = false;
  }

 private:
  std::vector<ManifestEntry> entries_;  // [0, size_) hold this page
  size_t capacity_;
  size_t size_ = 0;
  RecordId last_;  // the last id examined, when examined_
  bool examined_ = false;
  bool end_ = false;
};

// A store's scan primitive: fills one page of one collection's manifest.
class ManifestPageSource {
 public:
  ManifestPageSource() = default;
  ManifestPageSource(const ManifestPageSource&) = delete;
  ManifestPageSource& operator=(const ManifestPageSource&) = delete;
  virtual ~ManifestPageSource();

  // Fills `page` (empty on entry) with the entries of the rows whose ids
  // lie in `request.range`, in ascending id order, tombstones only if
  // `request.include_tombstones`, at most `request.limit` of them. A source
  // may stop after examining a bounded number of rows (Skip the ones it
  // does not yield); it must examine at least one row or call
  // EntryPage::SetEnd, and calls SetEnd when it saw that no row of the
  // range follows (an unknown collection: SetEnd on an empty page). A page
  // with fewer than `limit` entries does not by itself end the scan.
  // Runs with nothing held by the iterator; whatever it takes (a lock, a
  // transaction, a connection) it releases before returning.
  // Errors (any code) end the scan and become the iterator's status().
  // May throw std::bad_alloc, reported as kIOError.
  virtual Status Fill(const PageRequest& request, EntryPage& page) = 0;
};

// A ManifestIterator over the pages of a ManifestPageSource. The first page
// is read by the constructor. The iterator must not outlive what the
// source refers to (usually the Store).
class PagedManifestIterator final : public ManifestIterator {
 public:
  // Scans `options.range` (tombstones as `options` says) in pages of at
  // most `page_limit` entries. REQUIRES: source != nullptr, page_limit > 0.
  PagedManifestIterator(std::unique_ptr<ManifestPageSource> source,
                        const ScanOptions& options, size_t page_limit);

  bool Valid() const noexcept override { return pos_ < page_.size(); }
  const ManifestEntry& entry() const noexcept override { return page_[pos_]; }
  void Next() noexcept override;
  Status status() const noexcept override { return status_; }

 private:
  // Reads pages until one holds an entry or the scan ends.
  void Fill() noexcept;
  // Moves the request past what the page examined; false: the scan ended.
  bool Advance() noexcept;

  const std::unique_ptr<ManifestPageSource> source_;
  PageRequest request_;
  EntryPage page_;
  size_t pos_ = 0;
  bool done_ = false;  // no page left to read
  Status status_;
};

// A ManifestPageSource calling `fill(const PageRequest&, EntryPage&) ->
// Status`, which it owns (a lambda capturing what it needs, by value).
template <typename FillFn>
class FunctionPageSource final : public ManifestPageSource {
 public:
  explicit FunctionPageSource(FillFn fill) : fill_(std::move(fill)) {}
  Status Fill(const PageRequest& request, EntryPage& page) override {
    return fill_(request, page);
  }

 private:
  FillFn fill_;
};

// Convenience: a PagedManifestIterator over `fill` (see FunctionPageSource).
// Throws std::bad_alloc only.
template <typename FillFn>
std::unique_ptr<ManifestIterator> NewPagedManifestIterator(
    const ScanOptions& options, size_t page_limit, FillFn fill) {
  return std::make_unique<PagedManifestIterator>(
      std::make_unique<FunctionPageSource<FillFn>>(std::move(fill)), options,
      page_limit);
}

// Sets *next to the id right after `id` in id order; false if `id` is the
// greatest id (all bytes 0xff).
bool NextRecordId(const RecordId& id, RecordId* next) noexcept;

}  // namespace syncstack
