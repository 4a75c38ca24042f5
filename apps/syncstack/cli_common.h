// Helpers shared by the syncstack subcommands.
#pragma once

#include <boost/program_options.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "syncstack/engine.h"
#include "syncstack/registry.h"
#include "syncstack/schema.h"
#include "syncstack/store.h"

namespace syncstack::cli {

namespace po = boost::program_options;

// Exit statuses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed
inline constexpr int kExitUsage = 2;    // bad command line

// Fills `registry` with every store this build links.
// `server_tables`: for serve, the schema whose mappings with an "account"
// column the PostgreSQL store keeps in the server's own tables
// (PostgresDatabaseOptions::mapped_tables); ignored by the other stores.
void RegisterBuiltins(DatabaseRegistry& registry,
                      const Schema& server_tables = Schema());

// Prints "syncstack: <message>" on stderr; returns kExitFailure.
int Fail(std::string_view message);
int Fail(const Status& status);

// Parses `argv` (after the subcommand) against `options`. Returns nullopt
// and sets `exit_code` when the program should stop: --help (0) or a
// usage error (2, one line on stderr).
bool ParseArgs(int argc, char** argv, std::string_view usage,
               const po::options_description& options, po::variables_map& vm,
               int& exit_code);

// A device's own database and store, opened from a store URI.
struct LocalStore {
  std::unique_ptr<Database> database;
  std::shared_ptr<Store> store;
  Schema schema;  // id keys learned from the server; "id" otherwise
};
// `schema_file` (optional) names the collections; those it maps to tables
// are the app's own tables of a `sqlite:` store (docs/mapped-tables.md).
// A `sqlite:` file syncstack attached to before opens as mapped without it.
Result<LocalStore> OpenLocalStore(std::string_view uri,
                                  const std::string& schema_file = "");

// An existing server database, for commands that read or maintain it: a
// missing SQLite file or LMDB folder is kNotFound (never created).
Result<std::unique_ptr<Database>> OpenServerDatabase(std::string_view uri);

// A server's database and the store of one of its accounts, for commands
// that read or maintain an existing server store (conflicts, gc): a
// missing SQLite file or LMDB folder is an error (never created), and so
// is an account that is neither a user of the database nor holds data.
struct ServerAccount {
  std::unique_ptr<Database> database;
  std::shared_ptr<Store> store;
};
Result<ServerAccount> OpenServerAccount(std::string_view uri,
                                        std::string_view user);

// One line per case of a sync report, for people.
std::string DescribeReport(const SyncReport& report);

// The clock lines of a sync report for people, each ending in '\n' (""
// when the clock is fine): how far this device's clock is from the
// server's (a second or more), and how many writes the server restamped
// because it was too far ahead.
std::string DescribeClock(const SyncReport& report);

}  // namespace syncstack::cli
