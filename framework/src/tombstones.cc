#include "syncstack/tombstones.h"

#include <algorithm>
#include <charconv>

#include "syncstack/metadata_keys.h"

namespace syncstack {
namespace {

// Device names are any JSON string: hex keeps the list line-oriented.
std::string Hex(std::string_view text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() * 2);
  for (unsigned char c : text) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::optional<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    unsigned v = 0;
    auto r = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
    if (r.ec != std::errc() || r.ptr != hex.data() + i + 2) return std::nullopt;
    out += static_cast<char>(v);
  }
  return out;
}

Result<uint64_t> ReadNumber(Store& store, std::string_view key) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> text,
                             store.GetMeta(key));
  if (!text) return uint64_t{0};
  uint64_t v = 0;
  auto r = std::from_chars(text->data(), text->data() + text->size(), v);
  if (r.ec != std::errc()) {
    return Status::Corruption("metadata \"" + std::string(key) +
                              "\" is not a number");
  }
  return v;
}

}  // namespace

Result<std::vector<DeviceMark>> ReadDeviceMarks(Store& store) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> text,
                             store.GetMeta(meta::kGcDevices));
  std::vector<DeviceMark> marks;
  if (!text) return marks;
  std::string_view rest = *text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (line.empty()) continue;
    DeviceMark m;
    int resync = 0;
    const char* p = line.data();
    const char* end = line.data() + line.size();
    auto a = std::from_chars(p, end, m.mark);
    auto b = a.ec == std::errc() && a.ptr < end
                 ? std::from_chars(a.ptr + 1, end, m.seen)
                 : std::from_chars_result{end, std::errc::invalid_argument};
    auto c = b.ec == std::errc() && b.ptr < end
                 ? std::from_chars(b.ptr + 1, end, resync)
                 : std::from_chars_result{end, std::errc::invalid_argument};
    std::optional<std::string> name;
    if (c.ec == std::errc() && c.ptr < end) {
      name = Unhex(std::string_view(c.ptr + 1, end - c.ptr - 1));
    }
    if (!name) return Status::Corruption("metadata \"gc/devices\" is damaged");
    m.device = std::move(*name);
    m.resync = resync != 0;
    marks.push_back(std::move(m));
  }
  return marks;
}

void SetDeviceMark(std::vector<DeviceMark>& marks, DeviceMark mark,
                   ChangeBatch& batch) {
  auto it = std::find_if(marks.begin(), marks.end(), [&](const DeviceMark& m) {
    return m.device == mark.device;
  });
  if (it != marks.end()) {
    *it = std::move(mark);
  } else {
    marks.push_back(std::move(mark));
  }
  // The list is bounded: beyond kMaxDeviceMarks the device seen longest
  // ago goes (never the one just set, the last). It is then a device never
  // seen: its mark no longer holds tombstones back, and if it returns with
  // a mark below the horizon by then, its lock answer says resync.
  while (marks.size() > kMaxDeviceMarks) {
    auto oldest =
        std::min_element(marks.begin(), marks.end() - 1,
                         [](const DeviceMark& a, const DeviceMark& b) {
                           return a.seen < b.seen;
                         });
    marks.erase(oldest);
  }
  std::string text;
  for (const DeviceMark& m : marks) {
    text += std::to_string(m.mark);
    text += ' ';
    text += std::to_string(m.seen);
    text += m.resync ? " 1 " : " 0 ";
    text += Hex(m.device);
    text += '\n';
  }
  batch.SetMeta(std::string(meta::kGcDevices), std::move(text));
}

Result<uint64_t> AccountSequence(Store& store) {
  return ReadNumber(store, meta::kSequence);
}

Result<uint64_t> TombstoneHorizon(Store& store) {
  return ReadNumber(store, meta::kGcHorizon);
}

Result<GcReport> CollectTombstones(Store& store, Timestamp now,
                                   std::chrono::milliseconds device_ttl) {
  if (device_ttl.count() < 0) {
    return Status::InvalidArgument("the device ttl must not be negative");
  }
  for (int attempt = 0;; ++attempt) {
    GcReport report;
    SYNCSTACK_ASSIGN_OR_RETURN(report.sequence, AccountSequence(store));
    SYNCSTACK_ASSIGN_OR_RETURN(report.previous_horizon,
                               TombstoneHorizon(store));
    SYNCSTACK_ASSIGN_OR_RETURN(std::vector<DeviceMark> marks,
                               ReadDeviceMarks(store));
    uint64_t horizon = report.sequence;
    for (const DeviceMark& m : marks) {
      if (m.seen >= now - device_ttl.count()) {
        ++report.live_devices;
        horizon = std::min(horizon, m.mark);
      } else {
        ++report.gone_devices;
      }
    }
    report.horizon = std::max(report.previous_horizon, horizon);

    ChangeBatch batch;
    // Tombstones from before rows carried their sequence: count them as
    // written at the sequence of the first collection, the latest they
    // can have been written at.
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> legacy_text,
                               store.GetMeta(meta::kGcLegacy));
    uint64_t legacy = report.sequence;
    if (legacy_text) {
      legacy = std::strtoull(legacy_text->c_str(), nullptr, 10);
    } else {
      batch.SetMeta(std::string(meta::kGcLegacy), std::to_string(legacy));
    }
    SYNCSTACK_ASSIGN_OR_RETURN(std::vector<std::string> names,
                               store.Collections());
    for (const std::string& name : names) {
      auto it = store.Scan(name, ScanOptions{});
      for (; it->Valid(); it->Next()) {
        const ManifestEntry& e = it->entry();
        if (!e.deleted) continue;
        uint64_t written = e.base > 0 ? static_cast<uint64_t>(e.base) : legacy;
        if (written > report.horizon) {
          ++report.kept;
          continue;
        }
        Expect expect;
        expect.exists = true;
        expect.state = e.state;
        expect.deleted = true;
        expect.timestamp = e.version.timestamp;
        batch.Erase(name, e.id, std::move(expect));
        ++report.collected;
      }
      SYNCSTACK_RETURN_IF_ERROR(it->status());
    }
    if (report.horizon != report.previous_horizon) {
      batch.SetMeta(std::string(meta::kGcHorizon),
                    std::to_string(report.horizon));
    }
    if (batch.empty()) return report;
    Status s = store.Apply(WriteOptions{}, batch);
    // A row written meanwhile (a tombstone brought back to life): redo.
    if (s.code() == Status::Code::kConflict && attempt < 5) continue;
    SYNCSTACK_RETURN_IF_ERROR(s);
    return report;
  }
}

}  // namespace syncstack
