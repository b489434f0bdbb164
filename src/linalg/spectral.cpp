#include "mpimerge/linalg/spectral.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "mpimerge/error.hpp"

// OpenBLAS's own call (cblas.h declares it only when the alternative points at OpenBLAS).
extern "C" void openblas_set_num_threads(int threads);

namespace mpimerge::linalg {
namespace {

constexpr double kEpsilon = std::numeric_limits<double>::epsilon();
// The Gram route squares the condition number: it is used when the smallest eigenvalue used is at
// least this fraction of the largest, i.e. every singular value used is >= 1e-4 of the largest.
constexpr double kGramConditionLimit = 1e-8;

lapack_int dimension(std::size_t n, const std::string& what) {
  if (n > static_cast<std::size_t>(std::numeric_limits<lapack_int>::max()))
    throw Error(what + ": a dimension of " + std::to_string(n) + " exceeds LAPACK's 32-bit indices");
  return static_cast<lapack_int>(n);
}

void check_info(lapack_int info, const char* routine, const std::string& what) {
  if (info != 0)
    throw Error(what + ": LAPACK's " + routine + " failed (info " + std::to_string(info) +
                (info > 0 ? ", no convergence" : ", an invalid argument") + ")");
}

// The k largest eigenpairs of the symmetric n × n matrix g (upper triangle; destroyed), largest
// first: values into w (k of them), vectors into the columns of z (n × k).
void leading_eigenpairs(std::vector<double>& g, std::size_t n, std::size_t k, std::vector<double>& w, ColumnMatrix& z,
                        const std::string& what) {
  const lapack_int ln = dimension(n, what), lk = dimension(k, what);
  std::vector<double> values(n);
  z = ColumnMatrix(n, k);
  std::vector<lapack_int> support(2 * std::max<std::size_t>(1, n));
  lapack_int found = 0;
  const lapack_int info = LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'V', k == n ? 'A' : 'I', 'U', ln, g.data(), ln, 0.0, 0.0,
                                         ln - lk + 1, ln, 0.0, &found, values.data(), z.data.data(), ln, support.data());
  check_info(info, "dsyevr", what);
  if (found != lk) throw Error(what + ": LAPACK's dsyevr found " + std::to_string(found) + " of " + std::to_string(k) + " eigenpairs");
  // Ascending from dsyevr; descending here.
  w.assign(values.rbegin() + static_cast<std::ptrdiff_t>(n - k), values.rend());
  for (std::size_t j = 0; j < k / 2; ++j) std::swap_ranges(z.column(j), z.column(j) + n, z.column(k - 1 - j));
}

void scale_columns(ColumnMatrix& c, std::span<const double> by) {
  for (std::size_t j = 0; j < c.cols; ++j)
    for (std::size_t i = 0; i < c.rows; ++i) c.at(i, j) *= by[j];
}

// The triplets from dgesdd, for matrices the Gram route would not resolve.
SingularTriplets direct_triplets(RowMajorView a, std::size_t k, const std::string& what) {
  const std::size_t m = a.rows, n = a.cols, r = std::min(m, n);
  // The row-major a is aᵀ in column-major order (n × m): aᵀ = Y diag(s) Zᵀ gives a = Z diag(s) Yᵀ.
  std::vector<double> x(a.data.begin(), a.data.end());
  std::vector<double> s(r);
  ColumnMatrix y(n, r);
  std::vector<double> zt(r * m);  // Zᵀ: r × m, column-major
  const lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', dimension(n, what), dimension(m, what), x.data(),
                                         dimension(n, what), s.data(), y.data.data(), dimension(n, what), zt.data(),
                                         dimension(r, what));
  check_info(info, "dgesdd", what);
  const double tolerance = static_cast<double>(std::max(m, n)) * kEpsilon * s[0];
  std::size_t kept = 0;
  while (kept < k && s[kept] > tolerance) ++kept;
  SingularTriplets out;
  out.s.assign(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(kept));
  out.u = ColumnMatrix(m, kept);
  out.v = ColumnMatrix(n, kept);
  for (std::size_t j = 0; j < kept; ++j) {
    for (std::size_t i = 0; i < m; ++i) out.u.at(i, j) = zt[j + i * r];
    std::copy(y.column(j), y.column(j) + n, out.v.column(j));
  }
  return out;
}

}  // namespace

