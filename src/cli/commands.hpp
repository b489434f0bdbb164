#pragma once
// The program's subcommands. Each turns its arguments into a job, runs it and prints; the work
// itself lives in the library.
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "mpimerge/job/job.hpp"
#include "mpimerge/mpi/comm.hpp"

namespace mpimerge::cli {

using Args = std::vector<std::string>;

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Args& args, const mpi::Comm& comm);
};

// `mpimerge ARGS...` without the program's name: runs the command args[0] names. Collective.
int dispatch(const Args& args, const mpi::Comm& comm);

int merge_command(const Args& args, const mpi::Comm& comm);
int generate_command(const Args& args, const mpi::Comm& comm);
int convert_command(const Args& args, const mpi::Comm& comm);
int inspect_command(const Args& args, const mpi::Comm& comm);
int diff_command(const Args& args, const mpi::Comm& comm);
int verify_command(const Args& args, const mpi::Comm& comm);
int sweep_command(const Args& args, const mpi::Comm& comm);
int analyze_command(const Args& args, const mpi::Comm& comm);

// "mpimerge merge --base ..." as typed, for reports.
std::string command_line(const Args& args);

// Parses args against the options, turning Boost's errors into UsageError. Returns false (after
// printing the help on rank 0) when --help was given.
bool parse_or_help(const std::string& usage, const boost::program_options::options_description& options,
                   const Args& args, boost::program_options::variables_map& values, const mpi::Comm& comm,
                   const boost::program_options::positional_options_description* positional = nullptr);

// --output-io: "auto" (the default: chosen by the output's file system), "mpiio" (collective MPI-IO
// writes) or "direct" (O_DIRECT by each rank). Throws UsageError for anything else.
inline constexpr const char* kOutputIoHelp =
    "how the output is written: auto (by the output's file system: direct on local disks, mpiio on parallel "
    "and network file systems; the log and the report say which and why), mpiio (collective MPI-IO through "
    "the page cache) or direct (each rank writes its rows with O_DIRECT, past the page cache; falls back to "
    "mpiio where the file system refuses it)";
OutputIo parse_output_io(const std::string& mode);

}  // namespace mpimerge::cli
