#include "check/search.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <tuple>

#include "check/search_cache.h"

namespace raftkv::lincheck::detail {
namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// How a node of the search enumerates its children (README "The search"). A node with no
// open block first places each Ok candidate directly (Direct), then opens a block: picks an
// Ok candidate as target and places an unknown candidate related to it (Targeted). A node
// inside a block places the target (Target), else extends the block (Extend).
enum class Phase : uint8_t { Direct, Targeted, Target, Extend, Exhausted };

struct Cursor {
  Phase phase = Phase::Direct;
  uint32_t outer = 0;  // Direct: the candidate's call entry; Targeted: the target's.
  uint32_t inner = 0;  // Targeted, Extend: the unknown candidate's call entry.
};

// The search over one partition: Wing & Gong's walk over a doubly linked list of call and
// return events in time order, lifting an operation's events out of the list when it is
// placed and relinking them (in reverse order, dancing-links style) when the search backs
// up. Only the calls before the first return left in the list may be placed next.
//
// Unknown operations are placed only in blocks: a run of unknown operations immediately
// followed by the Ok operation (the target) they are placed for, each sharing a key with the
// target or with another unknown operation that does (transitively). Any linearization can be
// rewritten into that shape: an unknown operation commutes with a neighbour on other keys and,
// never returning, may always move later, past the target when unrelated to it; one that
// reaches the end can be left out. Without blocks, an unknown operation placed where nothing
// needs it would be carried through the rest of the search and multiply its cost. Orders of
// a block that reach the same state meet in the cache.
class Search {
 public:
  Search(Partition& partition, const SearchLimits& limits)
      : partition_(partition),
        ops_(partition.ops),
        ok_count_(partition.ok_count),
        limits_(limits),
        model_(partition),
        ok_bits_((ok_count_ + 63) / 64, 0),
        unknown_bits_((ops_.size() - ok_count_ + 63) / 64, 0),
        cache_(unknown_bits_.size(), (partition.keys.size() + 1) / 2) {
    build_events();
    build_horizon();
    build_op_slots();
    build_block_free();
    deadline_keys_.slots.resize(partition.keys.size());
    target_keys_.slots.resize(partition.keys.size());
  }

  SearchResult run();

 private:
  struct Frame {
    uint32_t op;
    uint32_t undo_mark;
    Cursor cursor;    // The parent's, when it chose `op`: where it resumes.
    uint32_t target;  // The open block's target once `op` is placed, or kNone.
  };

  void build_events();
  void build_horizon();
  void build_op_slots();

  [[nodiscard]] uint32_t first() const { return next_[head_]; }
  [[nodiscard]] bool window_ends(uint32_t entry) const {
    return entry == head_ || entry_is_return_[entry];
  }
  [[nodiscard]] bool is_ok_call(uint32_t entry) const { return entry_op_[entry] < ok_count_; }
  [[nodiscard]] uint32_t target() const { return stack_.empty() ? kNone : stack_.back().target; }
  [[nodiscard]] Cursor start_cursor() const;
  [[nodiscard]] bool seek(Cursor& cursor);
  [[nodiscard]] bool seek_unknown(Cursor& cursor, uint32_t target_op);
  [[nodiscard]] bool unknown_fits_block(uint32_t op, uint32_t target_op);
  [[nodiscard]] bool may_lead_to_target(uint32_t op, uint32_t target_op) const;
  [[nodiscard]] bool block_member_dies(uint32_t slot) const;
  [[nodiscard]] bool target_kills_member(uint32_t target_op) const;
  [[nodiscard]] const Step* first_step_on(uint32_t op, uint32_t slot) const;
  void advance(Cursor& cursor) const;
  struct KeyClosure {
    std::vector<bool> slots;
    uint32_t seed = kNone;
    uint64_t stamp = 0;
  };
  void close_keys(uint32_t seed, bool with_ok, KeyClosure& closure);
  [[nodiscard]] bool touches(const KeyClosure& closure, uint32_t op) const;
  [[nodiscard]] bool near_deadline(uint32_t op);
  void build_block_free();
  [[nodiscard]] bool may_need_block(uint32_t target_op);

