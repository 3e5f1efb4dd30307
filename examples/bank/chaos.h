#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "bank.h"
#include "fault_proxy.h"
#include "local_cluster.h"

// Crashes for the bank run: kill -9 of the current leader at evenly spaced points of the run's
// progress, and a restart of the same node after a pause. Plus run_with_faults(), which puts a
// whole run together (proxy, crashes, transfers, audit) for the bank program and its process
// test alike.

namespace raftkv::bank {

struct ChaosOptions {
  int kills = 3;                          // Leader crashes per run, [0, 20].
  std::chrono::milliseconds down{800};    // Time a killed node stays down.
  std::chrono::milliseconds wait{15'000};  // Bound on waiting for a leader or a restart.
};

// Runs on the calling thread while the transfers run on another. It must be a thread that
// outlives the cluster: a node started by a thread gets SIGTERM when that thread ends
// (PR_SET_PDEATHSIG, tools/raftkv/process.cc), so restarts are not done from a helper thread.
// While it runs, only it touches the cluster. Events are kept as text lines ("kill -9 node 2
// (leader, term 3) after transfer 40") for the caller to print.
class LeaderKiller {
 public:
  // Kills when `progress` reaches transfers*k/(kills+1), k = 1..kills.
  LeaderKiller(tools::LocalCluster& cluster, ChaosOptions options, int transfers,
               const std::atomic<int>& progress);

  // Returns once every kill is done and its node restarted, or once `finished` is set and no
  // restart is pending (the kills not yet due are skipped).
  void run(const std::atomic<bool>& finished);
  // What happened, and "" or why a kill or restart failed.
  [[nodiscard]] const std::vector<std::string>& events() const { return events_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] int kills_done() const { return kills_done_; }

 private:
  void kill_leader(int after_transfer);

  tools::LocalCluster& cluster_;
  const ChaosOptions options_;
  const int transfers_;
  const std::atomic<int>& progress_;
  std::vector<std::string> events_;
  std::string error_;
  int kills_done_ = 0;
};

struct FaultyRun {
  BankReport report;
  ProxyStats proxy;
  std::vector<std::string> events;
};

// Proxy in front of the cluster's nodes, accounts, transfers with the leader killed now and
// then, every node back up, audit. `bank.endpoints` and `bank.progress` are filled in here;
// `bank.audit_endpoints` defaults to the cluster's nodes.
[[nodiscard]] Result<FaultyRun> run_with_faults(tools::LocalCluster& cluster, BankOptions bank,
                                                const FaultOptions& faults,
                                                const ChaosOptions& chaos);

}  // namespace raftkv::bank
