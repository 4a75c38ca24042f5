#include "syncstack/file/file_transport.h"

#include <atomic>
#include <thread>

#include "exchange_dir.h"
#include "message.h"
#include "syncstack/codec.h"
#include "syncstack/protocol.h"

namespace syncstack {
namespace {

using file_internal::ContentHash;
using file_internal::ExchangeDir;

constexpr size_t kMaxClientName = 64;
constexpr size_t kHashHex = 32;

bool ValidClientName(std::string_view name) {
  if (name.empty() || name.size() > kMaxClientName) return false;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// "<client>.<32 hex>.req": the only request names the processor reads.
// Returns the base (without ".req") or "" when `name` is not one.
std::string_view RequestBase(std::string_view name) {
  constexpr std::string_view kExt = ".req";
  if (name.size() < kExt.size() + kHashHex + 2 ||
      name.substr(name.size() - kExt.size()) != kExt) {
    return {};
  }
  std::string_view base = name.substr(0, name.size() - kExt.size());
  std::string_view hash = base.substr(base.size() - kHashHex);
  if (base[base.size() - kHashHex - 1] != '.') return {};
  for (char c : hash) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  }
  if (!ValidClientName(base.substr(0, base.size() - kHashHex - 1))) return {};
  return base;
}

Response ErrorAnswer(const Status& status) {
  Response response;
  response.status = HttpStatusFor(status.code());
  EncodeError(status, -1, response.body);
  return response;
}

class FileTransport final : public Transport {
 public:
  FileTransport(FileTransportOptions options, std::unique_ptr<ExchangeDir> dir)
      : options_(std::move(options)), dir_(std::move(dir)) {}

  Result<Response> Call(const Request& request) noexcept override {
    try {
      const std::string base = BaseName(request);
      const std::string bytes = file_internal::EncodeRequestMessage(request);
      const std::string req_name = base + ".req";
      const std::string ans_name = base + ".ans";
      const bool release =
          request.method == "DELETE" && request.path == kLockPath;
      // A session's answers are kept until it ends, so that a later run
      // finds them; a renewal's answer is used once (the next renewal has
      // the same bytes and must reach the server).
      const bool renewal = request.method == "POST" &&
                           request.path == kLockPath && !request.lease.empty();
      if (release && waiting_) {
        // This run stopped at a request still waiting for its answer: keep
        // the lock for the run that picks the answer up.
        return Status::Unavailable(
            "lock kept: a request is waiting for its answer in " +
            options_.dir);
      }
      if (!dir_->Exists(ExchangeDir::kAnswers, ans_name) &&
          !dir_->Exists(ExchangeDir::kRequests, req_name)) {
        SYNCSTACK_RETURN_IF_ERROR(
            dir_->WriteAtomic(ExchangeDir::kRequests, req_name, bytes));
      }
      auto deadline = std::chrono::steady_clock::now() + options_.wait;
      for (;;) {
        auto file =
            dir_->Read(ExchangeDir::kAnswers, ans_name, options_.max_answer);
        if (file.ok()) {
          auto response = file_internal::DecodeResponseMessage(*file);
          if (!response.ok()) {
            // Damaged on the way: drop it and ask again.
            (void)dir_->Remove(ExchangeDir::kAnswers, ans_name);
            if (!dir_->Exists(ExchangeDir::kRequests, req_name)) {
              (void)dir_->WriteAtomic(ExchangeDir::kRequests, req_name, bytes);
            }
            return response.status().WithContext(options_.dir);
          }
          waiting_ = false;
          if (renewal) (void)dir_->Remove(ExchangeDir::kAnswers, ans_name);
          if (release || response->status >= 400) EndSession();
          return response;
        }
        if (file.status().code() != Status::Code::kNotFound) {
          return file.status();
        }
        if (std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(options_.poll);
      }
      if (release) {
        EndSession();  // the server releases the lock when it gets there
      } else {
        waiting_ = true;
      }
      return Status::Unavailable(
          "no answer yet in the exchange folder " + options_.dir +
          " (request " + req_name +
          "): run again once the server has processed the folder");
    } catch (const std::exception& e) {
      return Status::IOError(std::string("file transport: ") + e.what());
    }
  }

 private:
  // The name of `request`'s files, without their extension. It leaves out
  // what changes between runs of the same request (the idempotency key the
  // engine picks, a lock request's clock reading): a later run that makes
  // the same request finds the answer to the first one, which is what the
  // server applied.
  std::string BaseName(const Request& request) const {
    Request keyless = request;
    keyless.idempotency_key.clear();
    if (request.path == kLockPath && request.method == "POST") {
      // Nor the device's clock reading, which a lock request carries for
      // the server's offset estimate and which changes every run.
      auto lock = DecodeLockRequest(request.body);
      if (lock.ok()) {
        lock->client_time = kNoTimestamp;
        // Nor its device secret, which the device learns from the answer
        // of this very request and sends from the next run on.
        lock->device_secret.clear();
        // Nor its history point, learnt from the answers of a run.
        lock->history.clear();
        keyless.body.clear();
        EncodeLockRequest(*lock, keyless.body);
      }
    }
    return options_.client + "." +
           ContentHash(file_internal::EncodeRequestMessage(keyless));
  }

  // The session is over: this client's answers are not needed again.
  void EndSession() {
    auto entries = dir_->List(ExchangeDir::kAnswers);
    if (!entries.ok()) return;
    const std::string prefix = options_.client + ".";
    for (const auto& e : *entries) {
      if (e.name.compare(0, prefix.size(), prefix) == 0) {
        (void)dir_->Remove(ExchangeDir::kAnswers, e.name);
      }
    }
  }

  const FileTransportOptions options_;
  std::unique_ptr<ExchangeDir> dir_;
  std::atomic<bool> waiting_{false};  // a request of this run is unanswered
};

class Processor final : public ExchangeProcessor {
 public:
  Processor(Handler& handler, ExchangeOptions options,
            std::unique_ptr<ExchangeDir> dir)
      : handler_(handler), options_(std::move(options)), dir_(std::move(dir)) {}

