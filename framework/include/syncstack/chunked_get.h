// Store::Get in chunks, written once for the stores that read under a lock
// or a read transaction: a chunk of records is copied out while the store
// holds it, then the caller's callback runs with nothing held, so it may
// use the store, and a slow callback never blocks writers.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "syncstack/function_ref.h"
#include "syncstack/record.h"
#include "syncstack/status.h"

namespace syncstack {

// The records read in one chunk, and the ids still to read. Records keep
// their buffers from chunk to chunk.
class RecordChunk {
 public:
  // A chunk holds at most this many records...
  static constexpr size_t kMaxRecords = 256;
  // ...and stops taking records once their payloads reach this many bytes.
  static constexpr size_t kMaxBytes = size_t{4} << 20;

  explicit RecordChunk(std::span<const RecordId> ids) noexcept
      : pending_(ids) {}

  // True while ids remain and the chunk has room for another record.
  bool HasRoom() noexcept;
  // The next id to read. REQUIRES: !done()
  const RecordId& next_id() const noexcept { return pending_.front(); }
  // The next id has no row: moves past it. REQUIRES: !done()
  void NotFound() noexcept { pending_ = pending_.subspan(1); }
  // The next id has a row: moves past it and returns the record to fill
  // (every field; it holds an earlier record's values). REQUIRES: !done()
  Record& Found();
  // None of the remaining ids has a row (e.g. the collection is unknown).
  void NoneLeft() noexcept { pending_ = {}; }
  // True once every id was read.
  bool done() const noexcept { return pending_.empty(); }
  // How many ids are left to read.
  size_t remaining() const noexcept { return pending_.size(); }

  size_t size() const noexcept { return size_; }
  // REQUIRES: i < size()
  const Record& operator[](size_t i) const noexcept { return records_[i]; }
  // Empties the chunk for the next read, keeping the records' buffers.
  void Clear() noexcept {
    size_ = 0;
    counted_ = 0;
    bytes_ = 0;
  }

 private:
  std::span<const RecordId> pending_;
  std::vector<Record> records_;  // [0, size_) hold this chunk
  size_t size_ = 0;
  size_t counted_ = 0;  // records whose payload bytes_ includes
  size_t bytes_ = 0;
};

// Calls `fn` for each of `ids` that has a row, in the order of `ids`, as
// Store::Get promises. `read` runs once per chunk under the store's lock
// or read transaction: it reads ids while chunk.HasRoom(), reporting each
// by Found (filling the record) or NotFound, or all the rest by NoneLeft,
// and must read at least one id (else kIOError). `fn` then runs for the chunk's
// records with nothing held. Errors: the first error of `read`, returned as is
// (the records of that chunk are not called back). May throw
// std::bad_alloc.
Status ChunkedGet(std::span<const RecordId> ids,
                  FunctionRef<Status(RecordChunk& chunk)> read,
                  FunctionRef<void(const Record&)> fn);

}  // namespace syncstack
