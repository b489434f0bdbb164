// Every way in agrees, generated over the registry of methods: for every method and every
// parameter it declares sweepable, a merge from the command line, from a job file and as a sweep
// point gives the same bytes; two values of the parameter give different bytes; and the banner,
// the report and sweep.csv list exactly the method's parameters with the values it used. The
// command line runs in process (cli::dispatch), as the program runs it.
//
// The registry includes a method defined in this file (ScaleMerge), registered at run time:
// adding a method touches no other source file, and it is swept, run from a job file and from
// flags the command line derives from its declaration.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "cli/commands.hpp"
#include "mpimerge/convert.hpp"
#include "mpimerge/job/job_file.hpp"
#include "mpimerge/job/sweep_file.hpp"
#include "mpimerge/methods/registry.hpp"
#include "mpimerge/util/format.hpp"
#include "support/checkpoint_files.hpp"
#include "support/world.hpp"

namespace mpimerge {
namespace {

using testing::world;

// theta = base + factor * mean_t tau_t: the smallest method with a sweepable parameter.
class ScaleMerge final : public MethodTemplate<ScaleMerge> {
 public:
  explicit ScaleMerge(const MethodArgs& args) : args_(args) {}
  std::string_view name() const override { return "test_scale"; }
  void start(const MergeShape& shape) override {
    MergeMethod::start(shape);
    const ParameterView params(args_.params, args_.spec->parameters, shape_, "test_scale");
    factor_ = params.number("factor", 0);
  }
  template <class T>
  void merge_block(const Block<T>& in, std::span<T> out) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      T sum = 0;
      for (const auto& m : in.models) sum += m[i] - in.base[i];
      out[i] = in.base[i] + static_cast<T>(factor_) * sum / static_cast<T>(in.models.size());
    }
  }

 private:
  MethodArgs args_;
  double factor_ = 1;
};

const MethodSpec kScaleSpec{
    .name = "test_scale",
    .summary = "a test's method: base + factor * the mean task vector",
    .parameters = {{.name = "factor",
                    .scope = ParameterScope::merge,
                    .default_value = ParameterScalar::of_number(1.0),
                    .help = "scale of the mean task vector",
                    .range = {.min = 0, .max = 4},
                    .sweepable = true,
                    .examples = {"0.5", "2"}}},
    .make = make_method_of<ScaleMerge>,
};

// Float tensors of several shapes and dtypes, layer-named (gradients and filters see them).
const std::vector<TensorInfo> kTensors{
    {"model.layers.0.mlp.down_proj.weight", DType::f32, {8, 6}},
    {"model.layers.1.self_attn.q_proj.weight", DType::bf16, {6, 6}},
    {"model.layers.1.input_layernorm.weight", DType::f32, {6}},
    {"lm_head.weight", DType::f64, {5, 6}},
};

testing::RawCheckpoint random_checkpoint(std::uint64_t seed, bool fisher) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  testing::RawCheckpoint out;
  for (const TensorInfo& t : kTensors) {
    std::vector<double> v(t.elements());
    for (std::size_t i = 0; i < v.size(); ++i) {
      v[i] = normal(rng);
      if (fisher) v[i] = i % 5 == 0 ? 0.0 : std::abs(v[i]);  // exact zeros: where the floor decides
    }
    out.emplace_back(t.bytes());
    encode<double>(v, t.dtype, out.back());
  }
  return out;
}

// Gram matrices X^T X of the 2-D tensors, one [in, in] per tensor.
void write_gram(const std::string& path, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<TensorInfo> infos;
  testing::RawCheckpoint data;
  for (const TensorInfo& t : kTensors) {
    if (t.shape.size() != 2) continue;
    const std::size_t n = t.shape[1];
    std::vector<double> x(3 * n * n), g(n * n, 0.0);
    for (auto& e : x) e = normal(rng);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        for (std::size_t r = 0; r < 3 * n; ++r) g[i * n + j] += x[r * n + i] * x[r * n + j];
    infos.push_back({t.name, DType::f64, {n, n}});
    data.emplace_back(n * n * 8);
    encode<double>(g, DType::f64, data.back());
  }
  testing::write_checkpoint(path, infos, data, world());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& text) {
  if (world().is_root()) std::ofstream(path) << text;
  world().barrier();
}

