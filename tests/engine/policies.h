// Every policy the registry builds, for tests that loop over them.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "syncstack/policies/registry.h"

namespace syncstack::testing {

// Every built-in policy, then each under the field-level merge ("+fields").
inline std::vector<std::string> EveryPolicyName() {
  std::vector<std::string> out;
  for (const auto& name : BuiltinPolicyNames()) {
    out.push_back(name);
    out.push_back(name + "+fields");
  }
  return out;
}

// A policy name as a test name ('-' and '+' become '_').
inline std::string PolicyTestName(std::string name) {
  for (char& c : name) {
    if (c == '-' || c == '+') c = '_';
  }
  return name;
}

}  // namespace syncstack::testing
