#include "syncstack/index_scan.h"

#include <algorithm>

namespace syncstack {

SinceKey SinceKey::After(Timestamp after) noexcept {
  std::array<uint8_t, 16> ones;
  ones.fill(0xff);
  return SinceKey{after, RecordId(ones)};
}

bool RowChunk::HasRoom() noexcept {
  for (; counted_ < size_; ++counted_) bytes_ += rows_[counted_].payload.size();
  return !end_ && size_ < limit_ && bytes_ < kMaxBytes;
}

Record& RowChunk::Add() {
  if (size_ == rows_.size()) rows_.emplace_back();
  return rows_[size_++];
}

void RowChunk::Reset(size_t limit) noexcept {
  size_ = 0;
  counted_ = 0;
  bytes_ = 0;
  limit_ = std::clamp<size_t>(limit, 1, kMaxRows);
  end_ = false;
}

Status ChunkedScanSince(
    Timestamp after, size_t limit,
    FunctionRef<Status(const SinceKey& from, RowChunk& chunk)> read,
    FunctionRef<void(const Record&)> fn) {
  SinceKey from = SinceKey::After(after);
  RowChunk chunk;
  while (limit > 0) {
    chunk.Reset(limit);
    SYNCSTACK_RETURN_IF_ERROR(read(from, chunk));
    if (chunk.size() == 0 && !chunk.end()) {
      return Status::IOError("scan since: a chunk read no row");
    }
    for (size_t i = 0; i < chunk.size(); ++i) fn(chunk[i]);
    limit -= chunk.size();
    if (chunk.end()) break;
    const Record& last = chunk[chunk.size() - 1];
    from = SinceKey{last.base, last.id};
  }
  return Status::Ok();
}

Status ChunkedScanUnsynced(
    FunctionRef<Status(const RecordId* from, RowChunk& chunk)> read,
    FunctionRef<void(const Record&)> fn) {
  RecordId from;
  bool started = false;
  RowChunk chunk;
  for (;;) {
    chunk.Reset(RowChunk::kMaxRows);
    SYNCSTACK_RETURN_IF_ERROR(read(started ? &from : nullptr, chunk));
    if (chunk.size() == 0 && !chunk.end()) {
      return Status::IOError("scan unsynced: a chunk read no row");
    }
    for (size_t i = 0; i < chunk.size(); ++i) fn(chunk[i]);
    if (chunk.end()) break;
    from = chunk[chunk.size() - 1].id;
    started = true;
  }
  return Status::Ok();
}

}  // namespace syncstack
