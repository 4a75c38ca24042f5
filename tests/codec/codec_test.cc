// The codec's happy paths: the seed's examples, payload byte-exactness,
// round trips, exact encoder output, login/lock/error bodies.
#include "syncstack/codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "syncstack/protocol.h"
#include "test_util.h"

namespace syncstack {
namespace {

using testing::IsInvalid;
using testing::ReadFixture;

RecordId Id(std::string_view text) {
  auto id = RecordId::Parse(text);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return id.ok() ? *id : RecordId();
}

Timestamp Ts(std::string_view text) {
  auto ts = ParseTimestamp(text);
  EXPECT_TRUE(ts.ok()) << ts.status().ToString();
  return ts.ok() ? *ts : kNoTimestamp;
}

Schema SeedSchema() {
  auto schema = Schema::Parse(ReadFixture("seed_schema.json"));
  EXPECT_TRUE(schema.ok()) << schema.status().ToString();
  return schema.ok() ? *schema : Schema();
}

// An open schema that knows the seed's id keys.
Schema OpenSeedSchema() {
  Schema schema;
  const Schema seed = SeedSchema();
  for (const auto& [name, key] : seed.collections()) {
    schema.Set(name, key);
  }
  return schema;
}

constexpr char kId1[] = "f426f326-1cfe-4669-9e74-3c063fba542a";
constexpr char kId2[] = "86c62841-1eae-4014-a719-9c353de55f37";

// --- The seed's examples --------------------------------------------------

TEST(SeedExamples, FetchJsonIsAManifest) {
  auto manifest = DecodeManifest(ReadFixture("seed_fetch.json"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  const auto& cs = manifest->collections;
  ASSERT_EQ(cs.size(), 6u);
  const char* names[] = {"budget",      "invitation_categories",
                         "invitations", "wishlist",
                         "gift_list",   "todo"};
  const char* keys[] = {"bid", "icid", "iid", "gid", "", "id"};
  const size_t sizes[] = {8, 5, 6, 4, 0, 6};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(cs[i].name, names[i]);
    EXPECT_EQ(cs[i].id_key, keys[i]);
    EXPECT_EQ(cs[i].entries.size(), sizes[i]);
  }
  EXPECT_EQ(cs[0].entries[0].id, Id(kId1));
  EXPECT_EQ(cs[0].entries[0].last_update, 1367422970000);  // 15:42:50
  EXPECT_EQ(cs[5].entries[5].id, Id("560a668f-e79c-420e-a494-7971949f69e8"));
  EXPECT_EQ(cs[5].entries[5].last_update, Ts("2013-05-01 15:44:39"));
}

TEST(SeedExamples, SynchroniseJsonUnderOpenSchemaWithSeedKeys) {
  auto request =
      DecodeSyncRequest(ReadFixture("seed_synchronise.json"), OpenSeedSchema());
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  ASSERT_EQ(request->add.size(), 3u);
  EXPECT_EQ(request->add[0].collection, "budget");
  EXPECT_EQ(request->add[0].records.size(), 4u);
  EXPECT_EQ(request->add[1].collection, "invitations");  // `{}`: empty
  EXPECT_TRUE(request->add[1].records.empty());
  EXPECT_EQ(request->add[2].collection, "gifts");  // open: id key "id"
  EXPECT_TRUE(request->add[2].records.empty());
  ASSERT_EQ(request->update.size(), 3u);
  EXPECT_EQ(request->update[0].records.size(), 5u);

  const WireRecord& first = request->add[0].records[0];
  EXPECT_EQ(first.id, Id("e162cf44-f6d4-4f55-9096-242cb0d2f9a4"));
  EXPECT_EQ(first.last_update, kNoTimestamp);
  EXPECT_EQ(first.payload,
            R"({"expense_title":"ADDITIONAL PRINTS\/VIDEOS","assigned_to":8,)"
            R"("status":1,"cost":200,)"
            R"("couple_id":"ac646699-47b1-4b70-b794-e069891bad56",)"
            R"("brideOrGroom":"1","created":"2013-05-02 10:24:23"})");

  // `delete` keeps its repeats (the service treats them once).
  ASSERT_EQ(request->del.size(), 1u);
  const RecordId a = Id("ac646699-47b1-4b70-b794-e069891bad56");
  const RecordId b = Id("204efd52-a6e1-4b6d-85de-086502cfb95e");
  EXPECT_EQ(request->del[0].ids, (std::vector<RecordId>{a, b, a, b, a}));
  ASSERT_EQ(request->get.size(), 1u);
  EXPECT_EQ(
      request->get[0].ids,
      (std::vector<RecordId>{a, Id("68279950-2dc2-48ae-a29e-b1b8cc8484f1")}));
}

TEST(SeedExamples, SynchroniseJsonUnderStrictSeedSchemaRejectsGifts) {
  auto request =
      DecodeSyncRequest(ReadFixture("seed_synchronise.json"), SeedSchema());
  EXPECT_TRUE(IsInvalid(request.status(), "add: unknown collection \"gifts\""));
}

TEST(SeedExamples, SynchroniseJsonUnderPlainOpenSchemaNeedsIdKey) {
  auto request =
      DecodeSyncRequest(ReadFixture("seed_synchronise.json"), Schema());
  EXPECT_TRUE(
      IsInvalid(request.status(), "add.budget[0]: record has no \"id\" key"));
}

TEST(SeedExamples, SynchroniseReencodesAndDecodesToTheSame) {
  const Schema schema = OpenSeedSchema();
  auto request =
      DecodeSyncRequest(ReadFixture("seed_synchronise.json"), schema);
  ASSERT_TRUE(request.ok());
  std::string body;
  EncodeSyncRequest(*request, schema, body);
  auto again = DecodeSyncRequest(body, schema);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->add[0].records, request->add[0].records);
  EXPECT_EQ(again->update[0].records, request->update[0].records);
  EXPECT_EQ(again->del[0].ids, request->del[0].ids);
  EXPECT_NE(body.find(R"("invitations":[])"), std::string::npos) << body;
}

// --- Payloads are kept byte for byte ----------------------------------------

std::string RecordBody(const std::vector<std::string>& members,
                       std::string_view sep = ",") {
  std::string body = R"({"add":{"todo":[{)";
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) body += sep;
    body += members[i];
  }
  body += "}]}}";
  return body;
}

