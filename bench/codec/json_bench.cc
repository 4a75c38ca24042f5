// JSON throughput of the codec against the libraries it was chosen over
// (docs/decisions/json-library.md). Every benchmark reports MB/s of JSON text
// (SetBytesProcessed) and heap allocations per operation.
//
//   Manifest decode: a generated fetch.json of 1M entries in one collection
//     - syncstack    DecodeManifest (RapidJSON SAX, full validation, UUID and
//                    timestamp parsing into Stamps)
//     - simdjson     on-demand and DOM, same conversions into Stamps (the
//                    padded copy simdjson needs is made outside the timed
//                    loop, except in ...DomFromView)
//     - rapidjson    the bare SAX reader with a no-op handler (upper bound)
//     - nlohmann     DOM parse plus the same conversions
//   Manifest encode: EncodeManifest vs RapidJSON Writer vs nlohmann dump()
//   SyncRequest decode/encode of a payload-heavy synchronise.json.
#include <benchmark/benchmark.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "id_parse.h"     // framework/src: the codec's UUID fast path
#include "json_reader.h"  // framework/src: the codec's input stream
#include "syncstack/codec.h"
#include "workload.h"  // bench/common

// --- allocation counting ----------------------------------------------------

namespace syncstack {
namespace {

// Counts the allocations of the benchmark's loop, from construction to
// destruction, and reports them per iteration.
class AllocCounter {
 public:
  explicit AllocCounter(benchmark::State& state) : state_(state) {
    meter_.Start();
  }
  ~AllocCounter() {
    meter_.Stop();
    state_.counters["allocs/op"] =
        benchmark::Counter(static_cast<double>(meter_.total()),
                           benchmark::Counter::kAvgIterations);
  }

 private:
  benchmark::State& state_;
  bench::AllocationMeter meter_;
};

constexpr size_t kManifestEntries = 1'000'000;

// 1M random entries, sorted (bench/common/workload.h), in one collection.
const Manifest& BigManifest() {
  static const Manifest* m = [] {
    auto* out = new Manifest;
    out->collections.push_back(Manifest::Collection{
        "budget", "id", bench::SortedStamps(kManifestEntries)});
    return out;
  }();
  return *m;
}

const std::string& BigManifestJson() {
  static const std::string* s = [] {
    auto* out = new std::string;
    EncodeManifest(BigManifest(), *out);
    return out;
  }();
  return *s;
}

void CheckDecoded(benchmark::State& state, size_t entries) {
  if (entries != kManifestEntries) state.SkipWithError("wrong entry count");
}

// --- manifest decode --------------------------------------------------------

void BM_ManifestDecode_Syncstack(benchmark::State& state) {
  const std::string& body = BigManifestJson();
  state.counters["body_MB"] = static_cast<double>(body.size()) / 1e6;
  AllocCounter allocs(state);
  for (auto _ : state) {
    auto m = DecodeManifest(body);
    if (!m.ok()) state.SkipWithError(m.status().ToString().c_str());
    CheckDecoded(state, m->collections[0].entries.size());
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * body.size()));
}

// The same conversions our decoder does, for the other libraries.
void AddStamp(std::vector<Stamp>& out, std::string_view id,
              std::string_view ts) {
  auto rid = ParseId(id);
  auto t = ParseTimestamp(ts);
  if (!rid.ok() || !t.ok()) std::abort();
  out.push_back(Stamp{*rid, *t});
}

void BM_ManifestDecode_SimdjsonOnDemand(benchmark::State& state) {
  // simdjson needs SIMDJSON_PADDING bytes after the text; the copy is made
  // outside the timed loop (a server could read bodies into padded buffers).
  const simdjson::padded_string body(BigManifestJson());
  simdjson::ondemand::parser parser;
  AllocCounter allocs(state);
  for (auto _ : state) {
    Manifest m;
    simdjson::ondemand::document doc = parser.iterate(body);
    for (auto field : doc.get_object()) {
      Manifest::Collection& c = m.collections.emplace_back();
      c.name = std::string_view(field.unescaped_key());
      for (auto entry : field.value().get_array()) {
        std::string_view id, ts;
        for (auto member : entry.get_object()) {
          std::string_view key = member.unescaped_key();
          std::string_view value = member.value().get_string();
          if (key == "last_update") {
            ts = value;
          } else {
            if (c.id_key.empty()) c.id_key = key;
            id = value;
          }
        }
        AddStamp(c.entries, id, ts);
      }
    }
    CheckDecoded(state, m.collections[0].entries.size());
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * body.size()));
}

