#include "syncstack/chunked_get.h"

namespace syncstack {

bool RecordChunk::HasRoom() noexcept {
  for (; counted_ < size_; ++counted_) {
    bytes_ += records_[counted_].payload.size();
  }
  return !done() && size_ < kMaxRecords && bytes_ < kMaxBytes;
}

Record& RecordChunk::Found() {
  if (size_ == records_.size()) records_.emplace_back();
  pending_ = pending_.subspan(1);
  return records_[size_++];
}

Status ChunkedGet(std::span<const RecordId> ids,
                  FunctionRef<Status(RecordChunk& chunk)> read,
                  FunctionRef<void(const Record&)> fn) {
  RecordChunk chunk(ids);
  while (!chunk.done()) {
    chunk.Clear();
    const size_t before = chunk.remaining();
    SYNCSTACK_RETURN_IF_ERROR(read(chunk));
    // A read that reads nothing would loop forever.
    if (chunk.remaining() == before) {
      return Status::IOError("get: a chunk read no id");
    }
    for (size_t i = 0; i < chunk.size(); ++i) fn(chunk[i]);
  }
  return Status::Ok();
}

}  // namespace syncstack
