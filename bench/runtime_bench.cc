// The replica's own cost, without a disk or network to wait for: entries committed per second
// by three real runtimes (runtime::Node: the core, DiskStorage, the state machine, the Ready
// loop raftkv-server runs) driven by the simulator in one thread, over its in-memory disk and
// network with zero latency, 100-byte entries. It shows what the code costs per entry (CPU
// only) next to the fsync and the network that bound a real cluster. Run:
//   build/release/bench/runtime_bench --benchmark_counters_tabular=true

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "sim/run.h"
#include "sim/scenario_util.h"
#include "sim/simulator.h"

namespace raftkv::sim {
namespace {

void BM_CommitEntries(benchmark::State& state) {
  const auto batch = static_cast<int>(state.range(0));
  Run run("runtime_bench", 1);
  SimOptions options = default_options(3);
  options.network.delay_us_min = 0;
  options.network.delay_us_max = 0;
  // Memory stays flat over millions of entries, as with a real node's snapshots.
  options.snapshot_every_entries = 100'000;
  options.snapshot_keep_entries = 1'000;
  options.segment_bytes = 4u << 20;
  Simulator sim(run, options);
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * kE);
  if (!leader) return state.SkipWithError("no leader");
  int64_t committed = 0;
  for (auto _ : state) {
    std::string last;
    for (int k = 0; k < batch; ++k) {
      if (!sim.propose(*leader, &last).is_ok()) return state.SkipWithError("proposal refused");
    }
    if (!sim.run_until([&] { return sim.applied_everywhere(last); }, 100 * kE)) {
      return state.SkipWithError("not every proposal committed");
    }
    committed += batch;
  }
  if (run.failed()) return state.SkipWithError(run.failure().c_str());
  state.SetItemsProcessed(committed);
  state.counters["entries_per_second"] =
      benchmark::Counter(static_cast<double>(committed), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_CommitEntries)->Arg(1)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace raftkv::sim

BENCHMARK_MAIN();
