// PROTOCOL.md's status table and its inverse.
#include "syncstack/protocol.h"

#include <gtest/gtest.h>

namespace syncstack {
namespace {

using Code = Status::Code;

struct Row {
  Code code;
  int http;
  const char* error;
};

constexpr Row kTable[] = {
    {Code::kInvalidArgument, 400, "bad_request"},
    {Code::kUnauthorized, 401, "unauthorized"},
    {Code::kNotFound, 404, "not_found"},
    {Code::kLeaseRequired, 428, "lease_required"},
    {Code::kLeaseLost, 409, "lease_lost"},
    {Code::kLocked, 423, "locked"},
    {Code::kTooLarge, 413, "too_large"},
    {Code::kConflict, 409, "conflict"},
    {Code::kUnavailable, 503, "unavailable"},
    {Code::kIOError, 500, "internal"},
    {Code::kNotSupported, 501, "not_supported"},
    {Code::kAborted, 400, "aborted"},
    {Code::kGone, 410, "changes_refused"},
};

TEST(Protocol, StatusTable) {
  for (const Row& row : kTable) {
    EXPECT_EQ(HttpStatusFor(row.code), row.http) << row.error;
    EXPECT_EQ(ErrorCodeFor(row.code), row.error);
    EXPECT_EQ(CodeForError(row.http, row.error), row.code) << row.error;
  }
  EXPECT_EQ(HttpStatusFor(Code::kCorruption), 500);
  EXPECT_EQ(ErrorCodeFor(Code::kCorruption), "internal");
}

TEST(Protocol, ErrorCodeWinsOverHttpStatus) {
  EXPECT_EQ(CodeForError(409, "lease_lost"), Code::kLeaseLost);
  EXPECT_EQ(CodeForError(409, "conflict"), Code::kConflict);
  EXPECT_EQ(CodeForError(500, "locked"), Code::kLocked);
}

TEST(Protocol, HttpStatusAloneWhenNoKnownCode) {
  const std::pair<int, Code> cases[] = {
      {400, Code::kInvalidArgument},
      {401, Code::kUnauthorized},
      {403, Code::kUnauthorized},
      {404, Code::kNotFound},
      {405, Code::kNotSupported},
      {408, Code::kUnavailable},
      {409, Code::kConflict},
      {410, Code::kGone},
      {413, Code::kTooLarge},
      {418, Code::kInvalidArgument},
      {423, Code::kLocked},
      {428, Code::kLeaseRequired},
      {429, Code::kUnavailable},
      {500, Code::kIOError},
      {501, Code::kNotSupported},
      {502, Code::kUnavailable},
      {503, Code::kUnavailable},
      {504, Code::kUnavailable},
      {507, Code::kIOError},
      {200, Code::kOk},
      {204, Code::kOk},
      {302, Code::kIOError},
      {0, Code::kIOError},
  };
  for (const auto& [http, code] : cases) {
    EXPECT_EQ(CodeForError(http, ""), code) << http;
    EXPECT_EQ(CodeForError(http, "no_such_code"), code) << http;
  }
}

TEST(Protocol, Paths) {
  EXPECT_EQ(kFetchPath, "/v1/fetch.json");
  EXPECT_EQ(kSynchronisePath, "/v1/synchronise.json");
  EXPECT_EQ(kLoginPath, "/v1/login");
  EXPECT_EQ(kLockPath, "/v1/lock");
}

}  // namespace
}  // namespace syncstack
