#include "service/manifest_writer.h"

#include <algorithm>
#include <exception>
#include <utility>

namespace syncstack::service {

ManifestWriter::ManifestWriter(std::shared_ptr<Store> store,
                               std::vector<Listed> collections,
                               bool with_versions)
    : store_(std::move(store)),
      collections_(std::move(collections)),
      with_versions_(with_versions) {}

Result<bool> ManifestWriter::Next(size_t max, std::string& out) noexcept {
  if (!failed_.ok()) return failed_;
  try {
    Status filled = Fill(max);
    if (!filled.ok()) {
      failed_ = filled;
      scan_.reset();
      std::string().swap(buffer_);
      return filled;
    }
    size_t n = std::min(max, buffer_.size() - at_);
    if (n == 0) return false;
    out.append(buffer_, at_, n);
    at_ += n;
    return true;
  } catch (const std::exception& e) {
    failed_ = Status::IOError(std::string("fetch.json: ") + e.what());
    return failed_;
  }
}

Status ManifestWriter::Fill(size_t want) {
  buffer_.erase(0, at_);
  at_ = 0;
  if (!started_) {
    started_ = true;
    buffer_ += '{';
  }
  while (buffer_.size() < want && !written_) {
    if (scan_ == nullptr && next_ == collections_.size()) {
      buffer_ += '}';
      written_ = true;
      break;
    }
    SYNCSTACK_RETURN_IF_ERROR(Step());
  }
  return Status::Ok();
}

Status ManifestWriter::Step() {
  if (scan_ == nullptr) {
    const Listed& opened = collections_[next_];
    if (next_ > 0) buffer_ += ',';
    ++next_;
    AppendJsonString(opened.name, buffer_);
    buffer_ += ":[";
    ScanOptions options;
    options.include_tombstones = false;
    scan_ = store_->Scan(opened.name, options);
    first_entry_ = true;
  }
  const Listed& open = collections_[next_ - 1];
  entries_.clear();
  for (; scan_->Valid() && entries_.size() < kEntriesPerStep; scan_->Next()) {
    const ManifestEntry& e = scan_->entry();
    entries_.push_back(Stamp{e.id, e.version.timestamp,
                             with_versions_ ? e.version.extra : std::string()});
  }
  AppendManifestEntries(entries_, open.id_key, &first_entry_, buffer_);
  if (scan_->Valid()) return Status::Ok();
  SYNCSTACK_RETURN_IF_ERROR(scan_->status());
  scan_.reset();
  buffer_ += ']';
  return Status::Ok();
}

}  // namespace syncstack::service
