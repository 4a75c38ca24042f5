// The C API's device: open and close a store, put, delete, get and list.
#include <span>

#include "c_api_internal.h"
#include "syncstack/clock.h"
#include "syncstack/codec.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/policies/registry.h"
#include "syncstack/registry.h"
#include "syncstack/replica.h"
#include "syncstack/stores/device_stores.h"

namespace syncstack::capi {
namespace {

// The policy this device stamps with: the one its server named at the last
// sync (metadata "policy"), else last-write-wins (as `syncstack put`).
std::shared_ptr<const ConflictPolicy> StoredPolicy(Store& store) {
  auto name = store.GetMeta(meta::kPolicy);
  if (name.ok() && *name) {
    auto policy = NewPolicyByName(**name);
    if (policy.ok()) return std::move(*policy);
  }
  return NewLastWriteWinsPolicy();
}

Result<std::unique_ptr<syncstack_device>> OpenDevice(std::string_view uri) {
  DatabaseRegistry registry;
  RegisterDeviceStores(registry);
  auto device = std::make_unique<syncstack_device>();
  SYNCSTACK_ASSIGN_OR_RETURN(device->database, registry.Open(uri));
  SYNCSTACK_ASSIGN_OR_RETURN(device->store,
                             device->database->OpenAccount(kLocalAccount));
  SYNCSTACK_ASSIGN_OR_RETURN(device->schema, LoadSchema(*device->store));
  device->writer = std::make_shared<DeviceWriter>(*device->store,
                                                  StoredPolicy(*device->store));
  return device;
}

// The collection's id key ("id" unless the server's schema names another).
std::string IdKeyOf(syncstack_device& device, std::string_view collection) {
  std::lock_guard lock(device.state_mu);
  auto key = device.schema.IdKey(collection);
  return key.ok() ? std::string(*key) : std::string("id");
}

std::shared_ptr<DeviceWriter> WriterOf(syncstack_device& device) {
  std::lock_guard lock(device.state_mu);
  return device.writer;
}

// The record as apps see it: its members, the id key, last_update, _state.
void AppendRecordJson(const Record& r, std::string_view id_key,
                      std::string& out) {
  std::string meta = "\"_state\":\"";
  meta += SyncStateName(r.state);
  meta += '"';
  EncodeRecordObject(WireRecord{r.id, r.version.timestamp, r.payload}, id_key,
                     meta, out);
}

Result<RecordId> ParseId(const char* id) {
  auto parsed = RecordId::Parse(id);
  if (!parsed.ok()) return parsed.status().WithContext("id");
  return *parsed;
}

// The id a put writes: `id` if given, else the object's id key, else new.
Result<RecordId> PutId(const char* id, const RecordParts& parts,
                       std::string_view id_key) {
  if (id == nullptr) return parts.has_id ? parts.id : RecordId::Random();
  SYNCSTACK_ASSIGN_OR_RETURN(RecordId given, ParseId(id));
  if (parts.has_id && parts.id != given) {
    return Status::InvalidArgument(
        "id " + given.ToString() + " differs from the JSON's \"" +
        std::string(id_key) + "\": " + parts.id.ToString());
  }
  return given;
}

syncstack_status Put(syncstack_device& device, const char* collection,
                     const char* id, const char* json, char** id_out) {
  Status valid = ValidateCollectionName(collection);
  if (!valid.ok()) return Fail(valid);
  const std::string id_key = IdKeyOf(device, collection);
  auto parts = SplitRecordObject(json, id_key);
  if (!parts.ok()) return Fail(parts.status().WithContext("json"));
  auto record_id = PutId(id, *parts, id_key);
  if (!record_id.ok()) return Fail(record_id.status());
  Status s =
      WriterOf(device)->replica.Put(collection, *record_id, parts->payload);
  if (!s.ok()) return Fail(s);
  if (id_out != nullptr) return Hand(record_id->ToString(), id_out);
  return Ok();
}

syncstack_status Delete(syncstack_device& device, const char* collection,
                        const char* id) {
  Status valid = ValidateCollectionName(collection);
  if (!valid.ok()) return Fail(valid);
  auto record_id = ParseId(id);
  if (!record_id.ok()) return Fail(record_id.status());
  Status s = WriterOf(device)->replica.Remove(collection, *record_id);
  if (!s.ok()) return Fail(s);
  return Ok();
}

syncstack_status Get(syncstack_device& device, const char* collection,
                     const char* id, char** json_out) {
  Status valid = ValidateCollectionName(collection);
  if (!valid.ok()) return Fail(valid);
  auto record_id = ParseId(id);
  if (!record_id.ok()) return Fail(record_id.status());
  const std::string id_key = IdKeyOf(device, collection);
  std::string out;
  bool found = false;
  Status s = device.store->Get(collection, std::span(&*record_id, 1),
                               [&](const Record& r) {
                                 if (r.deleted) return;
                                 AppendRecordJson(r, id_key, out);
                                 found = true;
                               });
  if (!s.ok()) return Fail(s);
  if (!found) {
    return Fail(SYNCSTACK_NOT_FOUND,
                "no record " + record_id->ToString() + " in " + collection);
  }
  return Hand(out, json_out);
}

// Calls fn(json) for each live record of `collection` until it returns
// false; sets *stopped when it did.
template <typename Fn>
syncstack_status Each(syncstack_device& device, const char* collection, Fn&& fn,
                      bool* stopped) {
  Status valid = ValidateCollectionName(collection);
  if (!valid.ok()) return Fail(valid);
  const std::string id_key = IdKeyOf(device, collection);
  ScanOptions live;
  live.include_tombstones = false;
  std::string line;
  *stopped = false;
  Status s = ScanRecords(*device.store, collection, live, [&](const Record& r) {
    if (*stopped) return;
    line.clear();
    AppendRecordJson(r, id_key, line);
    if (!fn(line)) *stopped = true;
  });
  if (!s.ok()) return Fail(s);
  return Ok();
}

}  // namespace
}  // namespace syncstack::capi

