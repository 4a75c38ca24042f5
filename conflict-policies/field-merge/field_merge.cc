#include "syncstack/policies/field_merge.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <map>
#include <string>
#include <vector>

namespace syncstack {
namespace {

constexpr char kSeparator = '|';

// One top-level member of a JSON object: the key's token as written
// (quotes included) and the value's text.
struct Member {
  std::string_view key;
  std::string_view value;
};

size_t SkipSpace(std::string_view s, size_t i) {
  while (i < s.size() &&
         (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
    ++i;
  }
  return i;
}

// REQUIRES: s[i] == '"'. Returns the index just past the closing quote.
size_t SkipString(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return s.size();
}

size_t SkipValue(std::string_view s, size_t i) {
  if (i >= s.size()) return i;
  if (s[i] == '"') return SkipString(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c == '"') {
        i = SkipString(s, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return i;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ' ' &&
         s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
    ++i;
  }
  return i;
}

// The members of a JSON object text (payloads are validated objects).
std::vector<Member> Members(std::string_view s) {
  std::vector<Member> out;
  size_t i = SkipSpace(s, 0);
  if (i >= s.size() || s[i] != '{') return out;
  ++i;
  while (true) {
    i = SkipSpace(s, i);
    if (i >= s.size() || s[i] != '"') break;
    size_t k = i;
    i = SkipString(s, i);
    std::string_view key = s.substr(k, i - k);
    i = SkipSpace(s, i);
    if (i >= s.size() || s[i] != ':') break;
    i = SkipSpace(s, i + 1);
    size_t v = i;
    i = SkipValue(s, i);
    out.push_back(Member{key, s.substr(v, i - v)});
    i = SkipSpace(s, i);
    if (i >= s.size() || s[i] != ',') break;
    ++i;
  }
  return out;
}

using FieldStamps = std::map<std::string, Timestamp, std::less<>>;

// Splits a version's extra into the inner policy's part and field stamps.
std::string_view InnerExtra(std::string_view extra) {
  size_t bar = extra.find(kSeparator);
  return bar == std::string_view::npos ? extra : extra.substr(0, bar);
}

FieldStamps ParseStamps(std::string_view extra) {
  FieldStamps out;
  size_t bar = extra.find(kSeparator);
  if (bar == std::string_view::npos) return out;
  std::string_view s = extra.substr(bar + 1);
  size_t i = 0;
  while (i < s.size() && s[i] == '"') {
    size_t k = i;
    i = SkipString(s, i);
    std::string_view key = s.substr(k, i - k);
    if (i >= s.size() || s[i] != '=') break;
    ++i;
    size_t end = s.find(';', i);
    if (end == std::string_view::npos) break;
    Timestamp ts = 0;
    auto r = std::from_chars(s.data() + i, s.data() + end, ts);
    if (r.ec != std::errc() || r.ptr != s.data() + end) break;
    out[std::string(key)] = ts;
    i = end + 1;
  }
  return out;
}

std::string WithStamps(std::string_view inner, const FieldStamps& stamps) {
  std::string out(inner);
  out += kSeparator;
  for (const auto& [key, ts] : stamps) {
    out += key;
    out += '=';
    out += std::to_string(ts);
    out += ';';
  }
  return out;
}

Version Strip(const Version& v) {
  return Version{v.timestamp, std::string(InnerExtra(v.extra))};
}

// The field stamps of a live write: its own, else its version's time.
FieldStamps StampsOf(const Version& v, const std::vector<Member>& members) {
  FieldStamps given = ParseStamps(v.extra);
  FieldStamps out;
  for (const Member& m : members) {
    auto it = given.find(m.key);
    out[std::string(m.key)] = it != given.end() ? it->second : v.timestamp;
  }
  return out;
}

std::map<std::string_view, std::string_view> AsMap(
    const std::vector<Member>& members) {
  std::map<std::string_view, std::string_view> out;
  for (const Member& m : members) out[m.key] = m.value;
  return out;
}

class FieldMerge final : public ConflictPolicy {
 public:
  explicit FieldMerge(std::unique_ptr<ConflictPolicy> inner)
      : inner_(std::move(inner)),
        name_(std::string(inner_->name()) + "+fields") {}

  std::string_view name() const noexcept override { return name_; }
  PolicyTraits traits() const noexcept override { return inner_->traits(); }

  Version StampLocal(const LocalWrite& w) const override {
    std::optional<Version> prev;
    LocalWrite iw = w;
    if (w.previous != nullptr) {
      prev = Strip(*w.previous);
      iw.previous = &*prev;
    }
    Version v = inner_->StampLocal(iw);
    if (w.deleted) return v;
    Timestamp changed = v.timestamp;
    if (w.previous != nullptr && w.previous->timestamp != kNoTimestamp) {
      changed = std::max(changed, w.previous->timestamp + 1);
    }
    std::vector<Member> now = Members(w.payload);
    std::map<std::string_view, std::string_view> before;
    FieldStamps before_stamps;
    if (w.previous != nullptr) {
      std::vector<Member> old = Members(w.previous_payload);
      before = AsMap(old);
      before_stamps = StampsOf(*w.previous, old);
    }
    FieldStamps stamps;
    for (const Member& m : now) {
      auto it = before.find(m.key);
      bool same = it != before.end() && it->second == m.value;
      stamps[std::string(m.key)] =
          same ? before_stamps[std::string(m.key)] : changed;
    }
    v.extra = WithStamps(v.extra, stamps);
    return v;
  }

  Version StampIncoming(const IncomingWrite& w) const override {
    std::optional<Version> proposed, current;
    IncomingWrite iw = w;
    if (w.proposed != nullptr) {
      proposed = Strip(*w.proposed);
      iw.proposed = &*proposed;
    }
    if (w.current != nullptr) {
      current = Strip(*w.current);
      iw.current = &*current;
    }
    Version v = inner_->StampIncoming(iw);
    if (!w.deleted && w.proposed != nullptr &&
        w.proposed->extra.find(kSeparator) != std::string::npos) {
      FieldStamps stamps = ParseStamps(w.proposed->extra);
      // A field stamped by a clock far ahead is restamped as the write's
      // timestamp was (IncomingWrite::latest).
      for (auto& [key, ts] : stamps) {
        if (w.latest != kNoTimestamp && ts > w.latest) {
          ts = std::min(v.timestamp, w.server_now);
        }
      }
      v.extra = WithStamps(v.extra, stamps);
    }
    return v;
  }

  Order Compare(const Version& a, const Version& b) const noexcept override {
    try {
      return inner_->Compare(Strip(a), Strip(b));
    } catch (...) {
      return Order::kConcurrent;
    }
  }

  // Long on purpose: the member-by-member merge rule is one table of cases
  // (docs/policies.md), kept together so it can be checked against it.
  Resolution Resolve(const WriteView& server,
                     const WriteView& client) const override {
    Version sv = Strip(server.version), cv = Strip(client.version);
    std::optional<Version> cp;
    if (client.proposed != nullptr) cp = Strip(*client.proposed);
    Resolution r = inner_->Resolve(
        WriteView{sv, server.deleted, server.payload},
        WriteView{cv, client.deleted, client.payload, cp ? &*cp : nullptr});
    using Outcome = Resolution::Outcome;
    if (server.deleted || client.deleted || r.outcome == Outcome::kSame ||
        r.outcome == Outcome::kMerged) {
      if (r.has_version) {
        const WriteView& kept =
            r.outcome == Outcome::kTakeClient ? client : server;
        if (!kept.deleted) {
          r.version.extra = WithStamps(
              r.version.extra, StampsOf(kept.version, Members(kept.payload)));
        }
      }
      return r;
    }
    const bool client_won = r.outcome == Outcome::kTakeClient;
    std::vector<Member> sm = Members(server.payload);
    std::vector<Member> cm = Members(client.payload);
    FieldStamps ss = StampsOf(server.version, sm);
    FieldStamps cs = StampsOf(client.version, cm);
    auto smap = AsMap(sm), cmap = AsMap(cm);
    // Server's members in their order, then the client's new ones.
    std::vector<Member> merged;
    FieldStamps stamps;
    auto pick = [&](const Member& m, bool from_client) {
      merged.push_back(m);
      stamps[std::string(m.key)] =
          from_client ? cs[std::string(m.key)] : ss[std::string(m.key)];
    };
    for (const Member& m : sm) {
      std::string key(m.key);
      auto c = cmap.find(m.key);
      if (c == cmap.end()) {
        // Only on the server: dropped if the client won and wrote later.
        if (!client_won || ss[key] > client.version.timestamp) pick(m, false);
        continue;
      }
      Member cmember{m.key, c->second};
      if (c->second == m.value) {
        merged.push_back(m);
        stamps[key] = std::max(ss[key], cs[key]);
      } else if (cs[key] != ss[key]) {
        pick(cs[key] > ss[key] ? cmember : m, cs[key] > ss[key]);
      } else {
        pick(client_won ? cmember : m, client_won);
      }
    }
    for (const Member& m : cm) {
      if (smap.count(m.key) != 0) continue;
      std::string key(m.key);
      if (client_won || cs[key] > server.version.timestamp) pick(m, true);
    }
    auto mmap = AsMap(merged);
    Resolution out;
    out.has_version = true;
    out.version = r.has_version ? r.version : (client_won ? cv : sv);
    out.version.extra = WithStamps(out.version.extra, stamps);
    if (mmap == cmap) {
      out.outcome = Outcome::kTakeClient;
      out.conflict = r.conflict || !client_won;
    } else if (mmap == smap) {
      out.outcome = Outcome::kKeepServer;
      out.conflict = true;
    } else {
      out.outcome = Outcome::kMerged;
      out.conflict = true;
      out.payload.assign(1,
                         '{');  // not = "{": GCC 12 -Wrestrict false positive
      for (size_t i = 0; i < merged.size(); ++i) {
        if (i > 0) out.payload += ',';
        out.payload += merged[i].key;
        out.payload += ':';
        out.payload += merged[i].value;
      }
      out.payload += '}';
    }
    return out;
  }

 private:
  std::unique_ptr<ConflictPolicy> inner_;
  std::string name_;
};

}  // namespace

std::unique_ptr<ConflictPolicy> NewFieldMergePolicy(
    std::unique_ptr<ConflictPolicy> inner) {
  assert(inner != nullptr);
  return std::make_unique<FieldMerge>(std::move(inner));
}

}  // namespace syncstack
