#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "check/history.h"
#include "check/value_table.h"

// The checker's internals: one partition of the history compiled for the search, and the
// Redis-like model it runs against. Not part of the public API (lincheck.h).
namespace raftkv::lincheck::detail {

// One non-txn command compiled against the partition's key slots, with its arguments interned
// and, for an Ok operation, the result it was recorded with.
struct Step {
  CommandKind kind = CommandKind::Get;
  bool checked = false;       // The operation was Ok: outputs must equal the recorded result.
  uint32_t slots_begin = 0;   // [slots_begin, slots_end) in Partition::slots: the keys.
  uint32_t slots_end = 0;
  uint32_t wants_begin = 0;   // Get, MGet: one recorded value per key in Partition::wants.
  ValueId arg = kMissing;     // Set: value; Append: suffix; Cas, CasNx: new value.
  ValueId expected = kMissing;  // Cas: the value the key must hold.
  int64_t delta = 0;          // Incr: 1; IncrBy: its delta.
  int64_t want_integer = 0;   // Del, Incr, IncrBy, Append, Cas, CasNx: the recorded integer.
};

constexpr uint32_t kNoRead = ~uint32_t{0};

struct CompiledOp {
  uint32_t history_index = 0;  // Into History::operations.
  uint32_t steps_begin = 0;    // [steps_begin, steps_end) in Partition::steps; a txn has many.
  uint32_t steps_end = 0;
  bool ok = false;             // Ok (must be linearized) or Unknown (may be, or never).
  bool txn = false;            // A txn (its reply is a list, even with one step).
  // The earliest instant it may take effect: the invoke, or later when pruning proved so.
  int64_t invoke_us = 0;
  // Unknown appends only: the Ok read (history index) that moved invoke_us, or kNoRead.
  uint32_t delayed_by = kNoRead;
  int64_t return_us = 0;       // Ok only: it took effect by then.
  // Unknown only: an identical unknown operation (same command) that may take effect no later
  // than this one; the search places this one only after it (index into Partition::ops), so
  // k interchangeable operations cost k choices instead of k!.
  int32_t class_pred = -1;
};

// A group of keys that no operation connects to any other key, with the operations on them.
// Ok operations come first, ordered by invoke; then unknown ones ordered by invoke_us.
struct Partition {
  std::vector<std::string> keys;  // Slot -> key; sorted.
  // Per slot: only appends and reads touch the key, so its value only ever grows.
  std::vector<bool> append_only;
  std::vector<CompiledOp> ops;
  uint32_t ok_count = 0;
  std::vector<Step> steps;
  std::vector<uint32_t> slots;
  std::vector<ValueId> wants;
  ValueTable values;
};

// The key-value store of tests/check/README.md over one partition's slots, with an undo log
// so the search can step back. Not thread-safe; one per search.
class Model {
 public:
  explicit Model(Partition& partition);

  // Applies `op` in the current state. Returns false when a checked step's output differs
  // from its recorded result (the state may then be partly changed: roll back with
  // undo_to()). With `shown`, also describes the model's own reply there, for reports.
  [[nodiscard]] bool apply(const CompiledOp& op, std::string* shown = nullptr);
  [[nodiscard]] size_t undo_mark() const { return undo_.size(); }
  void undo_to(size_t mark);

  // ValueId per slot.
  [[nodiscard]] const std::vector<ValueId>& state() const { return state_; }
  // Hash of state(), kept up to date on every change.
  [[nodiscard]] uint64_t state_hash() const { return state_hash_; }
  // "nil" or the quoted value, for reports.
  [[nodiscard]] std::string show(ValueId value) const;

 private:
  struct Undo {
    uint32_t slot;
    ValueId old;
  };
  // The memoized effect of an append or incr step on one value.
  struct Transition {
    ValueId next;
    bool error;       // Incr on a non-integer or past int64: no effect, an error reply.
    int64_t integer;  // Incr: the new value; Append: the new length.
  };

  [[nodiscard]] bool run(uint32_t step_index, std::string* shown);
  [[nodiscard]] bool run_read(const Step& step, std::string* shown) const;
  [[nodiscard]] bool run_del(const Step& step, std::string* shown);
  [[nodiscard]] bool run_transition(const Step& step, uint32_t step_index, std::string* shown);
  [[nodiscard]] bool run_cas(const Step& step, std::string* shown);
  [[nodiscard]] Transition compute(const Step& step, ValueId value);
  void assign(uint32_t slot, ValueId value);

  Partition& partition_;
  std::vector<ValueId> state_;
  uint64_t state_hash_ = 0;
  std::vector<Undo> undo_;
  // (value << 32 | step index) -> its effect: appends and incrs build each value once.
  std::unordered_map<uint64_t, Transition> transitions_;
};

}  // namespace raftkv::lincheck::detail
