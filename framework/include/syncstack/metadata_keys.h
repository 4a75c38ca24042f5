// The names of the metadata a Store keeps beside its records (see
// ChangeBatch::SetMeta and Store::GetMeta), in one place. Every key the
// framework, the stores and the command line read or write is spelled here
// and nowhere else, so a reader finds who owns a key and two parts never
// disagree on its spelling.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace syncstack::meta {

// --- On every store ---------------------------------------------------------
// The account's conflict policy's name, as adopted at the first sync.
inline constexpr std::string_view kPolicy = "policy";
// The highest policy stamp (HLC or sequence) this replica has seen.
inline constexpr std::string_view kPolicySeen = "policy/seen";

// --- On a device ------------------------------------------------------------
// This replica's id (a UUID in text form), made on first use.
inline constexpr std::string_view kReplica = "replica";
// The device name given to `syncstack sync --device`, kept for next time.
inline constexpr std::string_view kDevice = "device";
// The device secret the server's lock gave this device (proof of being
// it, to take its own lease over after a crash). Never logged.
inline constexpr std::string_view kDeviceSecret = "lock/secret";
// The login token this device keeps between runs (engine/kept_login.h):
// the token, the user and server it was issued for, its policy and its
// lifetime on the device's clock. Never logged; dropped on 401.
inline constexpr std::string_view kKeptLogin = "login/token";
// The schema (JSON) the device last synced with.
inline constexpr std::string_view kSchema = "schema";
// The server's write sequence at the start of the last complete sync.
inline constexpr std::string_view kSyncMark = "sync/mark";
// The server's history token at kSyncMark (see HistorySlot).
inline constexpr std::string_view kSyncHistory = "sync/history";
// Per collection: what the last sync learnt (sequence, items, time).
inline std::string SyncLast(std::string_view collection) {
  return std::string("sync/last/").append(collection);
}
// Per collection: the count and fingerprint (SetFingerprint::Encode) of
// the records the server acknowledged to this device, kept by the engine
// in the same transaction as each write that changes them.
inline std::string DeviceFingerprint(std::string_view collection) {
  return std::string("sync/fp/").append(collection);
}
// Per row edited here (SyncState kChanged or kDeleted) whose acknowledged
// version carries extra bytes (version vectors, server-clock, field-merge
// stamps): those bytes, as hex digits (either case). The row itself keeps
// only the acknowledged timestamp (`base`); with this the device's figure
// (DeviceFingerprint) stays exact for every policy. Set in the transaction
// that turns the synced row into an edited one (Replica::Put/Remove, the
// mapped store's capture triggers), set to "" in the one that makes it
// synced again or removes it; absent or "" means no extra bytes.
inline constexpr std::string_view kAcknowledgedExtraPrefix = "sync/ack/";
inline std::string AcknowledgedExtra(std::string_view collection,
                                     std::string_view id) {
  return std::string(kAcknowledgedExtraPrefix)
      .append(collection)
      .append("/")
      .append(id);
}
// Per collection: the checkpoint of an interrupted streamed first sync.
inline std::string ColdCheckpoint(std::string_view collection) {
  return std::string("cold/").append(collection);
}

// --- On a server account ----------------------------------------------------
// The account's write sequence: the number of the last applied write.
inline constexpr std::string_view kSequence = "policy/seq";
// The conflict journal: entry n (kJournalFirst <= n < kJournalNext) is
// "journal/<n mod the journal's slots>" (service/journal.h).
inline constexpr std::string_view kJournalNext = "journal/next";
inline constexpr std::string_view kJournalFirst = "journal/first";
inline std::string JournalEntry(uint64_t n) {
  return "journal/" + std::to_string(n);
}
// Idempotency slots: "idem/<slot>", the next slot to fill in kIdemNext.
inline constexpr std::string_view kIdemNext = "idem/next";
inline std::string IdemSlot(uint64_t slot) {
  return "idem/" + std::to_string(slot);
}
// The write history: slot "history/<seq mod N>" holds "<seq>:<token>", a
// random token per write sequence (docs/decisions/server-restore.md).
inline std::string HistorySlot(uint64_t slot) {
  return "history/" + std::to_string(slot);
}
// Tombstone collection: the devices' marks, the horizon, and the marker
// of rows written before write sequences were kept.
inline constexpr std::string_view kGcDevices = "gc/devices";
inline constexpr std::string_view kGcHorizon = "gc/horizon";
inline constexpr std::string_view kGcLegacy = "gc/legacy";
// Per collection: the count and fingerprint of its live records
// (SetFingerprint::Encode, "<count>:<16 hex digits>"), set by the batch of
// every write to the collection (GET /v1/changes answers with it). Unset
// for an account written before it existed: one scan initialises it.
inline std::string CollectionFigure(std::string_view collection) {
  return std::string("figure/").append(collection);
}

// --- On the users account ("_users", syncstack/users.h)
// ----------------------- Per user: the password hash ("" after a removal).
inline constexpr std::string_view kUserPrefix = "user/";
inline std::string UserHash(std::string_view user) {
  return std::string(kUserPrefix).append(user);
}
// Per user: the token generation (decimal; absent means 0). Kept after a
// removal, so a user added again never revives old tokens.
inline std::string UserTokenGeneration(std::string_view user) {
  return std::string("token_gen/").append(user);
}
// Per user: when it was added and when it last logged in (decimal ms).
inline constexpr std::string_view kUserCreatedPrefix = "created/";
inline constexpr std::string_view kUserLoginPrefix = "login/";
inline std::string UserCreated(std::string_view user) {
  return std::string(kUserCreatedPrefix).append(user);
}
inline std::string UserLogin(std::string_view user) {
  return std::string(kUserLoginPrefix).append(user);
}

}  // namespace syncstack::meta
