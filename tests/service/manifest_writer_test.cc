// fetch.json's streamed answer (issue 14, item 6): the ManifestWriter gives
// the bytes EncodeManifest makes of the same entries, in pieces of at most
// the size asked, says when it is done, and fails (never ends quietly)
// when the store's scan fails midway.
#include "service/manifest_writer.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "syncstack/codec.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/transport.h"

namespace syncstack {
namespace {

using service::ManifestWriter;

constexpr Timestamp kNow = 1796169600000;  // 2026-12-02 00:00:00 UTC

RecordId IdOf(uint64_t n) {
  char text[40];
  std::snprintf(text, sizeof text, "10000000-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(n));
  return *RecordId::Parse(text);
}

// A scan that fails with kIOError after `good` entries.
class FailingScan final : public ManifestIterator {
 public:
  FailingScan(std::unique_ptr<ManifestIterator> inner, size_t good)
      : inner_(std::move(inner)), left_(good) {}
  bool Valid() const noexcept override { return left_ > 0 && inner_->Valid(); }
  const ManifestEntry& entry() const noexcept override {
    return inner_->entry();
  }
  void Next() noexcept override {
    --left_;
    inner_->Next();
  }
  Status status() const noexcept override {
    return left_ == 0 ? Status::IOError("disk gone") : inner_->status();
  }

 private:
  std::unique_ptr<ManifestIterator> inner_;
  size_t left_;
};

class FailingScanStore final : public StoreWrapper {
 public:
  FailingScanStore(Store& target, size_t good)
      : StoreWrapper(target), good_(good) {}
  std::unique_ptr<ManifestIterator> Scan(
      std::string_view collection,
      const ScanOptions& options) noexcept override {
    return std::make_unique<FailingScan>(target().Scan(collection, options),
                                         good_);
  }

 private:
  size_t good_;
};

class ManifestWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenMemoryDatabase();
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    auto store = db_->OpenAccount("alice");
    ASSERT_TRUE(store.ok());
    store_ = *store;
    // 3000 "todo" records (one deleted: not listed), 5 "budget", and an
    // empty "notes" asked for by name.
    ChangeBatch batch;
    for (uint64_t i = 1; i <= 3000; ++i) Put(batch, "todo", i, i == 7);
    for (uint64_t i = 1; i <= 5; ++i) Put(batch, "budget", i, false);
    ASSERT_TRUE(store_->Apply(WriteOptions{}, batch).ok());
  }

  static void Put(ChangeBatch& batch, std::string collection, uint64_t n,
                  bool deleted) {
    Record r;
    r.collection = std::move(collection);
    r.id = IdOf(n);
    if (!deleted) r.payload = R"({"n":)" + std::to_string(n) + "}";
    r.version.timestamp = kNow - static_cast<Timestamp>(n);
    r.version.extra = "v" + std::to_string(n);
    r.deleted = deleted;
    batch.Put(std::move(r));
  }

  static std::vector<ManifestWriter::Listed> Listed() {
    return {{"budget", "bid"}, {"notes", "nid"}, {"todo", "id"}};
  }

  // What fetch.json answered before it was streamed: the whole Manifest,
  // encoded at once.
  std::string Whole(bool with_versions) {
    Manifest manifest;
    for (const auto& listed : Listed()) {
      Manifest::Collection c{listed.name, listed.id_key, {}};
      ScanOptions options;
      options.include_tombstones = false;
      auto it = store_->Scan(listed.name, options);
      for (; it->Valid(); it->Next()) {
        const ManifestEntry& e = it->entry();
        c.entries.push_back(Stamp{e.id, e.version.timestamp,
                                  with_versions ? e.version.extra : ""});
      }
      EXPECT_TRUE(it->status().ok());
      manifest.collections.push_back(std::move(c));
    }
    std::string out;
    EncodeManifest(manifest, out);
    return out;
  }

  std::unique_ptr<Database> db_;
  std::shared_ptr<Store> store_;
};

TEST_F(ManifestWriterTest, PiecesOfAtMostTheSizeAskedMakeTheWholeAnswer) {
  for (bool versions : {false, true}) {
    for (size_t max : {size_t{7}, size_t{4096}, size_t{1} << 20}) {
      SCOPED_TRACE("versions " + std::to_string(versions) + ", max " +
                   std::to_string(max));
      ManifestWriter writer(store_, Listed(), versions);
      std::string body;
      size_t pieces = 0;
      while (true) {
        std::string piece;
        auto more = writer.Next(max, piece);
        ASSERT_TRUE(more.ok()) << more.status().ToString();
        if (!*more) {
          EXPECT_TRUE(piece.empty());
          break;
        }
        ASSERT_FALSE(piece.empty());
        ASSERT_LE(piece.size(), max);
        body += piece;
        ++pieces;
      }
      EXPECT_EQ(body, Whole(versions));
      EXPECT_GE(pieces, (body.size() + max - 1) / max);
      EXPECT_EQ(body.find("\"n\""), std::string::npos);  // no payloads
    }
  }
}

TEST_F(ManifestWriterTest, AnEmptyListIsTheEmptyObject) {
  ManifestWriter writer(store_, {}, false);
  std::string body;
  auto more = writer.Next(100, body);
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(*more);
  EXPECT_EQ(body, "{}");
  more = writer.Next(100, body);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
}

TEST_F(ManifestWriterTest, AScanFailingMidwayFailsTheAnswerAfterSomePieces) {
  FailingScanStore failing(*store_, 2000);
  auto shared = std::shared_ptr<Store>(&failing, [](Store*) {});
  ManifestWriter writer(shared, Listed(), false);
  std::string body;
  size_t pieces = 0;
  Status failure;
  for (int i = 0; i < 10000; ++i) {
    auto more = writer.Next(1024, body);
    if (!more.ok()) {
      failure = more.status();
      break;
    }
    ASSERT_TRUE(*more) << "ended quietly after " << body.size() << " bytes";
    ++pieces;
  }
  EXPECT_EQ(failure.code(), Status::Code::kIOError) << failure.ToString();
  EXPECT_GT(pieces, 10u);  // the failure came midway, after pieces went
  EXPECT_LT(body.size(), Whole(false).size());
  // Asked again, it fails again rather than going on.
  std::string after;
  EXPECT_FALSE(writer.Next(1024, after).ok());
  EXPECT_TRUE(after.empty());
}

// The in-process reader of a streamed answer takes it whole, or not at all.
TEST_F(ManifestWriterTest, ReadWholeBodyDrainsTheSourceOrDropsTheBody) {
  Response whole;
  whole.source = std::make_shared<ManifestWriter>(store_, Listed(), true);
  ASSERT_TRUE(ReadWholeBody(whole).ok());
  EXPECT_EQ(whole.body, Whole(true));
  EXPECT_EQ(whole.source, nullptr);

  FailingScanStore failing(*store_, 2000);
  auto shared = std::shared_ptr<Store>(&failing, [](Store*) {});
  Response cut;
  cut.source = std::make_shared<ManifestWriter>(shared, Listed(), true);
  EXPECT_EQ(ReadWholeBody(cut).code(), Status::Code::kIOError);
  EXPECT_TRUE(cut.body.empty());

  Response capped;
  capped.source = std::make_shared<ManifestWriter>(store_, Listed(), true);
  EXPECT_EQ(ReadWholeBody(capped, 1000).code(), Status::Code::kTooLarge);
  EXPECT_TRUE(capped.body.empty());
}

}  // namespace
}  // namespace syncstack
