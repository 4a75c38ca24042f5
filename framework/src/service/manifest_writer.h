// Private: fetch.json's answer written from the store's scans as the
// transport reads it, so that the server holds a page of the manifest and
// a piece of its JSON, never the whole (docs/decisions/streamed-answers.md).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "syncstack/codec.h"
#include "syncstack/store.h"
#include "syncstack/transport.h"

namespace syncstack::service {

// Writes '{' name ":[" entries "]" ... '}', the bytes EncodeManifest makes
// of the same entries, one piece per Next. Each collection is scanned when
// its turn comes (Store::Scan, live entries only): a write made while the
// answer is read may or may not show, as with any scan.
// Thread safety: as BodySource.
class ManifestWriter final : public BodySource {
 public:
  // A collection to list and the name of its id member.
  struct Listed {
    std::string name;
    std::string id_key;
  };

  // `collections` in the order written; `with_versions` adds each
  // entry's "_version".
  ManifestWriter(std::shared_ptr<Store> store, std::vector<Listed> collections,
                 bool with_versions);

  // Errors: those of the store's scan, and kIOError when out of memory.
  Result<bool> Next(size_t max, std::string& out) noexcept override;

 private:
  // Appends to buffer_ until it holds `want` bytes not yet given out, or
  // the whole answer.
  Status Fill(size_t want);
  // Appends up to kEntriesPerStep entries of the collection being scanned
  // (opening it first, closing it at its end).
  Status Step();

  static constexpr size_t kEntriesPerStep = 1024;

  const std::shared_ptr<Store> store_;
  const std::vector<Listed> collections_;
  const bool with_versions_;
  size_t next_ = 0;                         // the next collection to open
  std::unique_ptr<ManifestIterator> scan_;  // of collections_[next_ - 1]
  bool first_entry_ = true;                 // of the open collection
  std::vector<Stamp> entries_;              // reused between steps
  std::string buffer_;                      // written, from at_ not given out
  size_t at_ = 0;
  bool started_ = false;
  bool written_ = false;  // the closing '}' is in buffer_
  Status failed_;
};

}  // namespace syncstack::service