std::string DecodeOnePayload(const std::string& body) {
  auto request = DecodeSyncRequest(body, Schema());
  EXPECT_TRUE(request.ok()) << request.status().ToString() << "\n" << body;
  if (!request.ok()) return "<error>";
  EXPECT_EQ(request->add.size(), 1u);
  EXPECT_EQ(request->add[0].records.size(), 1u);
  return request->add[0].records[0].payload;
}

TEST(Payload, MembersAreCopiedVerbatim) {
  const std::vector<std::string> members = {
      R"("title":"milk")",
      R"("unicode":"héllo wörld ✓ 日本")",
      R"("emoji":"😀🎉")",
      R"("escaped":"\ud83d\ude00 \u00e9 \u0000 \n\t\"\\\/")",
      R"("big":12345678901234567890)",
      R"("bigger":123456789012345678901234567890)",
      R"("min":-9223372036854775808)",
      R"("float":1.0e5)",
      R"("pi":3.14159265358979323846264338327950288)",
      R"("neg0":-0.0)",
      R"("small":1E-300)",
      R"("t":true)",
      R"("f":false)",
      R"("nothing":null)",
      R"("empty_obj":{})",
      R"("empty_arr":[])",
      R"("empty_str":"")",
      R"("nested":{"a":[1,{"b":null,"c":[[],{}]}],"d":{"e":{"f":"g"}}})",
      R"("spaced" : [ 1 , 2 ,{ "x" : "y" } ])",
      R"("k\u0065y":1)",
      R"("":"empty key")",
  };
  std::vector<std::string> with_id = members;
  with_id.insert(with_id.begin() + 3, std::string(R"("id":")") + kId1 + "\"");
  std::string expected = "{";
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) expected += ',';
    expected += members[i];
  }
  expected += '}';
  EXPECT_EQ(DecodeOnePayload(RecordBody(with_id)), expected);
  // Whitespace between members is normalised, member text is not.
  EXPECT_EQ(DecodeOnePayload(RecordBody(with_id, " ,\n\t ")), expected);
}

