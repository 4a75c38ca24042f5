// Schema files, id keys and collection names.
#include "syncstack/schema.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace syncstack {
namespace {

using testing::FixturePath;
using testing::IsInvalid;
using testing::ReadFixture;

TEST(Schema, OpenSchemaAcceptsValidNamesWithIdKeyId) {
  Schema open;
  EXPECT_FALSE(open.strict());
  for (const std::string& name : std::vector<std::string>{
           "a", "_", "todo", "Budget_2", "_x9", std::string(64, 'n')}) {
    auto key = open.IdKey(name);
    ASSERT_TRUE(key.ok()) << name << ": " << key.status().ToString();
    EXPECT_EQ(*key, "id");
  }
  for (const std::string& name :
       std::vector<std::string>{"", "1abc", "a-b", "a.b", "a b", "é", "a\n",
                                std::string(65, 'n'), std::string("a\0b", 3)}) {
    EXPECT_TRUE(IsInvalid(open.IdKey(name).status(), "bad collection name"))
        << name;
  }
  EXPECT_TRUE(IsInvalid(open.IdKey("9").status(),
                        "bad collection name \"9\" (want "
                        "[A-Za-z_][A-Za-z0-9_]{0,63})"));
}

TEST(Schema, SeedSchemaFileIsStrict) {
  auto schema = Schema::Parse(ReadFixture("seed_schema.json"));
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  EXPECT_TRUE(schema->strict());
  EXPECT_EQ(schema->collections().size(), 6u);
  const std::pair<const char*, const char*> want[] = {
      {"budget", "bid"},      {"invitation_categories", "icid"},
      {"invitations", "iid"}, {"wishlist", "gid"},
      {"gift_list", "id"},    {"todo", "id"}};
  for (const auto& [name, key] : want) {
    auto k = schema->IdKey(name);
    ASSERT_TRUE(k.ok()) << name;
    EXPECT_EQ(*k, key);
  }
  EXPECT_TRUE(IsInvalid(schema->IdKey("gifts").status(),
                        "unknown collection \"gifts\""));
  EXPECT_TRUE(IsInvalid(schema->IdKey("1x").status(), "bad collection name"));
}

TEST(Schema, LoadReadsAFile) {
  auto schema = Schema::Load(FixturePath("seed_schema.json"));
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  EXPECT_EQ(schema->collections().at("wishlist"), "gid");
  auto missing = Schema::Load(FixturePath("no_such_schema.json"));
  EXPECT_EQ(missing.status().code(), Status::Code::kIOError);
  EXPECT_NE(missing.status().message().find("no_such_schema.json"),
            std::string::npos);
  // A file that is not a schema: the error names the file and the part.
  auto wrong = Schema::Load(FixturePath("seed_fetch.json"));
  EXPECT_TRUE(IsInvalid(wrong.status(),
                        "seed_fetch.json: schema: unknown key "
                        "\"budget\""));
}

TEST(Schema, SetKeepsStrictnessAndMakeStrictFreezes) {
  Schema schema;
  schema.Set("budget", "bid");
  schema.Set("budget", "b2");  // changes
  EXPECT_EQ(*schema.IdKey("budget"), "b2");
  EXPECT_EQ(*schema.IdKey("other"), "id");
  schema.MakeStrict();
  EXPECT_TRUE(schema.strict());
  EXPECT_TRUE(IsInvalid(schema.IdKey("other").status(), "unknown collection"));
  schema.Set("other", "oid");
  EXPECT_EQ(*schema.IdKey("other"), "oid");
  EXPECT_TRUE(schema.strict());
}

TEST(Schema, ToJsonRoundTrips) {
  auto seed = Schema::Parse(ReadFixture("seed_schema.json"));
  ASSERT_TRUE(seed.ok());
  std::string text = seed->ToJson();
  auto back = Schema::Parse(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << text;
  EXPECT_EQ(back->collections(), seed->collections());
  EXPECT_TRUE(back->strict());

  Schema odd;
  odd.Set("weird", "k\"e\\y\n");
  auto odd_back = Schema::Parse(odd.ToJson());
  ASSERT_TRUE(odd_back.ok()) << odd.ToJson();
  EXPECT_EQ(*odd_back->IdKey("weird"), "k\"e\\y\n");

  auto empty = Schema::Parse(Schema().ToJson());
  ASSERT_TRUE(empty.ok()) << Schema().ToJson();
  EXPECT_TRUE(empty->strict());
  EXPECT_TRUE(empty->collections().empty());
}

TEST(Schema, ParseErrorsNameThePart) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "schema: not valid JSON at offset 0"},
      {R"({"collections":{"a":{"id":"x"}})", "schema: not valid JSON"},
      {"[]", "schema: expected an object, not an array"},
      {"{}", "schema: missing \"collections\""},
      {R"({"collection":{}})", "schema: unknown key \"collection\""},
      {R"({"collections":{},"collections":{}})",
       "schema: duplicate key \"collections\""},
      {R"({"collections":[]})",
       "collections: expected an object, not an array"},
      {R"({"collections":{"1a":{"id":"x"}}})",
       "collections: bad collection name \"1a\""},
      {R"({"collections":{"a":"id"}})",
       "collections.a: expected an object, not a string"},
      {R"({"collections":{"a":{}}})", "collections.a: missing \"id\""},
      {R"({"collections":{"a":{"id":"x","key":"y"}}})",
       "collections.a: unknown key \"key\" (want \"id\""},
      {R"({"collections":{"a":{"id":"x","id":"y"}}})",
       "collections.a: duplicate key \"id\""},
      {R"({"collections":{"a":{"id":1}}})",
       "collections.a.id: expected a string, not a number"},
      {R"({"collections":{"a":{"id":""}}})",
       "collections.a.id: must not be empty"},
      {R"({"collections":{"a":{"id":"last_update"}}})",
       "collections.a.id: \"last_update\" cannot be an id key"},
      {R"({"collections":{"a":{"id":"x"},"a":{"id":"y"}}})",
       "collections.a: duplicate collection"},
  };
  for (const auto& [text, want] : cases) {
    EXPECT_TRUE(IsInvalid(Schema::Parse(text).status(), want)) << text;
  }
}

}  // namespace
}  // namespace syncstack
