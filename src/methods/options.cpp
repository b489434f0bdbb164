#include "mpimerge/methods/options.hpp"

namespace mpimerge {

MethodOptions& MethodOptions::set(const std::string& name, double value) {
  params.set_global(name, ParameterSetting::scalar(ParameterScalar::of_number(value)));
  return *this;
}

MethodOptions& MethodOptions::set(const std::string& name, const std::string& word) {
  params.set_global(name, ParameterSetting::scalar(ParameterScalar::of_text(word)));
  return *this;
}

MethodOptions& MethodOptions::set_flag(const std::string& name, bool value) {
  params.set_global(name, ParameterSetting::scalar(ParameterScalar::of_boolean(value)));
  return *this;
}

MethodOptions& MethodOptions::set_model(std::size_t model, const std::string& name, double value) {
  params.set_model(model, name, ParameterSetting::scalar(ParameterScalar::of_number(value)));
  return *this;
}

}  // namespace mpimerge
