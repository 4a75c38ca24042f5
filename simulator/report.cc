// Tables, CSV and SVG charts of simulation results. The SVG is written by
// hand: plain shapes and text, no scripts, opens in any browser.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "syncstack/simulator/simulator.h"

namespace syncstack::sim {
namespace {

std::string Number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

std::string Escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// The smallest "nice" axis top (1, 2 or 5 times a power of ten, times the
// tick count) at or above `max`, and its tick step.
void NiceAxis(double max, double& top, double& step) {
  if (max <= 0) max = 1;
  double raw = max / 5;
  double power = std::pow(10.0, std::floor(std::log10(raw)));
  step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * power >= raw) {
      step = m * power;
      break;
    }
  }
  step = std::max(step, 1.0);  // counts: whole-number ticks
  top = std::ceil(max / step) * step;
}

constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                    "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
constexpr int kPaletteSize = sizeof kPalette / sizeof kPalette[0];

struct Frame {
  double width = 820, height = 460;
  double left = 70, right = 220, top = 64, bottom = 64;
  double PlotW() const { return width - left - right; }
  double PlotH() const { return height - top - bottom; }
};

std::string Open(const Frame& f, std::string_view title,
                 std::string_view subtitle) {
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                  Number(f.width) + "\" height=\"" + Number(f.height) +
                  "\" viewBox=\"0 0 " + Number(f.width) + " " +
                  Number(f.height) +
                  "\" font-family=\"sans-serif\" font-size=\"12\">\n"
                  "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + Number(f.width / 2) +
       "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" "
       "font-weight=\"bold\">" +
       Escape(title) + "</text>\n";
  s += "<text x=\"" + Number(f.width / 2) +
       "\" y=\"44\" text-anchor=\"middle\" fill=\"#555\">" + Escape(subtitle) +
       "</text>\n";
  return s;
}

// The y axis with grid lines and its label.
std::string YAxis(const Frame& f, double top_value, double step,
                  std::string_view label) {
  std::string s;
  for (double v = 0; v <= top_value + step / 2; v += step) {
    double y = f.top + f.PlotH() * (1 - v / top_value);
    s += "<line x1=\"" + Number(f.left) + "\" y1=\"" + Number(y) + "\" x2=\"" +
         Number(f.left + f.PlotW()) + "\" y2=\"" + Number(y) +
         "\" stroke=\"#ddd\"/>\n";
    s += "<text x=\"" + Number(f.left - 8) + "\" y=\"" + Number(y + 4) +
         "\" text-anchor=\"end\">" + Number(v) + "</text>\n";
  }
  s += "<line x1=\"" + Number(f.left) + "\" y1=\"" + Number(f.top) +
       "\" x2=\"" + Number(f.left) + "\" y2=\"" + Number(f.top + f.PlotH()) +
       "\" stroke=\"black\"/>\n";
  s += "<line x1=\"" + Number(f.left) + "\" y1=\"" + Number(f.top + f.PlotH()) +
       "\" x2=\"" + Number(f.left + f.PlotW()) + "\" y2=\"" +
       Number(f.top + f.PlotH()) + "\" stroke=\"black\"/>\n";
  double cy = f.top + f.PlotH() / 2;
  s += "<text x=\"18\" y=\"" + Number(cy) +
       "\" text-anchor=\"middle\" transform=\"rotate(-90 18 " + Number(cy) +
       ")\">" + Escape(label) + "</text>\n";
  return s;
}

std::string LegendEntry(const Frame& f, int row, const char* color,
                        std::string_view label, bool line) {
  double x = f.left + f.PlotW() + 20;
  double y = f.top + 10 + row * 22;
  std::string s;
  if (line) {
    s += "<line x1=\"" + Number(x) + "\" y1=\"" + Number(y) + "\" x2=\"" +
         Number(x + 24) + "\" y2=\"" + Number(y) + "\" stroke=\"" + color +
         "\" stroke-width=\"2.5\"/>\n";
  } else {
    s += "<rect x=\"" + Number(x + 6) + "\" y=\"" + Number(y - 6) +
         "\" width=\"12\" height=\"12\" fill=\"" + color + "\"/>\n";
  }
  s += "<text x=\"" + Number(x + 32) + "\" y=\"" + Number(y + 4) + "\">" +
       Escape(label) + "</text>\n";
  return s;
}

