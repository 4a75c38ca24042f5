// The conflict journal's entries: what the server writes for every conflict
// its policy reports (SyncService::Synchronise) and what
// ReadConflictJournal (service.h) and `syncstack conflicts` read back.
//
// An entry is one JSON object, members in this order:
//   {"time": "<server time>", "policy": "<name>", "collection": "<name>",
//    "id": "<uuid>", "device": "<lease holder, or \"\">",
//    "clock_offset_ms": <ms> | null,
//    "kept": "server" | "client" | "merged",
//    "server": {"last_update": "<time, or \"\">", "version": "<extra>",
//               "deleted": true | false, "payload": {...} | null},
//    "client": {...the same...}}
// where "server" is the stored write and "client" the incoming one (as the
// client sent it). Times are `YYYY-MM-DD HH:MM:SS.mmm` (FormatTimestamp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "syncstack/codec.h"
#include "syncstack/record.h"
#include "syncstack/status.h"

namespace syncstack {

// One side of a conflict: the stored write or the incoming one.
struct JournalSide {
  // `version.timestamp` travels as "last_update" ("" for kNoTimestamp),
  // `version.extra` as "version".
  Version version;
  bool deleted = false;
  // The record's JSON object text, byte for byte; "" for null. A deleted
  // side's payload is never written (it travels as null).
  std::string payload;

  friend bool operator==(const JournalSide&, const JournalSide&) = default;
};

struct ConflictJournalEntry {
  Timestamp time = kNoTimestamp;  // server time of the resolution
  std::string policy;             // the conflict policy's name
  std::string collection;
  RecordId id;
  std::string device;                      // "" when the write had no lease
  int64_t clock_offset_ms = kNoTimestamp;  // kNoTimestamp: null (unknown)
  Kept kept = Kept::kServer;
  JournalSide server;  // the stored write
  JournalSide client;  // the incoming write, as the client sent it

  friend bool operator==(const ConflictJournalEntry&,
                         const ConflictJournalEntry&) = default;
};

// Replaces `out` with the entry's JSON (the format above). A side's
// payload is written verbatim: it must be a JSON object text or "".
void EncodeJournalEntry(const ConflictJournalEntry& entry, std::string& out);

// Reads an entry written by EncodeJournalEntry. Unknown members are
// skipped; every member above is required. Errors: kInvalidArgument naming
// the member (not JSON, a missing or repeated member, a value of the wrong
// type, a bad time or id, nesting deeper than limits.max_depth).
Result<ConflictJournalEntry> DecodeJournalEntry(std::string_view json,
                                                const CodecLimits& limits = {});

}  // namespace syncstack
