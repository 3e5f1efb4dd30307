#include "chaos.h"

#include <signal.h>

#include <thread>

namespace raftkv::bank {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kProgressPoll{10};
constexpr milliseconds kStopWait{2000};

}  // namespace

LeaderKiller::LeaderKiller(tools::LocalCluster& cluster, ChaosOptions options, int transfers,
                           const std::atomic<int>& progress)
    : cluster_(cluster), options_(options), transfers_(transfers), progress_(progress) {
  RAFT_ASSERT(options.kills >= 0 && options.kills <= 20);
  RAFT_ASSERT(transfers >= 1);
}

void LeaderKiller::run(const std::atomic<bool>& finished) {
  for (int k = 1; k <= options_.kills && error_.empty(); ++k) {
    const int due = transfers_ * k / (options_.kills + 1);
    while (!finished && progress_.load() < due) std::this_thread::sleep_for(kProgressPoll);
    if (finished) return;  // The run ended before this point (it hit its time bound).
    kill_leader(progress_.load());
  }
}

// The kill is SIGKILL: no clean shutdown, whatever the node had in flight is cut off.
void LeaderKiller::kill_leader(int after_transfer) {
  Result<client::RaftInfo> leader = cluster_.wait_for_leader(options_.wait);
  if (!leader.is_ok()) {
    events_.push_back("no leader to kill after transfer " + std::to_string(after_transfer) +
                      ": " + leader.status().message());
    return;
  }
  const int id = static_cast<int>(leader.value().node_id);
  RAFT_ASSERT(id >= 1 && id <= cluster_.layout().nodes);
  if (Status stopped = cluster_.stop_node(id, SIGKILL, kStopWait); !stopped.is_ok()) {
    error_ = "kill -9 of node " + std::to_string(id) + " failed: " + stopped.message();
    return;
  }
  ++kills_done_;
  events_.push_back("kill -9 node " + std::to_string(id) + " (leader, term " +
                    std::to_string(leader.value().term) + ") after transfer " +
                    std::to_string(after_transfer));
  std::this_thread::sleep_for(options_.down);
  Status started = cluster_.start_node(id, /*detach=*/false);
  if (started.is_ok()) started = cluster_.wait_up(id, options_.wait);
  if (!started.is_ok()) {
    error_ = "restarting node " + std::to_string(id) + " failed: " + started.message();
    return;
  }
  events_.push_back("restarted node " + std::to_string(id));
}

Result<FaultyRun> run_with_faults(tools::LocalCluster& cluster, BankOptions bank,
                                  const FaultOptions& faults, const ChaosOptions& chaos) {
  const std::vector<client::Endpoint> servers = cluster.layout().client_endpoints();
  if (bank.audit_endpoints.empty()) bank.audit_endpoints = servers;
  Result<std::unique_ptr<FaultProxy>> proxy = FaultProxy::start(servers, faults);
  if (!proxy.is_ok()) return proxy.status();
  bank.endpoints = proxy.value()->endpoints();
  std::atomic<int> progress{0};
  bank.progress = &progress;
  if (Status created = setup_accounts(bank); !created.is_ok()) return created;

  // The transfers on a helper thread (a client only), the crashes here (see LeaderKiller).
  TransferLog log;
  std::atomic<bool> finished{false};
  std::thread transfers([&bank, &log, &finished] {
    log = run_transfers(bank);
    finished = true;
  });
  LeaderKiller killer(cluster, chaos, bank.transfers, progress);
  killer.run(finished);
  transfers.join();  // Every killed node is back by now, before the audit.
  proxy.value()->stop();
  if (!killer.error().empty()) return Status(ErrorCode::Unavailable, killer.error());

  Result<Audit> audited = audit(bank, log);
  if (!audited.is_ok()) return audited.status();
  FaultyRun run;
  run.report = {bank.semantics, log.tally, audited.value(), log.elapsed};
  run.proxy = proxy.value()->stats();
  run.events = killer.events();
  return run;
}

}  // namespace raftkv::bank
