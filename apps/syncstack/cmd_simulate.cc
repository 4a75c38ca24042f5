// simulate: every conflict policy on the same simulated workload (devices
// with skewed clocks editing offline over a lossy network, synced through
// the real engine and service), scored on convergence, lost updates,
// conflicts, resurrected deletes, bytes and sync calls. See
// docs/simulator.md for the definitions.
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>

#include "commands.h"
#include "syncstack/policies/registry.h"
#include "syncstack/simulator/simulator.h"

namespace syncstack::cli {
namespace {

constexpr const char* kUsage =
    "syncstack simulate [--devices N] [--records N] [--ops N] [--offline P] "
    "[--skew SECONDS[,SECONDS...]] [--drift PPM] [--loss P] [--seed N] "
    "[--interval MS] [--clock-jump YEARS] [--max-clock-ahead SECONDS|off] "
    "[--policy all|NAME...] [--store memory|sqlite] [--csv FILE] "
    "[--svg FILE]";

// Prints "syncstack: <message>" and returns the usage exit status.
int Usage(const std::string& message) {
  std::fprintf(stderr, "syncstack: %s\n", message.c_str());
  return kExitUsage;
}

bool ParseInt(const std::string& text, int64_t& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && !text.empty();
}

bool ParseDouble(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(text.c_str(), &end);
  return errno == 0 && end == text.c_str() + text.size() && std::isfinite(out);
}

// A whole number in [min, max]; else a message naming the option.
std::string Count(const char* option, const std::string& text, int64_t min,
                  int64_t max, int64_t& out) {
  if (!ParseInt(text, out) || out < min || out > max) {
    return std::string("--") + option + " must be a whole number from " +
           std::to_string(min) + " to " + std::to_string(max) + ", got \"" +
           text + "\"";
  }
  return {};
}

std::string Probability(const char* option, const std::string& text,
                        double& out) {
  if (!ParseDouble(text, out) || out < 0 || out > 1) {
    return std::string("--") + option +
           " must be a probability from 0 to 1, got \"" + text + "\"";
  }
  return {};
}

std::string NonNegative(const char* option, const std::string& text,
                        double& out) {
  if (!ParseDouble(text, out) || out < 0) {
    return std::string("--") + option + " must be a number >= 0, got \"" +
           text + "\"";
  }
  return {};
}

// Splits "a,b c" on commas (and takes each token as given).
std::vector<std::string> SplitList(const std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  for (const std::string& token : tokens) {
    size_t start = 0;
    while (start <= token.size()) {
      size_t comma = token.find(',', start);
      if (comma == std::string::npos) comma = token.size();
      out.push_back(token.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return out;
}

std::string G(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// simulate's flags as text, checked by ParseWorkload and ParseSweep.
struct SimulateFlags {
  std::string devices = "3", records = "20", ops = "200", offline = "0.5",
              drift = "0", loss = "0", seed = "1", store = "memory",
              interval = "1000", clock_jump = "0", clock_bound = "300",
              csv_path, svg_path;
  std::vector<std::string> skew_args{"0"}, policy_args{"all"};
};

// --policy's help: the names `all` runs, and every name.
std::string PolicyHelp() {
  std::string help = "policies to run: all (";
  for (const auto& p : sim::AvailablePolicies()) {
    help += (&p == &sim::AvailablePolicies().front() ? "" : ", ");
    help += p.name;
  }
  return help + ") or names: " + PolicyNamesHelp() + " (default all)";
}

// `policy_help` must outlive `options`.
void AddSimulateOptions(po::options_description& options,
                        const std::string& policy_help, SimulateFlags& f) {
  options.add_options()("devices", po::value(&f.devices),
                        "devices of the simulated user (default 3)")(
      "records", po::value(&f.records),
      "records created at the start; about this many stay live "
      "(default 20)")("ops", po::value(&f.ops),
                      "writes in the workload (default 200)")(
      "offline", po::value(&f.offline),
      "probability that the writing device is offline (default 0.5)")(
      "skew", po::value(&f.skew_args)->multitoken(),
      "largest device clock offset in seconds; several values "
      "(\"0,5,60\") sweep it (default 0)")(
      "drift", po::value(&f.drift),
      "largest device clock drift in ppm (default 0)")(
      "loss", po::value(&f.loss),
      "probability that a message or an answer is lost (default 0)")(
      "seed", po::value(&f.seed),
      "random seed; same seed, same numbers "
      "(default 1)")("interval", po::value(&f.interval),
                     "mean real time between writes in ms (default 1000)")(
      "clock-jump", po::value(&f.clock_jump),
      "halfway through, the last device's clock jumps this many years "
      "ahead (default 0: no jump)")(
      "max-clock-ahead", po::value(&f.clock_bound),
      "the server's bound (serve --max-clock-ahead) in seconds, or off "
      "(default 300)")("policy", po::value(&f.policy_args)->multitoken(),
                       policy_help.c_str())(
      "store", po::value(&f.store), "memory or sqlite (default memory)")(
      "csv", po::value(&f.csv_path), "write the results as CSV")(
      "svg", po::value(&f.svg_path),
      "draw a chart: lost updates against skew when sweeping, else bars");
}

// The whole-number flags into `base`; "" or what is wrong.
std::string ParseCounts(const SimulateFlags& f, sim::SimulationOptions& base) {
  int64_t n = 0;
  std::string error;
  if (!(error = Count("devices", f.devices, 1, 1000, n)).empty()) return error;
  base.devices = static_cast<int>(n);
  if (!(error = Count("records", f.records, 1, 1'000'000, n)).empty()) {
    return error;
  }
  base.records = static_cast<int>(n);
  if (!(error = Count("ops", f.ops, 0, 100'000'000, n)).empty()) return error;
  base.ops = n;
  if (!(error = Count("interval", f.interval, 1, 86'400'000, n)).empty()) {
    return error;
  }
  base.op_interval_ms = n;
  if (!(error = Count("seed", f.seed, 0, INT64_MAX, n)).empty()) return error;
  base.seed = static_cast<uint64_t>(n);
  return {};
}

// The network, clock and store flags into `base` (after ParseCounts); ""
// or what is wrong.
std::string ParseConditions(const SimulateFlags& f,
                            sim::SimulationOptions& base) {
  double p = 0;
  std::string error;
  if (!(error = Probability("offline", f.offline, p)).empty()) return error;
  base.offline = p;
  if (!(error = Probability("loss", f.loss, p)).empty()) return error;
  base.loss = p;
  if (!(error = NonNegative("drift", f.drift, p)).empty()) return error;
  base.drift_ppm = p;
  if (!(error = NonNegative("clock-jump", f.clock_jump, p)).empty()) {
    return error;
  }
  if (p > 5000) return "--clock-jump must be at most 5000 years";
  base.clock_jump_years = p;
  if (f.clock_bound == "off") {
    base.max_clock_ahead_seconds = -1;
  } else if (!(error = NonNegative("max-clock-ahead", f.clock_bound, p))
                  .empty()) {
    return error + " (or off)";
  } else if (p > 1e12) {
    return "--max-clock-ahead must be at most 1e12 seconds";
  } else {
    base.max_clock_ahead_seconds = p;
  }
  if (f.store == "memory") {
    base.store = sim::SimStore::kMemory;
  } else if (f.store == "sqlite") {
    base.store = sim::SimStore::kSqlite;
  } else {
    return "--store must be memory or sqlite, got \"" + f.store + "\"";
  }
  return {};
}

// --skew and --policy: the runs to make; "" or what is wrong.
std::string ParseSweep(const SimulateFlags& f, std::vector<double>& skews,
                       std::vector<const sim::PolicyFactory*>& policies) {
  double p = 0;
  std::string error;
  for (const std::string& s : SplitList(f.skew_args)) {
    if (!(error = NonNegative("skew", s, p)).empty()) return error;
    skews.push_back(p);
  }
  for (const std::string& name : SplitList(f.policy_args)) {
    if (name == "all") {
      for (const auto& each : sim::AvailablePolicies()) {
        policies.push_back(&each);
      }
      continue;
    }
    auto found = sim::FindPolicy(name);
    if (!found.ok()) return "--policy: " + found.status().message();
    policies.push_back(*found);
  }
  return {};
}

// Opens --csv and --svg for writing (before minutes of work, so a bad path
// fails first). Returns kExitOk, or the exit code after saying why not.
int OpenOutputs(const SimulateFlags& f, File& csv, File& svg) {
  if (!f.csv_path.empty()) {
    csv.reset(std::fopen(f.csv_path.c_str(), "w"));
    if (!csv) {
      return Fail("cannot write --csv " + f.csv_path + ": " +
                  std::strerror(errno));
    }
  }
  if (!f.svg_path.empty()) {
    svg.reset(std::fopen(f.svg_path.c_str(), "w"));
    if (!svg) {
      return Fail("cannot write --svg " + f.svg_path + ": " +
                  std::strerror(errno));
    }
  }
  return kExitOk;
}

void PrintWorkload(const sim::SimulationOptions& base,
                   const std::string& store) {
  std::printf(
      "simulate: %d devices, %d records, %lld writes, offline %g, drift %g "
      "ppm, loss %g, seed %llu, store %s\n",
      base.devices, base.records, static_cast<long long>(base.ops),
      base.offline, base.drift_ppm, base.loss,
      static_cast<unsigned long long>(base.seed), store.c_str());
  std::printf("simulate: clock jump %g years, max clock ahead %s\n\n",
              base.clock_jump_years,
              base.max_clock_ahead_seconds < 0
                  ? "off"
                  : (G(base.max_clock_ahead_seconds) + " s").c_str());
}

// Writes `text` to `file` (opened as `flag` `path`) and closes it. Returns
// kExitOk, or the exit code after saying why not.
int WriteOutput(File& file, const char* flag, const std::string& path,
                const std::string& text) {
  if (std::fputs(text.c_str(), file.get()) < 0 ||
      std::fclose(file.release()) != 0) {
    return Fail(std::string("cannot write ") + flag + " " + path + ": " +
                std::strerror(errno));
  }
  std::printf("wrote %s\n", path.c_str());
  return kExitOk;
}

// The table and notes on stdout, then --csv and --svg.
int Report(const SimulateFlags& f, const sim::SimulationOptions& base,
           const std::vector<sim::SimulationResult>& results, File& csv,
           File& svg) {
  std::fputs(sim::FormatTable(results).c_str(), stdout);
  for (const auto& r : results) {
    if (!r.first_error.empty()) {
      std::printf("note: %s at skew %g s: a sync failed: %s\n",
                  r.policy.c_str(), r.skew_seconds, r.first_error.c_str());
    }
  }
  std::string subtitle =
      std::to_string(base.devices) + " devices, " +
      std::to_string(base.records) + " records, " + std::to_string(base.ops) +
      " writes, offline " + G(base.offline) + ", drift " + G(base.drift_ppm) +
      " ppm, loss " + G(base.loss) + ", seed " + std::to_string(base.seed);
  if (csv) {
    std::string text = sim::CsvHeader() + "\n";
    for (const auto& r : results) text += sim::CsvRow(r) + "\n";
    if (int rc = WriteOutput(csv, "--csv", f.csv_path, text); rc != kExitOk) {
      return rc;
    }
  }
  if (svg) {
    return WriteOutput(svg, "--svg", f.svg_path,
                       sim::RenderSvg(results, subtitle));
  }
  return kExitOk;
}

}  // namespace

int RunSimulate(int argc, char** argv) {
  po::options_description options("simulate options");
  const std::string policy_help = PolicyHelp();
  SimulateFlags f;
  AddSimulateOptions(options, policy_help, f);
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc, argv, kUsage, options, vm, exit_code)) {
    return exit_code;
  }
  sim::SimulationOptions base;
  std::vector<double> skews;
  std::vector<const sim::PolicyFactory*> policies;
  if (std::string error = ParseCounts(f, base); !error.empty()) {
    return Usage(error);
  }
  if (std::string error = ParseConditions(f, base); !error.empty()) {
    return Usage(error);
  }
  if (std::string error = ParseSweep(f, skews, policies); !error.empty()) {
    return Usage(error);
  }
  File csv, svg;
  if (int rc = OpenOutputs(f, csv, svg); rc != kExitOk) return rc;
  PrintWorkload(base, f.store);
  std::vector<sim::SimulationResult> results;
  for (double skew : skews) {
    for (const sim::PolicyFactory* policy : policies) {
      sim::SimulationOptions o = base;
      o.skew_seconds = skew;
      auto result = sim::Simulate(o, *policy);
      if (!result.ok()) {
        return Fail(result.status().WithContext(policy->name));
      }
      results.push_back(std::move(result).value());
    }
  }
  return Report(f, base, results, csv, svg);
}

}  // namespace syncstack::cli
