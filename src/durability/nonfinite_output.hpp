#pragma once
// Nothing is written that is not finite (unless --allow-nonfinite): the merge counts, where it
// converts each merged slice to the output dtype, the values that come out NaN or infinite, and
// refuses the output before its rename when any tensor has one. The error names the tensor and
// what overflowed: the method's arithmetic (naming the largest scale parameter, e.g. --lambda
// 1e39 or the weight of model 2) or the conversion to a narrower output dtype (--out-dtype).
#include <cstdint>
#include <string>

#include "mpimerge/job/job.hpp"
#include "mpimerge/pipeline/plan.hpp"

namespace mpimerge {

// The one-line error for a tensor with `nonfinite` values in the output dtype, of which
// `nonfinite_computed` were already not finite as the method computed them.
std::string nonfinite_output_message(const MergeJob& job, const PlannedTensor& tensor, std::uint64_t nonfinite,
                                     std::uint64_t nonfinite_computed);

}  // namespace mpimerge
