#include <iostream>

#include "cli/commands.hpp"
#include "mpimerge/commands/convert.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "mpimerge/util/size.hpp"

namespace mpimerge::cli {
namespace po = boost::program_options;

int convert_command(const Args& args, const mpi::Comm& comm) {
  po::options_description options("Options");
  options.add_options()
      ("source", po::value<std::string>()->value_name("SRC")->required(),
       "the checkpoint to convert: an HDF5 file, a .safetensors file or a Hugging Face directory")
      ("output,o", po::value<std::string>()->value_name("DST")->required(),
       "where to write it: a .h5 file, a .safetensors file, or a directory for a Hugging Face checkpoint")
      ("output-format", po::value<std::string>()->value_name("F")->default_value(""), "hdf5 or safetensors (default: from DST)")
      ("shard-size", po::value<std::string>()->value_name("SIZE")->default_value("5GB"),
       "Hugging Face directory: largest shard (5GB = 5G = 5B = 5e9 bytes, 2GiB = 2^31)")
      ("overwrite", "replace an existing output")
      ("quiet,q", "print nothing but errors");
  po::positional_options_description positional;
  positional.add("source", 1).add("output", 1);
  po::variables_map v;
  if (!parse_or_help("usage: mpirun -n RANKS mpimerge convert SRC DST [options]\n\n"
                     "Converts a checkpoint between HDF5 and safetensors (one file or a Hugging Face directory),\n"
                     "byte for byte, in parallel.",
                     options, args, v, comm, &positional))
    return 0;
  ConvertJob job;
  job.source = v["source"].as<std::string>();
  job.output = v["output"].as<std::string>();
  job.output_format = v["output-format"].as<std::string>();
  job.shard_bytes = parse_size(v["shard-size"].as<std::string>());
  job.overwrite = v.count("overwrite") > 0;
  const Log log(comm.is_root(), v.count("quiet") > 0, std::cout);
  run_convert(job, comm, log);
  return 0;
}

}  // namespace mpimerge::cli