  Result<size_t> ProcessPending() noexcept override {
    try {
      SYNCSTACK_ASSIGN_OR_RETURN(auto entries,
                                 dir_->List(ExchangeDir::kRequests));
      size_t answered = 0;
      for (const auto& entry : entries) {
        SYNCSTACK_ASSIGN_OR_RETURN(bool done, ProcessOne(entry));
        if (done) ++answered;
      }
      return answered;
    } catch (const std::exception& e) {
      return Status::IOError(std::string("exchange: ") + e.what());
    }
  }

 private:
  // Answers one file of requests/, or moves it to rejected/ when it cannot
  // be answered. Returns whether it was answered. Errors (kUnavailable):
  // the folder itself failed (full, unwritable); the request stays for a
  // later try, and an Idempotency-Key makes that try apply it once.
  Result<bool> ProcessOne(const ExchangeDir::Entry& entry) {
    std::string_view base = RequestBase(entry.name);
    if (base.empty() || !entry.regular) {
      SYNCSTACK_RETURN_IF_ERROR(
          Reject(entry.name, base.empty() ? "not a request file name"
                                          : "not a regular file"));
      return false;
    }
    const std::string answer_name = std::string(base) + ".ans";
    // Checked before the request is applied: an answer name taken by a
    // folder (or a link, ...) could never be written.
    if (dir_->Exists(ExchangeDir::kAnswers, answer_name) &&
        !dir_->IsRegular(ExchangeDir::kAnswers, answer_name)) {
      SYNCSTACK_RETURN_IF_ERROR(
          Reject(entry.name, "its answer name answers/" + answer_name +
                                 " is taken by something that is not a file"));
      return false;
    }
    Response response = Answer(entry.name);
    Status written =
        dir_->WriteAtomic(ExchangeDir::kAnswers, answer_name,
                          file_internal::EncodeResponseMessage(response));
    if (!written.ok()) return FolderFailed(written);
    Status removed = dir_->Remove(ExchangeDir::kRequests, entry.name);
    if (!removed.ok()) return FolderFailed(removed);
    Log(entry.name + ": " + std::to_string(response.status));
    return true;
  }

