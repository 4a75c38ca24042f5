// The file transport: sync through a shared or carried folder, for devices
// that never reach the server's network (field laptops, ships, secure
// sites). Each protocol request becomes a file in the exchange folder; the
// server's ExchangeProcessor answers it with another file. The files hold
// the same bytes as an HTTP/1.1 request and response (docs/file-exchange.md
// has the format), so a client in any language can take part.
//
// Layout of the exchange folder:
//   requests/<client>.<hash>.req   written by devices
//   answers/<client>.<hash>.ans    written by the server
//   tmp/                           files being written (then renamed: a
//                                  reader never sees half a file)
//   rejected/                      request files the server could not name
//                                  an answer for (bad names, not files)
// <hash> is the client's: ours is the BLAKE2b-128 (hex) of the request
// without its Idempotency-Key, so the same request made again in a later run
// has the same name and finds the answer to the first one. That is how a
// sync needing several round trips is carried out over several runs. Both
// kinds of file carry X-Sync-Body-Hash (BLAKE2b-128 of the body), so damage
// on the way is detected, not applied.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "syncstack/transport.h"

namespace syncstack {

struct FileTransportOptions {
  // The exchange folder (created if missing, with its subfolders).
  std::string dir;
  // Names this client's files: [A-Za-z0-9_-]{1,64}, e.g. the device name.
  std::string client;
  // How long Call waits for the server's answer to appear; 0: not at all.
  // Without an answer by then Call fails with kUnavailable and leaves the
  // request in the folder: run again later to pick the answer up.
  std::chrono::milliseconds wait{30'000};
  // How often the folder is looked at while waiting.
  std::chrono::milliseconds poll{50};
  // Largest answer file read. Default: 256 MiB.
  size_t max_answer = 256u << 20;
};

// Call writes the request (unless the same request is already there),
// waits for its answer and returns it. The answers of a session are kept
// until it ends (the lock is released, or an error answer ends it: 401,
// 409, 423, ...), then removed; a lock renewal's answer is used once. A run
// that stops at a request without an answer does not send its lock release:
// the lease is kept for the run that picks the answer up (so with hand-
// carried folders, start the server with a lease and token lifetime longer
// than a round trip of the folder).
// Errors: kInvalidArgument (bad options), kUnavailable (no answer yet),
// kCorruption (a damaged answer file; it is removed, the request stays),
// kIOError.
Result<std::unique_ptr<Transport>> NewFileTransport(
    const FileTransportOptions& options);

struct ExchangeOptions {
  // The exchange folder (created if missing, with its subfolders).
  std::string dir;
  // Largest request body; larger files get a 413 answer. Default: 64 MiB.
  size_t max_body = 64u << 20;
  // Called with one line per request handled or rejected (for the log).
  std::function<void(const std::string&)> log;
};

// The server side: answers the request files of an exchange folder through
// a Handler (the SyncService). A file that cannot be read as a request
// (truncated, damaged, over the limit) gets an error answer and changes
// nothing. Names are never taken from file contents: only files in
// requests/ whose names match the pattern above are read, symbolic links
// are never followed, and answers go only to answers/.
// Thread safety: one thread at a time.
class ExchangeProcessor {
 public:
  ExchangeProcessor() = default;
  ExchangeProcessor(const ExchangeProcessor&) = delete;
  ExchangeProcessor& operator=(const ExchangeProcessor&) = delete;
  virtual ~ExchangeProcessor();

  // Answers every request file present, oldest first; returns how many
  // were answered (rejected files not counted).
  virtual Result<size_t> ProcessPending() noexcept = 0;
};

// `handler` must outlive the processor.
// Errors: kInvalidArgument (empty dir), kIOError (cannot create or open the
// folders, or one of them is a symbolic link).
Result<std::unique_ptr<ExchangeProcessor>> NewExchangeProcessor(
    Handler& handler, const ExchangeOptions& options);

}  // namespace syncstack
