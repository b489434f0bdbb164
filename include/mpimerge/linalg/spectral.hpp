#pragma once
// The dense linear algebra of the task-singular methods (tsv_m, iso_c, iso_cts), in float64 on
// one rank, through LAPACK and BLAS (OpenBLAS, pinned to one thread: the same bytes every run).
//
// Singular triplets come from the Gram matrix of the short side (aᵀa or aaᵀ, r × r with
// r = min(m, n)) and its symmetric eigendecomposition (LAPACK dsyevr), then the long side's
// vectors as a·v / σ: measured on a loaded 2-core VM at Llama shapes, the k = r/3 leading triplets
// of a 1664 × 1664 matrix took 2.2 s this way against 6.1 s for dgesdd (4480 × 1664: 3.1 s against
// 11.0 s; Eigen's BDCSVD took 9.5 s at 1664 × 1664). The Gram squares the condition number, so it
// is used only where that costs nothing measurable: when every triplet used has σ ≥ 1e-4 σ_max
// (errors below ~1e-8 of σ_max); otherwise the triplets come from dgesdd.
//
// Numerically zero singular values (σ ≤ max(m, n) · ε · σ_max, numpy's matrix_rank rule) have no
// defined singular vectors (any orthonormal completion is an SVD): such triplets are dropped, and
// zero directions of a polar factor get no weight (see docs/methods.md, "Task singular vectors").
#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace mpimerge::linalg {

// A dense matrix in column-major order (LAPACK's): column j starts at data[j * rows].
struct ColumnMatrix {
  std::size_t rows = 0, cols = 0;
  std::vector<double> data;

  ColumnMatrix() = default;
  ColumnMatrix(std::size_t r, std::size_t c) : rows(r), cols(c), data(r * c, 0.0) {}
  double* column(std::size_t j) { return data.data() + j * rows; }
  const double* column(std::size_t j) const { return data.data() + j * rows; }
  double& at(std::size_t i, std::size_t j) { return data[j * rows + i]; }
  double at(std::size_t i, std::size_t j) const { return data[j * rows + i]; }
};

// A row-major view of an m × n matrix (a tensor's own layout).
struct RowMajorView {
  std::span<const double> data;
  std::size_t rows = 0, cols = 0;
};

// a ≈ u diag(s) vᵀ over the kept triplets: u is m × k, v is n × k, s descending.
struct SingularTriplets {
  ColumnMatrix u, v;
  std::vector<double> s;
  std::size_t size() const { return s.size(); }
  // Appends other's triplets as further columns (TSV-M's and Iso-CTS's concatenated U, S, V).
  void append(const SingularTriplets& other);
};

// How a matrix's singular values came out (for the method's findings): which path was taken.
struct SpectralStats {
  std::size_t gram = 0;     // decompositions through the Gram matrix
  std::size_t direct = 0;   // through dgesdd (ill-conditioned or rank-deficient)
};

// Pins the BLAS to one thread on this rank (the rank count is the parallelism; a threaded BLAS
// would also reorder its sums between runs). Called before any decomposition.
void use_one_blas_thread();

// The k leading singular triplets of a (k <= min(m, n)), in float64, numerically zero ones
// dropped (so fewer than k may come back). Throws Error naming `what` when LAPACK fails.
SingularTriplets leading_triplets(RowMajorView a, std::size_t k, const std::string& what, SpectralStats& stats);

// The polar factor of c (m × K, column-major): the matrix with orthonormal columns nearest to it,
// P Qᵀ from c's SVD P Σ Qᵀ (FusionBench's `u_u @ vh_u`), with numerically zero directions of c
// dropped. Kept as c · right (right: K × K) when c's Gram is well conditioned, explicitly
// otherwise (right empty).
struct PolarFactor {
  ColumnMatrix left;   // c itself, or the explicit polar factor
  ColumnMatrix right;  // K × K, or empty: the identity
};
PolarFactor polar_factor(ColumnMatrix c, const std::string& what, SpectralStats& stats);

// Rows of p_u diag(d) p_vᵀ, the merged update of a matrix, one block at a time (p_u: m × K,
// p_v: n × K). A product with K = 0 is zero.
class SpectralProduct {
 public:
  SpectralProduct(PolarFactor u, std::span<const double> d, const PolarFactor& v);
  std::size_t rows() const { return left_.rows; }
  std::size_t cols() const { return cols_; }
  // Rows [first, first + count), row-major, into out (count * cols() values).
  void rows(std::size_t first, std::size_t count, std::span<double> out) const;

 private:
  ColumnMatrix left_;     // m × K
  ColumnMatrix weights_;  // K × n: (right_u diag(d) right_vᵀ) left_vᵀ
  std::size_t cols_ = 0;
};

// a -= u (uᵀ a), in place: a (m × n, row-major) without its component in the span of u's
// orthonormal columns (m × c).
void project_out(const ColumnMatrix& u, std::span<double> a, std::size_t rows, std::size_t cols);

}  // namespace mpimerge::linalg