  [[nodiscard]] bool placed(uint32_t op) const;
  void mark(uint32_t op, bool on);
  bool try_place(uint32_t op, const Cursor& cursor, uint32_t target_after);
  [[nodiscard]] Cursor back_up();
  [[nodiscard]] Config config(uint32_t target_after);
  void record_progress();
  [[nodiscard]] std::optional<SearchOutcome> over_budget();
  [[nodiscard]] SearchResult finish(SearchOutcome outcome);

  void unlink(uint32_t entry) {
    next_[prev_[entry]] = next_[entry];
    prev_[next_[entry]] = prev_[entry];
  }
  void relink(uint32_t entry) {
    next_[prev_[entry]] = entry;
    prev_[next_[entry]] = entry;
  }

  Partition& partition_;
  const std::vector<CompiledOp>& ops_;
  const uint32_t ok_count_;
  const SearchLimits limits_;
  Model model_;

  // The event list. Entry `head_` (the last) is the sentinel of the circular list.
  std::vector<uint32_t> next_;
  std::vector<uint32_t> prev_;
  std::vector<uint32_t> entry_op_;
  std::vector<bool> entry_is_return_;
  std::vector<uint32_t> call_entry_;    // Per op.
  std::vector<uint32_t> return_entry_;  // Per Ok op.
  uint32_t head_ = 0;
  // horizon_[p]: how many Ok ops were invoked no later than Ok op p returned. While p is the
  // first unplaced Ok op, no Ok op at or past horizon_[p] can have been placed.
  std::vector<uint32_t> horizon_;
  // Per Ok op: a block before it is never needed when it fits without one (build_block_free).
  std::vector<bool> block_free_when_fitting_;
  // Op i's distinct key slots, sorted: op_slots_[op_slots_begin_[i], op_slots_begin_[i + 1]).
  std::vector<uint32_t> op_slots_;
  std::vector<uint32_t> op_slots_begin_;

  std::vector<uint64_t> ok_bits_;       // Placed Ok ops.
  std::vector<uint64_t> unknown_bits_;  // Placed unknown ops (bit i: op ok_count_ + i).
  uint32_t ok_placed_ = 0;
  uint32_t unknown_placed_ = 0;
  uint32_t ok_prefix_ = 0;  // Every Ok op below it is placed; it is not.
  uint64_t ok_hash_ = 0;    // Sum of mix64 over placed Ok ops.

  // Keys connected to the deadline operation through the window (near_deadline()), and to a
  // block's target through the window's unknown operations: a superset of those any block
  // for it can use, since its later members are among them.
  KeyClosure deadline_keys_;
  KeyClosure target_keys_;
  uint64_t stamp_ = 1;  // Changes whenever the stack does.
  std::vector<uint32_t> window_scratch_;