// Runs `mpimerge ARGS` in process on every rank; what rank 0 printed.
std::string run_mpimerge(const std::vector<std::string>& args) {
  ::testing::internal::CaptureStdout();
  int code = -1;
  try {
    code = cli::dispatch(args, world());
  } catch (const std::exception& e) {
    ::testing::internal::GetCapturedStdout();
    ADD_FAILURE() << "mpimerge " << args[0] << " failed: " << e.what();
    return "";
  }
  EXPECT_EQ(code, 0);
  return ::testing::internal::GetCapturedStdout();
}

// The inputs every case merges: a base, three models, and each model's Fisher and Gram files.
class Inputs {
 public:
  explicit Inputs(const testing::SharedTempDir& dir) {
    testing::write_checkpoint(dir.file("base.h5"), kTensors, random_checkpoint(1, false), world());
    for (std::size_t m = 0; m < 3; ++m) {
      models.push_back(dir.file("ft-" + std::to_string(m) + ".h5"));
      testing::write_checkpoint(models.back(), kTensors, random_checkpoint(10 + m, false), world());
      side["fisher"].push_back(dir.file("fisher-" + std::to_string(m) + ".h5"));
      testing::write_checkpoint(side["fisher"].back(), kTensors, random_checkpoint(20 + m, true), world());
      side["gram"].push_back(dir.file("gram-" + std::to_string(m) + ".h5"));
      write_gram(side["gram"].back(), 30 + m);
    }
    base = dir.file("base.h5");
  }
  std::string base;
  std::vector<std::string> models;
  std::map<std::string, std::vector<std::string>> side;
};

std::string flag_of(std::string_view name) {
  std::string flag(name);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return "--" + flag;
}

// A value as the method reads it and every way in prints it (a percentage as a fraction).
std::string canonical(const ParameterDef& def, std::string_view value) {
  ParameterTable t;
  t.set_global(std::string(def.name), ParameterSetting::scalar(job::parse_scalar(std::string(value))));
  return validate_parameters(t, std::span(&def, 1), "m", 3, false).global().at(std::string(def.name)).to_string();
}

struct Case {
  const MethodSpec* spec;
  const ParameterDef* swept;
  std::map<std::string, std::string> context;  // every other sweepable parameter: its first example
  std::size_t models;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const MethodSpec* spec : method_registry())
    for (const ParameterDef& swept : spec->parameters) {
      if (!swept.sweepable) continue;
      Case c{spec, &swept, {}, std::min<std::size_t>(3, spec->max_models)};
      for (const ParameterDef& other : spec->parameters)
        if (other.sweepable && other.name != swept.name) c.context[std::string(other.name)] = other.examples[0];
      out.push_back(c);
    }
  return out;
}

// What the banner, report and CSV must list: every parameter but the inert ones, in declaration
// order, with the value given or the default.
std::vector<std::pair<std::string, std::string>> expected_parameters(const Case& c, std::string_view value) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const ParameterDef& def : c.spec->parameters) {
    if (def.inert) continue;
    const std::string name(def.name);
    if (def.name == c.swept->name) out.emplace_back(name, canonical(def, value));
    else if (c.context.count(name)) out.emplace_back(name, canonical(def, c.context.at(name)));
    else if (def.default_value) out.emplace_back(name, def.default_value->to_string());
  }
  return out;
}

class EveryWayIn : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    static bool registered = false;
    if (!registered) register_method(kScaleSpec);
    registered = true;
  }
};

