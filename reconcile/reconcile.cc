#include "syncstack/reconcile/reconcile.h"

#include <algorithm>
#include <cstring>

#include "reconcile_internal.h"
#include "syncstack/varint.h"

namespace syncstack {
namespace reconcile_internal {

RecordId Separator(const RecordId& prev, const RecordId& next) noexcept {
  const auto& p = prev.bytes();
  const auto& n = next.bytes();
  size_t common = 0;
  while (common < 16 && p[common] == n[common]) ++common;
  std::array<uint8_t, 16> out{};
  for (size_t i = 0; i <= common && i < 16; ++i) out[i] = n[i];
  return RecordId(out);
}

std::vector<RecordId> SplitRanks(size_t lo, size_t hi, size_t parts,
                                 FunctionRef<RecordId(size_t)> id_at) {
  size_t count = hi - lo;
  parts = std::min(parts, count);
  std::vector<RecordId> points;
  if (parts > 1) points.reserve(parts - 1);
  for (size_t k = 1; k < parts; ++k) {
    size_t i = lo + k * count / parts;
    points.push_back(Separator(id_at(i - 1), id_at(i)));
  }
  return points;
}

void SortUnique(std::vector<ReconcileItem>& items) {
  auto by_id = [](const ReconcileItem& a, const ReconcileItem& b) {
    return a.id < b.id;
  };
  if (!std::is_sorted(items.begin(), items.end(), by_id)) {
    std::stable_sort(items.begin(), items.end(), by_id);
  }
  // One item per id: the last given wins.
  size_t out = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (out > 0 && items[out - 1].id == items[i].id) --out;
    items[out++] = items[i];
  }
  items.resize(out);
}

}  // namespace reconcile_internal

