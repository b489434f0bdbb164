#include "mpimerge/mpi/comm.hpp"

#include <utility>
#include <functional>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "mpimerge/error.hpp"
#include "mpimerge/mpi/liveness.hpp"

namespace mpimerge::mpi {
namespace {

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(std::string(what) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

// MPI counts are int: reduce very long spans in pieces.
constexpr std::size_t kMaxCount = 1u << 28;

template <class T>
void allreduce_in_place(MPI_Comm comm, std::span<T> values, MPI_Datatype type, MPI_Op op) {
  for (std::size_t offset = 0; offset < values.size(); offset += kMaxCount) {
    const std::size_t n = std::min(kMaxCount, values.size() - offset);
    check(MPI_Allreduce(MPI_IN_PLACE, values.data() + offset, static_cast<int>(n), type, op, comm),
          "MPI_Allreduce");
  }
}

}  // namespace

Environment::Environment(int& argc, char**& argv) {
  int provided = 0;
  check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
}

Environment::~Environment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

Comm::Comm(MPI_Comm comm) : comm_(comm) {
  // MPI's default handler ends the job inside the failing call, before check() can name it: with
  // MPI_ERRORS_RETURN every failure comes back as a code, and check() makes it an exception.
  check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

Comm Comm::world() { return Comm(MPI_COMM_WORLD); }

void Comm::count(std::size_t bytes) const {
  ++traffic_.collectives;
  traffic_.bytes += bytes;
}

void Comm::barrier() const {
  count(0);
  check(MPI_Barrier(comm_), "MPI_Barrier");
}

void Comm::sum(std::span<std::int64_t> values) const {
  count(values.size_bytes());
  allreduce_in_place(comm_, values, MPI_INT64_T, MPI_SUM);
}

void Comm::exclusive_prefix_sum(std::span<std::int64_t> values) const {
  count(values.size_bytes());
  for (std::size_t offset = 0; offset < values.size(); offset += kMaxCount) {
    const std::size_t n = std::min(kMaxCount, values.size() - offset);
    check(MPI_Exscan(MPI_IN_PLACE, values.data() + offset, static_cast<int>(n), MPI_INT64_T, MPI_SUM, comm_),
          "MPI_Exscan");
  }
  // MPI leaves rank 0's buffer undefined.
  if (rank_ == 0) std::fill(values.begin(), values.end(), 0);
}

void Comm::sum(std::span<double> values) const {
  count(values.size_bytes());
  allreduce_in_place(comm_, values, MPI_DOUBLE, MPI_SUM);
}

void Comm::max(std::span<double> values) const {
  count(values.size_bytes());
  allreduce_in_place(comm_, values, MPI_DOUBLE, MPI_MAX);
}

void Comm::min(std::span<double> values) const {
  count(values.size_bytes());
  allreduce_in_place(comm_, values, MPI_DOUBLE, MPI_MIN);
}

void Comm::max(std::span<std::uint64_t> values) const {
  count(values.size_bytes());
  allreduce_in_place(comm_, values, MPI_UINT64_T, MPI_MAX);
}

void Comm::sum(std::span<std::uint64_t> values) const {
  count(values.size_bytes());
  allreduce_in_place(comm_, values, MPI_UINT64_T, MPI_SUM);
}

double Comm::max(double value) const {
  max(std::span<double>(&value, 1));
  return value;
}

std::uint64_t Comm::sum(std::uint64_t value) const {
  std::int64_t v = static_cast<std::int64_t>(value);
  sum(std::span<std::int64_t>(&v, 1));
  return static_cast<std::uint64_t>(v);
}

std::uint64_t Comm::min(std::uint64_t value) const {
  count(sizeof value);
  check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_UINT64_T, MPI_MIN, comm_), "MPI_Allreduce");
  return value;
}

std::uint64_t Comm::max(std::uint64_t value) const {
  count(sizeof value);
  check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_UINT64_T, MPI_MAX, comm_), "MPI_Allreduce");
  return value;
}

std::vector<std::uint64_t> Comm::allgather(std::uint64_t value) const {
  std::vector<std::uint64_t> all(static_cast<std::size_t>(size_));
  count(sizeof value);
  check(MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, comm_), "MPI_Allgather");
  return all;
}

int Comm::ranks_on_node() const {
  MPI_Comm node = MPI_COMM_NULL;
  check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  int size = 1;
  MPI_Comm_size(node, &size);
  MPI_Comm_free(&node);
  return size;
}

