#pragma once
// The resume journal of an output being written, "<output>.partial.journal": JSON lines that rank
// 0 appends and syncs after each tensor is durably in the partial output, so that after a crash
// (a killed rank, a Slurm time limit) it lists exactly the tensors that need no redoing.
//   {"journal": 1, "fingerprint": "..."}    the job it belongs to (inputs, method, output layout)
//   {"method_state": "..."}                  the method's global state after its analysis passes
//   {"done": {"tensor name": "checksum"}}    tensors complete in the partial output
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "mpimerge/mpi/comm.hpp"

namespace mpimerge {

struct JournalContents {
  std::string fingerprint;
  std::optional<std::string> method_state;
  std::map<std::string, std::uint64_t> done;  // tensor name -> checksum
};

class Journal {
 public:
  static std::string path_for(const std::string& output);  // beside the partial output

  // Rank 0 only; each record synced to disk before returning.
  static void start(const std::string& path, const std::string& fingerprint);
  static void append_state(const std::string& path, const std::string& state);
  static void append_done(const std::string& path, const std::map<std::string, std::uint64_t>& tensors);

  // Collective: rank 0 reads the journal, every rank parses the same text. A torn last line (the
  // crash came while it was written) is ignored; nullopt when there is no journal.
  static std::optional<JournalContents> load(const std::string& path, const mpi::Comm& comm);
};

}  // namespace mpimerge
