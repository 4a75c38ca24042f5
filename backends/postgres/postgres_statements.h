// Internal to the PostgreSQL backend, and seen by its tests: the text of the
// statements every connection prepares (postgres_connection.cc), so a test
// can EXPLAIN exactly what the store runs.
#pragma once

#include <string>
#include <string_view>

namespace syncstack::postgres_internal {

// The text of the prepared statement `name` for the quoted schema `schema`,
// with reads selecting the payload column itself (no mapped collections);
// empty if no statement has that name.
std::string StatementText(std::string_view name, const std::string& schema);

}  // namespace syncstack::postgres_internal
