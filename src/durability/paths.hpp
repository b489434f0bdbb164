#pragma once
// Checks on the job's paths, made on every rank before any file is opened, and the temporary
// name the output is written under until it is complete.
#include <string>

#include "mpimerge/job/job.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/storage/checkpoint.hpp"

namespace mpimerge {

// Throws UsageError for a missing or unreadable input, an input given twice, an output that exists
// (without --overwrite), is an input, or lies in a missing directory.
void check_job_paths(const MergeJob& job);

// How the output is written: its format (from --output-format or the path), the shard size, and
// for a Hugging Face directory the base's (else the first model's) directory to copy config and
// tokenizer files from, with config.json's dtype set to --out-dtype when given.
storage::OutputSpec output_spec_for(const MergeJob& job);

}  // namespace mpimerge
