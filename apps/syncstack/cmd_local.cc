// put, rm, ls: a device's local records, as an application sees them.
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "syncstack/codec.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/policies/registry.h"
#include "syncstack/replica.h"

namespace syncstack::cli {
namespace {

// The policy this device stamps with: the one its server named at the last
// sync (store metadata "policy", kept by `syncstack sync`), else lww.
std::unique_ptr<ConflictPolicy> DevicePolicy(Store& store) {
  auto name = store.GetMeta(meta::kPolicy);
  if (name.ok() && *name) {
    auto policy = NewPolicyByName(**name);
    if (policy.ok()) return std::move(*policy);
  }
  return NewLastWriteWinsPolicy();
}

}  // namespace

int RunPut(int argc, char** argv) {
  po::options_description options("put options");
  std::string uri, collection, id_text, json;
  options.add_options()("store", po::value(&uri)->required(),
                        "store URI, e.g. sqlite:app.db")(
      "collection", po::value(&collection)->required(), "collection name")(
      "id", po::value(&id_text),
      "record UUID (default: the JSON's id key, "
      "else a new random one)")("json", po::value(&json)->required(),
                                "the record, a JSON object");
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc, argv,
                 "syncstack put --store URI --collection C [--id UUID] "
                 "--json '{...}'",
                 options, vm, exit_code)) {
    return exit_code;
  }
  auto local = OpenLocalStore(uri);
  if (!local.ok()) return Fail(local.status());
  auto id_key = local->schema.IdKey(collection);
  if (!id_key.ok()) return Fail(id_key.status());
  auto parts = SplitRecordObject(json, *id_key);
  if (!parts.ok()) return Fail(parts.status().WithContext("--json"));
  RecordId id = parts->has_id ? parts->id : RecordId::Random();
  if (vm.count("id")) {
    auto given = RecordId::Parse(id_text);
    if (!given.ok()) return Fail(given.status().WithContext("--id"));
    if (parts->has_id && parts->id != *given) {
      return Fail("--id " + given->ToString() + " differs from the JSON's \"" +
                  std::string(*id_key) + "\": " + parts->id.ToString());
    }
    id = *given;
  }
  auto policy = DevicePolicy(*local->store);
  Replica replica(*local->store, *policy, SystemClock());
  Status s = replica.Put(collection, id, parts->payload);
  if (!s.ok()) return Fail(s);
  std::printf("%s\n", id.ToString().c_str());
  return kExitOk;
}

int RunRm(int argc, char** argv) {
  po::options_description options("rm options");
  std::string uri, collection, id_text;
  options.add_options()("store", po::value(&uri)->required(),
                        "store URI, e.g. sqlite:app.db")(
      "collection", po::value(&collection)->required(), "collection name")(
      "id", po::value(&id_text)->required(), "record UUID");
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc, argv,
                 "syncstack rm --store URI --collection C --id UUID", options,
                 vm, exit_code)) {
    return exit_code;
  }
  auto id = RecordId::Parse(id_text);
  if (!id.ok()) return Fail(id.status().WithContext("--id"));
  auto local = OpenLocalStore(uri);
  if (!local.ok()) return Fail(local.status());
  auto policy = DevicePolicy(*local->store);
  Replica replica(*local->store, *policy, SystemClock());
  Status s = replica.Remove(collection, *id);
  if (!s.ok()) return Fail(s);
  return kExitOk;
}

int RunLs(int argc, char** argv) {
  po::options_description options("ls options");
  std::string uri, only;
  options.add_options()("store", po::value(&uri)->required(),
                        "store URI, e.g. sqlite:app.db")(
      "collection", po::value(&only), "list only this collection")(
      "json",
      "one JSON object per line: the record with its id key and "
      "last_update, sync metadata under keys starting with _");
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc, argv,
                 "syncstack ls --store URI [--collection C] [--json]", options,
                 vm, exit_code)) {
    return exit_code;
  }
  bool as_json = vm.count("json") > 0;
  if (vm.count("collection")) {
    Status s = ValidateCollectionName(only);
    if (!s.ok()) return Fail(s);
  }
  auto local = OpenLocalStore(uri);
  if (!local.ok()) return Fail(local.status());
  std::vector<std::string> names;
  if (vm.count("collection")) {
    names.push_back(only);
  } else {
    auto all = local->store->Collections();
    if (!all.ok()) return Fail(all.status());
    names = std::move(*all);
  }
  std::string line;
  for (const auto& name : names) {
    auto id_key = local->schema.IdKey(name);
    std::string_view key = id_key.ok() ? *id_key : "id";
    ScanOptions live;
    live.include_tombstones = false;
    Status s = ScanRecords(*local->store, name, live, [&](const Record& r) {
      line.clear();
      if (as_json) {
        std::string meta = "\"_collection\":";
        AppendJsonString(name, meta);
        meta += ",\"_state\":\"";
        meta += SyncStateName(r.state);
        meta += '"';
        EncodeRecordObject(WireRecord{r.id, r.version.timestamp, r.payload},
                           key, meta, line);
      } else {
        line = name + "  " + r.id.ToString() + "  " +
               std::string(SyncStateName(r.state)) + "  " +
               FormatTimestamp(r.version.timestamp) + "  " + r.payload;
      }
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stdout);
    });
    if (!s.ok()) return Fail(s);
  }
  return kExitOk;
}

}  // namespace syncstack::cli
