// Exactly-once appends: each append's suffix counted in its key's final value.
#include <map>
#include <set>

#include "check/lincheck.h"

namespace raftkv::lincheck {
namespace {

struct AppendRef {
  size_t operation;  // History index.
  const std::string* suffix;
};

size_t count_occurrences(const std::string& text, const std::string& part) {
  RAFT_ASSERT(!part.empty());
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; ++count) {
    at = text.find(part, at + part.size());
  }
  return count;
}

bool allowed(Outcome outcome, size_t occurrences) {
  switch (outcome) {
    case Outcome::Ok: return occurrences == 1;
    case Outcome::Fail: return occurrences == 0;
    case Outcome::Unknown: return occurrences <= 1;
  }
  RAFT_ASSERT(false);
  return false;
}

// Why `appends` on one key cannot be checked, or "" when they can.
std::string unusable(const std::vector<AppendRef>& appends, bool other_writes, bool has_final) {
  if (!has_final) return "no final value";
  if (other_writes) return "written by commands other than append";
  std::set<std::string> seen;
  for (const AppendRef& append : appends) {
    if (append.suffix->empty()) return "an append of an empty string";
    if (!seen.insert(*append.suffix).second) {
      return "suffix " + quote(*append.suffix) + " appended twice";
    }
  }
  return "";
}

}  // namespace

AppendsVerdict check_appends_exactly_once(const History& history,
                                          const FinalValues& final_values) {
  std::map<std::string, std::vector<AppendRef>> appends;  // By key, in history order.
  std::set<std::string> other_writes;  // Keys that a set, del, incr or cas may have changed.
  for (size_t i = 0; i < history.operations.size(); ++i) {
    const Operation& op = history.operations[i];
    RAFT_ASSERT(validate_operation(op).is_ok());  // As check() and the reader ensure.
    const auto visit = [&](const Command& step) {
      if (step.kind == CommandKind::Append) {
        appends[step.args[0]].push_back({i, &step.args[1]});
      } else if (!is_read_only(step) && op.outcome != Outcome::Fail) {
        for (std::string& key : command_keys(step)) other_writes.insert(std::move(key));
      }
    };
    if (op.command.kind != CommandKind::Txn) visit(op.command);
    for (const Command& step : op.command.steps) visit(step);
  }
  AppendsVerdict verdict;
  for (const auto& [key, refs] : appends) {
    const auto final_value = final_values.find(key);
    const std::string reason =
        unusable(refs, other_writes.contains(key), final_value != final_values.end());
    if (!reason.empty()) {
      verdict.skipped.emplace_back(key, reason);
      continue;
    }
    const std::string text = final_value->second.value_or("");
    for (const AppendRef& append : refs) {
      ++verdict.appends_checked;
      const size_t occurrences = count_occurrences(text, *append.suffix);
      if (!allowed(history.operations[append.operation].outcome, occurrences)) {
        verdict.offences.push_back({append.operation, key, occurrences});
      }
    }
  }
  return verdict;
}

std::string format_appends(const AppendsVerdict& verdict, const History& history) {
  std::string out = std::to_string(verdict.appends_checked) + " appends checked, " +
                    std::to_string(verdict.offences.size()) + " offence(s)\n";
  for (const AppendOffence& offence : verdict.offences) {
    const Operation& op = history.operations[offence.operation];
    out += "  " + format_operation(op) + ": " + outcome_name(op.outcome) + " append found " +
           std::to_string(offence.occurrences) + " time(s) in the final value of " +
           quote(offence.key) + "\n";
  }
  for (const auto& [key, reason] : verdict.skipped) {
    out += "  not checked: " + quote(key) + ": " + reason + "\n";
  }
  return out;
}

}  // namespace raftkv::lincheck
