#include "http_chunked.h"

#include <algorithm>
#include <cassert>
#include <charconv>

namespace syncstack::http_internal {
namespace {

constexpr size_t kMaxLine = 4096;  // a chunk-size or trailer line
constexpr int kMaxTrailers = 32;

}  // namespace

void AppendChunk(std::string_view data, std::string& out) {
  assert(!data.empty());
  char size[20];
  auto [end, ec] = std::to_chars(size, size + sizeof size, data.size(), 16);
  (void)ec;
  out.append(size, end);
  out += "\r\n";
  out += data;
  out += "\r\n";
}

void ChunkedDecoder::Fail(std::string why) {
  state_ = State::kFailed;
  error_ = Status::InvalidArgument("chunked answer: " + std::move(why));
}

bool ChunkedDecoder::TakeLine(std::string_view in, size_t& used) {
  std::string_view rest = in.substr(used);
  size_t eol = rest.find('\n');
  size_t take = eol == std::string_view::npos ? rest.size() : eol;
  if (line_.size() + take > kMaxLine) {
    Fail("framing line too long");
    return false;
  }
  line_.append(rest.data(), take);
  used += take;
  if (eol == std::string_view::npos) return false;
  ++used;  // the '\n'
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  return true;
}

size_t ChunkedDecoder::Feed(std::string_view in, std::string& out) {
  size_t used = 0;
  while (used < in.size() && state_ != State::kDone &&
         state_ != State::kFailed) {
    if (state_ == State::kData) {
      size_t take = std::min(remaining_, in.size() - used);
      out.append(in.data() + used, take);
      used += take;
      remaining_ -= take;
      if (remaining_ == 0) state_ = State::kDataEnd;
      continue;
    }
    if (!TakeLine(in, used)) continue;
    std::string line;
    line.swap(line_);
    if (state_ == State::kDataEnd) {
      if (line.empty()) {
        state_ = State::kSize;
      } else {
        Fail("chunk longer than its size");
      }
    } else if (state_ == State::kSize) {
      std::string_view digits(line);
      digits = digits.substr(0, digits.find(';'));  // extensions: ignored
      while (!digits.empty() && (digits.back() == ' ' || digits.back() == '\t'))
        digits.remove_suffix(1);
      size_t size = 0;
      auto [end, ec] = std::from_chars(digits.data(),
                                       digits.data() + digits.size(), size, 16);
      if (digits.empty() || digits.size() > 15 || ec != std::errc() ||
          end != digits.data() + digits.size()) {
        Fail("bad chunk size");
      } else if (size == 0) {
        state_ = State::kTrailer;
      } else {
        remaining_ = size;
        state_ = State::kData;
      }
    } else if (state_ == State::kTrailer) {
      if (line.empty()) {
        state_ = State::kDone;
      } else if (++trailers_ > kMaxTrailers) {
        Fail("too many trailer fields");
      }
    }
  }
  return used;
}

Status ChunkedDecoder::Finish() const {
  if (state_ == State::kDone) return Status::Ok();
  if (state_ == State::kFailed) return error_;
  return Status::Unavailable(
      "the answer was cut short (its last chunk never came)");
}

}  // namespace syncstack::http_internal
