#pragma once
// What a Hugging Face output directory says about itself, as mergekit's outputs do (mergekit
// card.py, merge.py): README.md, a model card naming the method, the base, the models and the
// parameters, with the job file that made it; and the job file itself as
// mergekit_config.yml, so that the directory can be merged again or read by mergekit's tools.
#include <string>
#include <utility>
#include <vector>

#include "mpimerge/job/job.hpp"
#include "mpimerge/methods/method_spec.hpp"

namespace mpimerge {

// The card's text. `name` is the output directory's name (the card's title).
std::string model_card(const MergeJob& job, const MethodArgs& method, const std::string& name);

// The files a Hugging Face output gets beside its weights: README.md always, mergekit_config.yml
// when the job came from a job file (its text as given).
std::vector<std::pair<std::string, std::string>> model_card_files(const MergeJob& job, const MethodArgs& method);

}  // namespace mpimerge
