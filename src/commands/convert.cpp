#include "mpimerge/commands/convert.hpp"

#include <chrono>

#include "durability/journal.hpp"
#include "durability/output_claim.hpp"
#include "durability/paths.hpp"
#include "durability/pending_output.hpp"
#include "pipeline/phases.hpp"
#include "mpimerge/pipeline/transfers.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"

namespace mpimerge {

ConvertSummary run_convert(const ConvertJob& job, const mpi::Comm& comm, const Log& log) {
  const auto started = std::chrono::steady_clock::now();
  // The same checks and output rules as a merge whose base is the source.
  MergeJob as_merge;
  as_merge.base = job.source;
  as_merge.output = job.output;
  as_merge.output_format = job.output_format;
  as_merge.shard_bytes = job.shard_bytes;
  as_merge.overwrite = job.overwrite;
  as_merge.report = false;
  storage::OutputSpec spec;
  mpi::run_agreed(comm, [&] {
    spec = output_spec_for(as_merge);
    if (comm.is_root()) check_job_paths(as_merge);  // one rank looks: the others would race its lock file
  });
  const OutputClaim claim(as_merge, comm);  // its directories, its lock: before the first byte

  std::unique_ptr<storage::CheckpointReader> reader;
  mpi::run_agreed(comm, [&] { reader = storage::open_checkpoint(job.source, comm); });
  const std::vector<TensorInfo>& tensors = reader->tensors();
  log.line("convert " + job.source + " (" + reader->describe() + ", " + std::to_string(tensors.size()) +
           " tensors) to " + job.output);

  const WrittenPaths paths = written_paths(as_merge);
  PendingOutput pending(paths, comm);
  // A journal that cannot resume anything: it marks the partial output as this program's.
  mpi::run_agreed(comm, [&] {
    if (comm.is_root()) Journal::start(paths.journal, "not resumable (convert)", nlohmann::ordered_json::array());
  });
  std::unique_ptr<storage::CheckpointWriter> writer;
  mpi::run_agreed(comm, [&] { writer = storage::create_checkpoint(pending.path(), spec, tensors, comm); });

  ConvertSummary summary;
  summary.tensors = tensors.size();
  PhaseClock phases(comm, {"copy"});
  phases.collective("copy", [&] {
    std::uint64_t bytes = 0;
    std::vector<std::uint8_t> buffer;
    for (std::size_t t = 0; t < tensors.size(); ++t)
      for_each_owned_chunk(*reader, t, comm.rank(), comm.size(), buffer,
                           [&](RowRange part, std::span<const std::uint8_t> data, std::uint64_t) {
                             writer->write_rows(t, part, data);
                             bytes += data.size();
                           });
    writer->finish();
    return bytes;
  });
  pending.commit();
  const PhaseTiming copy = phases.combined().front();
  summary.bytes = copy.bytes;
  summary.seconds = comm.max(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  log.line(phase_line(copy));
  log.line("done    " + job.output + " in " + format_seconds(summary.seconds));
  return summary;
}

}  // namespace mpimerge