// DOM (fully validating). With `copy`, the timed loop includes the padded
// copy that a decoder taking a std::string_view would have to make.
void ManifestDecodeSimdjsonDom(benchmark::State& state, bool copy) {
  const std::string& text = BigManifestJson();
  const simdjson::padded_string padded(text);
  simdjson::dom::parser parser;
  AllocCounter allocs(state);
  for (auto _ : state) {
    Manifest m;
    simdjson::padded_string copied;
    if (copy) copied = simdjson::padded_string(text);
    simdjson::dom::element doc = parser.parse(copy ? copied : padded);
    for (auto [name, list] : doc.get_object()) {
      Manifest::Collection& c = m.collections.emplace_back();
      c.name = name;
      for (simdjson::dom::element entry : list.get_array()) {
        std::string_view id, ts;
        for (auto [key, value] : entry.get_object()) {
          if (key == "last_update") {
            ts = value.get_string();
          } else {
            if (c.id_key.empty()) c.id_key = key;
            id = value.get_string();
          }
        }
        AddStamp(c.entries, id, ts);
      }
    }
    CheckDecoded(state, m.collections[0].entries.size());
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_ManifestDecode_SimdjsonDom(benchmark::State& state) {
  ManifestDecodeSimdjsonDom(state, false);
}
void BM_ManifestDecode_SimdjsonDomFromView(benchmark::State& state) {
  ManifestDecodeSimdjsonDom(state, true);
}

void BM_ManifestDecode_RapidjsonSaxNoop(benchmark::State& state) {
  const std::string& body = BigManifestJson();
  AllocCounter allocs(state);
  rapidjson::Reader reader;
  for (auto _ : state) {
    rapidjson::BaseReaderHandler<> noop;
    rapidjson::StringStream in(body.c_str());
    auto r = reader.Parse<rapidjson::kParseIterativeFlag |
                          rapidjson::kParseValidateEncodingFlag>(in, noop);
    if (r.IsError()) state.SkipWithError("parse error");
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * body.size()));
}

// The same, through the codec's SpanStream (a string_view needs no NUL).
void BM_ManifestDecode_RapidjsonSaxNoopSpan(benchmark::State& state) {
  const std::string& body = BigManifestJson();
  AllocCounter allocs(state);
  rapidjson::Reader reader;
  for (auto _ : state) {
    rapidjson::BaseReaderHandler<> noop;
    json::SpanStream in(body);
    auto r = reader.Parse<json::kParseFlags>(in, noop);
    if (r.IsError()) state.SkipWithError("parse error");
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * body.size()));
}

void BM_ManifestDecode_Nlohmann(benchmark::State& state) {
  const std::string& body = BigManifestJson();
  AllocCounter allocs(state);
  for (auto _ : state) {
    Manifest m;
    nlohmann::json doc = nlohmann::json::parse(body);
    for (const auto& item : doc.items()) {
      Manifest::Collection& c = m.collections.emplace_back();
      c.name = item.key();
      for (const auto& entry : item.value()) {
        std::string_view id, ts;
        for (const auto& member : entry.items()) {
          if (member.key() == "last_update") {
            ts = member.value().get_ref<const std::string&>();
          } else {
            if (c.id_key.empty()) c.id_key = member.key();
            id = member.value().get_ref<const std::string&>();
          }
        }
        AddStamp(c.entries, id, ts);
      }
    }
    CheckDecoded(state, m.collections[0].entries.size());
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * body.size()));
}

// --- manifest encode --------------------------------------------------------

void BM_ManifestEncode_Syncstack(benchmark::State& state) {
  const Manifest& m = BigManifest();
  std::string out;
  AllocCounter allocs(state);
  for (auto _ : state) {
    EncodeManifest(m, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * out.size()));
}

