#pragma once
// The resume journal of an output being written, "<output>.partial.journal": JSON lines that rank
// 0 appends and syncs after each tensor is durably in the partial output, so that after a crash
// (a killed rank, a Slurm time limit) it lists exactly the tensors that need no redoing.
//   {"journal": 1, "fingerprint": "...", "inputs": [...]}
//                                            the job it belongs to (inputs, method, output layout),
//                                            and each input file's identity (to name what changed)
//   {"method_state": "..."}                  the method's global state after its analysis passes
//   {"done": {"tensor name": "checksum"}}    tensors complete in the partial output
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "mpimerge/mpi/comm.hpp"

namespace mpimerge {

struct JournalContents {
  std::string fingerprint;
  nlohmann::json inputs;  // as Journal::start recorded them (null in journals of older versions)
  std::optional<std::string> method_state;
  std::map<std::string, std::uint64_t> done;  // tensor name -> checksum
};

class Journal {
 public:
  static std::string path_for(const std::string& output);  // beside the partial output

  // Rank 0 only; each record synced to disk before returning.
  static void start(const std::string& path, const std::string& fingerprint, const nlohmann::ordered_json& inputs);
  static void append_state(const std::string& path, const std::string& state);
  static void append_done(const std::string& path, const std::map<std::string, std::uint64_t>& tensors);

  // Collective: rank 0 reads the journal, every rank parses the same text. A torn last line (the
  // crash came while it was written) is ignored; nullopt when there is no journal.
  static std::optional<JournalContents> load(const std::string& path, const mpi::Comm& comm);

  // Whether the file at path is a journal this program wrote (its header, or empty: a run killed
  // before the header), which makes the partial output beside it an interrupted merge's.
  static bool is_journal(const std::string& path);
  static constexpr const char* kHeaderStart = "{\"journal\":1,";
};

}  // namespace mpimerge