TEST(Payload, IdAndLastUpdateAreExtractedWherEverTheyAre) {
  const std::string id = std::string(R"("id":")") + kId1 + "\"";
  const std::string ts = R"("last_update":"2013-05-01 15:42:50")";
  for (const auto& members : std::vector<std::vector<std::string>>{
           {id, ts, R"("a":1)", R"("b":2)"},
           {R"("a":1)", id, R"("b":2)", ts},
           {ts, R"("a":1)", R"("b":2)", id},
       }) {
    auto request = DecodeSyncRequest(RecordBody(members), Schema());
    ASSERT_TRUE(request.ok()) << request.status().ToString();
    const WireRecord& r = request->add[0].records[0];
    EXPECT_EQ(r.id, Id(kId1));
    EXPECT_EQ(r.last_update, 1367422970000);
    EXPECT_EQ(r.payload, R"({"a":1,"b":2})");
  }
}

TEST(Payload, OnlyIdGivesEmptyObject) {
  EXPECT_EQ(
      DecodeOnePayload(RecordBody({std::string(R"("id":")") + kId1 + "\""})),
      "{}");
  EXPECT_EQ(DecodeOnePayload(std::string(R"({"add":{"todo":[{ "id" : ")") +
                             kId1 + "\" }]}}"),
            "{}");
}

TEST(Payload, IdIsCaseInsensitiveAndEscapedKeysCount) {
  // An upper-case UUID, the id key written with an escape.
  auto request = DecodeSyncRequest(
      R"({"add":{"todo":[{"i\u0064":"F426F326-1CFE-4669-9E74-3C063FBA542A","x":1}]}})",
      Schema());
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  EXPECT_EQ(request->add[0].records[0].id, Id(kId1));
  EXPECT_EQ(request->add[0].records[0].id.ToString(), kId1);
  EXPECT_EQ(request->add[0].records[0].payload, R"({"x":1})");
}

TEST(Payload, EncodeWritesIdPayloadAndLastUpdate) {
  Schema schema = SeedSchema();
  SyncRequest request;
  request.add.push_back(
      {"budget",
       {WireRecord{Id(kId1), 1367422970123, R"({"title":"x","n":[1,2]})"},
        WireRecord{Id(kId2), kNoTimestamp, "{}"}}});
  request.add.push_back({"todo", {}});
  request.del.push_back({"todo", {Id(kId2)}});
  std::string body;
  EncodeSyncRequest(request, schema, body);
  EXPECT_EQ(
      body,
      std::string(R"({"add":{"budget":[{"bid":")") + kId1 +
          R"(","title":"x","n":[1,2],"last_update":"2013-05-01 15:42:50.123"},)"
          R"({"bid":")" +
          kId2 + R"("}],"todo":[]},"update":{},"delete":{"todo":[")" + kId2 +
          R"("]},"get":{}})");
  auto back = DecodeSyncRequest(body, schema);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->add[0].records, request.add[0].records);
}

TEST(Payload, EncodeToleratesSpacedPayloadBraces) {
  SyncRequest request;
  request.update.push_back(
      {"todo",
       {WireRecord{Id(kId1), kNoTimestamp, " { \"a\" : 1 } "},
        WireRecord{Id(kId2), kNoTimestamp, " {  } "},
        WireRecord{Id(kId2), kNoTimestamp, ""}}});
  std::string body = "stale";
  EncodeSyncRequest(request, Schema(), body);
  auto back = DecodeSyncRequest(body, Schema());
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << body;
  EXPECT_EQ(back->update[0].records[0].payload, R"({"a" : 1})");
  EXPECT_EQ(back->update[0].records[1].payload, "{}");
  EXPECT_EQ(back->update[0].records[2].payload, "{}");
}

// --- Responses and manifests ------------------------------------------------

