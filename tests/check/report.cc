#include "check/report.h"

#include <algorithm>
#include <set>
#include <string>

namespace raftkv::lincheck::detail {
namespace {

std::string format_keys(const std::vector<std::string>& keys, size_t count_max) {
  std::string out = "{";
  for (size_t i = 0; i < keys.size() && i < count_max; ++i) {
    out += (i > 0 ? ", " : "") + quote(keys[i]);
  }
  if (keys.size() > count_max) out += ", ... " + std::to_string(keys.size()) + " keys";
  return out + "}";
}

// Where a value the model holds and one a read returned first differ, with some bytes of
// each around that point: long values grown by appends are cut in the middle when printed,
// which hides exactly the spot a person needs.
std::string first_difference(const std::string& model, const std::string& read) {
  constexpr size_t kBefore = 16;
  constexpr size_t kShown = 40;
  size_t at = 0;
  while (at < model.size() && at < read.size() && model[at] == read[at]) ++at;
  const size_t from = at > kBefore ? at - kBefore : 0;
  const auto around = [&](const std::string& text) {
    std::string shown = from > 0 ? "..." : "";
    shown += quote(text.substr(from, kShown), kShown);
    return shown + (from + kShown < text.size() ? "..." : "");
  };
  return "first differs at byte " + std::to_string(at) + ": model " + around(model) +
         ", read " + around(read);
}

bool touches(const Operation& op, const std::set<std::string>& keys) {
  for (const std::string& key : command_keys(op.command)) {
    if (keys.contains(key)) return true;
  }
  return false;
}

class Explainer {
 public:
  Explainer(const History& history, Partition& partition, const Options& options)
      : history_(history), partition_(partition), options_(options), model_(partition) {}

  PartitionViolation run(const std::vector<uint32_t>& prefix) {
    PartitionViolation violation;
    violation.keys = partition_.keys;
    violation.ok_operations = partition_.ok_count;
    for (const uint32_t op : prefix) {
      const bool fits = model_.apply(partition_.ops[op]);
      RAFT_ASSERT(fits);  // The search placed it exactly here.
      violation.longest_prefix.push_back(partition_.ops[op].history_index);
      if (partition_.ops[op].ok) ++violation.longest_prefix_ok;
    }
    const std::vector<uint32_t> candidates = next_candidates(partition_, prefix);
    RAFT_ASSERT(!candidates.empty());  // At least the unplaced Ok op returning first.
    for (const uint32_t op : candidates) {
      violation.stuck.push_back(partition_.ops[op].history_index);
    }
    std::string& out = violation.report;
    out = "keys " + format_keys(partition_.keys, options_.report_ops_max) +
          ": NOT LINEARIZABLE (" + std::to_string(partition_.ok_count) + " ok and " +
          std::to_string(partition_.ops.size() - partition_.ok_count) +
          " unknown operations searched)\n";
    out += "  The longest linearizable prefix places " +
           std::to_string(violation.longest_prefix_ok) + " of the " +
           std::to_string(partition_.ok_count) + " ok operations (and " +
           std::to_string(prefix.size() - violation.longest_prefix_ok) + " unknown ones).\n";
    describe_state(violation.longest_prefix, candidates, out);
    describe_candidates(prefix, candidates, out);
    return violation;
  }

 private:
  // The keys the stuck Ok operations name, their values after the prefix, and the prefix's
  // last operations on them: where the state the candidates disagree with came from.
  void describe_state(const std::vector<size_t>& prefix, const std::vector<uint32_t>& candidates,
                      std::string& out) const {
    std::set<std::string> keys;
    for (const uint32_t op : candidates) {
      if (!partition_.ops[op].ok) continue;
      for (std::string& key : command_keys(history_.operations[partition_.ops[op].history_index]
                                               .command)) {
        keys.insert(std::move(key));
      }
    }
    out += "  After it:\n";
    for (const std::string& key : keys) {
      const auto slot = std::lower_bound(partition_.keys.begin(), partition_.keys.end(), key) -
                        partition_.keys.begin();
      out += "    " + quote(key) + " = " + model_.show(model_.state()[static_cast<size_t>(slot)]) +
             "\n";
    }
    std::vector<size_t> last;
    for (auto it = prefix.rbegin(); it != prefix.rend(); ++it) {
      if (last.size() == options_.report_ops_max) break;
      if (touches(history_.operations[*it], keys)) last.push_back(*it);
    }
    if (last.empty()) {
      out += "  No operation of the prefix touches these keys.\n";
      return;
    }
    out += "  The prefix's last " + std::to_string(last.size()) +
           " operation(s) on these keys, in linearization order:\n";
    for (auto it = last.rbegin(); it != last.rend(); ++it) {
      out += "    " + format_operation(history_.operations[*it]) + "\n";
    }
  }

