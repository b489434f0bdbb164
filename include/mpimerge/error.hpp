#pragma once
// The exceptions a rank throws. Each carries the process exit code it should end with, so that the
// engine can agree on one error across ranks and every rank exits the same way.
#include <stdexcept>
#include <string>

namespace mpimerge {

enum class ExitCode : int { ok = 0, failure = 1, usage = 2 };

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ExitCode code = ExitCode::failure)
      : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// A wrong command line, option value or missing input: exit code 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message, ExitCode::usage) {}
};

// An input that cannot be merged (wrong format, mismatched tensors, non-finite values): exit code 1.
class InputError : public Error {
 public:
  explicit InputError(const std::string& message) : Error(message, ExitCode::failure) {}
};

// An error already agreed on by every rank (see mpi::Comm::agree). Rank 0 reports it; all ranks exit.
class AgreedError : public Error {
 public:
  AgreedError(const std::string& message, ExitCode code, int origin_rank)
      : Error(message, code), origin_rank_(origin_rank) {}
  int origin_rank() const { return origin_rank_; }

 private:
  int origin_rank_;
};

}  // namespace mpimerge