void use_one_blas_thread() { openblas_set_num_threads(1); }

void SingularTriplets::append(const SingularTriplets& other) {
  u.data.insert(u.data.end(), other.u.data.begin(), other.u.data.end());
  v.data.insert(v.data.end(), other.v.data.begin(), other.v.data.end());
  u.cols += other.size();
  v.cols += other.size();
  s.insert(s.end(), other.s.begin(), other.s.end());
}

SingularTriplets leading_triplets(RowMajorView a, std::size_t k, const std::string& what, SpectralStats& stats) {
  const std::size_t m = a.rows, n = a.cols, r = std::min(m, n);
  k = std::min(k, r);
  SingularTriplets out;
  out.u = ColumnMatrix(m, 0);
  out.v = ColumnMatrix(n, 0);
  if (k == 0) return out;
  const double* x = a.data.data();  // aᵀ, column-major n × m
  const bool tall = m >= n;         // the Gram of the short side: aᵀa (n × n) or aaᵀ (m × m)
  std::vector<double> g(r * r);
  if (tall)
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, dimension(n, what), dimension(m, what), 1.0, x,
                dimension(n, what), 0.0, g.data(), dimension(n, what));
  else
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, dimension(m, what), dimension(n, what), 1.0, x,
                dimension(n, what), 0.0, g.data(), dimension(m, what));
  std::vector<double> w;
  ColumnMatrix z;
  leading_eigenpairs(g, r, k, w, z, what);
  if (!(w[0] > 0)) {  // a zero matrix: no triplet is defined
    ++stats.gram;
    return out;
  }
  if (!(w[k - 1] >= kGramConditionLimit * w[0])) {
    ++stats.direct;
    return direct_triplets(a, k, what);
  }
  ++stats.gram;
  out.s.resize(k);
  std::vector<double> inverse(k);
  for (std::size_t j = 0; j < k; ++j) {
    out.s[j] = std::sqrt(w[j]);
    inverse[j] = 1.0 / out.s[j];
  }
  // The long side's vectors: u = a v / σ (tall) or v = aᵀ u / σ (wide).
  ColumnMatrix other(tall ? m : n, k);
  if (tall)
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, dimension(m, what), dimension(k, what), dimension(n, what),
                1.0, x, dimension(n, what), z.data.data(), dimension(n, what), 0.0, other.data.data(), dimension(m, what));
  else
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dimension(n, what), dimension(k, what), dimension(m, what),
                1.0, x, dimension(n, what), z.data.data(), dimension(m, what), 0.0, other.data.data(), dimension(n, what));
  scale_columns(other, inverse);
  out.u = tall ? std::move(other) : std::move(z);
  out.v = tall ? std::move(z) : std::move(other);
  return out;
}

PolarFactor polar_factor(ColumnMatrix c, const std::string& what, SpectralStats& stats) {
  const std::size_t m = c.rows, k = c.cols;
  PolarFactor out;
  if (k == 0) {
    out.left = std::move(c);
    return out;
  }
  const lapack_int lm = dimension(m, what), lk = dimension(k, what);
  std::vector<double> g(k * k);
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, lk, lm, 1.0, c.data.data(), lm, 0.0, g.data(), lk);
  std::vector<double> w;
  ColumnMatrix q;
  leading_eigenpairs(g, k, k, w, q, what);
  if (w[0] > 0 && w[k - 1] >= kGramConditionLimit * w[0]) {
    // c (cᵀc)^(-1/2) = c · q diag(w^(-1/2)) qᵀ, the right factor built as y yᵀ with y = q diag(w^(-1/4)).
    ++stats.gram;
    std::vector<double> scale(k);
    for (std::size_t j = 0; j < k; ++j) scale[j] = 1.0 / std::sqrt(std::sqrt(w[j]));
    scale_columns(q, scale);
    out.right = ColumnMatrix(k, k);
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, lk, lk, 1.0, q.data.data(), lk, 0.0, out.right.data.data(), lk);
    for (std::size_t j = 0; j < k; ++j)
      for (std::size_t i = j + 1; i < k; ++i) out.right.at(i, j) = out.right.at(j, i);
    out.left = std::move(c);
    return out;
  }
  // Ill-conditioned or rank-deficient (two tasks sharing singular vectors): P Qᵀ over the
  // directions with a non-zero singular value, from dgesdd.
  ++stats.direct;
  const std::size_t r = std::min(m, k);
  std::vector<double> s(r);
  ColumnMatrix p(m, r);
  std::vector<double> qt(r * k);  // r × k, column-major
  const lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', lm, lk, c.data.data(), lm, s.data(), p.data.data(), lm,
                                         qt.data(), dimension(r, what));
  check_info(info, "dgesdd", what);
  const double tolerance = static_cast<double>(std::max(m, k)) * kEpsilon * s[0];
  std::size_t kept = 0;
  while (kept < r && s[kept] > tolerance) ++kept;
  out.left = ColumnMatrix(m, k);
  if (kept > 0)
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, lm, lk, dimension(kept, what), 1.0, p.data.data(), lm,
                qt.data(), dimension(r, what), 0.0, out.left.data.data(), lm);
  return out;
}

