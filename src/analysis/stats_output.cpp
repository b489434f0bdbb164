#include "mpimerge/analysis/stats_output.hpp"

#include <cstdio>
#include <sstream>

#include "mpimerge/util/format.hpp"

namespace mpimerge {
namespace {

nlohmann::json conflicts_json(const std::vector<SignConflicts>& per_density, const AnalysisOptions& options) {
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t d = 0; d < per_density.size(); ++d) {
    const SignConflicts& c = per_density[d];
    out.push_back({{"density", options.densities[d]}, {"parameters", c.parameters}, {"kept_entries", c.kept_entries},
                   {"multi_kept", c.multi_kept}, {"conflicting", c.conflicting},
                   {"conflict_among_multi_kept", c.among_multi_kept()}, {"conflict_among_all", c.among_all()}});
  }
  return out;
}

// Tensor names are free text: quoted when they would break a CSV row.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out(1, '"');
  for (char c : text) {
    out.push_back(c);
    if (c == '"') out.push_back('"');
  }
  out.push_back('"');
  return out;
}

}  // namespace

nlohmann::json stats_to_json(const TaskVectorStats& stats, const AnalysisInputs& inputs) {
  const AnalysisOptions& o = stats.options;
  nlohmann::json tasks = nlohmann::json::array();
  for (std::size_t t = 0; t < stats.tasks.size(); ++t) {
    const TaskStats& s = stats.tasks[t];
    tasks.push_back({{"task", t}, {"model", t < inputs.models.size() ? inputs.models[t] : ""},
                     {"quantiles", s.quantiles}, {"max", s.max}, {"sum_of_squares", s.sum_of_squares},
                     {"mass_fraction", s.mass_fraction}, {"mass_kept", s.mass_kept}, {"thresholds", s.thresholds},
                     {"kept_fraction", s.kept_fraction}});
  }
  nlohmann::json tensors = nlohmann::json::array();
  for (std::size_t t = 0; t < stats.tensor_names.size(); ++t)
    tensors.push_back({{"name", stats.tensor_names[t]}, {"elements", stats.tensor_elements[t]},
                       {"sign_conflicts", conflicts_json(stats.per_tensor[t], o)}});
  return {
      {"command", inputs.command_line},
      {"base", inputs.base},
      {"models", inputs.models},
      {"ranks", inputs.ranks},
      {"parameters", stats.parameters},
      {"passes", stats.passes},
      {"definitions",
       {{"tau", "model - base, per parameter, over the floating-point tensors"},
        {"quantiles", "exact: the ceil(q n)-th smallest |tau| (numpy.quantile method inverted_cdf)"},
        {"trim", "TIES topk_values_mask, model scope: keep |tau| >= the k-th smallest, k = n - int(n density)"},
        {"mass_fraction", "share of sum(tau^2) held by the entries the trim at that share keeps; fixed-point "
                          "sums, each tau^2 truncated to 2^-52 of the task's largest"},
        {"sign_conflicts", "per parameter, the kept nonzero entries of all tasks: multi_kept has >= 2, "
                           "conflicting has both signs"}}},
      {"quantile_levels", o.quantiles},
      {"mass_tops", o.mass_tops},
      {"densities", o.densities},
      {"tasks", tasks},
      {"sign_conflicts", conflicts_json(stats.conflicts, o)},
      {"tensors", tensors},
  };
}

std::string stats_to_csv(const TaskVectorStats& stats) {
  const AnalysisOptions& o = stats.options;
  std::ostringstream out;
  out << "statistic,task,tensor,level,value\n";
  auto row = [&](const std::string& statistic, const std::string& task, const std::string& tensor, const std::string& level,
                 double value) { out << statistic << ',' << task << ',' << csv_field(tensor) << ',' << level << ',' << format_number(value) << '\n'; };
  for (std::size_t t = 0; t < stats.tasks.size(); ++t) {
    const TaskStats& s = stats.tasks[t];
    const std::string task = std::to_string(t);
    for (std::size_t j = 0; j < s.quantiles.size(); ++j) row("quantile", task, "", format_number(o.quantiles[j]), s.quantiles[j]);
    row("max", task, "", "", s.max);
    row("sum_of_squares", task, "", "", s.sum_of_squares);
    for (std::size_t j = 0; j < s.mass_fraction.size(); ++j) {
      row("mass_fraction", task, "", format_number(o.mass_tops[j]), s.mass_fraction[j]);
      row("mass_kept", task, "", format_number(o.mass_tops[j]), s.mass_kept[j]);
    }
    for (std::size_t d = 0; d < s.thresholds.size(); ++d) {
      row("threshold", task, "", format_number(o.densities[d]), s.thresholds[d]);
      row("kept_fraction", task, "", format_number(o.densities[d]), s.kept_fraction[d]);
    }
  }
  auto conflicts = [&](const std::string& tensor, const std::vector<SignConflicts>& per_density) {
    for (std::size_t d = 0; d < per_density.size(); ++d) {
      const std::string level = format_number(o.densities[d]);
      row("conflict_among_multi_kept", "", tensor, level, per_density[d].among_multi_kept());
      row("conflict_among_all", "", tensor, level, per_density[d].among_all());
      row("multi_kept", "", tensor, level, static_cast<double>(per_density[d].multi_kept));
      row("conflicting", "", tensor, level, static_cast<double>(per_density[d].conflicting));
    }
  };
  conflicts("*", stats.conflicts);
  for (std::size_t t = 0; t < stats.tensor_names.size(); ++t) conflicts(stats.tensor_names[t], stats.per_tensor[t]);
  return out.str();
}

std::vector<std::string> stats_summary_lines(const TaskVectorStats& stats) {
  const AnalysisOptions& o = stats.options;
  std::vector<std::string> lines;
  char text[64];
  std::string head = "|tau| quantiles per task at";
  for (double q : o.quantiles) head.append(" ").append(format_number(q));
  lines.push_back(head + ", and max");
  for (std::size_t t = 0; t < stats.tasks.size(); ++t) {
    std::string line = "  task " + std::to_string(t) + ":";
    for (double v : stats.tasks[t].quantiles) {
      std::snprintf(text, sizeof text, " %.4g", v);
      line += text;
    }
    std::snprintf(text, sizeof text, " | %.4g", stats.tasks[t].max);
    lines.push_back(line + text);
  }
  std::string tops = "L2 mass in the top";
  for (double k : o.mass_tops) tops.append(" ").append(format_number(100 * k)).append("%");
  lines.push_back(tops);
  for (std::size_t t = 0; t < stats.tasks.size(); ++t) {
    std::string line = "  task " + std::to_string(t) + ":";
    for (double v : stats.tasks[t].mass_fraction) {
      std::snprintf(text, sizeof text, " %.3f", v);
      line += text;
    }
    lines.push_back(line);
  }
  lines.push_back("sign conflicts among kept entries (parameters with >= 2 kept / all parameters)");
  for (std::size_t d = 0; d < stats.conflicts.size(); ++d) {
    std::snprintf(text, sizeof text, "  density %-6s %.4f / %.4f", format_number(o.densities[d]).c_str(),
                  stats.conflicts[d].among_multi_kept(), stats.conflicts[d].among_all());
    lines.push_back(text);
  }
  return lines;
}

}  // namespace mpimerge
