// The consensus core alone: entries committed per second in a 3-node in-memory cluster driven
// through Ready/advance, 100-byte entries. It shows the core is never the server's bottleneck
// (the target is >= 1,000,000 entries/s on one core). Run:
//   build/release/bench/raft_core_bench --benchmark_counters_tabular=true

#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/logger.h"
#include "common/prng.h"
#include "raft/memory_storage.h"
#include "raft/raft.h"

namespace raftkv::raft {
namespace {

struct BenchNode {
  BenchNode(const Config& config, uint64_t seed)
      : prng(seed), raft(config, storage, prng, logger) {}
  MemoryStorage storage;
  Prng prng;
  NullLogger logger;
  Raft raft;
  uint64_t applied_entries = 0;
};

class BenchCluster {
 public:
  BenchCluster() {
    Config base;
    base.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
    for (uint64_t id = 1; id <= 3; ++id) {
      Config config = base;
      config.id = NodeId{id};
      nodes_.emplace(NodeId{id}, std::make_unique<BenchNode>(config, id));
    }
  }

  Raft& raft(uint64_t id) { return nodes_.at(NodeId{id})->raft; }

  // Persists, sends and applies every Ready; delivers messages until the cluster is quiet.
  void run_until_quiet() {
    for (int round = 0; round < 1000; ++round) {
      for (auto& [id, node] : nodes_) drain(*node);
      if (outbox_.empty()) return;
      std::vector<Message> batch;
      batch.swap(outbox_);
      for (const Message& message : batch) {
        if (!raft(message.to.value()).step(message).is_ok()) std::abort();
      }
    }
  }

  void elect_1() {
    for (int tick = 0; tick < 100 && raft(1).role() != Role::Leader; ++tick) {
      raft(1).tick();
      run_until_quiet();
    }
    if (raft(1).role() != Role::Leader) std::abort();
  }

 private:
  void drain(BenchNode& node) {
    while (node.raft.has_ready()) {
      Ready ready = node.raft.ready();
      if (!node.storage.append(ready.entries).is_ok()) std::abort();
      if (ready.hard_state) node.storage.set_hard_state(*ready.hard_state);
      for (Message& message : ready.messages) outbox_.push_back(std::move(message));
      node.applied_entries += ready.committed_entries.size();
      node.raft.advance(ready);
      compact_now_and_then(node);
    }
  }

  // Keeps memory flat over millions of entries, as a real node's snapshots would.
  static void compact_now_and_then(BenchNode& node) {
    const Index applied = node.raft.log().applied();
    if (applied - node.storage.snapshot().value().meta.index < 200'000) return;
    // Keep a tail for followers that are behind; in this benchmark none is.
    const Index upto = applied - 10'000;
    if (!node.storage.create_snapshot(upto, node.raft.status().conf_state, {}).is_ok() ||
        !node.storage.compact(upto).is_ok()) {
      std::abort();
    }
  }

  std::map<NodeId, std::unique_ptr<BenchNode>> nodes_;
  std::vector<Message> outbox_;
};

void BM_CommitEntries(benchmark::State& state) {
  const auto batch = static_cast<int>(state.range(0));
  BenchCluster cluster;
  cluster.elect_1();
  const std::string payload(100, 'v');
  Raft& leader = cluster.raft(1);
  int64_t committed = 0;
  for (auto _ : state) {
    const Index before = leader.log().committed();
    for (int k = 0; k < batch; ++k) {
      if (!leader.propose(payload).is_ok()) std::abort();
    }
    cluster.run_until_quiet();
    committed += static_cast<int64_t>(leader.log().committed() - before);
  }
  if (committed != batch * static_cast<int64_t>(state.iterations())) {
    state.SkipWithError("not every proposal committed");
  }
  state.SetItemsProcessed(committed);
  state.counters["entries_per_second"] =
      benchmark::Counter(static_cast<double>(committed), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_CommitEntries)->Arg(1)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace raftkv::raft

BENCHMARK_MAIN();
