// The memory store (backends/memory) under the Store conformance kit: the
// model the other stores are held to.
#include "syncstack/memory/memory_store.h"

#include <gtest/gtest.h>

#include "syncstack/conformance/store_conformance.h"

namespace syncstack {
namespace {

using conformance::StoreConformance;
using conformance::StoreFactory;

INSTANTIATE_TEST_SUITE_P(
    Stores, StoreConformance,
    ::testing::Values(StoreFactory{
        "Memory", [](const std::string&) { return OpenMemoryDatabase(); },
        false, nullptr}),
    conformance::StoreFactoryName);

}  // namespace
}  // namespace syncstack