// Lost updates against skew, one line per policy. Skews are placed evenly
// (an ordinal axis), so 0, 1, 10 and 600 s are all readable.
std::string LineChart(const std::vector<SimulationResult>& results,
                      std::string_view subtitle) {
  std::vector<double> skews;
  std::vector<std::string> policies;
  std::map<std::pair<std::string, double>, uint64_t> lost;
  double max = 0;
  for (const auto& r : results) {
    if (std::find(skews.begin(), skews.end(), r.skew_seconds) == skews.end()) {
      skews.push_back(r.skew_seconds);
    }
    if (std::find(policies.begin(), policies.end(), r.policy) ==
        policies.end()) {
      policies.push_back(r.policy);
    }
    lost[{r.policy, r.skew_seconds}] = r.lost_updates;
    max = std::max(max, static_cast<double>(r.lost_updates));
  }
  std::sort(skews.begin(), skews.end());
  Frame f;
  double top_value, step;
  NiceAxis(max, top_value, step);
  std::string s = Open(f, "Lost updates against clock skew", subtitle);
  s += YAxis(f, top_value, step, "lost updates");
  auto x_of = [&](size_t i) {
    return f.left + f.PlotW() * (i + 0.5) / static_cast<double>(skews.size());
  };
  auto y_of = [&](double v) { return f.top + f.PlotH() * (1 - v / top_value); };
  for (size_t i = 0; i < skews.size(); ++i) {
    s += "<text x=\"" + Number(x_of(i)) + "\" y=\"" +
         Number(f.top + f.PlotH() + 18) + "\" text-anchor=\"middle\">" +
         Number(skews[i]) + "</text>\n";
  }
  s += "<text x=\"" + Number(f.left + f.PlotW() / 2) + "\" y=\"" +
       Number(f.height - 20) +
       "\" text-anchor=\"middle\">largest device clock offset (s)</text>\n";
  for (size_t p = 0; p < policies.size(); ++p) {
    const char* color = kPalette[p % kPaletteSize];
    std::string points;
    std::string dots;
    for (size_t i = 0; i < skews.size(); ++i) {
      auto it = lost.find({policies[p], skews[i]});
      if (it == lost.end()) continue;
      double x = x_of(i), y = y_of(static_cast<double>(it->second));
      points += (points.empty() ? "" : " ") + Number(x) + "," + Number(y);
      dots += "<circle cx=\"" + Number(x) + "\" cy=\"" + Number(y) +
              "\" r=\"4\" fill=\"" + color + "\"><title>" +
              Escape(policies[p]) + ", skew " + Number(skews[i]) +
              " s: " + std::to_string(it->second) + " lost</title></circle>\n";
    }
    s += "<polyline fill=\"none\" stroke=\"" + std::string(color) +
         "\" stroke-width=\"2.5\" points=\"" + points + "\"/>\n" + dots;
    s += LegendEntry(f, static_cast<int>(p), color, policies[p], true);
  }
  return s + "</svg>\n";
}

