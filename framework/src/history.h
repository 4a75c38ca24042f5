// The server's write history as devices see it: a random token per write
// sequence, so a device can tell that the server's history went back (a
// restore from a backup) even after other devices wrote past the sequence
// it last saw. A device holds a history point "<seq>:<token>" learnt from a
// lock answer. docs/decisions/server-restore.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "syncstack/status.h"
#include "syncstack/store.h"

namespace syncstack::history {

// Tokens of the last this many write sequences are kept (a ring of
// metadata slots, so the history costs a bounded number of rows).
inline constexpr uint64_t kKeptSequences = 65536;

// A fresh token for a new write sequence: 16 random hex characters.
std::string NewToken();

// Records in `batch` that sequence `seq` has token `token`, replacing the
// token of `seq - kKeptSequences`.
void Record(ChangeBatch& batch, uint64_t seq, std::string_view token);

// The token of `seq`; nullopt when it is not kept (sequence 0, pruned, or
// written before tokens existed). Errors: those of Store::GetMeta.
Result<std::optional<std::string>> TokenAt(Store& store, uint64_t seq);

// The history point "<seq>:<token>" of `seq`, or "" when no token is kept.
Result<std::string> PointAt(Store& store, uint64_t seq);

// True when a device's history point `point` ("<seq>:<token>") is not in
// this server's history: its sequence is ahead of `current_seq`, did not
// end a write here, or has another token here. False when nothing can be
// told (no point, a malformed one, or its token was pruned).
Result<bool> WentBack(Store& store, uint64_t current_seq,
                      std::string_view point);

}  // namespace syncstack::history
