// Version vectors ("version-vector"): every write carries a counter per
// replica that wrote the record (`_version` "<replica>:<n>,...", sorted by
// replica), deletes included: a delete is a tombstone with its own vector.
// A write whose vector dominates the stored one replaces it; a dominated
// (already seen) write is discarded; concurrent writes are detected and
// always reported, and the server stores one write under the pointwise
// maximum of both vectors, so every replica then holds a version that
// dominates both:
//   - both live: the user's merge callback decides the payload, else the
//     write with the later last_update (ties: the larger payload bytes);
//   - an edit concurrent with a delete: the edit survives (default) or,
//     with `delete_wins`, the delete; never silently either way.
//
// A record created on a device (also an id created again after a delete)
// starts its replica's counter at the device clock and is marked '+', so
// a creation over a tombstone is a new life of the id, not a conflict.
//
// Seed-dialect clients send no `_version`: their write is taken as based
// on the stored version when its last_update is not older (else kept out,
// reported), and stamped with the server's own counter "server".
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "syncstack/conflict_policy.h"

namespace syncstack {

// Replica id -> counter. Replica ids are [A-Za-z0-9_-]+.
using VersionVector = std::map<std::string, uint64_t, std::less<>>;

// Parses "<replica>:<n>,..." ("" is the empty vector). A leading '+'
// (a write that created the record, based on no version of it) is
// skipped. Returns nullopt for malformed text.
std::optional<VersionVector> ParseVersionVector(std::string_view text);
std::string FormatVersionVector(const VersionVector& vv);
// The pointwise maximum: commutative, associative, idempotent.
VersionVector MergeVersionVectors(const VersionVector& a,
                                  const VersionVector& b);
// kBefore: a < b (b dominates); kAfter: a > b; kEqual; kConcurrent.
Order CompareVersionVectors(const VersionVector& a, const VersionVector& b);

// Merges two concurrent live writes into one payload (a JSON object), or
// returns nullopt to use the deterministic rule. Must be deterministic and
// symmetric: the same pair in either role gives the same payload.
using MergeFunction = std::function<std::optional<std::string>(
    const WriteView& server, const WriteView& client)>;

struct VersionVectorOptions {
  // Concurrent live writes. Default: none (later last_update wins).
  MergeFunction merge;
  // An edit concurrent with a delete: the delete wins. Default: false (the
  // edit survives).
  bool delete_wins = false;
};

std::unique_ptr<ConflictPolicy> NewVersionVectorPolicy(
    VersionVectorOptions options = {});

}  // namespace syncstack