TEST(SyncResponse, RoundTripsWithStampsAndConflicts) {
  const Schema schema = SeedSchema();
  SyncResponse response;
  response.get.push_back(
      {"budget", {WireRecord{Id(kId1), 1000, R"({"cost":200})"}}});
  response.get.push_back({"todo", {}});
  response.stamps.push_back(
      {"budget", {Stamp{Id(kId1), 5}, Stamp{Id(kId2), 1367422970000}}});
  response.conflicts.push_back({"todo",
                                {ConflictNote{Id(kId1), Kept::kServer},
                                 ConflictNote{Id(kId2), Kept::kClient},
                                 ConflictNote{Id(kId1), Kept::kMerged}}});
  std::string body;
  EncodeSyncResponse(response, schema, body);
  const std::string head =
      std::string(R"({"get":{"budget":[{"bid":")") + kId1 + R"(","cost":200,)";
  EXPECT_EQ(body.substr(0, head.size()), head);
  auto back = DecodeSyncResponse(body, schema);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << body;
  ASSERT_EQ(back->get.size(), 2u);
  EXPECT_EQ(back->get[0].records, response.get[0].records);
  EXPECT_TRUE(back->get[1].records.empty());
  ASSERT_EQ(back->stamps.size(), 1u);
  EXPECT_EQ(back->stamps[0].stamps, response.stamps[0].stamps);
  ASSERT_EQ(back->conflicts.size(), 1u);
  ASSERT_EQ(back->conflicts[0].conflicts.size(), 3u);
  EXPECT_EQ(back->conflicts[0].conflicts[1].id, Id(kId2));
  EXPECT_EQ(back->conflicts[0].conflicts[1].kept, Kept::kClient);
  EXPECT_EQ(back->conflicts[0].conflicts[2].kept, Kept::kMerged);
  EXPECT_NE(
      body.find(std::string(R"({"id":")") + kId2 + R"(","kept":"client"})"),
      std::string::npos);
}

TEST(SyncResponse, UnknownTopLevelKeysAreSkipped) {
  auto back = DecodeSyncResponse(
      R"({"server_time":{"a":[1,{"b":2}]},"get":{},"note":"x","stamps":{}})",
      Schema());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->get.empty());
}

TEST(SyncResponse, EmptyEncodesAllSections) {
  std::string body;
  EncodeSyncResponse(SyncResponse{}, Schema(), body);
  EXPECT_EQ(body, R"({"get":{},"stamps":{},"conflicts":{}})");
}

TEST(Manifest, EncodesExactShape) {
  Manifest m;
  m.collections.push_back({"budget", "bid", {Stamp{Id(kId1), 1367422970000}}});
  m.collections.push_back({"gift_list", "", {}});
  std::string body;
  EncodeManifest(m, body);
  EXPECT_EQ(
      body,
      std::string(R"({"budget":[{"bid":")") + kId1 +
          R"(","last_update":"2013-05-01 15:42:50.000"}],"gift_list":[]})");
}

TEST(Manifest, SeedRoundTrips) {
  auto m = DecodeManifest(ReadFixture("seed_fetch.json"));
  ASSERT_TRUE(m.ok());
  std::string body;
  EncodeManifest(*m, body);
  auto back = DecodeManifest(body);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->collections.size(), m->collections.size());
  for (size_t i = 0; i < m->collections.size(); ++i) {
    EXPECT_EQ(back->collections[i].name, m->collections[i].name);
    EXPECT_EQ(back->collections[i].id_key, m->collections[i].id_key);
    EXPECT_EQ(back->collections[i].entries, m->collections[i].entries);
  }
}

TEST(Manifest, AcceptsEmptyObjectAndUnsortedEntriesAndIsoTimes) {
  auto m = DecodeManifest(
      std::string(
          R"({"a":{},"b":[{"last_update":"2013-05-01T15:42:50Z","k":")") +
      kId2 + R"("},{"k":")" + kId1 +
      R"(","last_update":"2013-05-01T17:42:50.5+02:00"}]})");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->collections.size(), 2u);
  EXPECT_EQ(m->collections[0].id_key, "");
  EXPECT_EQ(m->collections[1].id_key, "k");
  EXPECT_EQ(m->collections[1].entries[0].last_update, 1367422970000);
  EXPECT_EQ(m->collections[1].entries[1].last_update, 1367422970500);
}

// --- login, lock, errors ----------------------------------------------------