std::vector<std::string> Comm::processor_names() const {
  char mine[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  check(MPI_Get_processor_name(mine, &length), "MPI_Get_processor_name");
  std::vector<char> all(static_cast<std::size_t>(size_) * MPI_MAX_PROCESSOR_NAME);
  count(MPI_MAX_PROCESSOR_NAME);
  check(MPI_Allgather(mine, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, comm_),
        "MPI_Allgather");
  std::vector<std::string> names;
  for (int r = 0; r < size_; ++r) {
    const char* name = all.data() + static_cast<std::size_t>(r) * MPI_MAX_PROCESSOR_NAME;
    names.emplace_back(name, strnlen(name, MPI_MAX_PROCESSOR_NAME));
  }
  return names;
}

TransportSettings transport_settings() {
  TransportSettings t;
  char version[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(version, &length);
  t.library = std::string(version, strnlen(version, sizeof version));
  t.library = t.library.substr(0, t.library.find_first_of("\n,"));
  for (const char* name : {"pml", "btl", "btl_tcp_if_include", "oob_tcp_if_include"})
    if (const char* value = std::getenv(("OMPI_MCA_" + std::string(name)).c_str())) t.settings.emplace_back(name, value);
  return t;
}

bool Comm::all(bool value) const {
  int v = value ? 1 : 0;
  count(sizeof v);
  check(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LAND, comm_), "MPI_Allreduce");
  return v != 0;
}

void Comm::broadcast(std::vector<std::uint8_t>& bytes, int root) const {
  std::uint64_t n = bytes.size();
  count(sizeof n + (rank_ == root ? n : 0));
  check(MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm_), "MPI_Bcast");
  bytes.resize(n);
  for (std::uint64_t offset = 0; offset < n; offset += kMaxCount) {
    const auto chunk = static_cast<int>(std::min<std::uint64_t>(kMaxCount, n - offset));
    check(MPI_Bcast(bytes.data() + offset, chunk, MPI_BYTE, root, comm_), "MPI_Bcast");
  }
}

void Comm::exchange(std::span<const Outgoing> sends, std::span<const Incoming> receives) const {
  // Self-messages pair up in list order; the rest go through MPI, split into pieces under its int
  // count the same way on both sides. MPI's non-overtaking rule (one tag) keeps each pair's order.
  constexpr int kTag = 4616;
  std::vector<MPI_Request> requests;
  std::vector<std::span<const std::uint8_t>> to_self;
  std::size_t self_received = 0;
  std::uint64_t sent = 0;
  for (const Incoming& in : receives) {
    if (in.from == rank_) continue;
    for (std::size_t offset = 0; offset < in.bytes.size(); offset += kMaxCount) {
      const auto n = static_cast<int>(std::min(kMaxCount, in.bytes.size() - offset));
      requests.emplace_back();
      check(MPI_Irecv(in.bytes.data() + offset, n, MPI_BYTE, in.from, kTag, comm_, &requests.back()), "MPI_Irecv");
    }
  }
  for (const Outgoing& out : sends) {
    if (out.to == rank_) {
      to_self.push_back(out.bytes);
      continue;
    }
    sent += out.bytes.size();
    for (std::size_t offset = 0; offset < out.bytes.size(); offset += kMaxCount) {
      const auto n = static_cast<int>(std::min(kMaxCount, out.bytes.size() - offset));
      requests.emplace_back();
      // MPI_Isend takes a non-const buffer in MPI-2 signatures; it only reads it.
      check(MPI_Isend(const_cast<std::uint8_t*>(out.bytes.data()) + offset, n, MPI_BYTE, out.to, kTag, comm_,
                      &requests.back()),
            "MPI_Isend");
    }
  }
  for (const Incoming& in : receives) {
    if (in.from != rank_) continue;
    if (self_received >= to_self.size() || to_self[self_received].size() != in.bytes.size())
      throw Error("exchange: rank " + std::to_string(rank_) + " receives from itself what it does not send");
    std::copy(to_self[self_received].begin(), to_self[self_received].end(), in.bytes.begin());
    ++self_received;
  }
  count(sent);
  if (!requests.empty())
    check(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
}

void Comm::broadcast(std::string& text, int root) const {
  std::vector<std::uint8_t> bytes(text.begin(), text.end());
  broadcast(bytes, root);
  text.assign(bytes.begin(), bytes.end());
}

namespace {
std::function<void()>& abort_cleanup() {
  static std::function<void()> cleanup;
  return cleanup;
}
}  // namespace

void set_abort_cleanup(std::function<void()> cleanup) { abort_cleanup() = std::move(cleanup); }

void Comm::abort(const std::string& message) const {
  std::fprintf(stderr, "mpimerge: error (rank %d, aborting all ranks): %s\n", rank_, message.c_str());
  std::fflush(stderr);
  if (auto cleanup = std::exchange(abort_cleanup(), {})) {
    try {
      cleanup();
    } catch (...) {  // ending every rank matters more than what is left behind
    }
  }
  leave_liveness_watch();  // this rank is not lost: its message above says why the job ends
  MPI_Abort(comm_, static_cast<int>(ExitCode::failure));
  std::abort();  // MPI_Abort does not return
}

void Comm::agree(std::exception_ptr local_error) const {
  int first_failed = local_error ? rank_ : size_;
  count(sizeof first_failed);
  check(MPI_Allreduce(MPI_IN_PLACE, &first_failed, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce");
  if (first_failed == size_) return;

  std::string message;
  int code = static_cast<int>(ExitCode::failure);
  if (rank_ == first_failed) {
    try {
      std::rethrow_exception(local_error);
    } catch (const Error& e) {
      message = e.what();
      code = static_cast<int>(e.code());
    } catch (const std::bad_alloc&) {
      message = "out of memory";
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
      message = "unknown error";
    }
  }
  broadcast(message, first_failed);
  check(MPI_Bcast(&code, 1, MPI_INT, first_failed, comm_), "MPI_Bcast");
  throw AgreedError(message, static_cast<ExitCode>(code), first_failed);
}

}  // namespace mpimerge::mpi
