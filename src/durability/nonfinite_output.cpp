#include "durability/nonfinite_output.hpp"

#include <cmath>
#include <optional>
#include <vector>

#include "mpimerge/util/format.hpp"

namespace mpimerge {
namespace {

// 1e39 and 1e9, not 1e+39 and 1e+09: as a user types them.
std::string number(double value) {
  std::string text = format_number(value);
  if (const auto e = text.find('e'); e != std::string::npos) {
    std::size_t digits = e + 1;
    if (digits < text.size() && text[digits] == '+') text.erase(digits, 1);
    else if (digits < text.size() && text[digits] == '-') ++digits;
    while (digits + 1 < text.size() && text[digits] == '0') text.erase(digits, 1);
  }
  return text;
}

// As --out-dtype takes it.
std::string dtype_word(DType dtype) {
  switch (dtype) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
    default: return std::string(dtype_name(dtype));
  }
}

// The largest absolute number a setting can give (over its conditions and gradient points).
std::optional<double> largest(const ParameterSetting& setting) {
  std::optional<double> best;
  for (const auto& condition : setting.conditions)
    for (const auto& v : condition.value)
      if (v.kind == ParameterScalar::Kind::number && (!best || std::fabs(v.number) > std::fabs(*best))) best = v.number;
  return best;
}

struct Suspect {
  std::string name;
  double value = 0;
};

// The scale parameters of the job that multiply the models' values: lambda and the weights, as
// given on the command line or in the job file; the largest in magnitude, if above 1.
std::optional<Suspect> largest_scale(const MergeJob& job) {
  const MethodOptions& m = job.method;
  const std::string dashes = job.job_file.empty() ? "--" : "";
  std::vector<Suspect> suspects;
  // Parameters a method leaves at their defaults are at most 1: only what the job set can overflow.
  if (const auto lambda = m.params.global().find("lambda"); lambda != m.params.global().end())
    if (const auto v = largest(lambda->second)) suspects.push_back({dashes + "lambda " + number(*v), *v});
  if (const auto w = m.params.global().find("weight"); w != m.params.global().end())
    if (const auto v = largest(w->second)) suspects.push_back({"weight " + number(*v) + " (of every model)", *v});
  for (std::size_t i = 0; i < m.params.models_with_settings(); ++i)
    if (const auto w = m.params.model(i).find("weight"); w != m.params.model(i).end())
      if (const auto v = largest(w->second))
        suspects.push_back({"weight of model " + std::to_string(i + 1) + " (" + (dashes.empty() ? "" : "--weight ") + number(*v) + ")", *v});
  std::optional<Suspect> best;
  for (const Suspect& s : suspects)
    if (std::fabs(s.value) > 1 && (!best || std::fabs(s.value) > std::fabs(best->value))) best = s;
  return best;
}

}  // namespace

std::string nonfinite_output_message(const MergeJob& job, const PlannedTensor& tensor, std::uint64_t nonfinite,
                                     std::uint64_t nonfinite_computed) {
  const std::string count = std::to_string(nonfinite) + " of " + std::to_string(tensor.output.elements()) + " merged values";
  const std::optional<Suspect> scale = largest_scale(job);
  std::string text = job.output + ": tensor '" + tensor.output.name + "': " + count;
  if (nonfinite_computed > 0) {
    const std::string compute = tensor.compute == ComputeType::f64 ? "float64" : "float32";
    text += " are not finite: the merge overflows " + compute +
            (scale ? " with " + scale->name : " (no scale parameter is above 1: the inputs' values are too large)");
  } else {
    const std::string dtype = dtype_word(tensor.output.dtype);
    text += " overflow " + dtype + ", the output dtype (" +
            (job.out_dtype ? "--out-dtype " + dtype : "the base's; choose a wider one with --out-dtype") + ")" +
            (scale ? ", with " + scale->name : "");
  }
  return text + "; nothing is written (pass --allow-nonfinite to write them anyway)";
}

}  // namespace mpimerge
