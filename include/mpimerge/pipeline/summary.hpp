#pragma once
// What a merge did, per output: the pipeline fills it in, the commands print and report it.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/parameters.hpp"

namespace mpimerge {

struct PhaseTiming {
  std::string name;       // read, select, merge, write
  double seconds = 0;     // slowest rank
  std::uint64_t bytes = 0;  // summed over ranks
  std::vector<double> seconds_per_rank = {};  // each rank's own
};

// One node of the job (ranks sharing a host name, as MPI_Get_processor_name gives it), its ranks,
// and the budget per rank its own memory gives them: the given budget, or its memory shared by its
// ranks. The merge runs under the smallest over the nodes (every rank must form the same groups).
struct NodeShare {
  std::string host;
  std::vector<int> ranks;
  std::uint64_t budget_per_rank = 0;
};

struct MergeSummary {
  std::string method;                      // as resolved: a job file's `ties` may be ties_mergekit
  std::vector<UsedParameter> method_parameters;  // exactly those the method used, with their values
  int ranks = 1;
  std::size_t tensors = 0, merged_tensors = 0, copied_tensors = 0;
  std::uint64_t parameters = 0;  // merged elements per model
  int analysis_passes = 0;
  std::uint64_t memory_budget = 0;     // per rank, the smallest over ranks
  std::string memory_budget_source;    // where it came from: --memory-budget, a cgroup, Slurm, the node
  std::uint64_t working_set = 0;       // the most one group's slices held per rank (pipeline/working_set.hpp)
  std::string working_set_reason;      // why
  std::vector<NodeShare> nodes;        // in the order of their first rank
  std::string mpi_library;             // e.g. "Open MPI v4.1.4"
  std::vector<std::pair<std::string, std::string>> mpi_settings;  // transport settings given (OMPI_MCA_*)
  std::size_t groups = 1;              // > 1: the slices did not fit and were streamed
  int data_reads = 1;                  // how many times each input byte was read
  std::uint64_t method_memory = 0;     // per rank, what the method may hold beyond the slices (its share)
  // Per rank, streaming: the output buffer's share of the slices, which its analysis held as well
  // until the merge pass (MergeShape::idle_output_memory).
  std::uint64_t idle_output_memory = 0;
  std::size_t analysis_runs = 0;       // runs of whole tensors analysed one after another (session.hpp)
  std::vector<std::uint64_t> peak_rss; // per rank, bytes
  std::uint64_t bytes_read = 0, bytes_written = 0;  // summed over ranks
  struct InputChecksum {
    std::string path;
    std::uint64_t checksum = 0;  // over every tensor (checksum.hpp), in any order
  };
  std::vector<InputChecksum> inputs;
  std::vector<std::pair<std::string, std::uint64_t>> output_checksums;  // per output tensor
  std::string output;                                                   // final path
  std::string output_io = "mpiio";  // how the output was written: "mpiio" or "direct"
  std::string output_io_reason;     // why: --output-io, or the output's file system
  std::size_t resumed_tensors = 0;  // finished by an interrupted run and kept (--resume)
  std::string report_path;                                              // where the report went, if any
  std::vector<PhaseTiming> phases;
  std::vector<MethodFinding> findings;
  std::uint64_t reduction_bytes_per_rank = 0;  // payload of collectives, the largest over ranks
  double seconds = 0;          // wall time of the whole command, slowest rank
  double target_seconds = 0;   // of which this output's own analysis, merge and write
};

}  // namespace mpimerge