// Lost updates, silent losses, conflicts and resurrected deletes per policy.
std::string BarChart(const std::vector<SimulationResult>& results,
                     std::string_view subtitle) {
  struct Metric {
    const char* name;
    uint64_t SimulationResult::*field;
  };
  const Metric metrics[] = {
      {"lost updates", &SimulationResult::lost_updates},
      {"silent losses", &SimulationResult::silent_lost_updates},
      {"conflicts reported", &SimulationResult::conflicts},
      {"resurrected deletes", &SimulationResult::resurrected_deletes},
  };
  constexpr int kMetrics = 4;
  double max = 0;
  for (const auto& r : results) {
    for (const Metric& m : metrics) {
      max = std::max(max, static_cast<double>(r.*(m.field)));
    }
  }
  Frame f;
  double top_value, step;
  NiceAxis(max, top_value, step);
  std::string s = Open(
      f,
      "Per policy at clock skew " +
          Number(results.empty() ? 0 : results.front().skew_seconds) + " s",
      subtitle);
  s += YAxis(f, top_value, step, "count");
  double group = f.PlotW() / std::max<size_t>(1, results.size());
  double bar = group * 0.8 / kMetrics;
  for (size_t g = 0; g < results.size(); ++g) {
    const SimulationResult& r = results[g];
    double x0 = f.left + g * group + group * 0.1;
    for (int m = 0; m < kMetrics; ++m) {
      double v = static_cast<double>(r.*(metrics[m].field));
      double h = f.PlotH() * v / top_value;
      s += "<rect x=\"" + Number(x0 + m * bar) + "\" y=\"" +
           Number(f.top + f.PlotH() - h) + "\" width=\"" + Number(bar - 2) +
           "\" height=\"" + Number(h) + "\" fill=\"" + kPalette[m] +
           "\"><title>" + Escape(r.policy) + ": " + metrics[m].name + " " +
           Number(v) + "</title></rect>\n";
    }
    s += "<text x=\"" + Number(f.left + g * group + group / 2) + "\" y=\"" +
         Number(f.top + f.PlotH() + 18) + "\" text-anchor=\"middle\">" +
         Escape(r.policy) + "</text>\n";
  }
  s += "<text x=\"" + Number(f.left + f.PlotW() / 2) + "\" y=\"" +
       Number(f.height - 20) + "\" text-anchor=\"middle\">policy</text>\n";
  for (int m = 0; m < kMetrics; ++m) {
    s += LegendEntry(f, m, kPalette[m], metrics[m].name, false);
  }
  return s + "</svg>\n";
}

}  // namespace

std::string CsvHeader() {
  return "policy,skew_seconds,converged,quiescence_rounds,writes,deletes,"
         "lost_updates,silent_lost_updates,conflicts,resurrected_deletes,"
         "bytes,messages,sync_calls,failed_syncs";
}

std::string CsvRow(const SimulationResult& r) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  return r.policy + "," + Number(r.skew_seconds) + "," +
         (r.converged ? "yes" : "no") + "," + n(r.quiescence_rounds) + "," +
         n(r.writes) + "," + n(r.deletes) + "," + n(r.lost_updates) + "," +
         n(r.silent_lost_updates) + "," + n(r.conflicts) + "," +
         n(r.resurrected_deletes) + "," + n(r.bytes) + "," + n(r.messages) +
         "," + n(r.sync_calls) + "," + n(r.failed_syncs);
}

std::string FormatTable(const std::vector<SimulationResult>& results) {
  int width = 6;  // "policy"
  for (const auto& r : results) {
    width = std::max(width, static_cast<int>(r.policy.size()));
  }
  std::string out;
  char line[512];
  std::snprintf(
      line, sizeof line, "%-*s %8s %9s %6s %6s %6s %9s %11s %10s %6s %6s %9s\n",
      width, "policy", "skew(s)", "converged", "writes", "lost", "silent",
      "conflicts", "resurrected", "bytes", "syncs", "failed", "restamped");
  out += line;
  for (const auto& r : results) {
    auto n = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    std::snprintf(
        line, sizeof line,
        "%-*s %8s %9s %6llu %6llu %6llu %9llu %11llu %10llu %6llu %6llu "
        "%9llu\n",
        width, r.policy.c_str(), Number(r.skew_seconds).c_str(),
        r.converged ? "yes" : "no", n(r.writes), n(r.lost_updates),
        n(r.silent_lost_updates), n(r.conflicts), n(r.resurrected_deletes),
        n(r.bytes), n(r.sync_calls), n(r.failed_syncs), n(r.restamped));
    out += line;
  }
  return out;
}

std::string RenderSvg(const std::vector<SimulationResult>& results,
                      std::string_view subtitle) {
  bool several_skews = false;
  for (const auto& r : results) {
    if (r.skew_seconds != results.front().skew_seconds) several_skews = true;
  }
  return several_skews ? LineChart(results, subtitle)
                       : BarChart(results, subtitle);
}

}  // namespace syncstack::sim
