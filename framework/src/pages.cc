#include "syncstack/pages.h"

#include <cstring>

#include "json_reader.h"
#include "syncstack/fingerprint.h"
#include "syncstack/varint.h"

namespace syncstack {
namespace {

constexpr std::string_view kMagic = "SSP1";
constexpr uint8_t kManifestKind = 1;
constexpr uint8_t kRecordsKind = 2;
constexpr uint8_t kChangesKind = 3;

void PutBytes(std::string_view bytes, std::string& out) {
  PutVarint(bytes.size(), out);
  out += bytes;
}

// Reads a binary page; every read is bounds-checked and names what failed.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool Varint(uint64_t& v) { return GetVarint(in_, v); }
  bool Bytes(std::string_view& out) {
    uint64_t n;
    if (!Varint(n) || n > in_.size()) return false;
    out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool Raw(size_t n, std::string_view& out) {
    if (n > in_.size()) return false;
    out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  size_t left() const noexcept { return in_.size(); }

 private:
  std::string_view in_;
};

void PutHeader(uint8_t kind, uint64_t seq, bool more,
               std::string_view collection, std::string_view id_key,
               size_t count, std::string& out) {
  out += kMagic;
  out += static_cast<char>(kind);
  PutVarint(seq, out);
  out += static_cast<char>(more ? 1 : 0);
  PutBytes(collection, out);
  PutBytes(id_key, out);
  PutVarint(count, out);
}

struct Header {
  uint64_t seq = 0;
  bool more = false;
  std::string collection;
  std::string id_key;
  uint64_t count = 0;
};

Result<Header> ReadHeader(Reader& in, uint8_t kind, size_t min_entry) {
  std::string_view magic, byte;
  if (!in.Raw(4, magic) || magic != kMagic) {
    return Status::InvalidArgument("page: not a binary page (bad magic)");
  }
  if (!in.Raw(1, byte) || static_cast<uint8_t>(byte[0]) != kind) {
    return Status::InvalidArgument(kind == kManifestKind
                                       ? "page: not a manifest page"
                                       : "page: not a records page");
  }
  Header h;
  std::string_view more, collection, id_key;
  if (!in.Varint(h.seq) || !in.Raw(1, more) || !in.Bytes(collection) ||
      !in.Bytes(id_key) || !in.Varint(h.count)) {
    return Status::InvalidArgument("page: truncated header");
  }
  if (static_cast<uint8_t>(more[0]) > 1) {
    return Status::InvalidArgument("page: bad \"more\" flag");
  }
  h.more = more[0] == 1;
  if (h.count > in.left() / min_entry) {
    return Status::InvalidArgument("page: count " + std::to_string(h.count) +
                                   " is beyond the body");
  }
  h.collection = std::string(collection);
  h.id_key = std::string(id_key);
  return h;
}

// A page with the header's fields filled in.
template <class Page>
Page FromHeader(Header&& h) {
  Page page;
  page.collection = std::move(h.collection);
  page.id_key = std::move(h.id_key);
  page.more = h.more;
  page.seq = h.seq;
  return page;
}

// Reads one entry's id and stamp, checking ascending order.
bool ReadStamp(Reader& in, const RecordId* previous, Stamp& s,
               std::string& error) {
  std::string_view raw, version;
  uint64_t ts;
  if (!in.Raw(16, raw) || !in.Varint(ts) || !in.Bytes(version)) {
    error = "page: truncated entry";
    return false;
  }
  s.id = RecordId::FromBytes(raw);
  if (previous != nullptr && !(*previous < s.id)) {
    error = "page: ids out of order at " + s.id.ToString();
    return false;
  }
  s.last_update = UnZigZag(ts);
  s.version = std::string(version);
  return true;
}

// {"collections": [{"name": .., "id_key": ..}], "seq": N}
class ListReader final : public json::EventHandler<ListReader> {
 public:
  ListReader(const json::SpanStream& in, CollectionList& out)
      : EventHandler(in, 8), out_(out) {}

  bool OnEvent(json::Event e, std::string_view text) {
    using json::Event;
    switch (depth()) {
      case 1:
        if (e == Event::kStartObject || e == Event::kEndObject) return true;
        if (e == Event::kKey) {
          key_ = std::string(text);
          if (key_ != "collections" && key_ != "seq" && key_ != "_history") {
            return Fail("unknown key \"" + key_ + "\"");
          }
          return true;
        }
        if (key_ == "_history") {
          if (e != Event::kString) return Fail("\"_history\" must be a string");
          out_.history = std::string(text);
          return true;
        }
        if (key_ == "seq") {
          if (e != Event::kNumber || text.empty() || text[0] == '-' ||
              text.find_first_of(".eE") != std::string_view::npos) {
            return Fail("\"seq\" must be a whole number");
          }
          out_.seq = std::strtoull(std::string(text).c_str(), nullptr, 10);
          return true;
        }
        return Fail("\"collections\": not a list");
      case 2:  // the list itself: only its brackets at this depth
        if (key_ != "collections") return Fail("\"seq\": not a number");
        if (e == Event::kStartArray && !in_list_) {
          in_list_ = true;
          return true;
        }
        if (e == Event::kEndArray && in_list_) return true;
        return Fail("\"collections\": entries must be objects");
      case 3:  // an entry
        if (e == Event::kStartObject) {
          out_.collections.emplace_back();
          return true;
        }
        if (e == Event::kEndObject) {
          if (out_.collections.back().name.empty()) {
            return Fail("\"collections\": an entry has no \"name\"");
          }
          return true;
        }
        if (e == Event::kKey) {
          member_ = std::string(text);
          return true;
        }
        if (e != Event::kString || out_.collections.empty()) {
          return Fail("\"collections\": entries must be objects of strings");
        }
        if (member_ == "name") {
          out_.collections.back().name = std::string(text);
        } else if (member_ == "id_key") {
          out_.collections.back().id_key = std::string(text);
        }
        return true;
      default:
        return Fail("nested too deep");
    }
  }
  std::string Where() const { return "collection list"; }

 private:
  CollectionList& out_;
  std::string key_, member_;
  bool in_list_ = false;
};

void PutFixed64(uint64_t v, std::string& out) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>(v >> (8 * i));
}

uint64_t GetFixed64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

// Reads a 0/1 byte into `flag`.
bool ReadFlag(Reader& in, bool& flag) {
  std::string_view byte;
  if (!in.Raw(1, byte) || static_cast<uint8_t>(byte[0]) > 1) return false;
  flag = byte[0] == 1;
  return true;
}

// The changes page's fields before its entries; returns the entry count.
Result<uint64_t> ReadChangesHeader(Reader& in, ChangesPage& page) {
  std::string_view magic, kind, collection, id_key, fingerprint;
  if (!in.Raw(4, magic) || magic != kMagic) {
    return Status::InvalidArgument("page: not a binary page (bad magic)");
  }
  if (!in.Raw(1, kind) || static_cast<uint8_t>(kind[0]) != kChangesKind) {
    return Status::InvalidArgument("page: not a changes page");
  }
  std::string_view more;
  if (!in.Varint(page.seq) || !in.Raw(1, more)) {
    return Status::InvalidArgument("page: truncated header");
  }
  if (static_cast<uint8_t>(more[0]) > 1) {
    return Status::InvalidArgument("page: bad \"more\" flag");
  }
  page.more = more[0] == 1;
  uint64_t n = 0;
  if (!in.Bytes(collection) || !in.Bytes(id_key) || !in.Varint(page.count) ||
      !in.Raw(8, fingerprint) || !in.Varint(page.last) || !in.Varint(n)) {
    return Status::InvalidArgument("page: truncated header");
  }
  // The smallest entry: id, seq, flag, last_update, two empty strings.
  if (n > in.left() / 21) {
    return Status::InvalidArgument("page: entry count " + std::to_string(n) +
                                   " is beyond the body");
  }
  page.collection = std::string(collection);
  page.id_key = std::string(id_key);
  page.fingerprint = GetFixed64(fingerprint);
  return n;
}

// One entry of a changes page; checks it follows `previous` (0: none).
Status ReadChange(Reader& in, uint64_t previous, uint64_t page_seq,
                  ChangeEntry& e) {
  std::string_view raw, version, payload;
  uint64_t ts;
  if (!in.Raw(16, raw) || !in.Varint(e.seq) || !ReadFlag(in, e.deleted) ||
      !in.Varint(ts) || !in.Bytes(version) || !in.Bytes(payload)) {
    return Status::InvalidArgument("page: truncated or bad entry");
  }
  e.record.id = RecordId::FromBytes(raw);
  if (e.seq <= previous) {
    return Status::InvalidArgument("page: sequences out of order at " +
                                   std::to_string(e.seq));
  }
  if (e.seq > page_seq) {
    return Status::InvalidArgument("page: entry sequence " +
                                   std::to_string(e.seq) +
                                   " is past the page's seq");
  }
  if (e.deleted && !payload.empty()) {
    return Status::InvalidArgument("page: a tombstone with a payload");
  }
  e.record.last_update = UnZigZag(ts);
  e.record.version = std::string(version);
  e.record.payload = std::string(payload);
  return Status::Ok();
}

}  // namespace

void EncodeCollectionList(const CollectionList& list, std::string& out) {
  out.assign(1, '{');
  out += "\"collections\":[";
  bool first = true;
  for (const auto& c : list.collections) {
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    AppendJsonString(c.name, out);
    out += ",\"id_key\":";
    AppendJsonString(c.id_key, out);
    out += '}';
  }
  out += "],\"seq\":";
  out += std::to_string(list.seq);
  if (!list.history.empty()) {
    out += ",\"_history\":";
    AppendJsonString(list.history, out);
  }
  out += '}';
}

Result<CollectionList> DecodeCollectionList(std::string_view body) {
  CollectionList list;
  json::SpanStream in(body);
  ListReader reader(in, list);
  SYNCSTACK_RETURN_IF_ERROR(json::Parse(body, in, reader, "body"));
  return list;
}

void EncodeManifestPageJson(const ManifestPage& page, std::string& out) {
  Manifest manifest;
  manifest.collections.push_back(
      Manifest::Collection{page.collection, page.id_key, page.entries});
  EncodeManifest(manifest, out);
}

void EncodeRecordsPageJson(const RecordsPage& page, std::string& out) {
  out.assign(1, '{');
  AppendJsonString(page.collection, out);
  out += ":[";
  bool first = true;
  for (const WireRecord& r : page.records) {
    if (!first) out += ',';
    first = false;
    EncodeRecordObject(r, page.id_key, {}, out);  // `_version` included
  }
  out += "]}";
}

void EncodeManifestPageBinary(const ManifestPage& page, std::string& out) {
  out.clear();
  out.reserve(64 + page.entries.size() * 26);
  PutHeader(kManifestKind, page.seq, page.more, page.collection, page.id_key,
            page.entries.size(), out);
  for (const Stamp& s : page.entries) {
    out += s.id.raw();
    PutVarint(ZigZag(s.last_update), out);
    PutBytes(s.version, out);
  }
}

void EncodeRecordsPageBinary(const RecordsPage& page, std::string& out) {
  out.clear();
  size_t bytes = 64;
  for (const WireRecord& r : page.records) {
    bytes += 32 + r.version.size() + r.payload.size();
  }
  out.reserve(bytes);
  PutHeader(kRecordsKind, page.seq, page.more, page.collection, page.id_key,
            page.records.size(), out);
  for (const WireRecord& r : page.records) {
    out += r.id.raw();
    PutVarint(ZigZag(r.last_update), out);
    PutBytes(r.version, out);
    PutBytes(r.payload, out);
  }
}

Result<ManifestPage> DecodeManifestPageBinary(std::string_view body) {
  Reader in(body);
  SYNCSTACK_ASSIGN_OR_RETURN(Header h, ReadHeader(in, kManifestKind, 18));
  auto page = FromHeader<ManifestPage>(std::move(h));
  page.entries.resize(h.count);
  std::string error;
  for (size_t i = 0; i < h.count; ++i) {
    if (!ReadStamp(in, i > 0 ? &page.entries[i - 1].id : nullptr,
                   page.entries[i], error)) {
      return Status::InvalidArgument(error);
    }
  }
  if (in.left() != 0) {
    return Status::InvalidArgument("page: bytes after the last entry");
  }
  return page;
}

Result<RecordsPage> DecodeRecordsPageBinary(std::string_view body) {
  Reader in(body);
  SYNCSTACK_ASSIGN_OR_RETURN(Header h, ReadHeader(in, kRecordsKind, 19));
  auto page = FromHeader<RecordsPage>(std::move(h));
  page.records.resize(h.count);
  std::string error;
  Stamp s;
  for (size_t i = 0; i < h.count; ++i) {
    if (!ReadStamp(in, i > 0 ? &page.records[i - 1].id : nullptr, s, error)) {
      return Status::InvalidArgument(error);
    }
    std::string_view payload;
    if (!in.Bytes(payload)) {
      return Status::InvalidArgument("page: truncated record");
    }
    WireRecord& r = page.records[i];
    r.id = s.id;
    r.last_update = s.last_update;
    r.version = std::move(s.version);
    r.payload = std::string(payload);
  }
  if (in.left() != 0) {
    return Status::InvalidArgument("page: bytes after the last record");
  }
  return page;
}

void EncodeChangesPageJson(const ChangesPage& page, std::string& out) {
  out.assign("{\"collection\":");
  AppendJsonString(page.collection, out);
  out += ",\"id_key\":";
  AppendJsonString(page.id_key, out);
  out += ",\"changes\":[";
  std::string extra;
  bool first = true;
  for (const ChangeEntry& e : page.changes) {
    if (!first) out += ',';
    first = false;
    extra = "\"_seq\":" + std::to_string(e.seq);
    if (e.deleted) {
      // A tombstone has no members of its own.
      WireRecord stamp{e.record.id, e.record.last_update, "{}",
                       e.record.version};
      EncodeRecordObject(stamp, page.id_key, extra + ",\"_deleted\":true", out);
      continue;
    }
    EncodeRecordObject(e.record, page.id_key, extra, out);
  }
  out += "],\"more\":";
  out += page.more ? "true" : "false";
  out += ",\"last\":" + std::to_string(page.last);
  out += ",\"seq\":" + std::to_string(page.seq);
  out += ",\"count\":" + std::to_string(page.count);
  SetFingerprint f{page.count, page.fingerprint};
  out += ",\"fingerprint\":\"" + f.ToHex() + "\"}";
}

void EncodeChangesPageBinary(const ChangesPage& page, std::string& out) {
  out.clear();
  size_t bytes = 64;
  for (const ChangeEntry& e : page.changes) {
    bytes += 40 + e.record.version.size() + e.record.payload.size();
  }
  out.reserve(bytes);
  out += kMagic;
  out += static_cast<char>(kChangesKind);
  PutVarint(page.seq, out);
  out += static_cast<char>(page.more ? 1 : 0);
  PutBytes(page.collection, out);
  PutBytes(page.id_key, out);
  PutVarint(page.count, out);
  PutFixed64(page.fingerprint, out);
  PutVarint(page.last, out);
  PutVarint(page.changes.size(), out);
  for (const ChangeEntry& e : page.changes) {
    out += e.record.id.raw();
    PutVarint(e.seq, out);
    out += static_cast<char>(e.deleted ? 1 : 0);
    PutVarint(ZigZag(e.record.last_update), out);
    PutBytes(e.record.version, out);
    PutBytes(e.deleted ? std::string_view() : e.record.payload, out);
  }
}

Result<ChangesPage> DecodeChangesPageBinary(std::string_view body) {
  Reader in(body);
  ChangesPage page;
  SYNCSTACK_ASSIGN_OR_RETURN(uint64_t n, ReadChangesHeader(in, page));
  page.changes.resize(n);
  uint64_t previous = 0;
  for (ChangeEntry& e : page.changes) {
    SYNCSTACK_RETURN_IF_ERROR(ReadChange(in, previous, page.seq, e));
    previous = e.seq;
  }
  if (in.left() != 0) {
    return Status::InvalidArgument("page: bytes after the last entry");
  }
  if (!page.changes.empty() && page.last != page.changes.back().seq) {
    return Status::InvalidArgument("page: \"last\" is not the last entry's");
  }
  if (page.last > page.seq) {
    return Status::InvalidArgument("page: \"last\" is past the page's seq");
  }
  return page;
}

}  // namespace syncstack
