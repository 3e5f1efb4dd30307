#include "loopback_partition.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "common/assert.h"
#include "harness.h"

namespace raftkv::process_test {
namespace {

constexpr const char* kIptables = "/usr/sbin/iptables";
constexpr const char* kExitedOk = "exited with status 0";

// The host of each node's peer address in --peers ("1=127.0.0.1:7001,2=..."), by id - 1.
std::vector<std::string> flag_hosts(const tools::ClusterLayout& layout) {
  std::vector<std::string> hosts;
  const std::string flag = layout.peers_flag();
  for (size_t start = 0; start < flag.size();) {
    const size_t end = std::min(flag.find(',', start), flag.size());
    const std::string peer = flag.substr(start, end - start);  // "id=host:port".
    const size_t equals = peer.find('=');
    const size_t colon = peer.rfind(':');
    RAFT_ASSERT(equals != std::string::npos && colon != std::string::npos && colon > equals);
    hosts.push_back(peer.substr(equals + 1, colon - equals - 1));
    start = end + 1;
  }
  RAFT_ASSERT(hosts.size() == static_cast<size_t>(layout.nodes));
  return hosts;
}

// Whether the layout gives every node a peer address of its own already.
bool hosts_distinct(const tools::ClusterLayout& layout) {
  std::vector<std::string> hosts = flag_hosts(layout);
  std::sort(hosts.begin(), hosts.end());
  return std::adjacent_find(hosts.begin(), hosts.end()) == hosts.end();
}

}  // namespace

std::vector<std::string> LoopbackPartition::peer_hosts(const tools::ClusterLayout& layout) {
  if (hosts_distinct(layout)) return flag_hosts(layout);
  std::vector<std::string> hosts;  // What the wrapper of with_peer_addresses() makes them.
  for (int id = 1; id <= layout.nodes; ++id) hosts.push_back("127.0.0." + std::to_string(id));
  return hosts;
}

std::string LoopbackPartition::unavailable_reason() {
  if (::geteuid() != 0) return "cutting links with iptables needs root";
  if (::access(kIptables, X_OK) != 0) {
    return std::string(kIptables) + " is missing (Debian package iptables)";
  }
  const ToolRun listed = run_tool(kIptables, {"-w", "-S", "OUTPUT"}, "/dev/null");
  if (listed.how != kExitedOk) return std::string("iptables -S OUTPUT ") + listed.how;
  return "";
}

LoopbackPartition::LoopbackPartition(std::string chain, tools::ClusterLayout layout,
                                     std::string log_path)
    : chain_(std::move(chain)),
      layout_(std::move(layout)),
      hosts_(peer_hosts(layout_)),
      log_path_(std::move(log_path)) {
  RAFT_ASSERT(!chain_.empty() && chain_.size() <= 28);
  RAFT_ASSERT(layout_.nodes >= 2 && layout_.nodes <= 9);
}

LoopbackPartition::~LoopbackPartition() {
  if (started_) remove_chain();
}

Status LoopbackPartition::iptables(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"-w"};
  all.insert(all.end(), args.begin(), args.end());
  const ToolRun run = run_tool(kIptables, all, log_path_);
  if (run.how == kExitedOk) return Status::ok();
  std::string command = "iptables";
  for (const std::string& arg : all) command += " " + arg;
  return Status(ErrorCode::IoError, command + " " + run.how + ": " + run.output);
}

void LoopbackPartition::remove_chain() {
  // Each may fail when there is nothing to remove; that is fine.
  (void)iptables({"-D", "OUTPUT", "-j", chain_});
  (void)iptables({"-F", chain_});
  (void)iptables({"-X", chain_});
}

Status LoopbackPartition::start() {
  remove_chain();  // A run that crashed may have left it.
  if (Status made = iptables({"-N", chain_}); !made.is_ok()) return made;
  started_ = true;
  return iptables({"-I", "OUTPUT", "-j", chain_});
}

Status LoopbackPartition::isolate(const std::vector<int>& side) {
  RAFT_ASSERT(started_);
  RAFT_ASSERT(!side.empty());
  auto inside = [&side](int node) {
    return std::find(side.begin(), side.end(), node) != side.end();
  };
  for (int from = 1; from <= layout_.nodes; ++from) {
    for (int to = 1; to <= layout_.nodes; ++to) {
      if (inside(from) == inside(to)) continue;  // Same side: the link stays.
      const std::string port = std::to_string(layout_.base_peer_port + to - 1);
      const std::string& sender = hosts_[static_cast<size_t>(from - 1)];
      const std::string& receiver = hosts_[static_cast<size_t>(to - 1)];
      Status cut = iptables({"-A", chain_, "-p", "tcp", "-s", sender, "-d", receiver, "--dport",
                             port, "-j", "REJECT", "--reject-with", "tcp-reset"});
      if (!cut.is_ok()) return cut;
    }
  }
  return Status::ok();
}

Status LoopbackPartition::heal() {
  RAFT_ASSERT(started_);
  return iptables({"-F", chain_});
}

Result<tools::ClusterLayout> LoopbackPartition::with_peer_addresses(
    tools::ClusterLayout layout, const std::string& wrapper_path) {
  if (hosts_distinct(layout)) return layout;  // Nothing to rewrite.
  RAFT_ASSERT(layout.nodes <= 9);  // One digit per node id in the rewrite below.
  std::ofstream script(wrapper_path);
  // Rewrites "K=127.0.0.1:" to "K=127.0.0.K:" in --peers; every other argument passes as is.
  script << "#!/bin/sh\n"
            "# Written by the raftkv process tests: node K's peer address is 127.0.0.K.\n"
            "for arg do\n"
            "  shift\n"
            "  case \"$arg\" in\n"
            "    *=127.0.0.1:*)\n"
            "      arg=$(printf '%s' \"$arg\" |\n"
            "            sed -E 's/(^|,)([1-9])=127\\.0\\.0\\.1:/\\1\\2=127.0.0.\\2:/g') ;;\n"
            "  esac\n"
            "  set -- \"$@\" \"$arg\"\n"
            "done\n"
            "exec '"
         << layout.server_path << "' \"$@\"\n";
  script.close();
  if (!script || ::chmod(wrapper_path.c_str(), 0755) != 0) {
    return Status(ErrorCode::IoError, "cannot write " + wrapper_path);
  }
  layout.server_path = wrapper_path;
  return layout;
}

}  // namespace raftkv::process_test
