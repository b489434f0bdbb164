#pragma once
// Checks on the job's paths, made on every rank before any file is opened or written, and the
// names of every file a merge writes beside its output.
#include <optional>
#include <string>
#include <vector>

#include "mpimerge/job/job.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/storage/checkpoint.hpp"

namespace mpimerge {

// Every path a merge writes, derived from the job (trailing slashes dropped).
struct WrittenPaths {
  std::string output;         // the final output (a file, or a Hugging Face directory)
  std::string partial;        // output + ".partial": the output while it is written
  std::string journal;        // output + ".partial.journal": the resume journal, which marks the partial as ours
  std::string lock;           // output + ".lock": one writer per output (durability/output_lock.hpp)
  std::string manifest;       // output + ".manifest.json": what the output holds (durability/ownership.hpp)
  std::string manifest_temp;  // manifest + ".partial"
  std::optional<std::string> report, report_temp;  // the JSON report and report + ".partial"
};
WrittenPaths written_paths(const MergeJob& job);

// What the output is: a checkpoint that mpimerge writes with all the files above, or a text file
// of `analyze` (written through its own temporary name; only the output itself is checked).
enum class OutputKind { checkpoint, text };

// Throws UsageError, before anything is written, for:
//   an input (job_inputs(): base, models, Fisher and Gram files, the job file) that is missing or
//   cannot be read; the base or a model given twice;
//   a written path that is the working directory or holds it, is an input, holds an input or lies
//   inside an input's Hugging Face directory, or is a device, FIFO, socket or symbolic link;
//   an existing output without --overwrite, or with it one that mpimerge cannot prove it wrote
//   (its manifest); an existing report without --overwrite, or one that is not mpimerge's report;
//   a journal, lock or manifest path that holds something else than mpimerge's file;
//   an output or report directory that exists but cannot be written, or cannot be created.
void check_job_paths(const MergeJob& job, OutputKind kind = OutputKind::checkpoint);

// The checks on what is at the output's paths alone (the last part of the above); run again by
// rank 0 once it holds the output's lock, when no other run can change them any more.
void check_output_paths(const MergeJob& job);

// How the output is written: its format (from --output-format or the path), the shard size, and
// for a Hugging Face directory the base's (else the first model's) directory to copy config and
// tokenizer files from, with config.json's dtype set to --out-dtype when given.
storage::OutputSpec output_spec_for(const MergeJob& job);

}  // namespace mpimerge