TEST(Login, RoundTrips) {
  std::string body;
  EncodeLoginRequest({"alice", "p\"ss\\wörd\n"}, body);
  EXPECT_EQ(body, R"({"user":"alice","password":"p\"ss\\wörd\n"})");
  auto req = DecodeLoginRequest(body);
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(req->user, "alice");
  EXPECT_EQ(req->password, "p\"ss\\wörd\n");

  EncodeLoginResponse({"tok-123", 3600}, body);
  EXPECT_EQ(body, R"({"token":"tok-123","expires_in":3600})");
  auto resp = DecodeLoginResponse(body);
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->token, "tok-123");
  EXPECT_EQ(resp->expires_in, 3600);
}

TEST(Login, ToleratesUnknownMembersAndRejectsBadOnes) {
  auto req =
      DecodeLoginRequest(R"({"client":{"v":[1]},"user":"bob","password":""})");
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(req->user, "bob");
  EXPECT_TRUE(IsInvalid(DecodeLoginRequest(R"({"user":"bob"})").status(),
                        "body: missing \"password\""));
  EXPECT_TRUE(
      IsInvalid(DecodeLoginRequest(R"({"user":1,"password":"x"})").status(),
                "user: expected a string, not a number"));
  EXPECT_TRUE(
      IsInvalid(DecodeLoginRequest(R"({"user":"","password":"x"})").status(),
                "user: must not be empty"));
  EXPECT_TRUE(IsInvalid(
      DecodeLoginRequest(R"({"user":"a","user":"b","password":"x"})").status(),
      "duplicate key \"user\""));
  EXPECT_TRUE(IsInvalid(DecodeLoginRequest(R"(["user"])").status(),
                        "body: expected an object, not an array"));
  EXPECT_TRUE(IsInvalid(DecodeLoginRequest(R"({"user":"a",)").status(),
                        "body: not valid JSON at offset"));
  EXPECT_TRUE(IsInvalid(
      DecodeLoginResponse(R"({"token":"t","expires_in":1.5})").status(),
      "expires_in: expected an integer"));
  EXPECT_TRUE(IsInvalid(
      DecodeLoginResponse(R"({"token":"t","expires_in":"1"})").status(),
      "expires_in: expected an integer, not a string"));
  EXPECT_TRUE(IsInvalid(
      DecodeLoginResponse(R"({"token":"t","expires_in":-1})").status(),
      "expires_in: must not be negative"));
  EXPECT_TRUE(IsInvalid(
      DecodeLoginResponse(R"({"token":"t","expires_in":99999999999999999999})")
          .status(),
      "expires_in: expected an integer"));
}

TEST(Lock, RoundTrips) {
  std::string body;
  EncodeLockRequest({"ios-1"}, body);
  EXPECT_EQ(body, R"({"device":"ios-1"})");
  auto req = DecodeLockRequest(body);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->device, "ios-1");
  EncodeLockResponse({"lease-9", 30}, body);
  EXPECT_EQ(body, R"({"lease":"lease-9","expires_in":30})");
  auto resp = DecodeLockResponse(body);
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->lease, "lease-9");
  EXPECT_EQ(resp->expires_in, 30);
  EXPECT_TRUE(
      IsInvalid(DecodeLockRequest("{}").status(), "body: missing \"device\""));
  EXPECT_TRUE(IsInvalid(DecodeLockRequest(R"({"device":null})").status(),
                        "device: expected a string, not null"));
  EXPECT_TRUE(
      IsInvalid(DecodeLockResponse(R"({"lease":"","expires_in":1})").status(),
                "lease: must not be empty"));
}

