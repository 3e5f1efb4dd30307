// raftkv-bench: one load generator for raftkv-server and etcd. See README.md and --help.

#include <signal.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "options.h"
#include "raftkv_driver.h"
#include "report.h"
#include "run.h"
#ifdef RAFTKV_ETCD_BENCH
#include "etcd_driver.h"
#endif

namespace raftkv::bench {
namespace {

void on_signal(int) { request_interrupt(); }

Result<std::unique_ptr<PhaseThreads>> make_phase(const BenchOptions& options,
                                                 const WorkloadSpec& spec, RunControl& control,
                                                 std::vector<ThreadStats>& stats) {
  if (options.target == Target::Raftkv) return make_raftkv_phase(options, spec, control, stats);
#ifdef RAFTKV_ETCD_BENCH
  return make_etcd_phase(options, spec, control, stats);
#else
  return Status(ErrorCode::InvalidArgument,
                "built without etcd support; reconfigure with -DRAFTKV_ETCD_BENCH=ON");
#endif
}

// Runs one phase; an error only if the phase could not be set up.
Result<PhaseResult> run(const BenchOptions& options, const PhasePlan& plan,
                        const WorkloadSpec& spec, const ProgressOptions& progress) {
  RunControl control(plan);
  std::vector<ThreadStats> stats(options.threads);
  Result<std::unique_ptr<PhaseThreads>> threads = make_phase(options, spec, control, stats);
  if (!threads.is_ok()) return threads.status();
  return run_phase(*threads.value(), options.threads, control, stats, progress);
}

WorkloadSpec workload_spec(const BenchOptions& options, bool prefill_phase) {
  return {.read_ratio = prefill_phase ? 0.0 : options.read_ratio,
          .keyspace = options.keyspace,
          .prefill = options.prefill,
          .prefill_phase = prefill_phase,
          .clients = options.clients,
          .seed = options.seed};
}

// Writes keys [0, prefill) with every client, closed loop, nothing measured. Non-zero exit code
// if not every key was written.
int prefill(const BenchOptions& options) {
  const PhasePlan plan{.warmup_s = 0, .duration_s = 0, .ops_max = options.prefill};
  const ProgressOptions progress{.quiet = options.quiet, .phase = "prefill",
                                 .ops_total = options.prefill};
  Result<PhaseResult> result = run(options, plan, workload_spec(options, true), progress);
  if (!result.is_ok()) {
    std::fprintf(stderr, "raftkv-bench: %s\n", result.status().message().c_str());
    return kExitUsage;
  }
  const PhaseResult& r = result.value();
  if (r.counters.ops + r.counters.errors < options.prefill) {
    std::fprintf(stderr, "raftkv-bench: prefill stopped after %llu of %llu keys%s%s\n",
                 static_cast<unsigned long long>(r.counters.ops),
                 static_cast<unsigned long long>(options.prefill),
                 r.last_failure.empty() ? "" : "; last connection failure: ",
                 r.last_failure.c_str());
    return kExitNoOps;
  }
  std::fprintf(stderr, "raftkv-bench: prefilled %llu keys in %.2f s (%llu errors%s%s)\n",
               static_cast<unsigned long long>(r.counters.ops),
               static_cast<double>(r.measured_ns) / 1e9,
               static_cast<unsigned long long>(r.counters.errors),
               r.first_error.empty() ? "" : "; first: ", r.first_error.c_str());
  return kExitOk;
}

int bench(const BenchOptions& options) {
  if (options.prefill > 0) {
    if (const int code = prefill(options); code != kExitOk) return code;
  }
  const PhasePlan plan{.warmup_s = options.warmup_s, .duration_s = options.duration_s,
                       .ops_max = options.ops_max};
  const ProgressOptions progress{.quiet = options.quiet};
  Result<PhaseResult> result = run(options, plan, workload_spec(options, false), progress);
  if (!result.is_ok()) {
    std::fprintf(stderr, "raftkv-bench: %s\n", result.status().message().c_str());
    return kExitUsage;
  }
  const PhaseResult& r = result.value();
  std::fputs(human_summary(options, r).c_str(), stderr);
  if (options.json) {
    std::printf("%s\n", json_line(options, r).c_str());
    std::fflush(stdout);
  }
  if (r.stalled) {
    std::fprintf(stderr, "raftkv-bench: gave up: nothing acknowledged for %lld s\n",
                 static_cast<long long>(kStallNs / 1'000'000'000));
  }
  if (r.counters.ops == 0) {
    std::fprintf(stderr, "raftkv-bench: no op completed\n");
    return kExitNoOps;
  }
  return kExitOk;
}

}  // namespace
}  // namespace raftkv::bench

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGINT, raftkv::bench::on_signal);
  ::signal(SIGTERM, raftkv::bench::on_signal);
  const raftkv::bench::ParsedOptions parsed = raftkv::bench::parse_options(argc, argv);
  if (!parsed.run) return parsed.exit_code;
#ifndef RAFTKV_ETCD_BENCH
  if (parsed.options.target == raftkv::bench::Target::Etcd) {
    std::fprintf(stderr,
                 "raftkv-bench: built without etcd support; reconfigure with "
                 "-DRAFTKV_ETCD_BENCH=ON\n");
    return raftkv::bench::kExitUsage;
  }
#endif
  return raftkv::bench::bench(parsed.options);
}
