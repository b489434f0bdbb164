#include "presentation/model_card.hpp"

#include <algorithm>
#include <filesystem>

#include "mpimerge/methods/parameters.hpp"
#include "mpimerge/version.hpp"

namespace mpimerge {
namespace {

// A path as a Markdown code span; a backtick inside it is fenced with two.
std::string code(const std::string& text) {
  const std::string fence = text.find('`') == std::string::npos ? "`" : "``";
  return fence + (fence.size() > 1 ? " " + text + " " : text) + fence;
}

// A fence longer than any run of backticks in the text, so the text cannot close it.
std::string fence_for(const std::string& text) {
  std::size_t longest = 0, run = 0;
  for (char c : text) longest = std::max(longest, run = c == '`' ? run + 1 : 0);
  return std::string(std::max<std::size_t>(3, longest + 1), '`');
}

std::string block(const std::string& language, const std::string& text) {
  const std::string fence = fence_for(text);
  return fence + language + "\n" + text + (text.empty() || text.back() == '\n' ? "" : "\n") + fence + "\n";
}

}  // namespace

std::string model_card(const MergeJob& job, const MethodArgs& method, const std::string& name) {
  std::string card = "---\nlibrary_name: transformers\ntags:\n- merge\n- mpimerge\n---\n";
  card += "# " + name + "\n\n";
  card += "This is a merge of pre-trained language models created with mpimerge " + std::string(kVersion) +
          ", which merges checkpoints parameter by parameter across MPI ranks and reads mergekit's configurations.\n\n";
  card += "## Merge Details\n### Merge Method\n\n";
  card += "This model was merged using the " + std::string(method.spec->name) + " merge method" +
          (job.base ? " using " + code(*job.base) + " as a base" : "") + ".\n\n";
  card += "### Models Merged\n\nThe following models were included in the merge:\n";
  for (const std::string& model : job.models) card += "* " + code(model) + "\n";
  const std::string parameters = describe_parameters(used_parameters(method.params, method.spec->parameters, job.models.size()));
  if (!parameters.empty()) card += "\n### Parameters\n\n" + parameters + "\n";
  if (!job.job_file_text.empty()) {
    card += "\n### Configuration\n\nThe following YAML configuration was used to produce this model:\n\n";
    card += block("yaml", job.job_file_text);
  }
  // Not the command line: it holds how the run went (--output-io, --resume, --memory-budget), and
  // the same merge must give the same files however it ran (the report records the command).
  return card;
}

std::vector<std::pair<std::string, std::string>> model_card_files(const MergeJob& job, const MethodArgs& method) {
  std::string name = job.output;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  name = std::filesystem::path(name).filename().string();
  std::vector<std::pair<std::string, std::string>> files{{"README.md", model_card(job, method, name)}};
  if (!job.job_file_text.empty()) files.emplace_back("mergekit_config.yml", job.job_file_text);
  return files;
}

}  // namespace mpimerge
