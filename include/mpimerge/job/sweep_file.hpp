#pragma once
// Sweep files (`mpimerge sweep --config GRID.yaml`): a grid of merges over one set of inputs (the TIES paper sweeps density and
// lambda; users sweep methods too), run as one session: the inputs are read once for all grid
// points' analysis passes and once for all their merges, and every point writes its own output
// and report. One CSV row per output.
//
// The grid file (YAML):
//   base: set/base.h5
//   models: [set/ft-1.h5, set/ft-2.h5, set/ft-3.h5]
//   output_dir: sweep-out
//   output_format: hdf5            # optional: hdf5 (default) or safetensors
//   out_dtype: bfloat16            # optional
//   memory_budget: 4G              # optional, per rank
//   fisher: [f1.h5, f2.h5, f3.h5]  # a method's side inputs, by the name it declares
//   parameters: {seed: 3}          # optional: fixed values, for every point whose method takes them
//   grid:                          # lists (or single values); the grid is their product
//     method: [ties, dare_ties]    # default: ties
//     density: [0.1, 0.2, 0.3]     # any parameter a method of the grid declares sweepable
//     lambda: [0.8, 1.0]
//     trim_scope: model
// Each method's points are the product of the axes it sweeps (MethodSpec: ParameterDef::sweepable);
// the others are left out of its points. An axis no method of the grid sweeps is an error.
#include <string>
#include <vector>

#include "mpimerge/job/job.hpp"

namespace mpimerge {

struct SweepPoint {
  std::string name;  // "ties-d0.2-l1-model-mean": the output's file name and the CSV key
  MergeJob job;
};

struct Sweep {
  std::string output_dir;
  std::vector<SweepPoint> points;
};

// Parses a grid file (its own paths are relative to the directory the command runs in). Throws
// UsageError for anything it does not understand, naming the key.
Sweep parse_sweep(const std::string& yaml_text, const std::string& source);
Sweep load_sweep(const std::string& path);
// The sweep file at `path`, whose text is given (read once by rank 0 and broadcast).
Sweep parse_sweep_file(const std::string& text, const std::string& path);

}  // namespace mpimerge
