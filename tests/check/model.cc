#include "check/model.h"

#include "kv/redis_int.h"

namespace raftkv::lincheck::detail {
namespace {

// splitmix64's finalizer: spreads a slot's (slot, value) pair over 64 bits, so the state hash
// can be a sum kept up to date one slot at a time.
uint64_t mix(uint32_t slot, ValueId value) {
  uint64_t x = (uint64_t{slot} << 32 | value) + 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

Model::Model(Partition& partition)
    : partition_(partition), state_(partition.keys.size(), kMissing) {
  for (uint32_t slot = 0; slot < state_.size(); ++slot) state_hash_ += mix(slot, kMissing);
}

bool Model::apply(const CompiledOp& op, std::string* shown) {
  RAFT_ASSERT(op.steps_begin < op.steps_end);
  if (shown == nullptr) {
    for (uint32_t i = op.steps_begin; i < op.steps_end; ++i) {
      if (!run(i, nullptr)) return false;
    }
    return true;
  }
  // A report wants every step's reply, so it runs them all.
  bool matches = true;
  shown->clear();
  std::string step_shown;
  for (uint32_t i = op.steps_begin; i < op.steps_end; ++i) {
    matches = run(i, &step_shown) && matches;
    *shown += (i > op.steps_begin ? ", " : "") + step_shown;
  }
  if (op.txn) *shown = "[" + *shown + "]";
  return matches;
}

void Model::undo_to(size_t mark) {
  RAFT_ASSERT(mark <= undo_.size());
  while (undo_.size() > mark) {
    const Undo undo = undo_.back();
    undo_.pop_back();
    state_hash_ -= mix(undo.slot, state_[undo.slot]);
    state_hash_ += mix(undo.slot, undo.old);
    state_[undo.slot] = undo.old;
  }
}

std::string Model::show(ValueId value) const {
  return value == kMissing ? "nil" : quote(partition_.values.text(value));
}

bool Model::run(uint32_t step_index, std::string* shown) {
  const Step& step = partition_.steps[step_index];
  RAFT_ASSERT(step.slots_begin < step.slots_end);
  switch (step.kind) {
    case CommandKind::Get:
    case CommandKind::MGet: return run_read(step, shown);
    case CommandKind::Set:
      assign(partition_.slots[step.slots_begin], step.arg);
      if (shown != nullptr) *shown = "\"OK\"";
      return true;
    case CommandKind::Del: return run_del(step, shown);
    case CommandKind::Incr:
    case CommandKind::IncrBy:
    case CommandKind::Append: return run_transition(step, step_index, shown);
    case CommandKind::Cas:
    case CommandKind::CasNx: return run_cas(step, shown);
    case CommandKind::Txn: break;
  }
  RAFT_ASSERT(false);  // Txns are compiled into their steps.
  return false;
}

bool Model::run_read(const Step& step, std::string* shown) const {
  bool matches = true;
  if (shown != nullptr) shown->clear();
  for (uint32_t i = step.slots_begin; i < step.slots_end; ++i) {
    const ValueId value = state_[partition_.slots[i]];
    if (step.checked) {
      matches = matches && value == partition_.wants[step.wants_begin + (i - step.slots_begin)];
    }
    if (shown != nullptr) *shown += (i > step.slots_begin ? ", " : "") + show(value);
  }
  if (shown != nullptr && step.kind == CommandKind::MGet) *shown = "[" + *shown + "]";
  return matches;
}

bool Model::run_del(const Step& step, std::string* shown) {
  int64_t removed = 0;
  for (uint32_t i = step.slots_begin; i < step.slots_end; ++i) {
    const uint32_t slot = partition_.slots[i];
    if (state_[slot] == kMissing) continue;  // Also a key named twice: gone already.
    ++removed;
    assign(slot, kMissing);
  }
  if (shown != nullptr) *shown = std::to_string(removed);
  return !step.checked || removed == step.want_integer;
}

bool Model::run_transition(const Step& step, uint32_t step_index, std::string* shown) {
  const uint32_t slot = partition_.slots[step.slots_begin];
  const uint64_t key = uint64_t{state_[slot]} << 32 | step_index;
  auto found = transitions_.find(key);
  if (found == transitions_.end()) {
    found = transitions_.emplace(key, compute(step, state_[slot])).first;
  }
  const Transition transition = found->second;
  if (transition.error) {
    if (shown != nullptr) *shown = "error (not an integer, or overflow)";
    return !step.checked;  // An Ok reply is an integer, never this error.
  }
  assign(slot, transition.next);
  if (shown != nullptr) *shown = std::to_string(transition.integer);
  return !step.checked || transition.integer == step.want_integer;
}

Model::Transition Model::compute(const Step& step, ValueId value) {
  ValueTable& values = partition_.values;
  if (step.kind == CommandKind::Append) {
    const ValueId next = values.concat(value, step.arg);
    return {next, false, static_cast<int64_t>(values.length(next))};
  }
  RAFT_ASSERT(step.kind == CommandKind::Incr || step.kind == CommandKind::IncrBy);
  // The server's own parser (Redis' string2ll rules), so the model refuses what it refuses.
  const std::optional<int64_t> current =
      value == kMissing ? std::optional<int64_t>(0) : kv::parse_redis_int64(values.text(value));
  int64_t sum = 0;
  if (!current || __builtin_add_overflow(*current, step.delta, &sum)) {
    return {value, true, 0};
  }
  return {values.intern(std::to_string(sum)), false, sum};
}

bool Model::run_cas(const Step& step, std::string* shown) {
  const uint32_t slot = partition_.slots[step.slots_begin];
  // A missing key never matches cas, not even an empty expected value.
  const bool swap = step.kind == CommandKind::CasNx
                        ? state_[slot] == kMissing
                        : state_[slot] != kMissing && state_[slot] == step.expected;
  if (swap) assign(slot, step.arg);
  const int64_t reply = swap ? 1 : 0;
  if (shown != nullptr) *shown = std::to_string(reply);
  return !step.checked || reply == step.want_integer;
}

void Model::assign(uint32_t slot, ValueId value) {
  RAFT_ASSERT(slot < state_.size());
  if (state_[slot] == value) return;
  undo_.push_back({slot, state_[slot]});
  state_hash_ -= mix(slot, state_[slot]);
  state_hash_ += mix(slot, value);
  state_[slot] = value;
}

}  // namespace raftkv::lincheck::detail
