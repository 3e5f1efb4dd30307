#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/types.h"
#include "raft/messages.h"

// The simulator's record of what a node applied: the ordered list of Normal entry payloads. It
// is volatile (a crash loses it; restart rebuilds it from the node's snapshot and log), which is
// exactly what a real state machine without its own persistence does. A snapshot stores the
// list, so a node restored from a snapshot holds the same list as one that applied every entry.
// Not thread-safe; owned by one SimMachine.
namespace raftkv::sim {

class SimStateMachine {
 public:
  // Index of the last entry applied (or covered by the restored snapshot).
  [[nodiscard]] Index applied() const { return applied_; }
  [[nodiscard]] const std::vector<std::string>& payloads() const { return payloads_; }
  [[nodiscard]] bool contains(const std::string& payload) const {
    return payload_set_.contains(payload);
  }
  // The entry at `index`, which directly follows applied(): a Normal entry's payload, or an
  // entry without one (a no-op, a membership change).
  void apply(Index index, std::string_view payload);
  void apply_empty(Index index);
  // Replaces the whole state with a snapshot's: `payloads` applied up to `index`.
  void restore(Index index, std::vector<std::string> payloads);
  void clear() { restore(Index{0}, {}); }

  // Snapshot encoding: for each payload a 4-byte little-endian length, then its bytes.
  [[nodiscard]] std::string encode() const;
  // False when `data` is not a well-formed encoding.
  [[nodiscard]] static bool decode(std::string_view data, std::vector<std::string>* payloads);

 private:
  Index applied_;
  std::vector<std::string> payloads_;
  // The same payloads as a set, so reads and final checks test membership in O(1).
  std::unordered_set<std::string> payload_set_;
};

}  // namespace raftkv::sim
