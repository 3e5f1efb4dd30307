#include "partition.h"

#include <signal.h>
#include <unistd.h>

#include <thread>

#include "process.h"

namespace raftkv::tools {
namespace {

constexpr const char* kIptables = "/usr/sbin/iptables";

Status iptables(const std::vector<std::string>& args) {
  std::vector<std::string> with_wait = {"-w", "5"};  // Waits for the xtables lock, not fails.
  with_wait.insert(with_wait.end(), args.begin(), args.end());
  return run_quietly(kIptables, with_wait);
}

}  // namespace

Status run_quietly(const std::string& program, const std::vector<std::string>& args) {
  Result<Spawned> spawned = spawn({program, args, "/dev/null", false, false});
  if (!spawned.is_ok()) return spawned.status();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::optional<std::string> how;
  while (!(how = reap_if_exited(spawned.value().pid))) {
    if (std::chrono::steady_clock::now() > deadline) {
      (void)stop_process(spawned.value().pid, SIGKILL, std::chrono::seconds(1));
      how = "did not finish within 10 s";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (*how == "exited with status 0") return Status::ok();
  std::string command = program;
  for (const std::string& arg : args) command += " " + arg;
  return Status(ErrorCode::IoError, command + ": " + *how);
}

Partitioner::Partitioner(const ClusterLayout& layout)
    : layout_(layout), chain_("RAFTKV-" + std::to_string(layout.base_peer_port)) {
  if (!layout_.distinct_peer_hosts) {
    available_ = Status(ErrorCode::Unavailable,
                        "this cluster was created without --web: its nodes share the peer "
                        "address 127.0.0.1, so none can be cut off by address");
    return;
  }
  if (::geteuid() != 0) {
    available_ = Status(ErrorCode::Unavailable, "partitions use iptables, which needs root");
    return;
  }
  if (::access(kIptables, X_OK) != 0) {
    available_ = Status(ErrorCode::Unavailable,
                        std::string("partitions use iptables: ") + kIptables + " is missing");
    return;
  }
  remove_chain();  // Left over by a tool that was killed.
  available_ = iptables({"-N", chain_});
  if (available_.is_ok()) available_ = iptables({"-I", "INPUT", "-j", chain_});
}

Partitioner::~Partitioner() {
  if (available_.is_ok()) remove_chain();
}

void Partitioner::remove_chain() {
  (void)iptables({"-D", "INPUT", "-j", chain_});
  (void)iptables({"-F", chain_});
  (void)iptables({"-X", chain_});
}

Status Partitioner::change_rules(const char* action, int id) {
  RAFT_ASSERT(id >= 1 && id <= layout_.nodes);
  for (int other = 1; other <= layout_.nodes; ++other) {
    if (other == id) continue;
    for (const auto& [from, to] : {std::pair{id, other}, std::pair{other, id}}) {
      // Resets pass: the ones REJECT sends must reach the other side through the reverse rule.
      Status changed = iptables({action, chain_, "-p", "tcp", "!", "--tcp-flags", "RST", "RST",
                                 "-s", layout_.peer_host(from), "-d", layout_.peer_host(to), "-j",
                                 "REJECT", "--reject-with", "tcp-reset"});
      if (!changed.is_ok()) return changed;
    }
  }
  return Status::ok();
}

Status Partitioner::isolate(int id) {
  if (!available_.is_ok()) return available_;
  if (isolated_.contains(id)) return Status::ok();
  Status added = change_rules("-A", id);
  if (!added.is_ok()) {
    (void)change_rules("-D", id);  // Whichever rules went in come out.
    return added;
  }
  isolated_.insert(id);
  return Status::ok();
}

Status Partitioner::heal(int id) {
  if (!available_.is_ok()) return available_;
  if (!isolated_.contains(id)) return Status::ok();
  Status removed = change_rules("-D", id);
  if (removed.is_ok()) isolated_.erase(id);
  return removed;
}

}  // namespace raftkv::tools