  // Each operation that could come next, and why it cannot.
  void describe_candidates(const std::vector<uint32_t>& prefix,
                           const std::vector<uint32_t>& candidates, std::string& out) {
    const CompiledOp* due = nullptr;  // The unplaced Ok operation that returned first.
    for (const uint32_t op : candidates) {
      const CompiledOp& compiled = partition_.ops[op];
      if (compiled.ok && (due == nullptr || compiled.return_us < due->return_us)) due = &compiled;
    }
    RAFT_ASSERT(due != nullptr);
    out += "  Then #" + std::to_string(history_.operations[due->history_index].id) +
           " must take effect by its return at " + std::to_string(due->return_us) +
           ", so one of these comes next; none can:\n";
    size_t unknown_seen = 0;
    for (const uint32_t op : candidates) {
      const CompiledOp& compiled = partition_.ops[op];
      if (!compiled.ok && ++unknown_seen > options_.report_ops_max) continue;
      out += "    " + format_operation(history_.operations[compiled.history_index]) + "\n";
      out += "        " + why_not(op) + "\n";
    }
    if (unknown_seen > options_.report_ops_max) {
      out += "    ... and " + std::to_string(unknown_seen - options_.report_ops_max) +
             " more unknown operations\n";
    }
    describe_delayed(prefix, candidates, due->return_us, out);
  }

  // Unknown appends invoked in time to come next but not tried, because an Ok read lacked
  // their suffix (so they can only have taken effect after it). When that read is itself
  // wrong, this is where the report points at it.
  void describe_delayed(const std::vector<uint32_t>& prefix,
                        const std::vector<uint32_t>& candidates, int64_t due_us,
                        std::string& out) const {
    std::vector<uint32_t> delayed;
    for (uint32_t op = partition_.ok_count; op < partition_.ops.size(); ++op) {
      const CompiledOp& compiled = partition_.ops[op];
      const Operation& original = history_.operations[compiled.history_index];
      const auto seen = [op](const std::vector<uint32_t>& ops) {
        return std::find(ops.begin(), ops.end(), op) != ops.end();
      };
      if (compiled.delayed_by != kNoRead && !seen(prefix) && !seen(candidates) &&
          original.invoke_us <= due_us) {
        delayed.push_back(op);
      }
    }
    if (delayed.empty()) return;
    // The reads closest to the stuck point first: the most likely to be the wrong one.
    const auto read_at = [this](uint32_t op) {
      return history_.operations[partition_.ops[op].delayed_by].invoke_us;
    };
    std::sort(delayed.begin(), delayed.end(),
              [&](uint32_t a, uint32_t b) { return read_at(a) < read_at(b); });
    constexpr size_t kListed = 3;
    out += "  Not tried there: unknown appends that a later ok read did not show:\n";
    for (size_t i = 0; i < delayed.size() && i < kListed; ++i) {
      const CompiledOp& compiled = partition_.ops[delayed[i]];
      out += "    " + format_operation(history_.operations[compiled.history_index]) + "\n";
      out += "        not in " + format_operation(history_.operations[compiled.delayed_by]) +
             "\n";
    }
    if (delayed.size() > kListed) {
      out += "    ... and " + std::to_string(delayed.size() - kListed) + " more\n";
    }
  }

  std::string why_not(uint32_t op) {
    const size_t mark = model_.undo_mark();
    std::string shown;
    const bool fits = model_.apply(partition_.ops[op], &shown);
    model_.undo_to(mark);
    if (!fits) return "the model answers " + shown + " here" + read_differences(op);
    if (partition_.ops[op].ok) return "fits here (answer " + shown + "), but nothing fits after it";
    return "may take effect here, but nothing fits after it either";
  }

  // For a plain get or mget: where each value it read differs from the model's.
  std::string read_differences(uint32_t op) const {
    const CompiledOp& compiled = partition_.ops[op];
    const Step& step = partition_.steps[compiled.steps_begin];
    const bool plain_read = step.kind == CommandKind::Get || step.kind == CommandKind::MGet;
    if (compiled.steps_end - compiled.steps_begin != 1 || !plain_read || !step.checked) return "";
    std::string out;
    for (uint32_t at = step.slots_begin; at < step.slots_end; ++at) {
      const uint32_t slot = partition_.slots[at];
      const ValueId held = model_.state()[slot];
      const ValueId read = partition_.wants[step.wants_begin + (at - step.slots_begin)];
      if (held == read || held == kMissing || read == kMissing) continue;
      out += "\n        " + quote(partition_.keys[slot]) + " " +
             first_difference(partition_.values.text(held), partition_.values.text(read));
    }
    return out;
  }

  const History& history_;
  Partition& partition_;
  const Options& options_;
  Model model_;
};

}  // namespace

PartitionViolation explain_violation(const History& history, Partition& partition,
                                     const SearchResult& result, const Options& options) {
  RAFT_ASSERT(result.outcome == SearchOutcome::Violation);
  return Explainer(history, partition, options).run(result.longest_prefix);
}

}  // namespace raftkv::lincheck::detail
