// A TOML configuration file for a subcommand's options (serve --config):
// each key is a long option's name, each value what the command line would
// give it; the command line wins. Generic over boost::program_options, so
// every option a subcommand declares can be set from the file.
#pragma once

#include <string>
#include <string_view>

#include "cli_common.h"

namespace syncstack::cli {

// Stores the keys of the TOML file `path` into `vm` as if they had been
// given on the command line after the options already stored there (which
// therefore win). A key's TOML type must match its option: a string for
// text options, an integer for whole numbers (not negative for unsigned
// ones), a number for real ones, true/false for switches (false: as if
// absent), an array of strings for options that take several values.
// Tables and the keys "config" and "help" are refused.
// Errors: kInvalidArgument "FILE:LINE: ..." naming the key (unknown key,
// wrong type, a value the option refuses), or the TOML syntax error with
// its line and column; `vm` may then hold part of the file.
Status StoreConfigFile(const std::string& path,
                       const po::options_description& options,
                       po::variables_map& vm);

// ParseArgs with a --config FILE option added to `options`: the command
// line first, then the file (StoreConfigFile), then the checks of required
// options. Returns false and sets `exit_code` when the program should stop:
// --help (0), or a usage error (2) — a bad command line or a bad file, one
// line on stderr.
bool ParseArgsWithConfig(int argc, char** argv, std::string_view usage,
                         const po::options_description& options,
                         po::variables_map& vm, int& exit_code);

}  // namespace syncstack::cli
