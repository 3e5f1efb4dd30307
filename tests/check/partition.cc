#include "check/partition.h"

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

#include "kv/redis_int.h"

namespace raftkv::lincheck::detail {
namespace {

// Union-find over key ids, with path halving; joins keys one operation connects.
class KeyGroups {
 public:
  uint32_t add() {
    parent_.push_back(static_cast<uint32_t>(parent_.size()));
    return parent_.back();
  }
  uint32_t find(uint32_t key) {
    RAFT_ASSERT(key < parent_.size());
    while (parent_[key] != key) {
      parent_[key] = parent_[parent_[key]];
      key = parent_[key];
    }
    return key;
  }
  void join(uint32_t a, uint32_t b) { parent_[find(a)] = find(b); }

 private:
  std::vector<uint32_t> parent_;
};

// One non-txn command of an operation and, when the operation was Ok, its own result.
struct StepView {
  const Command* command;
  const Reply* result;  // Null unless Ok.
};

bool is_read(const Command& command) {
  return command.kind == CommandKind::Get || command.kind == CommandKind::MGet;
}

// The steps that matter to the checker. An unknown operation's reads are left out: they
// change nothing and their results constrain nothing, so they neither join keys into one
// partition nor tell apart two unknown operations with the same effect.
std::vector<StepView> steps_of(const Operation& op) {
  const Reply* result = op.outcome == Outcome::Ok ? &op.result : nullptr;
  const bool unknown = op.outcome == Outcome::Unknown;
  std::vector<StepView> steps;
  if (op.command.kind != CommandKind::Txn) {
    if (!unknown || !is_read(op.command)) steps.push_back({&op.command, result});
    return steps;
  }
  for (size_t i = 0; i < op.command.steps.size(); ++i) {
    const Command& step = op.command.steps[i];
    if (unknown && is_read(step)) continue;
    steps.push_back({&step, result != nullptr ? &result->elements[i] : nullptr});
  }
  return steps;
}

// The keys of steps_of(op), each once, sorted.
std::vector<std::string> keys_of(const Operation& op) {
  std::vector<std::string> keys;
  for (const StepView& step : steps_of(op)) {
    std::vector<std::string> step_keys = command_keys(*step.command);
    keys.insert(keys.end(), step_keys.begin(), step_keys.end());
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

bool names_key(const Command& command, const std::string& key) {
  const std::vector<std::string> keys = command_keys(command);
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// The values an Ok read step returned for `key`, one per time it names the key.
std::vector<const Reply*> values_read(const StepView& step, const std::string& key) {
  RAFT_ASSERT(step.result != nullptr);
  const Command& command = *step.command;
  std::vector<const Reply*> values;
  if (command.kind == CommandKind::Get && command.args[0] == key) values.push_back(step.result);
  if (command.kind != CommandKind::MGet) return values;
  for (size_t i = 0; i < command.args.size(); ++i) {
    if (command.args[i] == key) values.push_back(&step.result->elements[i]);
  }
  return values;
}

// The effect of an unknown operation, length-prefixed so that two encode equally exactly
// when they change the store alike: its steps but reads, incr spelt as incrby 1.
std::string canonical_effect(const Operation& op) {
  std::string out;
  for (const StepView& step : steps_of(op)) {
    const Command& command = *step.command;
    out += command.kind == CommandKind::Incr ? "incrby" : command_name(command.kind);
    for (const std::string& arg : command.args) {
      out += ":" + std::to_string(arg.size()) + "/" + arg;
    }
    if (command.kind == CommandKind::Incr) out += ":1/1";
    out += ";";
  }
  return out;
}

// Compiles one partition plan; see compile_partition().
class Compiler {
 public:
  Compiler(const History& history, const PartitionPlan& plan, PruneStats* stats)
      : history_(history), plan_(plan), stats_(stats) {
    for (const uint32_t index : plan.operations) {
      entries_.push_back({index, history.operations[index].invoke_us, true});
    }
  }

  std::unique_ptr<Partition> run() {
    index_keys();
    prune_unknown_appends();
    drop_unobservable_at_end();
    drop_unread_sets();
    return emit();
  }

 private:
  struct Entry {
    uint32_t index;     // Into History::operations.
    int64_t invoke_us;  // Effective: when it may take effect at the earliest.
    bool kept;
    uint32_t delayed_by = kNoRead;  // The read that moved invoke_us, if one did.
  };

  const Operation& op(size_t entry) const { return history_.operations[entries_[entry].index]; }
  bool is_unknown(size_t entry) const { return op(entry).outcome == Outcome::Unknown; }

  void index_keys() {
    for (size_t e = 0; e < entries_.size(); ++e) {
      for (std::string& key : keys_of(op(e))) touching_[std::move(key)].push_back(e);
    }
  }

  // Only appends and reads touch the key: its value only ever grows by appends.
  bool append_only(const std::string& key) {
    const auto [cached, added] = append_only_.try_emplace(key, true);
    if (!added) return cached->second;
    for (const size_t e : touching_.at(key)) {
      for (const StepView& step : steps_of(op(e))) {
        const Command& command = *step.command;
        if (names_key(command, key) && command.kind != CommandKind::Append && !is_read(command)) {
          cached->second = false;
        }
      }
    }
    return cached->second;
  }

  // On a key only appended to, an append that took effect shows in every later read. So an
  // unknown append took effect after every Ok operation that read the key without its suffix,
  // hence after their invokes: the search need not try it earlier. And if every other Ok
  // operation on the key returned before that, none can have observed it: it is dropped.
  void prune_unknown_appends() {
    for (size_t e = 0; e < entries_.size(); ++e) {
      const Command& command = op(e).command;
      if (!is_unknown(e) || command.kind != CommandKind::Append) continue;
      const std::string& key = command.args[0];
      const std::string& suffix = command.args[1];
      if (suffix.empty() || !append_only(key)) continue;
      int64_t earliest = entries_[e].invoke_us;
      for (const size_t other : touching_.at(key)) {
        if (read_without(other, key, suffix) && op(other).invoke_us > earliest) {
          earliest = op(other).invoke_us;
          entries_[e].delayed_by = entries_[other].index;
        }
      }
      bool visible = false;
      for (const size_t other : touching_.at(key)) {
        const Operation& seen = op(other);
        visible = visible || (seen.outcome == Outcome::Ok && *seen.return_us >= earliest &&
                              !read_without(other, key, suffix));
      }
      if (earliest > entries_[e].invoke_us) ++stats_->unknown_delayed;
      entries_[e].invoke_us = earliest;
      if (!visible) drop(e);
    }
  }

  // Whether the entry is Ok and read `key` once without `suffix` in it.
  bool read_without(size_t entry, const std::string& key, const std::string& suffix) const {
    if (op(entry).outcome != Outcome::Ok) return false;
    for (const StepView& step : steps_of(op(entry))) {
      if (!is_read(*step.command)) continue;
      for (const Reply* value : values_read(step, key)) {
        if (value->kind == Reply::Kind::Nil || value->text.find(suffix) == std::string::npos) {
          return true;
        }
      }
    }
    return false;
  }

  // An unknown operation that can take effect only after every Ok operation on its keys
  // returned is invisible to them all: never placing it is as good as any placement.
  void drop_unobservable_at_end() {
    std::map<std::string, int64_t> last_ok_return;
    for (const auto& [key, entries] : touching_) {
      int64_t last = std::numeric_limits<int64_t>::min();
      for (const size_t e : entries) {
        if (op(e).outcome == Outcome::Ok) last = std::max(last, *op(e).return_us);
      }
      last_ok_return[key] = last;
    }
    for (size_t e = 0; e < entries_.size(); ++e) {
      if (!entries_[e].kept || !is_unknown(e)) continue;
      bool visible = false;
      for (const std::string& key : keys_of(op(e))) {
        visible = visible || last_ok_return[key] >= entries_[e].invoke_us;
      }
      if (!visible) drop(e);
    }
  }

  // An unknown `set k v` no Ok operation can have observed: after its invoke, k is only set
  // (by anyone), read as something other than v, or cas-swapped from something other than v.
  // Had it taken effect, nothing could run on k until the next set, so the history without
  // it is linearizable whenever the history with it is: it need not be placed at all.
  void drop_unread_sets() {
    for (size_t e = 0; e < entries_.size(); ++e) {
      if (!entries_[e].kept || !is_unknown(e) || op(e).command.kind != CommandKind::Set) continue;
      if (set_is_unread(e)) drop(e);
    }
  }

  bool set_is_unread(size_t set) const {
    const Operation& unknown = op(set);
    const std::string& key = unknown.command.args[0];
    const std::string& value = unknown.command.args[1];
    for (const size_t e : touching_.at(key)) {
      if (e == set || !entries_[e].kept) continue;
      const Operation& other = op(e);
      if (other.return_us && *other.return_us < unknown.invoke_us) continue;  // Before it.
      for (const StepView& step : steps_of(other)) {
        if (names_key(*step.command, key) && !blind_to(step, key, value)) return false;
      }
    }
    return true;
  }

  // Whether `step` could not run on `key` while it holds `value` and is not a set.
  static bool blind_to(const StepView& step, const std::string& key, const std::string& value) {
    const Command& command = *step.command;
    if (command.kind == CommandKind::Set) return true;
    if (step.result == nullptr) return false;
    if (command.kind == CommandKind::Cas) {
      return step.result->integer == 1 && command.args[1] != value;
    }
    if (!is_read(command)) return false;
    for (const Reply* read : values_read(step, key)) {
      if (read->kind == Reply::Kind::String && read->text == value) return false;
    }
    return true;
  }

  void drop(size_t entry) {
    RAFT_ASSERT(is_unknown(entry));
    RAFT_ASSERT(entries_[entry].kept);
    entries_[entry].kept = false;
    ++stats_->unknown_inert;
  }

  std::vector<size_t> search_order() const;
  std::unique_ptr<Partition> emit();
  void compile_step(const StepView& step, Partition& partition) const;

  const History& history_;
  const PartitionPlan& plan_;
  PruneStats* stats_;
  std::vector<Entry> entries_;
  std::map<std::string, std::vector<size_t>> touching_;  // Key -> entries naming it (once).
  std::map<std::string, bool> append_only_;               // Filled by append_only().
};

// Ok operations by invoke (the search's prefix bitsets rely on it), then unknown ones by
// effective invoke.
std::vector<size_t> Compiler::search_order() const {
  std::vector<size_t> order;
  for (size_t e = 0; e < entries_.size(); ++e) {
    if (entries_[e].kept) order.push_back(e);
  }
  std::sort(order.begin(), order.end(), [this](size_t a, size_t b) {
    const auto rank = [this](size_t e) {
      const Operation& operation = op(e);
      const bool unknown = operation.outcome == Outcome::Unknown;
      return std::make_tuple(unknown, entries_[e].invoke_us,
                             operation.return_us.value_or(0), entries_[e].index);
    };
    return rank(a) < rank(b);
  });
  return order;
}

std::unique_ptr<Partition> Compiler::emit() {
  auto partition = std::make_unique<Partition>();
  partition->keys = plan_.keys;
  for (const std::string& key : plan_.keys) partition->append_only.push_back(append_only(key));
  std::map<std::string, int32_t> last_of_class;  // Canonical command -> its latest op so far.
  for (const size_t e : search_order()) {
    const Operation& operation = op(e);
    CompiledOp compiled;
    compiled.history_index = entries_[e].index;
    compiled.ok = operation.outcome == Outcome::Ok;
    compiled.txn = operation.command.kind == CommandKind::Txn;
    compiled.invoke_us = entries_[e].invoke_us;
    compiled.delayed_by = entries_[e].delayed_by;
    compiled.return_us = operation.return_us.value_or(std::numeric_limits<int64_t>::max());
    if (compiled.ok) {
      ++partition->ok_count;
    } else {
      auto [it, first] = last_of_class.try_emplace(canonical_effect(operation), -1);
      compiled.class_pred = it->second;
      it->second = static_cast<int32_t>(partition->ops.size());
    }
    compiled.steps_begin = static_cast<uint32_t>(partition->steps.size());
    for (const StepView& step : steps_of(operation)) compile_step(step, *partition);
    compiled.steps_end = static_cast<uint32_t>(partition->steps.size());
    partition->ops.push_back(compiled);
  }
  RAFT_ASSERT(partition->ok_count <= partition->ops.size());
  return partition;
}

void Compiler::compile_step(const StepView& view, Partition& partition) const {
  const Command& command = *view.command;
  const std::vector<std::string>& args = command.args;
  ValueTable& values = partition.values;
  Step step;
  step.kind = command.kind;
  step.checked = view.result != nullptr;
  step.slots_begin = static_cast<uint32_t>(partition.slots.size());
  for (const std::string& key : command_keys(command)) {
    const auto at = std::lower_bound(partition.keys.begin(), partition.keys.end(), key);
    RAFT_ASSERT(at != partition.keys.end() && *at == key);
    partition.slots.push_back(static_cast<uint32_t>(at - partition.keys.begin()));
  }
  step.slots_end = static_cast<uint32_t>(partition.slots.size());
  step.wants_begin = static_cast<uint32_t>(partition.wants.size());
  if (step.checked && is_read(command)) {
    const bool many = command.kind == CommandKind::MGet;
    for (size_t i = 0; i < args.size(); ++i) {
      const Reply& read = many ? view.result->elements[i] : *view.result;
      partition.wants.push_back(read.kind == Reply::Kind::Nil ? kMissing
                                                               : values.intern(read.text));
    }
  } else if (step.checked) {
    step.want_integer = view.result->integer;
  }
  switch (command.kind) {
    case CommandKind::Set:
    case CommandKind::Append:
    case CommandKind::CasNx: step.arg = values.intern(args[1]); break;
    case CommandKind::Cas:
      step.expected = values.intern(args[1]);
      step.arg = values.intern(args[2]);
      break;
    case CommandKind::Incr: step.delta = 1; break;
    case CommandKind::IncrBy: step.delta = kv::parse_redis_int64(args[1]).value(); break;
    default: break;
  }
  partition.steps.push_back(step);
}

}  // namespace

std::vector<PartitionPlan> plan_partitions(const History& history, PlanStats* stats) {
  KeyGroups groups;
  std::map<std::string, uint32_t> key_ids;
  const auto id_of = [&](const std::string& key) {
    auto [it, added] = key_ids.try_emplace(key, 0);
    if (added) it->second = groups.add();
    return it->second;
  };
  std::vector<std::pair<uint32_t, uint32_t>> kept;  // (history index, one of its keys)
  for (size_t i = 0; i < history.operations.size(); ++i) {
    const Operation& op = history.operations[i];
    if (op.outcome == Outcome::Fail) {
      ++stats->fail_dropped;
      continue;
    }
    if (op.outcome == Outcome::Unknown && steps_of(op).empty()) {
      ++stats->unknown_reads_dropped;
      continue;
    }
    const std::vector<std::string> keys = keys_of(op);
    const uint32_t first = id_of(keys[0]);
    for (const std::string& key : keys) groups.join(id_of(key), first);
    kept.emplace_back(static_cast<uint32_t>(i), first);
  }
  std::vector<PartitionPlan> plans;
  std::map<uint32_t, size_t> plan_of_group;
  for (const auto& [key, id] : key_ids) {  // In key order: plans sorted by their first key.
    auto [it, added] = plan_of_group.try_emplace(groups.find(id), plans.size());
    if (added) plans.emplace_back();
    plans[it->second].keys.push_back(key);
  }
  for (const auto& [index, key] : kept) {
    plans[plan_of_group.at(groups.find(key))].operations.push_back(index);
  }
  return plans;
}

std::unique_ptr<Partition> compile_partition(const History& history, const PartitionPlan& plan,
                                             PruneStats* stats) {
  RAFT_ASSERT(!plan.keys.empty());
  RAFT_ASSERT(!plan.operations.empty());
  return Compiler(history, plan, stats).run();
}

}  // namespace raftkv::lincheck::detail