TEST_F(EveryWayIn, CommandLineJobFileAndSweepGiveTheSameBytesForEveryParameterOfEveryMethod) {
  testing::SharedTempDir dir(world());
  const Inputs in(dir);
  const std::string ranks = std::to_string(world().size()) + (world().size() == 1 ? " rank" : " ranks");
  bool test_method_seen = false;
  for (const Case& c : cases()) {
    const std::string method(c.spec->name), swept(c.swept->name);
    test_method_seen = test_method_seen || method == "test_scale";
    SCOPED_TRACE(method + " over " + swept);
    const std::string stem = dir.file(method + "-" + swept);

    // The inputs and the fixed parameters, as each way in writes them.
    std::vector<std::string> cli_inputs, yaml_models;
    std::string sweep_inputs, yaml_side;
    // A base for every method; those that need none use it by their own rules (linear: its layout;
    // karcher: one more input; nuslerp, multislerp: the origin of the task vectors).
    cli_inputs = {"--base", in.base};
    std::string model_list;
    for (std::size_t m = 0; m < c.models; ++m) {
      cli_inputs.insert(cli_inputs.end(), {"--model", in.models[m]});
      model_list += (m ? ", " : "") + in.models[m];
      std::string entry = "  - model: " + in.models[m] + "\n";
      for (const SideInputDef& s : c.spec->side_inputs) entry += "    " + std::string(s.name) + ": " + in.side.at(std::string(s.name))[m] + "\n";
      yaml_models.push_back(entry);
    }
    for (const SideInputDef& s : c.spec->side_inputs) {
      std::string list;
      for (std::size_t m = 0; m < c.models; ++m) {
        cli_inputs.insert(cli_inputs.end(), {"--" + std::string(s.name), in.side.at(std::string(s.name))[m]});
        list += (m ? ", " : "") + in.side.at(std::string(s.name))[m];
      }
      sweep_inputs += std::string(s.name) + ": [" + list + "]\n";
    }
    std::string context_yaml;
    for (const auto& [name, value] : c.context) context_yaml += (context_yaml.empty() ? "" : ", ") + name + ": " + value;

    // The sweep: one point per example value.
    std::string values;
    for (auto v : c.swept->examples) values += (values.empty() ? "" : ", ") + std::string(v);
    const std::string grid = stem + "-grid.yaml";
    write_file(grid, "base: " + in.base + "\nmodels: [" +
                         model_list + "]\noutput_dir: " + stem + "-sweep\n" + sweep_inputs + "parameters: {" +
                         context_yaml + "}\ngrid:\n  method: [" + method + "]\n  " + swept + ": [" + values + "]\n");
    run_mpimerge({"sweep", "--config", grid, "--quiet"});
    const Sweep sweep = load_sweep(grid);
    ASSERT_EQ(sweep.points.size(), c.swept->examples.size());

    std::vector<std::string> outputs;
    for (std::size_t i = 0; i < c.swept->examples.size(); ++i) {
      const std::string value(c.swept->examples[i]);
      const std::string tag = stem + "-" + std::to_string(i);
      const auto expected = expected_parameters(c, value);

      // The command line, its flags derived from the declarations.
      std::vector<std::string> args{"merge", "--method", method, "--output", tag + "-cli.h5", "--progress", "none"};
      args.insert(args.end(), cli_inputs.begin(), cli_inputs.end());
      args.insert(args.end(), {flag_of(swept), value});
      for (const auto& [name, v] : c.context) args.insert(args.end(), {flag_of(name), v});
      const std::string printed = run_mpimerge(args);

      // A job file (mergekit's rules: every model's weight where the method requires one).
      std::string yaml = "merge_method: " + method + "\n";
      // The command line's --base only lends linear its layout; a job file's base_model that is not
      // among the models is averaged in, as mergekit does (job_file_test, cli.mergekit_reference).
      if (method != "linear") yaml += "base_model: " + in.base + "\n";
      yaml += "models:\n";
      const ParameterDef* weight = c.spec->find("weight");
      for (const std::string& entry : yaml_models)
        yaml += entry + (weight && weight->required_in_job_files ? "    parameters: {weight: 1}\n" : "");
      yaml += "parameters: {" + swept + ": " + value + (context_yaml.empty() ? "" : ", " + context_yaml) +
              (method == "ties" && swept != "trim_scope" && !c.context.count("trim_scope") ? ", trim_scope: model" : "") + "}\n";
      write_file(tag + ".yaml", yaml);
      run_mpimerge({"merge", "--config", tag + ".yaml", "--output", tag + "-job.h5", "--quiet"});

      if (world().is_root()) {
        const std::string cli = read_file(tag + "-cli.h5");
        EXPECT_FALSE(cli.empty()) << value;
        EXPECT_TRUE(read_file(tag + "-job.h5") == cli) << "job file, " << swept << " " << value;
        // The sweep point with this value.
        int points = 0;
        for (const SweepPoint& p : sweep.points) {
          if (p.job.method.params.global().at(swept).to_string() == canonical(*c.swept, value)) {
            EXPECT_TRUE(read_file(p.job.output) == cli) << "sweep point " << p.name;
            ++points;
          }
        }
        EXPECT_EQ(points, 1) << value;
        outputs.push_back(cli);

        // The banner and the report: exactly the method's parameters, with the values used.
        std::string listed;
        for (const auto& [name, v] : expected) listed += (listed.empty() ? "" : ", ") + name + " " + v;
        const std::string banner = "mpimerge: " + method + (listed.empty() ? "" : " (" + listed + ")") + " of " +
                                   std::to_string(c.models) + (c.models == 1 ? " model" : " models") + " onto a base" +
                                   ", " + ranks + "\n";
        EXPECT_EQ(printed.substr(0, printed.find('\n') + 1), banner);
        const auto report = nlohmann::json::parse(read_file(tag + "-cli.h5.report.json"));
        EXPECT_EQ(report["method"]["name"], method);
        std::vector<std::pair<std::string, std::string>> reported;
        for (const auto& [name, v] : report["method"]["parameters"].items())
          reported.emplace_back(name, v.is_string() ? v.get<std::string>() : v.is_boolean() ? (v.get<bool>() ? "true" : "false")
                                                                                              : format_number(v.get<double>()));
        std::sort(reported.begin(), reported.end());
        auto sorted = expected;
        std::sort(sorted.begin(), sorted.end());
        EXPECT_EQ(reported, sorted);
      }
    }
    // Two values of a parameter it sweeps give two merges.
    for (std::size_t i = 0; i < outputs.size(); ++i)
      for (std::size_t j = i + 1; j < outputs.size(); ++j)
        EXPECT_FALSE(outputs[i] == outputs[j]) << swept << " " << c.swept->examples[i] << " and " << c.swept->examples[j];

    // sweep.csv: a column per parameter of the method, the values each point used.
    if (world().is_root()) {
      std::ifstream csv(stem + "-sweep/sweep.csv");
      std::string header, row;
      std::getline(csv, header);
      std::string want = "point,method";
      for (const auto& [name, v] : expected_parameters(c, c.swept->examples[0])) want += "," + name;
      EXPECT_EQ(header.substr(0, want.size() + 1), want + ",") << header;
    }
  }
  EXPECT_TRUE(test_method_seen);
}

