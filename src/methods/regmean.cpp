#include "mpimerge/methods/regmean.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <limits>

#include "mpimerge/error.hpp"
#include "mpimerge/methods/linear.hpp"
#include "mpimerge/tensor.hpp"
#include "mpimerge/util/format.hpp"

namespace mpimerge {
namespace {


// yt[j][r] += sum_k a[j][k] * xt[k][r] for j < n, r < rows, each sum taken over k in increasing
// order, starting from yt's value: the same additions in the same order whatever the number of
// rows and wherever a row sits among them, so a row's result does not depend on how the rows are
// split between ranks and blocks. a is n x n, xt and yt are n x rows, all row-major.
void accumulate_product(const double* a, const double* xt, double* yt, std::size_t n, std::size_t rows) {
  constexpr std::size_t kJ = 4, kR = 8;  // a tile of 4 output entries by 8 rows in registers
  std::size_t r0 = 0;
  for (; r0 + kR <= rows; r0 += kR) {
    std::size_t j = 0;
    for (; j + kJ <= n; j += kJ) {
      double acc[kJ][kR];
      for (std::size_t jj = 0; jj < kJ; ++jj)
        for (std::size_t rr = 0; rr < kR; ++rr) acc[jj][rr] = yt[(j + jj) * rows + r0 + rr];
      for (std::size_t k = 0; k < n; ++k) {
        const double* x = xt + k * rows + r0;
        for (std::size_t jj = 0; jj < kJ; ++jj) {
          const double g = a[(j + jj) * n + k];
          for (std::size_t rr = 0; rr < kR; ++rr) acc[jj][rr] += g * x[rr];
        }
      }
      for (std::size_t jj = 0; jj < kJ; ++jj)
        for (std::size_t rr = 0; rr < kR; ++rr) yt[(j + jj) * rows + r0 + rr] = acc[jj][rr];
    }
    for (; j < n; ++j)
      for (std::size_t rr = 0; rr < kR; ++rr) {
        double acc = yt[j * rows + r0 + rr];
        for (std::size_t k = 0; k < n; ++k) acc += a[j * n + k] * xt[k * rows + r0 + rr];
        yt[j * rows + r0 + rr] = acc;
      }
  }
  for (; r0 < rows; ++r0)
    for (std::size_t j = 0; j < n; ++j) {
      double acc = yt[j * rows + r0];
      for (std::size_t k = 0; k < n; ++k) acc += a[j * n + k] * xt[k * rows + r0];
      yt[j * rows + r0] = acc;
    }
}

}  // namespace

// The current tensor's weighted Gram matrices (in the engine's side matrices, valid during the
// tensor's blocks) and the inverse of their sum, computed identically on every rank.
struct RegMeanMerge::Solver {
  std::size_t tensor = 0, n = 0;
  std::vector<SideMatrix> grams;  // weighted, alpha-scaled
  std::vector<double> inverse;  // row-major n x n
  std::vector<double> xt, rhs, yt;
};

RegMeanMerge::RegMeanMerge(const MethodArgs& args) : args_(args) {}
RegMeanMerge::~RegMeanMerge() = default;

void RegMeanMerge::start(const MergeShape& shape) {
  MergeMethod::start(shape);
  const ParameterView params(args_.params, args_.spec->parameters, shape_, "regmean");
  has_gram_.clear();
  alpha_.clear();
  weights_.assign(shape.tensors.size(), std::vector<double>(shape.models));
  weight_sum_.assign(shape.tensors.size(), 0.0);
  for (std::size_t t = 0; t < shape.tensors.size(); ++t) {
    const MergedTensor& info = shape.tensors[t];
    std::size_t present = 0;
    for (const auto& s : info.side_shapes) present += s.has_value();
    if (present != 0 && present != shape.models)
      throw InputError("regmean: layer '" + info.name + "' has Gram matrices for " + std::to_string(present) + " of " +
                       std::to_string(shape.models) + " models: give every model's, or none (then it is averaged)");
    if (present != 0) {
      if (info.shape.size() != 2)
        throw InputError("regmean: '" + info.name + "' has Gram matrices but is not a matrix (shape " +
                         shape_string(info.shape) + "); RegMean merges the [out, in] weights of linear layers");
      const std::uint64_t in = info.shape[1];
      for (std::size_t m = 0; m < shape.models; ++m)
        if (*info.side_shapes[m] != std::vector<std::uint64_t>{in, in})
          throw InputError("regmean: the Gram matrix of model " + std::to_string(m + 1) + " for layer '" + info.name +
                           "' has shape " + shape_string(*info.side_shapes[m]) + ", but a weight of shape " +
                           shape_string(info.shape) + " ([out, in]) needs [" + std::to_string(in) + ", " +
                           std::to_string(in) + "] (weights stored as [in, out], as GPT-2's Conv1D, must be "
                           "transposed first)");
    }
    has_gram_.push_back(present != 0);
    alpha_.push_back(params.number("alpha", t));
    for (std::size_t m = 0; m < shape.models; ++m) weight_sum_[t] += weights_[t][m] = params.number("weight", t, m);
    if (weight_sum_[t] == 0)
      throw UsageError("regmean: the weights of tensor '" + info.name + "' sum to 0");
  }
  solvers_.clear();
}

void RegMeanMerge::release_side_data(std::size_t tensor) { solvers_.erase(tensor); }

void RegMeanMerge::tensor_side_data(std::size_t tensor, std::vector<SideMatrix> matrices) {
  solvers_.erase(tensor);
  if (!has_gram_[tensor]) return;
  const std::string& name = shape_.tensors[tensor].name;
  const std::size_t n = static_cast<std::size_t>(shape_.tensors[tensor].shape[1]);
  auto solver = std::make_unique<Solver>();
  solver->tensor = tensor;
  solver->n = n;
  Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(n));
  for (std::size_t m = 0; m < matrices.size(); ++m) {
    std::vector<double>& g = matrices[m].values;
    for (double v : g)
      if (!std::isfinite(v))
        throw InputError("regmean: the Gram matrix of model " + std::to_string(m + 1) + " for layer '" + name +
                         "' holds NaN or infinite values");
    // G' = w (diag(G) + alpha offdiag(G)), symmetrised: (G + G^T) / 2 is G itself for a Gram
    // matrix computed exactly, and the symmetric part of one computed in floating point.
    const double w = weights_[tensor][m], alpha = alpha_[tensor];
    for (std::size_t i = 0; i < n; ++i) {
      g[i * n + i] *= w;
      for (std::size_t j = i + 1; j < n; ++j) {
        const double v = (g[i * n + j] + g[j * n + i]) / 2 * alpha * w;
        g[i * n + j] = g[j * n + i] = v;
      }
    }
    sum += Eigen::Map<const Eigen::MatrixXd>(g.data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(n));
  }
  // LDLT with pivoting, in float64: a Gram matrix is symmetric positive semi-definite, and definite
  // exactly when the system has one solution.
  const Eigen::LDLT<Eigen::MatrixXd> ldlt(sum);
  if (ldlt.info() != Eigen::Success || !ldlt.isPositive() || !(ldlt.rcond() > std::numeric_limits<double>::epsilon()))
    throw InputError("regmean: the summed Gram matrix of layer '" + name +
                     "' is singular (not positive definite), so the layer has no least-squares merge: its inputs "
                     "span too few directions; compute the Gram matrices from more data, or set alpha below 1 to "
                     "strengthen the diagonal");
  const Eigen::MatrixXd inverse = ldlt.solve(Eigen::MatrixXd::Identity(sum.rows(), sum.cols()));
  solver->inverse.resize(n * n);
  Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      solver->inverse.data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(n)) = inverse;
  solver->grams = std::move(matrices);
  solvers_[tensor] = std::move(solver);
}

