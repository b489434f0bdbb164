// TSV-M, Task Singular Vectors: Merge (Gargiulo et al., CVPR 2025, "Task Singular Vectors: Reducing
// Task Interference in Model Merging"), as FusionBench computes it
// (tanganke/fusion_bench, method/task_singular_vector/utils/TSVM_utils.py,
// compute_and_sum_svd_mem_reduction). For each matrix τ_t (m × n, r = min(m, n)) of T tasks:
//   k = int(r * (1 / T))                        (Python's float product, truncated)
//   τ_t ≈ U_t S_t V_tᵀ over its k leading singular triplets
//   U = [U_1 … U_T], S = [S_1 … S_T], V = [V_1 … V_T]    (T·k columns)
//   M = polar(U) diag(S) polar(V)ᵀ,  polar(X) = P Qᵀ from X = P Σ Qᵀ
// FusionBench places the T·k columns in r zero-filled ones; the zero columns carry zero singular
// values and drop out of the product, so only the T·k are formed here.
#include <algorithm>

#include "mpimerge/methods/task_singular.hpp"

namespace mpimerge {
namespace {

class TsvMerge final : public TaskSingularMerge {
 public:
  explicit TsvMerge(const MethodArgs& args) : TaskSingularMerge(args, "tsv_m") {}

 protected:
  linalg::SpectralProduct merged_update(const SpectralMatrix& a, const TaskVectors& taus,
                                        linalg::SpectralStats& stats) override {
    const std::size_t k = tsv_kept_per_task(std::min(a.rows, a.cols), taus.count());
    linalg::SingularTriplets kept{linalg::ColumnMatrix(a.rows, 0), linalg::ColumnMatrix(a.cols, 0), {}};
    kept.u.data.reserve(a.rows * k * taus.count());
    kept.v.data.reserve(a.cols * k * taus.count());
    {
      std::vector<double> tau(a.rows * a.cols);
      for (std::size_t t = 0; t < taus.count(); ++t) {
        taus.task(t, tau);
        kept.append(linalg::leading_triplets({tau, a.rows, a.cols}, k, a.name + " (task " + std::to_string(t + 1) + ")", stats));
      }
    }
    linalg::PolarFactor pu = linalg::polar_factor(std::move(kept.u), a.name + " (U)", stats);
    const linalg::PolarFactor pv = linalg::polar_factor(std::move(kept.v), a.name + " (V)", stats);
    return linalg::SpectralProduct(std::move(pu), kept.s, pv);
  }

  WholeMerge cost(std::size_t m, std::size_t n, std::size_t tasks) const override {
    const double r = static_cast<double>(std::min(m, n)), p = static_cast<double>(std::max(m, n));
    const double k = static_cast<double>(tsv_kept_per_task(std::min(m, n), tasks)), big_k = k * static_cast<double>(tasks);
    const double dm = static_cast<double>(m), dn = static_cast<double>(n);
    // Peak doubles: a task vector and dgesdd's copy of it with its factors (the fallback), the
    // concatenated U and V, and the K × K factors of the polar decompositions and the product.
    const double doubles = 2 * dm * dn + 2 * (dm + dn) * r + 6 * r * r + 2 * p + (dm + dn) * big_k +
                           6 * big_k * big_k + big_k * dn + std::min(dm * dn, static_cast<double>(kUpdateBlockValues));
    const double flops = static_cast<double>(tasks) * (p * r * r + 2 * r * r * r + 2 * p * r * k) +
                         (dm + dn) * big_k * big_k + 7 * big_k * big_k * big_k + 2 * dm * dn * big_k;
    return {static_cast<std::uint64_t>(8 * doubles), flops};
  }
};

}  // namespace

extern const MethodSpec kTsvMSpec{
    .name = "tsv_m",
    .summary = "TSV-M: each task vector's leading singular vectors, orthogonalised and summed (FusionBench)",
    .parameters = {task_singular_lambda(), task_singular_exclude()},
    .make = make_method_of<TsvMerge>,
};

}  // namespace mpimerge