// Device names are 1..128 bytes of printable, well-formed UTF-8: a name
// is kept per device by the server, so its size is bounded at the door.
TEST(Lock, DeviceNameRule) {
  auto decode = [](const std::string& name) {
    std::string body;
    EncodeLockRequest({name}, body);
    return DecodeLockRequest(body);
  };
  const std::string rule = "device: must be 1 to 128 bytes of printable UTF-8";
  EXPECT_TRUE(decode(std::string(128, 'a')).ok());
  EXPECT_TRUE(
      decode("t\xc3\xa9l\xc3\xa9phone \xe2\x98\x83 \xf0\x9f\x93\xb1").ok());
  EXPECT_TRUE(IsInvalid(decode("").status(), rule));
  EXPECT_TRUE(IsInvalid(decode(std::string(129, 'a')).status(), "129 bytes"));
  EXPECT_TRUE(IsInvalid(decode(std::string(4 << 20, 'a')).status(), rule));
  EXPECT_TRUE(IsInvalid(decode("a\nb").status(), "control character"));
  EXPECT_TRUE(
      IsInvalid(decode(std::string("a\0b", 3)).status(), "control character"));
  EXPECT_TRUE(IsInvalid(decode("a\x7f").status(), "control character"));
  EXPECT_TRUE(IsInvalid(decode("a\xc2\x85").status(), "control character"));
  // Not UTF-8: refused, by the JSON reader or by the rule.
  for (std::string raw : {"a\xff", "\xc0\xaf", "\xed\xa0\x80", "a\xe2\x98"}) {
    auto req = DecodeLockRequest("{\"device\":\"" + raw + "\"}");
    EXPECT_EQ(req.status().code(), Status::Code::kInvalidArgument) << raw;
  }
  EXPECT_TRUE(IsInvalid(DecodeLockRequest(R"({"device":"a\u0007"})").status(),
                        "control character"));
}

// The tombstone fields are optional both ways: absent, a seed-dialect lock
// is byte for byte what PROTOCOL.md shows.
TEST(Lock, TombstoneMarkFields) {
  std::string body;
  LockRequest request{"ios-1"};
  request.synced_through = 42;
  EncodeLockRequest(request, body);
  EXPECT_EQ(body, R"({"device":"ios-1","_synced_through":42})");
  auto req = DecodeLockRequest(body);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->synced_through, 42);
  req = DecodeLockRequest(R"({"device":"ios-1"})");
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->synced_through, -1);
  EXPECT_TRUE(IsInvalid(
      DecodeLockRequest(R"({"device":"d","_synced_through":-3})").status(),
      "_synced_through: must not be negative"));
  EXPECT_TRUE(IsInvalid(
      DecodeLockRequest(R"({"device":"d","_synced_through":"7"})").status(),
      "_synced_through: expected an integer"));

  LockResponse answer{"lease-9", 30};
  answer.seq = 17;
  EncodeLockResponse(answer, body);
  EXPECT_EQ(body, R"({"lease":"lease-9","expires_in":30,"_seq":17})");
  answer.resync = true;
  EncodeLockResponse(answer, body);
  EXPECT_EQ(body,
            R"({"lease":"lease-9","expires_in":30,"_seq":17,"_resync":true})");
  auto resp = DecodeLockResponse(body);
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->seq, 17);
  EXPECT_TRUE(resp->resync);
  resp = DecodeLockResponse(R"({"lease":"l","expires_in":1})");
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->seq, -1);
  EXPECT_FALSE(resp->resync);
  EXPECT_TRUE(IsInvalid(
      DecodeLockResponse(R"({"lease":"l","expires_in":1,"_resync":1})")
          .status(),
      "_resync: expected a boolean"));
}

TEST(Errors, EncodeAndDecode) {
  std::string body;
  EncodeError(Status::Locked("held by \"ios-1\""), 7, body);
  EXPECT_EQ(
      body,
      R"({"error":"locked","message":"held by \"ios-1\"","retry_after":7})");
  int64_t retry = 0;
  Status st = DecodeError(423, body, &retry);
  EXPECT_EQ(st.code(), Status::Code::kLocked);
  EXPECT_EQ(st.message(), "held by \"ios-1\"");
  EXPECT_EQ(retry, 7);

  EncodeError(Status::Locked("x"), -1, body);
  EXPECT_EQ(body, R"({"error":"locked","message":"x"})");
  EncodeError(
      Status::InvalidArgument("add.budget[2]: record has no \"bid\" key"), 5,
      body);  // retry_after only for kLocked
  EXPECT_EQ(
      body,
      R"({"error":"bad_request","message":"add.budget[2]: record has no \"bid\" key"})");
  st = DecodeError(400, body, &retry);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(retry, -1);
  EXPECT_EQ(st.message(), "add.budget[2]: record has no \"bid\" key");

  for (Status s :
       {Status::LeaseLost("m"), Status::LeaseRequired("m"),
        Status::TooLarge("m"), Status::Unauthorized("m"), Status::NotFound("m"),
        Status::Conflict("m"), Status::Unavailable("m"), Status::IOError("m"),
        Status::NotSupported("m"), Status::Aborted("m")}) {
    EncodeError(s, -1, body);
    Status back = DecodeError(HttpStatusFor(s.code()), body);
    EXPECT_EQ(back.code(), s.code()) << body;
    EXPECT_EQ(back.message(), "m");
  }
}

