// Helpers shared by the codec tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "syncstack/status.h"

namespace syncstack::testing {

// The path of fixture `name` in tests/data (env SYNCSTACK_TEST_DATA).
inline std::string FixturePath(const std::string& name) {
  const char* dir = std::getenv("SYNCSTACK_TEST_DATA");
  return std::string(dir != nullptr ? dir : "tests/data") + "/" + name;
}

inline std::string ReadFixture(const std::string& name) {
  std::ifstream in(FixturePath(name), std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << FixturePath(name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Asserts that `status` is kInvalidArgument and its message contains
// `part`.
inline ::testing::AssertionResult IsInvalid(const Status& status,
                                            const std::string& part) {
  if (status.code() != Status::Code::kInvalidArgument) {
    return ::testing::AssertionFailure()
           << "want invalid_argument containing \"" << part << "\", got "
           << status.ToString();
  }
  if (status.message().find(part) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "message \"" << status.message() << "\" lacks \"" << part << "\"";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace syncstack::testing