  std::vector<Frame> stack_;
  std::vector<uint64_t> key_scratch_;
  std::vector<uint64_t> state_scratch_;
  Cache cache_;
  uint64_t steps_ = 0;
  // The longest partial linearization so far, and how much of the stack still matches it.
  std::vector<uint32_t> longest_;
  uint32_t longest_ok_ = 0;
  size_t longest_valid_ = 0;
};

void Search::build_events() {
  std::vector<std::tuple<int64_t, bool, uint32_t>> events;  // (time, is return, op)
  for (uint32_t op = 0; op < ops_.size(); ++op) {
    events.emplace_back(ops_[op].invoke_us, false, op);
    if (ops_[op].ok) events.emplace_back(ops_[op].return_us, true, op);
  }
  // Calls sort before returns at the same instant: operations whose times touch are
  // concurrent, so a clock's resolution never manufactures a violation.
  std::sort(events.begin(), events.end());
  const auto count = static_cast<uint32_t>(events.size());
  head_ = count;
  next_.resize(count + 1);
  prev_.resize(count + 1);
  entry_op_.resize(count);
  entry_is_return_.resize(count);
  call_entry_.resize(ops_.size());
  return_entry_.resize(ok_count_);
  for (uint32_t entry = 0; entry <= count; ++entry) {
    next_[entry] = entry == count ? 0 : entry + 1;
    prev_[entry] = entry == 0 ? count : entry - 1;
    if (entry == count) break;
    const auto& [time, is_return, op] = events[entry];
    entry_op_[entry] = op;
    entry_is_return_[entry] = is_return;
    (is_return ? return_entry_ : call_entry_)[op] = entry;
  }
  if (count == 0) next_[head_] = prev_[head_] = head_;
}

void Search::build_horizon() {
  horizon_.resize(ok_count_);
  const auto end = ops_.begin() + ok_count_;
  for (uint32_t p = 0; p < ok_count_; ++p) {
    const auto after = std::upper_bound(
        ops_.begin(), end, ops_[p].return_us,
        [](int64_t time, const CompiledOp& op) { return time < op.invoke_us; });
    horizon_[p] = static_cast<uint32_t>(after - ops_.begin());
    RAFT_ASSERT(horizon_[p] > p);  // An operation is invoked before it returns.
  }
}

void Search::build_op_slots() {
  for (const CompiledOp& op : ops_) {
    op_slots_begin_.push_back(static_cast<uint32_t>(op_slots_.size()));
    std::vector<uint32_t> slots;
    for (uint32_t step = op.steps_begin; step < op.steps_end; ++step) {
      const Step& compiled = partition_.steps[step];
      slots.insert(slots.end(), partition_.slots.begin() + compiled.slots_begin,
                   partition_.slots.begin() + compiled.slots_end);
    }
    std::sort(slots.begin(), slots.end());
    slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
    op_slots_.insert(op_slots_.end(), slots.begin(), slots.end());
  }
  op_slots_begin_.push_back(static_cast<uint32_t>(op_slots_.size()));
}

// Fills `closure` with the key slots of `seed` and of every window operation connected to
// them through window operations (unknown ones only, unless `with_ok`). Kept while the stack
// is unchanged.
void Search::close_keys(uint32_t seed, bool with_ok, KeyClosure& closure) {
  if (closure.seed == seed && closure.stamp == stamp_) return;
  closure.seed = seed;
  closure.stamp = stamp_;
  std::fill(closure.slots.begin(), closure.slots.end(), false);
  const auto add = [&](uint32_t op) {
    for (uint32_t i = op_slots_begin_[op]; i < op_slots_begin_[op + 1]; ++i) {
      closure.slots[op_slots_[i]] = true;
    }
  };
  add(seed);
  window_scratch_.clear();
  for (uint32_t entry = first(); !window_ends(entry); entry = next_[entry]) {
    if (with_ok || !is_ok_call(entry)) window_scratch_.push_back(entry_op_[entry]);
  }
  for (bool grew = true; grew;) {  // At most one more pass per key added.
    grew = false;
    for (uint32_t& op : window_scratch_) {
      if (op == kNone || !touches(closure, op)) continue;
      add(op);
      op = kNone;
      grew = true;
    }
  }
}

bool Search::touches(const KeyClosure& closure, uint32_t op) const {
  for (uint32_t i = op_slots_begin_[op]; i < op_slots_begin_[op + 1]; ++i) {
    if (closure.slots[op_slots_[i]]) return true;
  }
  return false;
}

// Partial-order reduction. Let D be the unplaced Ok operation that returns first (its return
// closes the window). Every operation placed before D is in the window, and one sharing no
// key with D, nor with anything placed between it and D, commutes with all of those and may
// move just after D (real time allows it: D returns before any other unplaced Ok operation).
// So some linearization, if any, continues with D or an operation connected to D through the
// window's keys: the search tries only those, instead of every order of unrelated keys.
bool Search::near_deadline(uint32_t op) {
  uint32_t entry = first();
  while (!window_ends(entry)) entry = next_[entry];
  if (entry == head_) return true;  // No Ok operation left; the loop has ended.
  close_keys(entry_op_[entry], true, deadline_keys_);
  return touches(deadline_keys_, op);
}

// Say a block B is placed right before X, and X fits without it too (same results). Then
// B's members that share no key with X commute with it and may follow it instead; so may
// members on keys X only reads. On a key X writes, X's results show the key's value was the
// same with and without B (for incr, cas, casnx, a read first) or X's write does not depend
// on it (set, del): X leaves it alike either way, and B's members there, having no other key,
// can be left out. Two cases escape: X's first step on the key is an append (its length does
// not show the content it extends), or a member also has another key (it cannot be left
// out). For every other X, the search tries no block before X when X fits alone.
void Search::build_block_free() {
  std::vector<bool> shared(partition_.keys.size(), false);  // Of a multi-key unknown op.
  for (uint32_t op = ok_count_; op < ops_.size(); ++op) {
    if (op_slots_begin_[op + 1] - op_slots_begin_[op] < 2) continue;
    for (uint32_t i = op_slots_begin_[op]; i < op_slots_begin_[op + 1]; ++i) {
      shared[op_slots_[i]] = true;
    }
  }
  enum : uint8_t { kUntouched, kRead, kWritten };
  std::vector<uint8_t> seen(partition_.keys.size(), kUntouched);
  block_free_when_fitting_.assign(ok_count_, true);
  for (uint32_t op = 0; op < ok_count_; ++op) {
    for (uint32_t i = ops_[op].steps_begin; i < ops_[op].steps_end; ++i) {
      const Step& step = partition_.steps[i];
      const bool read = step.kind == CommandKind::Get || step.kind == CommandKind::MGet;
      for (uint32_t at = step.slots_begin; at < step.slots_end; ++at) {
        uint8_t& key = seen[partition_.slots[at]];
        if (read) {
          if (key == kUntouched) key = kRead;
          continue;
        }
        const bool blind_append = step.kind == CommandKind::Append && key == kUntouched;
        if (blind_append || shared[partition_.slots[at]]) block_free_when_fitting_[op] = false;
        key = kWritten;
      }
    }
    for (uint32_t i = op_slots_begin_[op]; i < op_slots_begin_[op + 1]; ++i) {
      seen[op_slots_[i]] = kUntouched;
    }
  }
}

bool Search::may_need_block(uint32_t target_op) {
  if (!block_free_when_fitting_[target_op]) return true;
  const size_t mark = model_.undo_mark();
  const bool fits = model_.apply(ops_[target_op]);
  model_.undo_to(mark);
  return !fits;
}

bool Search::unknown_fits_block(uint32_t op, uint32_t target_op) {
  RAFT_ASSERT(op >= ok_count_);
  const int32_t pred = ops_[op].class_pred;
  if (pred >= 0 && !placed(static_cast<uint32_t>(pred))) return false;
  close_keys(target_op, false, target_keys_);
  return touches(target_keys_, op) && may_lead_to_target(op, target_op);
}

// Until the target is placed only block members change the state, and on an append-only key
// they only append: the value there only grows. So a member that makes the value stop being a
// prefix of what the target reads, or longer than the target's own append reports, can never
// be followed by the target; nor can a blind write that leaves an earlier member of the block
// no effect (dropping that one reaches the same state with less). Pruning these keeps a block
// search near linear where it would try every subset of the pending unknown operations.
bool Search::may_lead_to_target(uint32_t op, uint32_t target_op) const {
  const CompiledOp& unknown = ops_[op];
  if (unknown.steps_end - unknown.steps_begin != 1) return true;
  const Step& step = partition_.steps[unknown.steps_begin];
  const uint32_t slot = partition_.slots[step.slots_begin];
  // An unknown set, or del of one key, overwrites without looking: its result is not known.
  const bool blind = step.kind == CommandKind::Set ||
                     (step.kind == CommandKind::Del && step.slots_end - step.slots_begin == 1);
  if (blind) return !block_member_dies(slot);
  if (step.kind != CommandKind::Append || !partition_.append_only[slot]) return true;
  const Step* goal = first_step_on(target_op, slot);
  if (goal == nullptr) return true;
  const ValueTable& values = partition_.values;
  const uint64_t length = values.length(model_.state()[slot]) + values.length(step.arg);
  if (goal->kind == CommandKind::Append) {
    const uint64_t goal_length = length + values.length(goal->arg);
    return goal->want_integer >= 0 && goal_length <= static_cast<uint64_t>(goal->want_integer);
  }
  RAFT_ASSERT(goal->kind == CommandKind::Get || goal->kind == CommandKind::MGet);
  uint32_t at = goal->slots_begin;
  while (partition_.slots[at] != slot) ++at;
  const ValueId want = partition_.wants[goal->wants_begin + (at - goal->slots_begin)];
  if (want == kMissing) return false;
  const std::optional<std::string_view> read = values.flat_text(want);
  const std::optional<std::string_view> suffix = values.flat_text(step.arg);
  if (!read || !suffix) return true;
  return read->size() >= length && read->substr(length - suffix->size(), suffix->size()) == *suffix;
}

// Whether the open block's last member on `slot` touches no other key: a blind write of the
// slot placed now would then leave that member no effect at all.
bool Search::block_member_dies(uint32_t slot) const {
  for (auto frame = stack_.rbegin(); frame != stack_.rend(); ++frame) {
    if (frame->op < ok_count_ || frame->target == kNone) return false;  // Left the block.
    if (first_step_on(frame->op, slot) == nullptr) continue;
    return op_slots_begin_[frame->op + 1] - op_slots_begin_[frame->op] == 1;
  }
  return false;
}

// Whether the target, placed now, would leave a member of the open block no effect: its
// first step on a key is a plain set, and the block's last member on that key has no other.
bool Search::target_kills_member(uint32_t target_op) const {
  for (uint32_t i = ops_[target_op].steps_begin; i < ops_[target_op].steps_end; ++i) {
    const Step& step = partition_.steps[i];
    const uint32_t slot = partition_.slots[step.slots_begin];
    const bool first_on_slot = first_step_on(target_op, slot) == &step;
    if (step.kind == CommandKind::Set && first_on_slot && block_member_dies(slot)) return true;
  }
  return false;
}

const Step* Search::first_step_on(uint32_t op, uint32_t slot) const {
  for (uint32_t i = ops_[op].steps_begin; i < ops_[op].steps_end; ++i) {
    const Step& step = partition_.steps[i];
    for (uint32_t at = step.slots_begin; at < step.slots_end; ++at) {
      if (partition_.slots[at] == slot) return &step;
    }
  }
  return nullptr;
}

Cursor Search::start_cursor() const {
  if (target() == kNone) return {Phase::Direct, first(), 0};
  return {Phase::Target, 0, 0};
}

// Moves `cursor` to its next child that may be tried; false once there is none (Exhausted).
bool Search::seek(Cursor& cursor) {
  switch (cursor.phase) {
    case Phase::Direct:
      for (; !window_ends(cursor.outer); cursor.outer = next_[cursor.outer]) {
        if (is_ok_call(cursor.outer) && near_deadline(entry_op_[cursor.outer])) return true;
      }
      cursor = {Phase::Targeted, first(), first()};
      if (unknown_placed_ == ops_.size() - ok_count_) cursor.phase = Phase::Exhausted;
      return false;
    case Phase::Targeted:
      for (; !window_ends(cursor.outer); cursor.outer = next_[cursor.outer]) {
        const uint32_t target_op = entry_op_[cursor.outer];
        if (is_ok_call(cursor.outer) && near_deadline(target_op) && may_need_block(target_op) &&
            seek_unknown(cursor, target_op)) {
          return true;
        }
        cursor.inner = first();  // The next target's unknown candidates, from the start.
      }
      cursor.phase = Phase::Exhausted;
      return false;
    case Phase::Target:
      if (!target_kills_member(target())) return true;
      cursor = {Phase::Extend, 0, first()};
      return seek(cursor);
    case Phase::Extend:
      if (seek_unknown(cursor, target())) return true;
      cursor.phase = Phase::Exhausted;
      return false;
    case Phase::Exhausted: return false;
  }
  RAFT_ASSERT(false);
  return false;
}

bool Search::seek_unknown(Cursor& cursor, uint32_t target_op) {
  for (; !window_ends(cursor.inner); cursor.inner = next_[cursor.inner]) {
    if (!is_ok_call(cursor.inner) && unknown_fits_block(entry_op_[cursor.inner], target_op)) {
      return true;
    }
  }
  return false;
}

// Past the child just tried (or just backed out of).
void Search::advance(Cursor& cursor) const {
  switch (cursor.phase) {
    case Phase::Direct: cursor.outer = next_[cursor.outer]; return;
    case Phase::Targeted:
    case Phase::Extend: cursor.inner = next_[cursor.inner]; return;
    case Phase::Target: cursor = {Phase::Extend, 0, first()}; return;
    case Phase::Exhausted: break;
  }
  RAFT_ASSERT(false);
}

bool Search::placed(uint32_t op) const {
  if (op < ok_count_) return (ok_bits_[op / 64] >> (op % 64) & 1) != 0;
  const uint32_t bit = op - ok_count_;
  return (unknown_bits_[bit / 64] >> (bit % 64) & 1) != 0;
}

void Search::mark(uint32_t op, bool on) {
  RAFT_ASSERT(placed(op) != on);
  if (op >= ok_count_) {
    const uint32_t bit = op - ok_count_;
    unknown_bits_[bit / 64] ^= uint64_t{1} << (bit % 64);
    unknown_placed_ = on ? unknown_placed_ + 1 : unknown_placed_ - 1;
    return;
  }
  ok_bits_[op / 64] ^= uint64_t{1} << (op % 64);
  if (on) {
    ++ok_placed_;
    ok_hash_ += mix64(op + 1);
    while (ok_prefix_ < ok_count_ && placed(ok_prefix_)) ++ok_prefix_;
  } else {
    --ok_placed_;
    ok_hash_ -= mix64(op + 1);
    ok_prefix_ = std::min(ok_prefix_, op);
  }
}

Config Search::config(uint32_t target_after) {
  // The Ok set is the prefix [0, ok_prefix_) plus some ops below horizon_[ok_prefix_]: the
  // prefix length and the words covering the rest identify it exactly.
  key_scratch_.clear();
  key_scratch_.push_back(ok_prefix_);
  if (ok_prefix_ < ok_count_) {
    const uint32_t last_word = (horizon_[ok_prefix_] - 1) / 64;
    for (uint32_t word = ok_prefix_ / 64; word <= last_word; ++word) {
      key_scratch_.push_back(ok_bits_[word]);
    }
  }
  const std::vector<ValueId>& state = model_.state();
  state_scratch_.assign((state.size() + 1) / 2, 0);
  for (size_t slot = 0; slot < state.size(); ++slot) {
    state_scratch_[slot / 2] |= uint64_t{state[slot]} << (slot % 2 * 32);
  }
  return {key_scratch_, target_after == kNone ? kNoTarget : target_after, unknown_bits_,
          state_scratch_, mix64(ok_hash_ ^ mix64(model_.state_hash()))};
}

bool Search::try_place(uint32_t op, const Cursor& cursor, uint32_t target_after) {
  const size_t undo_mark = model_.undo_mark();
  if (model_.apply(ops_[op])) {
    mark(op, true);
    if (cache_.visit(config(target_after))) {
      stack_.push_back({op, static_cast<uint32_t>(undo_mark), cursor, target_after});
      ++stamp_;
      unlink(call_entry_[op]);
      if (op < ok_count_) unlink(return_entry_[op]);
      record_progress();
      return true;
    }
    mark(op, false);
  }
  model_.undo_to(undo_mark);
  return false;
}

// Undoes the top of the stack; returns the parent's cursor past that child.
Cursor Search::back_up() {
  RAFT_ASSERT(!stack_.empty());
  const Frame frame = stack_.back();
  stack_.pop_back();
  ++stamp_;
  if (frame.op < ok_count_) relink(return_entry_[frame.op]);
  relink(call_entry_[frame.op]);
  mark(frame.op, false);
  model_.undo_to(frame.undo_mark);
  longest_valid_ = std::min(longest_valid_, stack_.size());
  Cursor cursor = frame.cursor;
  advance(cursor);
  return cursor;
}

// Copies only the part of the stack that changed since the last copy, so following a long
// linearization costs O(its length) in all, not O(length^2).
void Search::record_progress() {
  if (ok_placed_ <= longest_ok_) return;
  longest_ok_ = ok_placed_;
  longest_.resize(longest_valid_);
  for (size_t i = longest_valid_; i < stack_.size(); ++i) longest_.push_back(stack_[i].op);
  longest_valid_ = stack_.size();
}

std::optional<SearchOutcome> Search::over_budget() {
  if (limits_.steps_max != 0 && steps_ >= limits_.steps_max) return SearchOutcome::OutOfSteps;
  if (steps_ % 1024 != 0) return std::nullopt;
  if (cache_.bytes() + partition_.values.bytes() > limits_.memory_bytes_max) {
    return SearchOutcome::OutOfMemory;
  }
  if (std::chrono::steady_clock::now() > limits_.deadline) return SearchOutcome::OutOfTime;
  return std::nullopt;
}

SearchResult Search::finish(SearchOutcome outcome) {
  SearchResult result;
  result.outcome = outcome;
  if (outcome == SearchOutcome::Violation) result.longest_prefix = std::move(longest_);
  result.steps = steps_;
  result.memory_bytes = cache_.bytes() + partition_.values.bytes();
  return result;
}

SearchResult Search::run() {
  Cursor cursor = start_cursor();
  while (ok_placed_ < ok_count_) {
    if (cursor.phase == Phase::Exhausted) {
      if (stack_.empty()) return finish(SearchOutcome::Violation);
      cursor = back_up();
      continue;
    }
    if (!seek(cursor)) continue;
    ++steps_;
    if (const std::optional<SearchOutcome> stop = over_budget()) return finish(*stop);
    uint32_t op = 0;
    uint32_t target_after = kNone;
    switch (cursor.phase) {
      case Phase::Direct: op = entry_op_[cursor.outer]; break;
      case Phase::Targeted:
        op = entry_op_[cursor.inner];
        target_after = entry_op_[cursor.outer];
        break;
      case Phase::Target: op = target(); break;
      case Phase::Extend:
        op = entry_op_[cursor.inner];
        target_after = target();
        break;
      case Phase::Exhausted: RAFT_ASSERT(false);
    }
    if (try_place(op, cursor, target_after)) {
      cursor = start_cursor();
    } else {
      advance(cursor);
    }
  }
  return finish(SearchOutcome::Linearizable);
}

}  // namespace

SearchResult search(Partition& partition, const SearchLimits& limits) {
  RAFT_ASSERT(partition.ok_count <= partition.ops.size());
  return Search(partition, limits).run();
}

std::vector<uint32_t> next_candidates(const Partition& partition,
                                      const std::vector<uint32_t>& prefix) {
  std::vector<bool> in_prefix(partition.ops.size(), false);
  for (const uint32_t op : prefix) in_prefix[op] = true;
  int64_t deadline = std::numeric_limits<int64_t>::max();
  for (uint32_t op = 0; op < partition.ok_count; ++op) {
    if (!in_prefix[op]) deadline = std::min(deadline, partition.ops[op].return_us);
  }
  std::vector<uint32_t> candidates;
  for (uint32_t op = 0; op < partition.ops.size(); ++op) {
    if (!in_prefix[op] && partition.ops[op].invoke_us <= deadline) candidates.push_back(op);
  }
  return candidates;
}

}  // namespace raftkv::lincheck::detail
