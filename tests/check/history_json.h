#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "check/history.h"
#include "check/lincheck.h"
#include "common/status.h"

// The JSON Lines form of a history (tests/check/README.md "History format"), kept out of the
// checker library so that the simulator links no JSON.
namespace raftkv::lincheck {

// A {"final": {...}, "node": N} line: the values one node holds once it applied everything.
struct FinalState {
  int64_t node = 0;
  FinalValues values;
};

struct HistoryFile {
  History history;
  std::vector<FinalState> finals;  // In file order.
};

// Reads every line; blank lines are skipped and fields the format does not name are ignored.
// Each operation is validated (validate_operation()) and ids must be unique. The first bad
// line fails the whole read: InvalidArgument "line N: ...".
[[nodiscard]] Result<HistoryFile> read_history_jsonl(std::istream& in);
// As above from a file; IoError when it cannot be opened or read.
[[nodiscard]] Result<HistoryFile> read_history_file(const std::string& path);

}  // namespace raftkv::lincheck
