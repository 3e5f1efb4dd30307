#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "check/history.h"
#include "common/status.h"

// raftkv's linearizability checker: is a history of client operations on the Redis-like store
// explainable by some order of the operations, each taking effect at one instant between its
// invoke and its return? tests/check/README.md gives the model, the algorithm and how to read a
// violation report. Used in memory by the simulator and through raftkv-lincheck by the fault
// suite; JSON lives elsewhere (history_json.h). Not thread-safe; calls share no state.
namespace raftkv::lincheck {

struct Options {
  // Wall-clock budget for the whole check; partitions not decided within it are Undecided.
  std::chrono::milliseconds time_budget{60'000};
  // Budget of search steps per partition, 0 for none. Unlike time it gives the same verdict on
  // every machine and every run: the simulator uses it so that a seed replays exactly.
  uint64_t steps_max = 0;
  // Per partition: the search cache plus the interned values. Past it: Undecided.
  size_t memory_bytes_max = size_t{1} << 30;
  // How many operations a violation report lists at most, per list.
  size_t report_ops_max = 12;
};

enum class VerdictKind {
  Linearizable,  // Proven: every partition has a linearization.
  Violation,     // Proven: some partition has none.
  Undecided,     // No violation found, but some partition ran out of budget: not a pass.
};

struct PartitionViolation {
  std::vector<std::string> keys;
  size_t ok_operations = 0;  // Ok operations in the partition.
  // The partial linearization that placed the most Ok operations, as history indices in
  // linearization order, and how many of them are Ok.
  std::vector<size_t> longest_prefix;
  size_t longest_prefix_ok = 0;
  // History indices of the operations that could come next after it; none leads anywhere.
  std::vector<size_t> stuck;
  std::string report;  // For a person: see README "Reading a violation report".
};

struct UndecidedPartition {
  std::vector<std::string> keys;
  std::string reason;  // "time budget (60 s) spent", "memory budget ...", "step budget ...".
};

struct Stats {
  size_t operations = 0;             // In the history.
  size_t fail_dropped = 0;           // Took no effect: not searched.
  size_t unknown_reads_dropped = 0;  // Reads with unknown outcome constrain nothing.
  size_t unknown_inert = 0;          // Unknown writes no Ok operation could observe.
  size_t unknown_delayed = 0;        // Unknown appends proven to take effect after invoke.
  size_t operations_searched = 0;    // Ok plus unknown operations the searches considered.
  size_t unknown_searched = 0;
  size_t partitions = 0;
  size_t largest_partition = 0;      // Operations searched in the largest partition.
  uint64_t steps = 0;                // Attempts to place an operation, all partitions.
  size_t memory_bytes_peak = 0;      // Largest one partition's search used.
  uint64_t elapsed_us = 0;
};

struct Verdict {
  VerdictKind kind = VerdictKind::Undecided;
  std::vector<PartitionViolation> violations;  // Every non-linearizable partition.
  std::vector<UndecidedPartition> undecided;
  Stats stats;
};

// Checks `history` against the model. A proven violation wins over undecided partitions;
// Linearizable only when every partition was proven so. InvalidArgument when an operation is
// malformed (validate_operation()), naming its id.
[[nodiscard]] Result<Verdict> check(const History& history, const Options& options = {});

[[nodiscard]] const char* verdict_name(VerdictKind kind);
// The verdict, the statistics and every report, as raftkv-lincheck prints them.
[[nodiscard]] std::string format_verdict(const Verdict& verdict);

// Exactly-once appends. A key's final value as read once every node applied everything
// (nullopt: the key is missing).
using FinalValues = std::map<std::string, std::optional<std::string>>;

struct AppendOffence {
  size_t operation = 0;    // History index of the append.
  std::string key;
  size_t occurrences = 0;  // Of its suffix in the key's final value.
};

struct AppendsVerdict {
  size_t appends_checked = 0;
  std::vector<AppendOffence> offences;
  // Keys that cannot be checked, and why: not in the final values, written by other commands
  // than append (a set or del may remove suffixes legitimately), or suffixes not unique.
  std::vector<std::pair<std::string, std::string>> skipped;
};

// For histories whose appends carry unique suffixes ("c3-17;"): every Ok append's suffix must
// occur exactly once in its key's final value, a failed one never, an unknown one at most once.
// Requires every operation to be valid (validate_operation()), as read_history_jsonl ensures.
[[nodiscard]] AppendsVerdict check_appends_exactly_once(const History& history,
                                                        const FinalValues& final_values);
// One line per offence ("#17 client 3 ... -> 42: ok append found 2 times in "k""), then the
// skipped keys.
[[nodiscard]] std::string format_appends(const AppendsVerdict& verdict, const History& history);

}  // namespace raftkv::lincheck
