// Store::ScanSince and Store::ScanUnsynced in chunks, written once for
// every store. A store supplies one primitive per method, "read the next
// chunk of whole rows from this index position" (under its lock or in one
// read transaction), and the helpers below do the rest: they resume after
// the last row read, so nothing is held between chunks, and call the
// caller's callback for a chunk's rows with nothing held (it may use the
// store, as in Store::Get).
#pragma once

#include <cstddef>
#include <vector>

#include "syncstack/function_ref.h"
#include "syncstack/record.h"
#include "syncstack/status.h"

namespace syncstack {

// A position in the (base, id) order of ScanSince: the rows after it are
// those with base > this->base, or base == this->base and id > this->id.
struct SinceKey {
  Timestamp base = kNoTimestamp;
  RecordId id;

  // The position just before every row whose base is greater than `after`
  // (the all-ones id: no id is greater).
  static SinceKey After(Timestamp after) noexcept;
  // True if the row (base, id) lies after this position.
  bool Before(Timestamp row_base, const RecordId& row_id) const noexcept {
    return row_base > base || (row_base == base && row_id > id);
  }
};

// The rows one chunk read. Records keep their buffers from chunk to chunk.
class RowChunk {
 public:
  // A chunk holds at most this many rows (a read may ask for fewer)...
  static constexpr size_t kMaxRows = 256;
  // ...and stops taking rows once their payloads reach this many bytes.
  static constexpr size_t kMaxBytes = size_t{4} << 20;

  // True while the chunk may take another row: fewer than `limit()` rows
  // and fewer than kMaxBytes of payload.
  bool HasRoom() noexcept;
  // Appends a row and returns it to fill (every field: it holds an
  // earlier chunk's values). REQUIRES: HasRoom(), rows in index order.
  Record& Add();
  // Notes that no row follows the last one added: the scan ends here.
  void SetEnd() noexcept { end_ = true; }

  // The most rows this chunk may take.
  size_t limit() const noexcept { return limit_; }
  size_t size() const noexcept { return size_; }
  bool end() const noexcept { return end_; }
  // REQUIRES: i < size()
  const Record& operator[](size_t i) const noexcept { return rows_[i]; }
  // Empties the chunk for a read of at most `limit` rows (1..kMaxRows).
  void Reset(size_t limit) noexcept;

 private:
  std::vector<Record> rows_;  // [0, size_) hold this chunk
  size_t size_ = 0;
  size_t counted_ = 0;  // rows whose payload bytes_ includes
  size_t bytes_ = 0;
  size_t limit_ = kMaxRows;
  bool end_ = false;
};

// Runs ScanSince over a store's (collection, base, id) index. `read`
// fills `chunk` with the rows after `from` in ascending (base, id) order,
// at most chunk.limit() of them, while chunk.HasRoom(), calling
// chunk.SetEnd() when it reached the last row; it runs under the store's
// lock or read transaction. A row rewritten between two chunks may come
// again at its new base. Errors: the first error of `read`, kIOError if a
// read neither added a row nor ended. May throw std::bad_alloc.
Status ChunkedScanSince(
    Timestamp after, size_t limit,
    FunctionRef<Status(const SinceKey& from, RowChunk& chunk)> read,
    FunctionRef<void(const Record&)> fn);

// Runs ScanUnsynced over a store's index of unsynced rows. `read` fills
// `chunk` with the unsynced rows whose id is greater than `*from` (every
// one when `from` is nullptr), in ascending id order, as
// ChunkedScanSince's `read` does. Errors: as ChunkedScanSince.
Status ChunkedScanUnsynced(
    FunctionRef<Status(const RecordId* from, RowChunk& chunk)> read,
    FunctionRef<void(const Record&)> fn);

}  // namespace syncstack
