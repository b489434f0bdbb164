#pragma once
// SLERP: spherical linear interpolation between the base and one other model, per tensor, as
// mergekit (merge_methods/slerp.py, slerp) and FusionBench (method/slerp) compute it: with
// v0 the base's tensor and v1 the model's,
//   cos = (v0 . v1) / (|v0| |v1|)       (a norm of at most 1e-8 counts as 1, as mergekit's normalize)
//   |cos| > 0.9995:  theta = (1 - t) v0 + t v1                                  (lerp)
//   otherwise:       omega = acos(cos), theta = sin((1 - t) omega) / sin(omega) v0 + sin(t omega) / sin(omega) v1
// The norms and the dot product are exact sums over all ranks (then rounded once), so the result
// does not depend on the rank count; the coefficients are computed in double precision.
#include <vector>

#include "mpimerge/exact_sum.hpp"
#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"

namespace mpimerge {

class SlerpMerge final : public MethodTemplate<SlerpMerge> {
 public:
  explicit SlerpMerge(const MethodArgs& args) : args_(args) {}
  std::string_view name() const override { return "slerp"; }
  void start(const MergeShape& shape) override;
  bool needs_pass() const override { return !measured_; }
  void finish_pass(Reductions& reductions) override;
  std::vector<MethodFinding> findings() const override;

  template <class T>
  void analyze_block(const Block<T>& block);
  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out);

  // The coefficients of theta = c0 v0 + c1 v1 from the exact |v0|^2, |v1|^2 and v0 . v1.
  struct Coefficients {
    double c0 = 1, c1 = 0;
    bool linear = false;  // nearly parallel: lerp
  };
  static Coefficients coefficients(double t, double norm0_squared, double norm1_squared, double dot);

 private:
  MethodArgs args_;
  bool measured_ = false;
  std::vector<double> t_;                      // per tensor
  std::vector<ExactSum> sums_;                 // per tensor: |v0|^2, |v1|^2, v0 . v1
  std::vector<Coefficients> c_;                // per tensor
  std::size_t lerped_ = 0;
};

}  // namespace mpimerge