namespace {

using reconcile_internal::ItemHash;
using reconcile_internal::Load64;
using reconcile_internal::Mix;
using reconcile_internal::Sum128;

constexpr uint8_t kFormat = 1;
constexpr uint8_t kInfinite = 0xff;
enum Mode : uint8_t { kSkip = 0, kFingerprint = 1, kItems = 2, kDiff = 3 };

bool Less(const RecordId& a, const RecordId& b) noexcept { return a < b; }

// ---- encoding --------------------------------------------------------

void PutBound(const IdRange& r, std::string& out) {
  if (!r.has_end) {
    out += static_cast<char>(kInfinite);
    return;
  }
  const auto& b = r.end.bytes();
  size_t len = 16;
  while (len > 0 && b[len - 1] == 0) --len;  // trailing zeros are implied
  out += static_cast<char>(len);
  out.append(reinterpret_cast<const char*>(b.data()), len);
}

void PutItem(const ReconcileItem& item, std::string& out) {
  out.append(reinterpret_cast<const char*>(item.id.bytes().data()), 16);
  PutVarint(ZigZag(item.timestamp), out);
  PutVarint(item.tag, out);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return in_.empty(); }
  size_t left() const { return in_.size(); }
  bool Byte(uint8_t& b) {
    if (in_.empty()) return false;
    b = static_cast<uint8_t>(in_.front());
    in_.remove_prefix(1);
    return true;
  }
  bool Bytes(uint8_t* out, size_t n) {
    if (in_.size() < n) return false;
    std::memcpy(out, in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool Varint(uint64_t& v) { return GetVarint(in_, v); }
  bool Item(ReconcileItem& item) {
    std::array<uint8_t, 16> id;
    uint64_t ts;
    if (!Bytes(id.data(), 16) || !Varint(ts) || !Varint(item.tag)) {
      return false;
    }
    item.id = RecordId(id);
    item.timestamp = UnZigZag(ts);
    return true;
  }

 private:
  std::string_view in_;  // what is left to read
};

Status Malformed(const std::string& what) {
  return Status::InvalidArgument("reconciliation message: " + what);
}

// An answer under construction: contiguous ranges, skips merged.
class Out {
 public:
  Out() { buf_ += static_cast<char>(kFormat); }
  void Skip(const IdRange& r) {
    pending_skip_ = r;
    has_pending_skip_ = true;
  }
  void Fingerprint(const IdRange& r, const syncstack::Fingerprint& fp) {
    Begin(r);
    buf_ += static_cast<char>(kFingerprint);
    for (uint64_t v : {fp.lo, fp.hi}) {
      for (int i = 0; i < 8; ++i) buf_ += static_cast<char>(v >> (8 * i));
    }
    PutVarint(fp.count, buf_);
  }
  void Items(const IdRange& r, const std::vector<ReconcileItem>& items) {
    Begin(r);
    buf_ += static_cast<char>(kItems);
    PutVarint(items.size(), buf_);
    for (const auto& item : items) PutItem(item, buf_);
  }
  // Entries: the sender's item, or nullopt for "I have none".
  void Diff(
      const IdRange& r,
      const std::vector<std::pair<RecordId, std::optional<ReconcileItem>>>& d) {
    Begin(r);
    buf_ += static_cast<char>(kDiff);
    PutVarint(d.size(), buf_);
    for (const auto& [id, item] : d) {
      if (item) {
        buf_ += '\1';
        PutItem(*item, buf_);
      } else {
        buf_ += '\0';
        buf_.append(reinterpret_cast<const char*>(id.bytes().data()), 16);
      }
    }
  }
  bool only_skips() const { return !open_; }
  std::string Finish() {
    if (has_pending_skip_ || !open_) {
      IdRange all;  // the final skip reaches the end
      PutBound(all, buf_);
      buf_ += static_cast<char>(kSkip);
    }
    return std::move(buf_);
  }

 private:
  // Writes the skip before `r` (if any) and `r`'s bound.
  void Begin(const IdRange& r) {
    if (has_pending_skip_) {
      IdRange upto;
      upto.end = r.begin;
      upto.has_end = true;
      PutBound(upto, buf_);
      buf_ += static_cast<char>(kSkip);
      has_pending_skip_ = false;
    }
    PutBound(r, buf_);
    open_ = true;
  }

  std::string buf_;
  IdRange pending_skip_;
  bool has_pending_skip_ = false;
  bool open_ = false;
};

std::vector<ReconcileItem> Collect(ItemSource& items, const IdRange& r) {
  std::vector<ReconcileItem> out;
  items.ForEach(r, [&](const ReconcileItem& item) { out.push_back(item); });
  return out;
}

// A differing range: list it when small, else split it.
void Open(ItemSource& items, const IdRange& r, const Fingerprint& mine,
          const ReconcileOptions& options, Out& out) {
  if (mine.count <= options.list_threshold) {
    out.Items(r, Collect(items, r));
    return;
  }
  std::vector<RecordId> points =
      items.SplitPoints(r, std::max<size_t>(2, options.branching));
  IdRange part = r;
  for (const RecordId& p : points) {
    part.end = p;
    part.has_end = true;
    out.Fingerprint(part, items.RangeFingerprint(part));
    part.begin = p;
  }
  part.end = r.end;
  part.has_end = r.has_end;
  out.Fingerprint(part, items.RangeFingerprint(part));
}

enum class Role { kClient, kServer };

// What Step's per-range steps share while they answer one message.
struct StepContext {
  ItemSource& items;
  const ReconcileOptions& options;
  Role role;
  std::vector<Difference>* found;  // differences found (client only)
  Reader& in;
  Out& out;
};

// Reads the next range's upper bound into `r.end` (setting `last` for the
// open-ended final range).
Status ReadBound(Reader& in, IdRange& r, bool& last) {
  uint8_t len;
  if (!in.Byte(len)) return Malformed("ends before its last range");
  if (len == kInfinite) {
    r.has_end = false;
    last = true;
    return Status::Ok();
  }
  if (len > 16) return Malformed("bad bound length");
  std::array<uint8_t, 16> b{};
  if (!in.Bytes(b.data(), len)) return Malformed("truncated bound");
  r.end = RecordId(b);
  r.has_end = true;
  if (!Less(r.begin, r.end)) return Malformed("bounds out of order");
  return Status::Ok();
}

// A peer's fingerprint of `r`: skipped if ours matches, else opened.
Status OnFingerprint(StepContext& c, const IdRange& r) {
  Fingerprint theirs;
  uint8_t raw[16];
  if (!c.in.Bytes(raw, 16) || !c.in.Varint(theirs.count)) {
    return Malformed("truncated fingerprint");
  }
  theirs.lo = Load64(raw);
  theirs.hi = Load64(raw + 8);
  Fingerprint mine = c.items.RangeFingerprint(r);
  if (mine == theirs) {
    c.out.Skip(r);
  } else {
    Open(c.items, r, mine, c.options, c.out);
  }
  return Status::Ok();
}

// Reads the `k` items of a peer's item list of `r`, checked to be in `r`
// and in id order.
Status ReadPeerItems(Reader& in, const IdRange& r,
                     std::vector<ReconcileItem>& peer) {
  uint64_t k;
  // An item takes at least 18 bytes (id, two varints): the count is
  // bounded by what is left to read, not by the whole message.
  if (!in.Varint(k) || k > in.left() / 18) return Malformed("bad item count");
  peer.resize(static_cast<size_t>(k));
  for (auto& item : peer) {
    if (!in.Item(item)) return Malformed("truncated item");
    if (!r.Contains(item.id)) return Malformed("item outside its range");
  }
  for (size_t i = 1; i < peer.size(); ++i) {
    if (!Less(peer[i - 1].id, peer[i].id)) {
      return Malformed("items out of order");
    }
  }
  return Status::Ok();
}

// A peer's items of `r`: a merge-join with ours finds every id whose items
// differ. A client notes them as found; a server answers with its side.
Status OnItems(StepContext& c, const IdRange& r) {
  std::vector<ReconcileItem> peer;
  SYNCSTACK_RETURN_IF_ERROR(ReadPeerItems(c.in, r, peer));
  std::vector<ReconcileItem> own = Collect(c.items, r);
  std::vector<std::pair<RecordId, std::optional<ReconcileItem>>> diff;
  size_t a = 0, b = 0;
  auto note = [&](const std::optional<ReconcileItem>& mine,
                  const std::optional<ReconcileItem>& other) {
    if (c.role == Role::kClient) {
      c.found->push_back({mine ? mine->id : other->id, mine, other});
    } else {
      diff.emplace_back(mine ? mine->id : other->id, mine);
    }
  };
  while (a < own.size() || b < peer.size()) {
    if (b == peer.size() || (a < own.size() && Less(own[a].id, peer[b].id))) {
      note(own[a++], std::nullopt);
    } else if (a == own.size() || Less(peer[b].id, own[a].id)) {
      note(std::nullopt, peer[b++]);
    } else {
      if (!(own[a] == peer[b])) note(own[a], peer[b]);
      ++a;
      ++b;
    }
  }
  if (c.role == Role::kServer) {
    c.out.Diff(r, diff);
  } else {
    c.out.Skip(r);
  }
  return Status::Ok();
}

// A server's differences in `r` (client only): each noted as found, with
// our own item of that id if we have one.
Status OnDiff(StepContext& c, const IdRange& r) {
  if (c.role != Role::kClient) return Malformed("a diff sent to a server");
  uint64_t k;
  if (!c.in.Varint(k) || k > c.in.left() / 17) {
    return Malformed("bad diff count");
  }
  std::vector<ReconcileItem> own = Collect(c.items, r);
  for (uint64_t i = 0; i < k; ++i) {
    uint8_t present;
    if (!c.in.Byte(present) || present > 1) return Malformed("bad diff");
    Difference d;
    ReconcileItem theirs;
    if (present) {
      if (!c.in.Item(theirs)) return Malformed("truncated diff");
      d.theirs = theirs;
      d.id = theirs.id;
    } else {
      std::array<uint8_t, 16> id;
      if (!c.in.Bytes(id.data(), 16)) return Malformed("truncated diff");
      d.id = RecordId(id);
    }
    if (!r.Contains(d.id)) return Malformed("diff outside its range");
    auto it = std::lower_bound(own.begin(), own.end(), d.id,
                               [](const ReconcileItem& x, const RecordId& id) {
                                 return Less(x.id, id);
                               });
    if (it != own.end() && it->id == d.id) d.mine = *it;
    c.found->push_back(std::move(d));
  }
  c.out.Skip(r);
  return Status::Ok();
}

// Processes one message; differences found go to `found` (client only).
Result<std::string> Step(ItemSource& items, std::string_view message,
                         const ReconcileOptions& options, Role role,
                         std::vector<Difference>* found) {
  if (message.size() > options.max_message) {
    return Malformed("over the size limit");
  }
  Reader in(message);
  uint8_t format;
  if (!in.Byte(format) || format != kFormat) {
    return Malformed("unknown format");
  }
  Out out;
  StepContext context{items, options, role, found, in, out};
  IdRange r;  // begin: the zero id
  bool last = false;
  while (!last) {
    SYNCSTACK_RETURN_IF_ERROR(ReadBound(in, r, last));
    uint8_t mode;
    if (!in.Byte(mode)) return Malformed("truncated range");
    switch (mode) {
      case kSkip:
        out.Skip(r);
        break;
      case kFingerprint:
        SYNCSTACK_RETURN_IF_ERROR(OnFingerprint(context, r));
        break;
      case kItems:
        SYNCSTACK_RETURN_IF_ERROR(OnItems(context, r));
        break;
      case kDiff:
        SYNCSTACK_RETURN_IF_ERROR(OnDiff(context, r));
        break;
      default:
        return Malformed("unknown range mode");
    }
    if (!last) r.begin = r.end;
  }
  if (!in.done()) return Malformed("bytes after the last range");
  if (role == Role::kClient && out.only_skips()) return std::string();
  return out.Finish();
}

class SortedItems final : public ItemSource {
 public:
  explicit SortedItems(std::vector<ReconcileItem> items)
      : items_(std::move(items)) {
    reconcile_internal::SortUnique(items_);
    prefix_.resize(items_.size() + 1);
    for (size_t i = 0; i < items_.size(); ++i) {
      prefix_[i + 1] = prefix_[i];
      prefix_[i + 1].Add(items_[i]);
    }
  }

  Fingerprint RangeFingerprint(const IdRange& r) override {
    auto [lo, hi] = Bounds(r);
    return prefix_[hi] - prefix_[lo];
  }

  void ForEach(const IdRange& r,
               FunctionRef<void(const ReconcileItem&)> fn) override {
    auto [lo, hi] = Bounds(r);
    for (size_t i = lo; i < hi; ++i) fn(items_[i]);
  }

  std::vector<RecordId> SplitPoints(const IdRange& r, size_t parts) override {
    auto [lo, hi] = Bounds(r);
    return reconcile_internal::SplitRanks(
        lo, hi, parts, [&](size_t i) { return items_[i].id; });
  }

 private:
  std::pair<size_t, size_t> Bounds(const IdRange& r) const {
    auto by_id = [](const ReconcileItem& x, const RecordId& id) {
      return Less(x.id, id);
    };
    size_t lo = static_cast<size_t>(
        std::lower_bound(items_.begin(), items_.end(), r.begin, by_id) -
        items_.begin());
    size_t hi = items_.size();
    if (r.has_end) {
      hi = static_cast<size_t>(
          std::lower_bound(items_.begin() + static_cast<ptrdiff_t>(lo),
                           items_.end(), r.end, by_id) -
          items_.begin());
    }
    return {lo, hi};
  }

  std::vector<ReconcileItem> items_;
  std::vector<Fingerprint> prefix_;
};

}  // namespace

uint64_t ReconcileTag(std::string_view extra, bool deleted) noexcept {
  if (extra.empty() && !deleted) return 0;
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : extra) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return Mix(h ^ (deleted ? 0x8000000000000000ULL : 0)) | 1;
}