  Status FolderFailed(const Status& s) {
    return Status::Unavailable("the exchange folder cannot be written (" +
                               s.message() + ")");
  }

  Response Answer(const std::string& name) {
    auto bytes = dir_->Read(ExchangeDir::kRequests, name,
                            options_.max_body + (64u << 10));
    if (!bytes.ok()) {
      if (bytes.status().code() == Status::Code::kTooLarge) {
        return ErrorAnswer(Status::TooLarge("request file over the limit"));
      }
      return ErrorAnswer(Status::InvalidArgument("request file unreadable: " +
                                                 bytes.status().message()));
    }
    auto request =
        file_internal::DecodeRequestMessage(*bytes, options_.max_body);
    if (!request.ok()) return ErrorAnswer(request.status());
    // The client name stands for the address (login throttling).
    request->peer = "exchange:" + name.substr(0, name.find('.'));
    return handler_.Handle(*request);
  }

  // Moves a file the processor will not answer out of requests/, under a
  // name of its own making (nothing from the old name is used as a path),
  // with `<new name>.reason` beside it saying why. Errors (kUnavailable):
  // it could not be moved.
  Status Reject(const std::string& name, std::string_view why) {
    std::string moved =
        "rejected-" + std::to_string(++rejected_) + "-" +
        ContentHash(
            name +
            std::to_string(
                std::chrono::system_clock::now().time_since_epoch().count()))
            .substr(0, 12);
    Status s =
        dir_->Move(ExchangeDir::kRequests, name, ExchangeDir::kRejected, moved);
    Log("rejected a file in requests/ (" + std::string(why) + ")" +
        (s.ok() ? ", moved to rejected/" + moved : ": " + s.ToString()));
    if (!s.ok()) return FolderFailed(s);
    std::string reason =
        "file: " + Printable(name) + "\nreason: " + std::string(why) + "\n";
    Status noted =
        dir_->WriteAtomic(ExchangeDir::kRejected, moved + ".reason", reason);
    if (!noted.ok()) Log("cannot write the reason: " + noted.ToString());
    return Status::Ok();
  }

  // A file name as text for the reason file: bytes outside printable ASCII
  // as '?', at most 200 of them.
  static std::string Printable(std::string_view name) {
    std::string out(name.substr(0, 200));
    for (char& c : out) {
      if (c < 0x20 || c > 0x7e) c = '?';
    }
    return out;
  }

  void Log(const std::string& line) {
    if (options_.log) options_.log(line);
  }

  Handler& handler_;
  const ExchangeOptions options_;
  std::unique_ptr<ExchangeDir> dir_;
  uint64_t rejected_ = 0;
};

}  // namespace

ExchangeProcessor::~ExchangeProcessor() = default;

Result<std::unique_ptr<Transport>> NewFileTransport(
    const FileTransportOptions& options) {
  if (!ValidClientName(options.client)) {
    return Status::InvalidArgument(
        "file transport: the client name must be 1 to 64 of A-Z a-z 0-9 _ - "
        "(got \"" +
        options.client.substr(0, 80) + "\")");
  }
  if (options.wait.count() < 0 || options.poll.count() <= 0) {
    return Status::InvalidArgument("file transport: bad wait or poll time");
  }
  SYNCSTACK_ASSIGN_OR_RETURN(auto dir, ExchangeDir::Open(options.dir));
  return std::unique_ptr<Transport>(
      std::make_unique<FileTransport>(options, std::move(dir)));
}

Result<std::unique_ptr<ExchangeProcessor>> NewExchangeProcessor(
    Handler& handler, const ExchangeOptions& options) {
  SYNCSTACK_ASSIGN_OR_RETURN(auto dir, ExchangeDir::Open(options.dir));
  return std::unique_ptr<ExchangeProcessor>(
      std::make_unique<Processor>(handler, options, std::move(dir)));
}

}  // namespace syncstack