// The parameters a method does not sweep are refused as grid axes, and a point's values are
// checked as the command line's are: DELLA at density 0.1 with its default epsilon 0.15 is
// refused in a sweep too (it ran, ignoring the density, before the one parameter model).
TEST_F(EveryWayIn, ASweepPointIsCheckedAsTheCommandLineIs) {
  testing::SharedTempDir dir(world());
  const Inputs in(dir);
  const std::string grid = dir.file("della.yaml");
  write_file(grid, "base: " + in.base + "\nmodels: [" + in.models[0] + ", " + in.models[1] + "]\noutput_dir: " +
                       dir.file("out") + "\ngrid:\n  method: [della]\n  density: [0.1, 0.5]\n");
  try {
    cli::dispatch({"sweep", "--config", grid, "--quiet"}, world());
    ADD_FAILURE() << "the sweep ran";
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find("density +- epsilon must lie in (0, 1) (density 0.1)"), std::string::npos) << e.what();
  }
  try {
    cli::dispatch({"merge", "--method", "della", "--density", "0.1", "--base", in.base, "--model", in.models[0],
                   "--output", dir.file("alone.h5"), "--quiet"},
                  world());
    ADD_FAILURE() << "the merge ran";
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find("density +- epsilon must lie in (0, 1) (density 0.1)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mpimerge