TEST(Errors, EncodeKeepsOutputValidJsonForAnyMessage) {
  std::string body;
  // An error message quoting a cut, invalid UTF-8 snippet of a bad body.
  EncodeError(Status::InvalidArgument(std::string("bad \xC3 \xFF\x01 end")), -1,
              body);
  EXPECT_TRUE(ValidateJsonObject(body).ok()) << body;
  EXPECT_NE(body.find(R"(bad \ufffd \ufffd\u0001 end)"), std::string::npos)
      << body;
}

TEST(Errors, DecodeFallsBackToHttpStatus) {
  int64_t retry = 5;
  Status st = DecodeError(502, "<html>Bad Gateway</html>", &retry);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_EQ(st.message(), "HTTP 502: <html>Bad Gateway</html>");
  EXPECT_EQ(retry, -1);
  EXPECT_EQ(DecodeError(401, "").code(), Status::Code::kUnauthorized);
  EXPECT_EQ(DecodeError(423, R"({"message":"no code"})").code(),
            Status::Code::kLocked);
  EXPECT_EQ(DecodeError(409, R"({"error":"lease_lost","message":"m"})").code(),
            Status::Code::kLeaseLost);
  EXPECT_EQ(DecodeError(409, R"({"error":"conflict","message":"m"})").code(),
            Status::Code::kConflict);
  // An unknown code: the HTTP status decides; never OK.
  EXPECT_EQ(DecodeError(418, R"({"error":"teapot","message":"m"})").code(),
            Status::Code::kInvalidArgument);
  EXPECT_FALSE(DecodeError(200, "{}").ok());
}

// --- AppendJsonString / ValidateJsonObject
// ------------------------------------

TEST(AppendJsonString, EscapesWhatJsonRequires) {
  std::string out = "prefix:";
  AppendJsonString(std::string("a\"b\\c/\b\f\n\r\t\x01\x1f\x7f", 14), out);
  EXPECT_EQ(out, "prefix:\"a\\\"b\\\\c/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
  out.clear();
  AppendJsonString(std::string("nul\0here", 8), out);
  EXPECT_EQ(out, R"("nul\u0000here")");
}

TEST(AppendJsonString, KeepsUtf8AndReplacesInvalidBytes) {
  std::string out;
  AppendJsonString("héllo ✓ 😀 日本", out);
  EXPECT_EQ(out, "\"héllo ✓ 😀 日本\"");
  const std::pair<std::string, std::string> bad[] = {
      {"\x80", "\\ufffd"},                        // lone continuation
      {"\xC0\xAF", "\\ufffd\\ufffd"},             // overlong
      {"\xED\xA0\x80", "\\ufffd\\ufffd\\ufffd"},  // surrogate
      {"\xF4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},  // > U+10FFFF
      {"\xE2\x9C", "\\ufffd\\ufffd"},                        // truncated
  };
  for (const auto& [in, want] : bad) {
    out.clear();
    AppendJsonString(in, out);
    EXPECT_EQ(out, "\"" + want + "\"");
  }
}

TEST(ValidateJsonObject, AcceptsObjectsOnly) {
  EXPECT_TRUE(ValidateJsonObject("{}").ok());
  EXPECT_TRUE(
      ValidateJsonObject(" {\"a\":[1,2.5e3,{\"b\":null}],\"c\":\"\\u00e9\"} \n")
          .ok());
  EXPECT_TRUE(IsInvalid(ValidateJsonObject("[]"),
                        "offset 0: expected a JSON object, not an array"));
  EXPECT_TRUE(IsInvalid(ValidateJsonObject("\"x\""), "expected a JSON object"));
  EXPECT_TRUE(IsInvalid(ValidateJsonObject("{\"a\":1} {}"),
                        "not valid JSON at offset 8"));
  EXPECT_TRUE(
      IsInvalid(ValidateJsonObject("{\"a\":tru}"), "not valid JSON at offset"));
  EXPECT_TRUE(IsInvalid(ValidateJsonObject(""), "not valid JSON at offset 0"));
  EXPECT_TRUE(IsInvalid(ValidateJsonObject(std::string("{}\0", 3)),
                        "not valid JSON at offset 2"));
}

TEST(ValidateJsonObject, DepthLimitIsExactAndStackSafe) {
  auto nested = [](int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += "{\"a\":";
    s += "1";
    for (int i = 0; i < depth; ++i) s += "}";
    return s;
  };
  EXPECT_TRUE(ValidateJsonObject(nested(128)).ok());
  EXPECT_TRUE(
      IsInvalid(ValidateJsonObject(nested(129)), "nesting deeper than 128"));
  EXPECT_TRUE(
      IsInvalid(ValidateJsonObject(nested(100000)), "nesting deeper than 128"));
  EXPECT_TRUE(ValidateJsonObject(nested(3), CodecLimits{3}).ok());
  EXPECT_TRUE(IsInvalid(ValidateJsonObject(nested(4), CodecLimits{3}),
                        "nesting deeper than 3"));
}

// --- single records (SplitRecordObject / EncodeRecordObject)
// ------------------

TEST(RecordObject, SplitsIdLastUpdateAndPayload) {
  auto parts = SplitRecordObject(
      std::string(R"( {"title":"milk", "bid" : ")") + kId1 +
          R"(","n":[1,{"a":null}],"last_update":"2013-05-01T15:42:50Z"} )",
      "bid");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  EXPECT_TRUE(parts->has_id);
  EXPECT_EQ(parts->id, Id(kId1));
  EXPECT_EQ(parts->last_update, 1367422970000);
  EXPECT_EQ(parts->payload, R"({"title":"milk","n":[1,{"a":null}]})");

  auto bare = SplitRecordObject(R"({"title":"x","id":"not mine"})", "bid");
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_FALSE(bare->has_id);
  EXPECT_EQ(bare->last_update, kNoTimestamp);
  EXPECT_EQ(bare->payload, R"({"title":"x","id":"not mine"})");

  auto empty = SplitRecordObject("{}", "id");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->payload, "{}");
}