template <class T>
void RegMeanMerge::merge_block(const Block<T>& block, std::span<T> out) {
  const std::size_t t = block.tensor;
  if (!has_gram_[t]) {
    weighted_average<T>(block.models, weights_[t], weight_sum_[t], out);
    return;
  }
  const auto found = solvers_.find(t);
  if (found == solvers_.end())
    throw Error("regmean: no Gram matrices for layer '" + shape_.tensors[t].name + "' before its rows");
  Solver& s = *found->second;
  const std::size_t n = s.n, rows = out.size() / n;
  if (out.size() != rows * n || block.first_element % n != 0)
    throw Error("regmean: a block of '" + shape_.tensors[t].name + "' does not hold whole rows");
  // Column r of rhs: sum_t G'_t w_{t,r}; of the result: (sum_t G'_t)^-1 times it, as the
  // reference computes inverse(sum G') @ sum(G' W^T).
  s.xt.resize(n * rows);
  s.rhs.assign(n * rows, 0.0);
  s.yt.assign(n * rows, 0.0);
  for (std::size_t m = 0; m < block.models.size(); ++m) {
    const std::span<const T> w = block.models[m];
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t k = 0; k < n; ++k) s.xt[k * rows + r] = static_cast<double>(w[r * n + k]);
    accumulate_product(s.grams[m].values.data(), s.xt.data(), s.rhs.data(), n, rows);
  }
  accumulate_product(s.inverse.data(), s.rhs.data(), s.yt.data(), n, rows);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < n; ++j) out[r * n + j] = static_cast<T>(s.yt[j * rows + r]);
}

template void RegMeanMerge::merge_block<float>(const Block<float>&, std::span<float>);
template void RegMeanMerge::merge_block<double>(const Block<double>&, std::span<double>);

extern const MethodSpec kRegMeanSpec{
    .name = "regmean",
    .summary = "RegMean: least-squares merge of linear layers (one Gram file per model: --gram)",
    .parameters =
        {
            {.name = "weight",
             .scope = ParameterScope::per_model,
             .default_value = ParameterScalar::of_number(1.0),
             .help = "the model's coefficient: its Gram matrices are scaled by it, and parameters without them "
                     "averaged with it",
             .range = {.min = 0}},
            {.name = "alpha",
             .default_value = ParameterScalar::of_number(1.0),
             .help = "scale of the Gram matrices' off-diagonal entries (RegMean's reduce_non_diagonal_ratio)",
             .range = {.min = 0, .max = 1},
             .sweepable = true,
             .examples = {"1", "0.5"}},
        },
    .side_inputs = {{.name = "gram",
                     .kind = SideInputKind::matrices,
                     .help = "each model's Gram matrices X^T X, one dataset per linear layer named after its weight, "
                             "in model order"}},
    .needs_base = false,
    .make = make_method_of<RegMeanMerge>,
};

}  // namespace mpimerge
