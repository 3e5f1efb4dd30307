#include "check/lincheck.h"

#include <algorithm>
#include <cstdio>

#include "check/partition.h"
#include "check/report.h"
#include "check/search.h"

namespace raftkv::lincheck {
namespace {

using Clock = std::chrono::steady_clock;

std::string budget_reason(detail::SearchOutcome outcome, const Options& options) {
  switch (outcome) {
    case detail::SearchOutcome::OutOfTime:
      return "time budget (" + std::to_string(options.time_budget.count()) + " ms) spent";
    case detail::SearchOutcome::OutOfSteps:
      return "step budget (" + std::to_string(options.steps_max) + " steps) spent";
    case detail::SearchOutcome::OutOfMemory:
      return "memory budget (" + std::to_string(options.memory_bytes_max >> 20) + " MiB) spent";
    case detail::SearchOutcome::Linearizable:
    case detail::SearchOutcome::Violation: break;
  }
  RAFT_ASSERT(false);
  return "";
}

Status validate_history(const History& history) {
  for (const Operation& op : history.operations) {
    Status status = validate_operation(op);
    if (!status.is_ok()) {
      return Status(ErrorCode::InvalidArgument,
                    "operation #" + std::to_string(op.id) + ": " + status.message());
    }
  }
  return Status::ok();
}

// Searches one partition and files the outcome into `verdict`.
void check_partition(const History& history, const detail::PartitionPlan& plan,
                     const Options& options, Clock::time_point deadline, Verdict& verdict) {
  Stats& stats = verdict.stats;
  detail::PruneStats prune;
  std::unique_ptr<detail::Partition> partition = detail::compile_partition(history, plan, &prune);
  stats.unknown_inert += prune.unknown_inert;
  stats.unknown_delayed += prune.unknown_delayed;
  stats.operations_searched += partition->ops.size();
  stats.unknown_searched += partition->ops.size() - partition->ok_count;
  stats.largest_partition = std::max(stats.largest_partition, partition->ops.size());
  const detail::SearchLimits limits{deadline, options.steps_max, options.memory_bytes_max};
  const detail::SearchResult result = detail::search(*partition, limits);
  stats.steps += result.steps;
  stats.memory_bytes_peak = std::max(stats.memory_bytes_peak, result.memory_bytes);
  switch (result.outcome) {
    case detail::SearchOutcome::Linearizable: return;
    case detail::SearchOutcome::Violation:
      verdict.violations.push_back(
          detail::explain_violation(history, *partition, result, options));
      return;
    case detail::SearchOutcome::OutOfTime:
    case detail::SearchOutcome::OutOfSteps:
    case detail::SearchOutcome::OutOfMemory:
      verdict.undecided.push_back({plan.keys, budget_reason(result.outcome, options)});
      return;
  }
}

}  // namespace

Result<Verdict> check(const History& history, const Options& options) {
  const Clock::time_point start = Clock::now();
  Status valid = validate_history(history);
  if (!valid.is_ok()) return valid;
  Verdict verdict;
  Stats& stats = verdict.stats;
  stats.operations = history.operations.size();
  detail::PlanStats plan_stats;
  const std::vector<detail::PartitionPlan> plans = detail::plan_partitions(history, &plan_stats);
  stats.fail_dropped = plan_stats.fail_dropped;
  stats.unknown_reads_dropped = plan_stats.unknown_reads_dropped;
  stats.partitions = plans.size();
  const Clock::time_point deadline = start + options.time_budget;
  for (const detail::PartitionPlan& plan : plans) {
    // Partitions are independent: one that runs out of budget leaves the others decided.
    check_partition(history, plan, options, deadline, verdict);
  }
  if (!verdict.violations.empty()) {
    verdict.kind = VerdictKind::Violation;
  } else if (!verdict.undecided.empty()) {
    verdict.kind = VerdictKind::Undecided;
  } else {
    verdict.kind = VerdictKind::Linearizable;
  }
  stats.elapsed_us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
  return verdict;
}

const char* verdict_name(VerdictKind kind) {
  switch (kind) {
    case VerdictKind::Linearizable: return "LINEARIZABLE";
    case VerdictKind::Violation: return "NOT LINEARIZABLE";
    case VerdictKind::Undecided: return "UNDECIDED";
  }
  RAFT_ASSERT(false);
  return "";
}

std::string format_verdict(const Verdict& verdict) {
  const Stats& s = verdict.stats;
  char line[512];
  std::string out;
  std::snprintf(line, sizeof line,
                "operations: %zu (dropped: %zu fail, %zu unknown reads, %zu unknown writes "
                "nobody could observe)\n",
                s.operations, s.fail_dropped, s.unknown_reads_dropped, s.unknown_inert);
  out += line;
  std::snprintf(line, sizeof line,
                "searched: %zu operations (%zu unknown, %zu of them delayed) in %zu "
                "partitions, largest %zu\n",
                s.operations_searched, s.unknown_searched, s.unknown_delayed, s.partitions,
                s.largest_partition);
  out += line;
  std::snprintf(line, sizeof line, "time: %.3f s, %llu search steps, peak memory %.1f MiB\n",
                static_cast<double>(s.elapsed_us) / 1e6, static_cast<unsigned long long>(s.steps),
                static_cast<double>(s.memory_bytes_peak) / (1 << 20));
  out += line;
  out += std::string("verdict: ") + verdict_name(verdict.kind) + "\n";
  for (const PartitionViolation& violation : verdict.violations) out += "\n" + violation.report;
  for (const UndecidedPartition& undecided : verdict.undecided) {
    out += "\nundecided: " + std::to_string(undecided.keys.size()) + " key(s) starting " +
           quote(undecided.keys.front()) + ": " + undecided.reason + "\n";
  }
  return out;
}

}  // namespace raftkv::lincheck
