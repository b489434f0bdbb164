// Iso-C, isotropic merging in the common subspace (Marczak et al., ICML 2025, "No Task Left
// Behind: Isotropic Model Merging with Common and Task-Specific Subspaces"), as FusionBench
// computes it (tanganke/fusion_bench, method/isotropic_merging/iso_utils.py, iso_c): for each
// matrix, with Σ_t τ_t = U diag(S) Vᵀ (thin, r = min(m, n) singular values),
//   M = U · mean(S) I · Vᵀ
// the sum of the task vectors with its spectrum flattened to its mean.
#include <algorithm>
#include <numeric>

#include "mpimerge/methods/task_singular.hpp"

namespace mpimerge {
namespace {

class IsoCMerge final : public TaskSingularMerge {
 public:
  explicit IsoCMerge(const MethodArgs& args) : TaskSingularMerge(args, "iso_c") {}

 protected:
  linalg::SpectralProduct merged_update(const SpectralMatrix& a, const TaskVectors& taus,
                                        linalg::SpectralStats& stats) override {
    const std::size_t r = std::min(a.rows, a.cols);
    linalg::SingularTriplets sum;
    {
      std::vector<double> total(a.rows * a.cols);
      taus.sum(total);
      sum = linalg::leading_triplets({total, a.rows, a.cols}, r, a.name + " (sum of task vectors)", stats);
    }
    // The mean over all r singular values; the numerically zero ones left out of the triplets add
    // at most max(m, n) ε σ_max each.
    const double mean = std::accumulate(sum.s.begin(), sum.s.end(), 0.0) / static_cast<double>(r);
    const std::vector<double> flat(sum.size(), mean);
    return linalg::SpectralProduct({std::move(sum.u), {}}, flat, {std::move(sum.v), {}});
  }

  WholeMerge cost(std::size_t m, std::size_t n, std::size_t tasks) const override {
    const double r = static_cast<double>(std::min(m, n)), p = static_cast<double>(std::max(m, n));
    const double dm = static_cast<double>(m), dn = static_cast<double>(n);
    // Peak doubles: the sum, dgesdd's copy and factors (the fallback), U, V and the product's weights.
    const double doubles = 2 * dm * dn + 3 * (dm + dn) * r + 6 * r * r + 2 * p + r * dn +
                           std::min(dm * dn, static_cast<double>(kUpdateBlockValues));
    const double flops = static_cast<double>(tasks) * dm * dn + p * r * r + 4 * r * r * r + 2 * p * r * r + 2 * dm * dn * r;
    return {static_cast<std::uint64_t>(8 * doubles), flops};
  }
};

}  // namespace

extern const MethodSpec kIsoCSpec{
    .name = "iso_c",
    .summary = "Iso-C: the summed task vector with its singular values flattened to their mean (FusionBench)",
    .parameters = {task_singular_lambda(), task_singular_exclude()},
    .make = make_method_of<IsoCMerge>,
};

}  // namespace mpimerge