SpectralProduct::SpectralProduct(PolarFactor u, std::span<const double> d, const PolarFactor& v)
    : left_(std::move(u.left)), cols_(v.left.rows) {
  const std::size_t k = d.size(), n = cols_;
  const std::string what = "the merged update";
  weights_ = ColumnMatrix(k, n);
  if (k == 0) return;
  const lapack_int lk = dimension(k, what), ln = dimension(n, what);
  // core = right_u diag(d) right_vᵀ (K × K), the identity standing for an empty right factor.
  ColumnMatrix core;
  if (!u.right.data.empty()) {
    core = std::move(u.right);
    scale_columns(core, d);
    if (!v.right.data.empty()) {
      ColumnMatrix product(k, k);
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, lk, lk, lk, 1.0, core.data.data(), lk, v.right.data.data(),
                  lk, 0.0, product.data.data(), lk);
      core = std::move(product);
    }
  } else if (!v.right.data.empty()) {
    core = ColumnMatrix(k, k);  // diag(d) right_vᵀ
    for (std::size_t j = 0; j < k; ++j)
      for (std::size_t i = 0; i < k; ++i) core.at(i, j) = d[i] * v.right.at(j, i);
  }
  if (core.data.empty()) {  // both factors explicit: weights = diag(d) left_vᵀ
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t i = 0; i < k; ++i) weights_.at(i, j) = d[i] * v.left.at(j, i);
    return;
  }
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, lk, ln, lk, 1.0, core.data.data(), lk, v.left.data.data(), ln,
              0.0, weights_.data.data(), lk);
}

void SpectralProduct::rows(std::size_t first, std::size_t count, std::span<double> out) const {
  const std::size_t k = weights_.rows, n = cols_;
  if (k == 0 || count == 0 || n == 0) {
    std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(count * n), 0.0);
    return;
  }
  const std::string what = "the merged update";
  // outᵀ (n × count) = weightsᵀ · left[first .. first + count, :]ᵀ
  cblas_dgemm(CblasColMajor, CblasTrans, CblasTrans, dimension(n, what), dimension(count, what), dimension(k, what), 1.0,
              weights_.data.data(), dimension(k, what), left_.data.data() + first, dimension(left_.rows, what), 0.0,
              out.data(), dimension(n, what));
}

void project_out(const ColumnMatrix& u, std::span<double> a, std::size_t rows, std::size_t cols) {
  const std::size_t c = u.cols;
  if (c == 0 || rows == 0 || cols == 0) return;
  const std::string what = "the task-specific projection";
  const lapack_int lm = dimension(rows, what), ln = dimension(cols, what), lc = dimension(c, what);
  // In column-major terms a is x = aᵀ (n × m): x -= (x u) uᵀ.
  ColumnMatrix b(cols, c);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, ln, lc, lm, 1.0, a.data(), ln, u.data.data(), lm, 0.0,
              b.data.data(), ln);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, ln, lm, lc, -1.0, b.data.data(), ln, u.data.data(), lm, 1.0,
              a.data(), ln);
}

}  // namespace mpimerge::linalg