void Fingerprint::Add(const ReconcileItem& item) noexcept {
  Sum128 s{lo, hi};
  s += ItemHash(item);
  lo = s.lo;
  hi = s.hi;
  ++count;
}

void Fingerprint::Remove(const ReconcileItem& item) noexcept {
  Sum128 s{lo, hi};
  s -= ItemHash(item);
  lo = s.lo;
  hi = s.hi;
  --count;
}

Fingerprint Fingerprint::operator-(const Fingerprint& o) const noexcept {
  Fingerprint r;
  r.lo = lo - o.lo;
  r.hi = hi - o.hi - (lo < o.lo ? 1 : 0);
  r.count = count - o.count;
  return r;
}

ItemSource::~ItemSource() = default;

std::unique_ptr<ItemSource> NewSortedItemSource(
    std::vector<ReconcileItem> items) {
  return std::make_unique<SortedItems>(std::move(items));
}

ReconcileClient::ReconcileClient(ItemSource& items, ReconcileOptions options)
    : items_(items), options_(options) {}

std::string ReconcileClient::Initiate() {
  differences_.clear();
  Out out;
  IdRange all;
  Fingerprint fp = items_.RangeFingerprint(all);
  if (fp.count <= options_.list_threshold) {
    out.Items(all, Collect(items_, all));
  } else {
    out.Fingerprint(all, fp);
  }
  return out.Finish();
}

Result<std::string> ReconcileClient::Process(std::string_view answer) {
  return Step(items_, answer, options_, Role::kClient, &differences_);
}

Result<std::string> ReconcileRespond(ItemSource& items,
                                     std::string_view message,
                                     const ReconcileOptions& options) {
  return Step(items, message, options, Role::kServer, nullptr);
}

}  // namespace syncstack