TEST(RecordObject, SplitErrorsNameThePart) {
  const std::pair<std::string, std::string> cases[] = {
      {"[]", "record: expected an object, not an array"},
      {"", "record: not valid JSON at offset 0"},
      {R"({"a":1,})", "record: not valid JSON at offset 7"},
      {R"({"id":5})", "record.id: expected a UUID string, not a number"},
      {R"({"id":"nope"})", "record.id: not a UUID"},
      {R"({"last_update":"yesterday"})", "record.last_update: bad timestamp"},
      {std::string(R"({"id":")") + kId1 + R"(","id":")" + kId1 + R"("})",
       R"(record: duplicate "id" key)"},
      {R"({"a":)" + std::string(200, '[') + std::string(200, ']') + "}",
       "record: nesting deeper than 128"},
  };
  for (const auto& [json, want] : cases) {
    EXPECT_TRUE(IsInvalid(SplitRecordObject(json, "id").status(), want))
        << json;
  }
}

TEST(RecordObject, EncodeAppendsWithExtraMembers) {
  std::string out = "> ";
  EncodeRecordObject(WireRecord{Id(kId1), 1367422970000, R"({"t":"x"})"}, "bid",
                     R"("_state":"created")", out);
  EXPECT_EQ(out, std::string(R"(> {"bid":")") + kId1 +
                     R"(","t":"x","last_update":"2013-05-01 15:42:50.000",)"
                     R"("_state":"created"})");
  out.clear();
  EncodeRecordObject(WireRecord{Id(kId1), kNoTimestamp, "{}"}, "id", "", out);
  EXPECT_EQ(out, std::string(R"({"id":")") + kId1 + R"("})");
  auto back = SplitRecordObject(out, "id");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->id, Id(kId1));
  EXPECT_EQ(back->payload, "{}");
}

TEST(Kept, Names) {
  EXPECT_EQ(KeptName(Kept::kServer), "server");
  EXPECT_EQ(KeptName(Kept::kClient), "client");
  EXPECT_EQ(KeptName(Kept::kMerged), "merged");
}

}  // namespace
}  // namespace syncstack