using syncstack::capi::Fail;
using syncstack::capi::Guard;

extern "C" {

syncstack_status syncstack_open(const char* uri, syncstack_device** out) {
  return Guard([&] {
    SYNCSTACK_REQUIRE(out);
    *out = nullptr;
    SYNCSTACK_REQUIRE(uri);
    auto device = syncstack::capi::OpenDevice(uri);
    if (!device.ok()) return Fail(device.status());
    *out = device->release();
    return syncstack::capi::Ok();
  });
}

syncstack_status syncstack_close(syncstack_device* device) {
  return Guard([&] {
    delete device;
    return syncstack::capi::Ok();
  });
}

syncstack_status syncstack_put(syncstack_device* device, const char* collection,
                               const char* id, const char* json,
                               char** id_out) {
  return Guard([&] {
    if (id_out != nullptr) *id_out = nullptr;
    SYNCSTACK_REQUIRE(device);
    SYNCSTACK_REQUIRE(collection);
    SYNCSTACK_REQUIRE(json);
    return syncstack::capi::Put(*device, collection, id, json, id_out);
  });
}

syncstack_status syncstack_delete(syncstack_device* device,
                                  const char* collection, const char* id) {
  return Guard([&] {
    SYNCSTACK_REQUIRE(device);
    SYNCSTACK_REQUIRE(collection);
    SYNCSTACK_REQUIRE(id);
    return syncstack::capi::Delete(*device, collection, id);
  });
}

syncstack_status syncstack_get(syncstack_device* device, const char* collection,
                               const char* id, char** json_out) {
  return Guard([&] {
    SYNCSTACK_REQUIRE(json_out);
    *json_out = nullptr;
    SYNCSTACK_REQUIRE(device);
    SYNCSTACK_REQUIRE(collection);
    SYNCSTACK_REQUIRE(id);
    return syncstack::capi::Get(*device, collection, id, json_out);
  });
}

syncstack_status syncstack_list(syncstack_device* device,
                                const char* collection, char** json_array_out) {
  return Guard([&] {
    SYNCSTACK_REQUIRE(json_array_out);
    *json_array_out = nullptr;
    SYNCSTACK_REQUIRE(device);
    SYNCSTACK_REQUIRE(collection);
    std::string out = "[";
    bool stopped = false;
    syncstack_status s = syncstack::capi::Each(
        *device, collection,
        [&](const std::string& json) {
          if (out.size() > 1) out += ',';
          out += json;
          return true;
        },
        &stopped);
    if (s != SYNCSTACK_OK) return s;
    out += ']';
    return syncstack::capi::Hand(out, json_array_out);
  });
}

syncstack_status syncstack_list_each(syncstack_device* device,
                                     const char* collection,
                                     syncstack_record_fn fn, void* context) {
  return Guard([&] {
    SYNCSTACK_REQUIRE(device);
    SYNCSTACK_REQUIRE(collection);
    SYNCSTACK_REQUIRE(fn);
    bool stopped = false;
    syncstack_status s = syncstack::capi::Each(
        *device, collection,
        [&](const std::string& json) { return fn(context, json.c_str()) == 0; },
        &stopped);
    if (s != SYNCSTACK_OK) return s;
    if (stopped)
      return Fail(SYNCSTACK_ABORTED, "the callback stopped the list");
    return s;
  });
}

syncstack_status syncstack_collections(syncstack_device* device,
                                       char** json_array_out) {
  return Guard([&] {
    SYNCSTACK_REQUIRE(json_array_out);
    *json_array_out = nullptr;
    SYNCSTACK_REQUIRE(device);
    auto names = device->store->Collections();
    if (!names.ok()) return Fail(names.status());
    std::string out = "[";
    for (const std::string& name : *names) {
      if (out.size() > 1) out += ',';
      syncstack::AppendJsonString(name, out);
    }
    out += ']';
    return syncstack::capi::Hand(out, json_array_out);
  });
}

}  // extern "C"
