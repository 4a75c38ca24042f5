#include "config_file.h"

#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <typeinfo>
#include <vector>

namespace syncstack::cli {
namespace {

// What TOML value an option takes, from the C++ type behind it.
enum class Kind { kFlag, kString, kSigned, kUnsigned, kReal, kBool, kList };

Kind KindOf(const po::option_description& option) {
  const auto& semantic = *option.semantic();
  if (semantic.max_tokens() == 0) return Kind::kFlag;
  const auto* typed = dynamic_cast<const po::typed_value_base*>(&semantic);
  if (typed == nullptr) return Kind::kString;
  const std::type_info& type = typed->value_type();
  for (const std::type_info* t :
       {&typeid(short), &typeid(int), &typeid(long), &typeid(long long)}) {
    if (type == *t) return Kind::kSigned;
  }
  for (const std::type_info* t :
       {&typeid(unsigned short), &typeid(unsigned), &typeid(unsigned long),
        &typeid(unsigned long long)}) {
    if (type == *t) return Kind::kUnsigned;
  }
  if (type == typeid(double) || type == typeid(float)) return Kind::kReal;
  if (type == typeid(bool)) return Kind::kBool;
  if (type == typeid(std::vector<std::string>)) return Kind::kList;
  return Kind::kString;
}

std::string_view Wanted(Kind kind) {
  switch (kind) {
    case Kind::kFlag:
    case Kind::kBool:
      return "true or false";
    case Kind::kString:
      return "a string";
    case Kind::kSigned:
      return "an integer";
    case Kind::kUnsigned:
      return "an integer >= 0";
    case Kind::kReal:
      return "a number";
    case Kind::kList:
      return "an array of strings";
  }
  return "a value";
}

// The command-line tokens for `value`, or false when its TOML type does
// not fit `kind`. A switch set to false gives no option at all (`*given`).
bool ToTokens(const toml::node& value, Kind kind,
              std::vector<std::string>& tokens, bool* given) {
  *given = true;
  switch (kind) {
    case Kind::kFlag:
      if (!value.is_boolean()) return false;
      *given = value.as_boolean()->get();
      return true;
    case Kind::kBool:
      if (!value.is_boolean()) return false;
      tokens.push_back(value.as_boolean()->get() ? "true" : "false");
      return true;
    case Kind::kString:
      if (!value.is_string()) return false;
      tokens.push_back(value.as_string()->get());
      return true;
    case Kind::kSigned:
    case Kind::kUnsigned:
      if (!value.is_integer()) return false;
      if (kind == Kind::kUnsigned && value.as_integer()->get() < 0) {
        return false;
      }
      tokens.push_back(std::to_string(value.as_integer()->get()));
      return true;
    case Kind::kReal:
      if (value.is_integer()) {
        tokens.push_back(std::to_string(value.as_integer()->get()));
        return true;
      }
      if (!value.is_floating_point()) return false;
      tokens.push_back(std::to_string(value.as_floating_point()->get()));
      return true;
    case Kind::kList:
      if (!value.is_array()) return false;
      for (const toml::node& item : *value.as_array()) {
        if (!item.is_string()) return false;
        tokens.push_back(item.as_string()->get());
      }
      return true;
  }
  return false;
}

// Stores one key of the file into `vm` (unless the command line set it).
Status StoreKey(const std::string& where, const std::string& key,
                const toml::node& value, const po::options_description& all,
                po::variables_map& vm) {
  const po::option_description* option =
      key == "config" || key == "help"
          ? nullptr
          : all.find_nothrow(key, /*approx=*/false, /*long_ignore_case=*/false,
                             /*short_ignore_case=*/false);
  if (option == nullptr || option->long_name() != key) {
    return Status::InvalidArgument(where + ": unknown key \"" + key + "\"");
  }
  Kind kind = KindOf(*option);
  std::vector<std::string> tokens;
  bool given = true;
  if (!ToTokens(value, kind, tokens, &given)) {
    std::ostringstream got;
    if (value.is_integer()) {
      got << value.as_integer()->get();
    } else {
      got << "a " << value.type();
    }
    return Status::InvalidArgument(where + ": \"" + key + "\" wants " +
                                   std::string(Wanted(kind)) + ", not " +
                                   got.str());
  }
  if (!given) return Status::Ok();
  po::parsed_options parsed(&all);
  parsed.options.emplace_back(key, tokens);
  parsed.options.back().original_tokens = tokens;
  try {
    po::store(parsed, vm);
  } catch (const po::error& e) {
    return Status::InvalidArgument(where + ": \"" + key + "\": " + e.what());
  }
  return Status::Ok();
}

}  // namespace

Status StoreConfigFile(const std::string& path,
                       const po::options_description& options,
                       po::variables_map& vm) {
  if (access(path.c_str(), R_OK) != 0) {
    return Status::InvalidArgument("--config " + path + ": " +
                                   std::strerror(errno));
  }
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return Status::InvalidArgument(path + ":" + std::to_string(at.line) + ":" +
                                   std::to_string(at.column) + ": " +
                                   std::string(e.description()));
  }
  // In the file's order, so that the first bad line is the one named.
  std::vector<std::pair<const toml::key*, const toml::node*>> keys;
  for (const auto& [key, value] : table) keys.emplace_back(&key, &value);
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a.first->source().begin.line < b.first->source().begin.line;
  });
  for (const auto& [key, value] : keys) {
    std::string where = path + ":" + std::to_string(key->source().begin.line);
    SYNCSTACK_RETURN_IF_ERROR(
        StoreKey(where, std::string(key->str()), *value, options, vm));
  }
  return Status::Ok();
}

bool ParseArgsWithConfig(int argc, char** argv, std::string_view usage,
                         const po::options_description& options,
                         po::variables_map& vm, int& exit_code) {
  po::options_description all(options);
  all.add_options()("config", po::value<std::string>(),
                    "TOML file of these options, named as here without "
                    "\"--\" (e.g. max-connections = 2000); the command line "
                    "wins")("help,h", "show this help");
  try {
    po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << usage << "\n\n" << all << "\n";
      exit_code = kExitOk;
      return false;
    }
    if (vm.count("config")) {
      Status loaded = StoreConfigFile(vm["config"].as<std::string>(), all, vm);
      if (!loaded.ok()) {
        std::fprintf(stderr, "syncstack: %s\n", loaded.message().c_str());
        exit_code = kExitUsage;
        return false;
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "syncstack: %s (see --help)\n", e.what());
    exit_code = kExitUsage;
    return false;
  }
  return true;
}

}  // namespace syncstack::cli
