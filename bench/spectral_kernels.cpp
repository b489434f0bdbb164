// The decompositions behind tsv_m, iso_c and iso_cts at Llama shapes, one thread, float64: the
// route mpimerge takes (src/linalg/spectral.cpp: the Gram matrix's leading eigenpairs, LAPACK's
// dsyevr over OpenBLAS) against a full thin SVD by LAPACK's dgesdd and by Eigen's own BDCSVD and
// (small shapes only) JacobiSVD, and the polar factor of a concatenated U. Built and run by
// bench/spectral_kernels.sh; prints one markdown row per shape and kernel.
//
// Usage: spectral_kernels ROWS COLS [ROWS COLS ...]   (k = r/3 leading triplets, r = min(m, n))
#include <cblas.h>
#include <lapacke.h>

#include <Eigen/Dense>
#include <Eigen/SVD>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "mpimerge/linalg/spectral.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void row(std::size_t m, std::size_t n, const char* kernel, double seconds, double error) {
  std::printf("| %zu × %zu | %s | %.2f | %.1e |\n", m, n, kernel, seconds, error);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc % 2 == 0) {
    std::fprintf(stderr, "usage: %s ROWS COLS [ROWS COLS ...]\n", argv[0]);
    return 2;
  }
  mpimerge::linalg::use_one_blas_thread();
  Eigen::setNbThreads(1);
  std::printf("| shape | kernel | seconds | largest σ error / σ_max |\n|---|---|---|---|\n");
  for (int arg = 1; arg + 1 < argc; arg += 2) {
    const auto m = static_cast<std::size_t>(std::atol(argv[arg])), n = static_cast<std::size_t>(std::atol(argv[arg + 1]));
    const std::size_t r = std::min(m, n), k = r / 3;
    std::mt19937_64 rng(42);
    std::normal_distribution<double> normal(0.0, 0.02);
    std::vector<double> a(m * n);  // row-major, as a tensor
    for (double& x : a) x = normal(rng);
    const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> view(a.data(), m, n);

    auto started = Clock::now();
    std::vector<double> copy(a);
    std::vector<double> s(r), u(m * r), vt(r * n);
    LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', static_cast<lapack_int>(m), static_cast<lapack_int>(n), copy.data(),
                   static_cast<lapack_int>(n), s.data(), u.data(), static_cast<lapack_int>(r), vt.data(),
                   static_cast<lapack_int>(n));
    row(m, n, "LAPACK dgesdd, all r triplets", seconds_since(started), 0.0);

    mpimerge::linalg::SpectralStats stats;
    started = Clock::now();
    const auto gram = mpimerge::linalg::leading_triplets({a, m, n}, k, "bench", stats);
    const double gram_seconds = seconds_since(started);
    double worst = 0;
    for (std::size_t j = 0; j < gram.size(); ++j) worst = std::max(worst, std::abs(gram.s[j] - s[j]) / s[0]);
    row(m, n, "mpimerge: Gram + dsyevr, r/3 leading triplets", gram_seconds, worst);

    started = Clock::now();
    const auto all = mpimerge::linalg::leading_triplets({a, m, n}, r, "bench", stats);
    const double all_seconds = seconds_since(started);
    worst = 0;
    for (std::size_t j = 0; j < all.size(); ++j) worst = std::max(worst, std::abs(all.s[j] - s[j]) / s[0]);
    row(m, n, "mpimerge: Gram + dsyevr, all r triplets", all_seconds, worst);

    started = Clock::now();
    Eigen::BDCSVD<Eigen::MatrixXd> bdc(view, Eigen::ComputeThinU | Eigen::ComputeThinV);
    const double bdc_seconds = seconds_since(started);
    worst = 0;
    for (std::size_t j = 0; j < r; ++j) worst = std::max(worst, std::abs(bdc.singularValues()[j] - s[j]) / s[0]);
    row(m, n, "Eigen BDCSVD, all r triplets", bdc_seconds, worst);

    if (r <= 512) {  // JacobiSVD is O(r) sweeps of O(m n r): minutes at Llama shapes
      started = Clock::now();
      Eigen::JacobiSVD<Eigen::MatrixXd> jacobi(view, Eigen::ComputeThinU | Eigen::ComputeThinV);
      const double jacobi_seconds = seconds_since(started);
      worst = 0;
      for (std::size_t j = 0; j < r; ++j) worst = std::max(worst, std::abs(jacobi.singularValues()[j] - s[j]) / s[0]);
      row(m, n, "Eigen JacobiSVD, all r triplets", jacobi_seconds, worst);
    }

    // TSV-M's polar factor: U = three tasks' r/3 leading left vectors side by side.
    mpimerge::linalg::ColumnMatrix concatenated(m, 0);
    for (int t = 0; t < 3; ++t) {
      for (double& x : a) x = normal(rng);
      const auto task = mpimerge::linalg::leading_triplets({a, m, n}, k, "bench", stats);
      concatenated.data.insert(concatenated.data.end(), task.u.data.begin(), task.u.data.end());
      concatenated.cols += task.size();
    }
    started = Clock::now();
    const auto polar = mpimerge::linalg::polar_factor(concatenated, "bench", stats);
    row(m, n, "mpimerge: polar factor of U (m × 3k), Gram + dsyevr", seconds_since(started), 0.0);
    started = Clock::now();
    Eigen::BDCSVD<Eigen::MatrixXd> polar_svd(
        Eigen::Map<const Eigen::MatrixXd>(concatenated.data.data(), m, static_cast<Eigen::Index>(concatenated.cols)),
        Eigen::ComputeThinU | Eigen::ComputeThinV);
    const Eigen::MatrixXd eigen_polar = polar_svd.matrixU() * polar_svd.matrixV().transpose();
    row(m, n, "Eigen BDCSVD polar factor of U (m × 3k)", seconds_since(started), 0.0);
  }
  return 0;
}
