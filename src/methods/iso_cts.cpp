// Iso-CTS, isotropic merging in the common and task-specific subspaces (Marczak et al., ICML 2025),
// as FusionBench computes it (tanganke/fusion_bench, method/isotropic_merging/iso_utils.py,
// iso_cts). For each m × n matrix of T tasks, r = min(m, n), f = common_space_fraction:
//   c = int(r * f); c = r − round((r − c) / T) * T      (Python's round: half to even)
//   d = int((r − c) / T)                                 (dimensions per task)
//   Σ_t τ_t = U S Vᵀ; the common subspace is its c leading triplets (U_c, S_c, V_c)
//   w_t = τ_t − U_c U_cᵀ τ_t (the common left subspace projected out); its d leading triplets
//   U = [U_1 … U_T U_c], S likewise, V likewise (r columns)
//   M = polar(U) · mean(S) I · polar(V)ᵀ
// The projection acts on the left (rows) as stored, so the method depends on the orientation in
// which a checkpoint stores a matrix (GPT-2's Conv1D stores [in, out]), as FusionBench's does.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "mpimerge/error.hpp"
#include "mpimerge/methods/task_singular.hpp"
#include "mpimerge/util/format.hpp"

namespace mpimerge {
namespace {

class IsoCtsMerge final : public TaskSingularMerge {
 public:
  explicit IsoCtsMerge(const MethodArgs& args) : TaskSingularMerge(args, "iso_cts") {}

 protected:
  void start_matrix(const ParameterView& params, const SpectralMatrix& a) override {
    const double fraction = params.number("common_space_fraction", a.tensor);
    const std::size_t r = std::min(a.rows, a.cols);
    const auto split = iso_cts_subspace_split(r, shape_.models, fraction);
    if (!split)
      throw UsageError("iso_cts: common_space_fraction " + format_number(fraction) + " leaves no common subspace for '" +
                       a.name + "' (" + std::to_string(r) + " dimensions, " + std::to_string(shape_.models) +
                       " tasks: FusionBench's rounding asks for more task dimensions than there are); use a larger "
                       "fraction");
    splits_[a.tensor] = *split;
  }

  linalg::SpectralProduct merged_update(const SpectralMatrix& a, const TaskVectors& taus,
                                        linalg::SpectralStats& stats) override {
    const SubspaceSplit split = splits_.at(a.tensor);
    const std::size_t r = std::min(a.rows, a.cols);
    std::vector<double> work(a.rows * a.cols);
    taus.sum(work);
    const linalg::SingularTriplets common =
        linalg::leading_triplets({work, a.rows, a.cols}, split.common, a.name + " (sum of task vectors)", stats);
    linalg::SingularTriplets kept{linalg::ColumnMatrix(a.rows, 0), linalg::ColumnMatrix(a.cols, 0), {}};
    kept.u.data.reserve(a.rows * r);
    kept.v.data.reserve(a.cols * r);
    for (std::size_t t = 0; t < taus.count(); ++t) {
      taus.task(t, work);
      linalg::project_out(common.u, work, a.rows, a.cols);
      kept.append(linalg::leading_triplets({work, a.rows, a.cols}, split.per_task,
                                      a.name + " (task " + std::to_string(t + 1) + ", common subspace removed)", stats));
    }
    kept.append(common);
    work = {};
    const double mean = std::accumulate(kept.s.begin(), kept.s.end(), 0.0) / static_cast<double>(r);
    const std::vector<double> flat(kept.s.size(), mean);
    linalg::PolarFactor pu = linalg::polar_factor(std::move(kept.u), a.name + " (U)", stats);
    const linalg::PolarFactor pv = linalg::polar_factor(std::move(kept.v), a.name + " (V)", stats);
    return linalg::SpectralProduct(std::move(pu), flat, pv);
  }

  WholeMerge cost(std::size_t m, std::size_t n, std::size_t tasks) const override {
    const double r = static_cast<double>(std::min(m, n)), p = static_cast<double>(std::max(m, n));
    const double dm = static_cast<double>(m), dn = static_cast<double>(n);
    // Peak doubles: the work matrix, dgesdd's copy and factors (the fallback), the common and the
    // combined U and V, and the r × r factors of the polar decompositions and the product.
    const double doubles = 2 * dm * dn + 2 * (dm + dn) * r + 6 * r * r + 2 * p + 2 * (dm + dn) * r + 6 * r * r +
                           r * dn + std::min(dm * dn, static_cast<double>(kUpdateBlockValues));
    const double flops = static_cast<double>(tasks + 1) * (p * r * r + 2 * r * r * r + 2 * p * r * r) +
                         static_cast<double>(tasks) * 4 * dm * dn * r + (dm + dn) * r * r + 7 * r * r * r + 2 * dm * dn * r;
    return {static_cast<std::uint64_t>(8 * doubles), flops};
  }

 private:
  std::map<std::size_t, SubspaceSplit> splits_;  // per decomposed tensor
};

}  // namespace

extern const MethodSpec kIsoCtsSpec{
    .name = "iso_cts",
    .summary = "Iso-CTS: Iso-C over a common subspace plus each task's own, orthogonalised (FusionBench)",
    .parameters = {task_singular_lambda(),
                   {.name = "common_space_fraction",
                    .default_value = ParameterScalar::of_number(0.8),
                    .help = "iso_cts: share of each matrix's dimensions given to the common subspace (the rest is "
                            "split between the tasks, FusionBench's rounding)",
                    .range = {.min = 0, .max = 1},
                    .sweepable = true,
                    .examples = {"0.8", "0.5"},
                    .tag = "c"},
                   task_singular_exclude()},
    .make = make_method_of<IsoCtsMerge>,
};

}  // namespace mpimerge
