// Mapped collections in the schema file: tables, account columns,
// references, parents-first order, and the errors of a bad mapping.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "syncstack/schema.h"
#include "test_util.h"

namespace syncstack {
namespace {

using testing::IsInvalid;

constexpr const char* kWedding = R"({"collections": {
  "todo": {"id": "id"},
  "couples": {"id": "id", "table": "couples", "account": "owner"},
  "budget": {"id": "bid", "table": "budget", "account": "owner",
             "references": {"couple_id": "couples"}},
  "invitation_categories": {"id": "icid", "table": "invitation_categories"},
  "invitations": {"id": "iid", "table": "invitations",
                  "references": {"icid": "invitation_categories",
                                 "couple_id": "couples"}}
}})";

TEST(SchemaMapping, ParsesTablesAccountsAndReferences) {
  auto schema = Schema::Parse(kWedding);
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  EXPECT_EQ(schema->Mapping("todo"), nullptr);
  const TableMapping* budget = schema->Mapping("budget");
  ASSERT_NE(budget, nullptr);
  EXPECT_EQ(budget->table, "budget");
  EXPECT_EQ(budget->account, "owner");
  ASSERT_EQ(budget->references.size(), 1u);
  EXPECT_EQ(budget->references.at("couple_id"), "couples");
  EXPECT_EQ(*schema->IdKey("budget"), "bid");
  EXPECT_EQ(schema->Mapping("invitation_categories")->account, "");
  EXPECT_EQ(schema->Depth("couples"), 0);
  EXPECT_EQ(schema->Depth("budget"), 1);
  EXPECT_EQ(schema->Depth("invitations"), 1);
  EXPECT_EQ(schema->Depth("todo"), 0);
}

TEST(SchemaMapping, ParentsComeFirst) {
  auto schema = Schema::Parse(R"({"collections": {
    "a": {"id": "id", "table": "a", "references": {"b_id": "b"}},
    "b": {"id": "id", "table": "b", "references": {"c_id": "c"}},
    "c": {"id": "id", "table": "c"},
    "d": {"id": "id", "table": "d", "references": {"c_id": "c", "a_id": "a"}}
  }})");
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  EXPECT_EQ(schema->ParentsFirst(),
            (std::vector<std::string>{"c", "b", "a", "d"}));
  EXPECT_EQ(schema->Depth("d"), 3);
}

TEST(SchemaMapping, ToJsonReadsBack) {
  auto schema = Schema::Parse(kWedding);
  ASSERT_TRUE(schema.ok());
  auto again = Schema::Parse(schema->ToJson());
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n"
                          << schema->ToJson();
  EXPECT_EQ(again->collections(), schema->collections());
  EXPECT_EQ(again->mappings(), schema->mappings());
  EXPECT_EQ(again->ToJson(), schema->ToJson());
}

TEST(SchemaMapping, OldFormatStillParses) {
  auto schema = Schema::Parse(R"({"collections": {"budget": {"id": "bid"}}})");
  ASSERT_TRUE(schema.ok());
  EXPECT_TRUE(schema->mappings().empty());
  EXPECT_EQ(schema->ToJson(),
            "{\"collections\": {\n  \"budget\": {\"id\": "
            "\"bid\"}\n}}\n");
}

TEST(SchemaMapping, RefusesCycles) {
  EXPECT_TRUE(IsInvalid(Schema::Parse(R"({"collections": {
    "a": {"id": "id", "table": "a", "references": {"b_id": "b"}},
    "b": {"id": "id", "table": "b", "references": {"a_id": "a"}}
  }})")
                            .status(),
                        "references form a cycle: a -> b -> a"));
  EXPECT_TRUE(IsInvalid(Schema::Parse(R"({"collections": {
    "tree": {"id": "id", "table": "tree", "references": {"up": "tree"}}
  }})")
                            .status(),
                        "cycle: tree -> tree"));
}

TEST(SchemaMapping, RefusesBadMappings) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"collections": {"a": {"id": "id", "references": {}}}})",
       "need \"table\""},
      {R"({"collections": {"a": {"id": "id", "account": "o"}}})",
       "need \"table\""},
      {R"({"collections": {"a": {"id": "id", "table": "t x"}}})",
       "collections.a.table: bad name \"t x\""},
      {R"({"collections": {"a": {"id": "id", "table": 3}}})",
       "expected a string, not a number"},
      {R"({"collections": {"a": {"id": "id", "table": "t", "table": "u"}}})",
       "duplicate key \"table\""},
      {R"({"collections": {"a": {"id": "id", "table": "t",
           "references": {"p": "nowhere"}}}})",
       "\"nowhere\" is not a mapped collection"},
      {R"({"collections": {"u": {"id": "id"}, "a": {"id": "id", "table": "t",
           "references": {"p": "u"}}}})",
       "\"u\" is not a mapped collection"},
      {R"({"collections": {"a": {"id": "id", "table": "t"},
                           "b": {"id": "id", "table": "t"}}})",
       "table \"t\" is mapped by \"a\" too"},
      {R"({"collections": {"a": {"id": "id", "table": "t", "account": "id"}}})",
       "the account column cannot be the id column"},
      {R"({"collections": {"a": {"id": "id", "table": "t",
           "references": {"id": "a"}}}})",
       "the id or account column cannot reference"},
      {R"({"collections": {"a": {"id": "id", "table": "t", "colour": "red"}}})",
       "unknown key \"colour\""},
  };
  for (const auto& [json, want] : cases) {
    EXPECT_TRUE(IsInvalid(Schema::Parse(json).status(), want)) << json;
  }
}

TEST(SchemaMapping, SetMappedChecksAndChangesNothingOnError) {
  Schema schema;
  ASSERT_TRUE(schema.SetMapped("couples", "id", {"couples", "", {}}).ok());
  TableMapping budget{"budget", "", {{"couple_id", "couples"}}};
  ASSERT_TRUE(schema.SetMapped("budget", "bid", budget).ok());
  EXPECT_EQ(schema.Depth("budget"), 1);
  TableMapping loop{"couples", "", {{"b", "budget"}}};
  EXPECT_TRUE(IsInvalid(schema.SetMapped("couples", "id", loop), "cycle"));
  EXPECT_TRUE(schema.Mapping("couples")->references.empty());
  schema.Set("budget", "bid");  // keeps the mapping
  EXPECT_NE(schema.Mapping("budget"), nullptr);
}

}  // namespace
}  // namespace syncstack
