// Range-based set reconciliation: a device and a server find the records
// whose versions differ between them, in O(d log n) bytes for d
// differences among n records, instead of the O(n) of a full manifest.
// (The idea of the Negentropy protocol; this is syncstack's own encoding.)
//
// Each side holds a set of items (id, version summary) sorted by id. The
// device starts with the fingerprint of its whole set; the receiver of a
// range's fingerprint compares it with its own and, where they differ,
// either lists its items of the range (when it has few) or splits the
// range into parts, each with its fingerprint. A server that receives a
// device's items of a range answers with the differences; a device that
// receives the server's items works them out itself. The rounds end when
// no range is left open; the device then knows every id whose version
// differs and both versions (or that one side lacks it), which feed the
// engine's three cases.
//
// A fingerprint is the sum, modulo 2^128, of a 128-bit hash of every item,
// plus the count: adding or removing one item updates it in O(1), and the
// fingerprint of a range is a difference of two prefix sums. The hash is
// not cryptographic: a device reconciles with its own user's server, not
// with an adversary choosing ids.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "syncstack/function_ref.h"
#include "syncstack/record.h"
#include "syncstack/status.h"

namespace syncstack {

// One record as reconciliation sees it.
struct ReconcileItem {
  RecordId id;
  Timestamp timestamp = kNoTimestamp;
  // Everything else that tells versions apart (a hash of Version::extra,
  // the tombstone flag): 0 when there is nothing else.
  uint64_t tag = 0;

  friend bool operator==(const ReconcileItem&, const ReconcileItem&) = default;
};

// The tag for a version: a hash of `extra` and the deleted flag.
uint64_t ReconcileTag(std::string_view extra, bool deleted) noexcept;

struct Fingerprint {
  uint64_t lo = 0, hi = 0;  // the 128-bit sum
  uint64_t count = 0;

  void Add(const ReconcileItem& item) noexcept;
  void Remove(const ReconcileItem& item) noexcept;
  Fingerprint operator-(const Fingerprint& other) const noexcept;
  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
};

// A side's items, answering range questions. Ranges are IdRange: begin
// inclusive, end exclusive (none: to the last id).
class ItemSource {
 public:
  virtual ~ItemSource();
  virtual Fingerprint RangeFingerprint(const IdRange& range) = 0;
  // Calls `fn` for the items of `range` in id order.
  virtual void ForEach(const IdRange& range,
                       FunctionRef<void(const ReconcileItem&)> fn) = 0;
  // Up to `parts` - 1 ids cutting `range` into parts of about equal count
  // (fewer when the range holds fewer items), ascending, each the shortest
  // that separates two neighbouring items (padded with zero bytes).
  virtual std::vector<RecordId> SplitPoints(const IdRange& range,
                                            size_t parts) = 0;
};

// Items in a sorted vector with prefix sums: O(log n) per question. Items
// are sorted by id if they are not; of several with one id the last counts.
std::unique_ptr<ItemSource> NewSortedItemSource(
    std::vector<ReconcileItem> items);

struct ReconcileOptions {
  // Parts a differing range is split into. Default: 16.
  size_t branching = 16;
  // A side with at most this many items in a differing range lists them.
  // Default: 32.
  size_t list_threshold = 32;
  // Largest message accepted. Default: 64 MiB.
  size_t max_message = 64u << 20;
};

// One id whose versions differ; nullopt: that side has no such item.
struct Difference {
  RecordId id;
  std::optional<ReconcileItem> mine;    // the device's
  std::optional<ReconcileItem> theirs;  // the server's
};

// The device's side of one reconciliation. Not thread-safe.
class ReconcileClient {
 public:
  // `items` must outlive the client.
  explicit ReconcileClient(ItemSource& items, ReconcileOptions options = {});

  // The first message.
  std::string Initiate();
  // Takes the server's answer and returns the next message for the server,
  // or "" when reconciliation is complete. Errors: kInvalidArgument (a
  // malformed or oversized message).
  Result<std::string> Process(std::string_view answer);

  // The differences found so far (all of them once Process returned "").
  const std::vector<Difference>& differences() const noexcept {
    return differences_;
  }

 private:
  ItemSource& items_;
  ReconcileOptions options_;
  std::vector<Difference> differences_;
};

// The server's side: stateless between messages, so any server process
// can answer any round. Errors: kInvalidArgument (a malformed message).
Result<std::string> ReconcileRespond(ItemSource& items,
                                     std::string_view message,
                                     const ReconcileOptions& options = {});

}  // namespace syncstack