void BM_ManifestEncode_RapidjsonWriter(benchmark::State& state) {
  const Manifest& m = BigManifest();
  rapidjson::StringBuffer buffer;
  AllocCounter allocs(state);
  for (auto _ : state) {
    buffer.Clear();
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    for (const auto& c : m.collections) {
      w.Key(c.name.data(), static_cast<rapidjson::SizeType>(c.name.size()));
      w.StartArray();
      for (const Stamp& s : c.entries) {
        char id[36], ts[23];
        s.id.FormatTo(id);
        FormatTimestampTo(s.last_update, ts);
        w.StartObject();
        w.Key(c.id_key.data(),
              static_cast<rapidjson::SizeType>(c.id_key.size()));
        w.String(id, 36);
        w.Key("last_update", 11);
        w.String(ts, 23);
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
    benchmark::DoNotOptimize(buffer.GetString());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * buffer.GetSize()));
}

void BM_ManifestEncode_NlohmannDump(benchmark::State& state) {
  // dump() of a prebuilt document (building it is not timed).
  const Manifest& m = BigManifest();
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& c : m.collections) {
    nlohmann::json list = nlohmann::json::array();
    for (const Stamp& s : c.entries) {
      list.push_back({{c.id_key, s.id.ToString()},
                      {"last_update", FormatTimestamp(s.last_update)}});
    }
    doc[c.name] = std::move(list);
  }
  std::string out;
  AllocCounter allocs(state);
  for (auto _ : state) {
    out = doc.dump();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * out.size()));
}

// --- synchronise.json with payloads -----------------------------------------

// ~10k records of ~1 KiB: strings with escapes and UTF-8, numbers, nesting.
const std::string& PayloadHeavyRequest() {
  static const std::string* s = [] {
    std::mt19937_64 rng(7);
    SyncRequest request;
    auto& c = request.add.emplace_back();
    c.collection = "notes";
    for (int i = 0; i < 10000; ++i) {
      std::string p = "{\"title\":\"Shopping list \\u2014 week " +
                      std::to_string(i) + "\",\"body\":\"";
      for (int k = 0; k < 12; ++k) {
        p += "Milk, eggs, \\\"bread\\\", caf\xC3\xA9 \xE2\x9C\x93 and more. ";
      }
      p += "\",\"count\":" + std::to_string(rng() % 100000) +
           ",\"price\":" + std::to_string(rng() % 10000) + ".25" +
           ",\"big\":12345678901234567890,\"done\":false,\"tags\":[\"a\","
           "\"b\",\"c\"],\"meta\":{\"author\":{\"name\":\"Zo\xC3\xAB\","
           "\"id\":42},\"history\":[1,2,3,4,5,6,7,8,9,10],\"x\":null}}";
      c.records.push_back(
          WireRecord{bench::RandomId(rng), 1367422970000 + i, p});
    }
    auto* out = new std::string;
    EncodeSyncRequest(request, Schema(), *out);
    return out;
  }();
  return *s;
}

void BM_SyncRequestDecode_Syncstack(benchmark::State& state) {
  const std::string& body = PayloadHeavyRequest();
  state.counters["body_MB"] = static_cast<double>(body.size()) / 1e6;
  const Schema schema;
  AllocCounter allocs(state);
  for (auto _ : state) {
    auto r = DecodeSyncRequest(body, schema);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * body.size()));
}

void BM_SyncRequestEncode_Syncstack(benchmark::State& state) {
  const Schema schema;
  auto request = DecodeSyncRequest(PayloadHeavyRequest(), schema);
  if (!request.ok()) std::abort();
  std::string out;
  AllocCounter allocs(state);
  for (auto _ : state) {
    EncodeSyncRequest(*request, schema, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * out.size()));
}

BENCHMARK(BM_ManifestDecode_Syncstack)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ManifestDecode_SimdjsonOnDemand)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ManifestDecode_SimdjsonDom)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ManifestDecode_SimdjsonDomFromView)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ManifestDecode_RapidjsonSaxNoop)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ManifestDecode_RapidjsonSaxNoopSpan)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ManifestDecode_Nlohmann)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ManifestEncode_Syncstack)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ManifestEncode_RapidjsonWriter)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ManifestEncode_NlohmannDump)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SyncRequestDecode_Syncstack)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SyncRequestEncode_Syncstack)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace syncstack

BENCHMARK_MAIN();
