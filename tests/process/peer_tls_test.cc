// Mutual TLS on the peer links (issue 17), against real servers started as `raftkv cluster
// start --tls` starts them: a cluster elects, replicates and fails over with every peer link
// encrypted; SIGHUP swaps the peer certificates without a leader change; a peer presenting
// another node's id is refused, in either direction, and logged; so are plaintext, a foreign
// CA and a garbage handshake, while the node keeps serving; a connection that sends nothing is
// closed after the handshake timeout. The impostors are a real net::PeerTransport run in this
// process with the wrong certificate. A TLS client sent to a follower follows the leader
// hint to the leader's TLS port (the TLS client ports travel in the peers' Hellos).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "client/tls.h"
#include "harness.h"
#include "net/peer_transport.h"
#include "net/tls_context.h"
#include "tls_files.h"

namespace raftkv::process_test {
namespace {

using client::Client;
using client::Semantics;
using std::chrono::steady_clock;

// Counts what reaches a transport: an impostor must never be sent anything.
class CountingInbox final : public runtime::PeerInbox {
 public:
  void on_message(NodeId, raft::Message) override { ++received; }
  void on_forward_request(NodeId, runtime::ForwardRequest) override { ++received; }
  void on_forward_reply(NodeId, runtime::ForwardReply) override { ++received; }
  void on_snapshot_chunk(NodeId, runtime::SnapshotChunk) override { ++received; }
  void on_snapshot_ack(NodeId, const runtime::SnapshotAck&) override { ++received; }
  void on_batch_end() override {}
  void on_peer_unreachable(NodeId) override {}
  void on_peer_disconnected(NodeId) override {}
  void on_peer_hello(NodeId, const std::string&, const std::string&) override { ++hellos; }
  std::atomic<int> received{0};
  std::atomic<int> hellos{0};
};

// A PeerTransport in this process speaking as node `self` at `self_addr`, to `peers`, over
// mutual TLS with `files`, on a thread of its own until destroyed.
class Impostor {
 public:
  Impostor(NodeId self, const net::PeerAddress& self_addr, std::vector<net::PeerAddress> peers,
           uint64_t cluster_id, const net::TlsFiles& files)
  {
    net::TransportOptions options{.cluster_id = cluster_id};
    auto listener = net::make_server_tls_context(files, net::ClientCertificates::Yes);
    auto dialer = net::make_dialer_tls_context(files);
    EXPECT_TRUE(listener.is_ok() && dialer.is_ok());
    if (!listener.is_ok() || !dialer.is_ok()) return;
    options.tls_listener_context = [context = listener.value()] { return context; };
    options.tls_dialer_context = [context = dialer.value()] { return context; };
    peers.push_back(self_addr);
    transport_ = std::make_unique<net::PeerTransport>(io_, self, std::move(peers), options,
                                                      logger_);
    const Status started = transport_->start(inbox_);
    EXPECT_TRUE(started.is_ok()) << started.message();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Impostor() {
    asio::post(io_, [this] {
      if (transport_) transport_->stop();
      io_.stop();
    });
    if (thread_.joinable()) thread_.join();
  }
  const CountingInbox& inbox() const { return inbox_; }

 private:
  asio::io_context io_{1};
  NullLogger logger_;
  CountingInbox inbox_;
  std::unique_ptr<net::PeerTransport> transport_;
  std::thread thread_;
};

class PeerTls : public ClusterFixture {
 protected:
  // Waits up to 10 s for node `id` to log a line with `needle`; prints the first such line.
  void expect_logged(int id, const std::string& needle) {
    const auto start = steady_clock::now();
    while (log_lines_with(id, needle) == 0 &&
           steady_clock::now() - start < std::chrono::seconds(10)) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    std::ifstream log(cluster_->layout().log_path(id));
    std::string line;
    while (std::getline(log, line) && line.find(needle) == std::string::npos) {
    }
    std::cout << "node " << id << " logged: " << line << "\n";
    EXPECT_GE(log_lines_with(id, needle), 1u) << "node " << id << " never logged: " << needle;
  }

  uint64_t cluster_id() const {
    std::ifstream file(cluster_->layout().data_dir(1) + "/identity.json");
    const std::string text((std::istreambuf_iterator<char>(file)), {});
    const size_t at = text.find("\"cluster_id\": ");
    return at == std::string::npos ? 0 : std::stoull(text.substr(at + 14));
  }

  // Whether a listener could bind 127.0.0.1:`port` now (with SO_REUSEADDR, as a node does).
  static bool port_free(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return bound;
  }

  net::PeerAddress peer(int id) const {
    return {.id = NodeId{static_cast<uint64_t>(id)}, .host = "127.0.0.1",
            .port = static_cast<uint16_t>(cluster_->layout().base_peer_port + id - 1)};
  }

  net::TlsFiles node_files(const std::string& dir, int id) const {
    const std::string base = dir + "/raftkv-node-" + std::to_string(id);
    return {.cert_file = base + ".crt", .key_file = base + ".key", .ca_file = tls_dir_ + "/ca.crt"};
  }

  // A write through any node, then read back from every running one.
  void expect_replicates(const std::string& key) {
    Client client(client_options(Semantics::AtLeastOnce));
    ASSERT_TRUE(client.call({"SET", key, "v"}).ok());
    expect_everywhere({{key, "v"}});
  }

};

TEST_F(PeerTls, EncryptedClusterElectsReplicatesAndFailsOver) {
  start_tls_cluster(/*slot=*/60);
  ASSERT_FALSE(HasFatalFailure());
  const client::RaftInfo first = leader();
  expect_replicates("before");
  // The peer port speaks TLS and presents the node's own name.
  const ToolRun probe = run_tool(
      tools::kOpensslPath,
      {"s_client", "-connect", "127.0.0.1:" + std::to_string(peer(1).port), "-CAfile",
       tls_dir_ + "/ca.crt", "-cert", tls_dir_ + "/client.crt", "-key", tls_dir_ + "/client.key",
       "-verify_hostname", "raftkv-node-1", "-verify_return_error", "-brief"},
      dir_ + "/s_client");
  std::cout << "openssl s_client to node 1's peer port: " << probe.output;
  EXPECT_NE(probe.output.find("Verification: OK"), std::string::npos) << probe.output;
  EXPECT_NE(probe.output.find("TLSv1.3"), std::string::npos) << probe.output;
  const int old_leader = static_cast<int>(first.node_id);
  const auto killed_at = steady_clock::now();
  ASSERT_TRUE(cluster_->stop_node(old_leader, SIGKILL, milliseconds(3000)).is_ok());
  const client::RaftInfo second = leader(milliseconds(15'000), {old_leader});
  std::cout << "node " << second.node_id << " leads term " << second.term << ", "
            << std::chrono::duration_cast<milliseconds>(steady_clock::now() - killed_at).count()
            << " ms after node " << old_leader << " was killed\n";
  EXPECT_NE(static_cast<int>(second.node_id), old_leader);
  EXPECT_GT(second.term, first.term);
  Client client(client_options(Semantics::AtLeastOnce));
  ASSERT_TRUE(client.call({"SET", "after", "v"}).ok());
  ASSERT_TRUE(cluster_->start_node(old_leader, false).is_ok());
  ASSERT_TRUE(cluster_->wait_up(old_leader, milliseconds(10'000)).is_ok());
  expect_everywhere({{"before", "v"}, {"after", "v"}});
  // No link was refused on either side ("refused pre-vote" and the like are Raft's own).
  for (int id = 1; id <= 3; ++id) {
    EXPECT_EQ(log_lines_with(id, "refused peer connection") + log_lines_with(id, "refused our "),
              0u)
        << "node " << id;
  }
}

// A TLS client given only a follower's TLS port moves to the leader's TLS port, which the
// follower learnt from the leader's Hello and INFO names (leader_tls_addr), and sends its
// writes there; `raftkv --tls status` from that one endpoint lists every member at its TLS
// port, each answering.
TEST_F(PeerTls, TlsClientAtAFollowerFollowsTheLeaderToItsTlsPort) {
  start_tls_cluster(/*slot=*/67);
  ASSERT_FALSE(HasFatalFailure());
  const int leader_id = static_cast<int>(leader().node_id);
  const int follower = leader_id == 1 ? 2 : 1;
  const auto& layout = cluster_->layout();
  client::ClientOptions options = client_options(Semantics::AtLeastOnce);
  options.endpoints = {layout.tls_endpoint(follower)};
  Result<std::shared_ptr<client::TlsContext>> tls = client::TlsContext::make(
      {.enabled = true, .ca_file = tls_dir_ + "/ca.crt", .cert_file = tls_dir_ + "/client.crt",
       .key_file = tls_dir_ + "/client.key"});
  ASSERT_TRUE(tls.is_ok()) << tls.status().to_string();
  options.tls = std::move(tls).value();
  Client client(std::move(options));
  const client::Outcome set = client.call({"SET", "over-tls", "v"});
  ASSERT_TRUE(set.ok()) << set.detail;
  std::cout << "a TLS client given node " << follower << "'s TLS port wrote through "
            << set.endpoint.to_string() << "; node " << leader_id << " leads\n";
  EXPECT_EQ(set.endpoint, layout.tls_endpoint(leader_id));
  // A cluster-aware client follows CLUSTER SLOTS: over TLS it must name the TLS port.
  const client::Outcome slots = client.call({"CLUSTER", "SLOTS"});
  ASSERT_TRUE(slots.ok()) << slots.detail;
  const std::string slots_text = client::format_reply(slots.reply);
  EXPECT_NE(slots_text.find("(integer) " + std::to_string(layout.tls_endpoint(leader_id).port)),
            std::string::npos) << slots_text;
  const ToolRun status = run_tool(
      RAFTKV_CLI_PATH,
      {"--tls", "--cacert", tls_dir_ + "/ca.crt", "--cert", tls_dir_ + "/client.crt", "--key",
       tls_dir_ + "/client.key", "-e", layout.tls_endpoint(follower).to_string(), "status"},
      dir_ + "/status");
  std::cout << status.output;
  for (int id = 1; id <= 3; ++id) {
    EXPECT_NE(status.output.find(layout.tls_endpoint(id).to_string() + " "), std::string::npos)
        << "node " << id;
  }
  EXPECT_EQ(status.output.find("unreachable"), std::string::npos);
  EXPECT_EQ(status.output.find(layout.client_endpoint(leader_id).to_string()), std::string::npos)
      << "a plaintext address was listed for a TLS client";
  expect_everywhere({{"over-tls", "v"}});
}

// Every node's peer certificate and CA replaced by ones of a new CA, then SIGHUP: no leader
// change; a follower restarted afterwards (so every link to it is dialled anew, with the new
// certificates on both sides) catches up.
TEST_F(PeerTls, SighupSwapsPeerCertificatesWithoutALeaderChange) {
  start_tls_cluster(/*slot=*/61);
  ASSERT_FALSE(HasFatalFailure());
  const client::RaftInfo before = leader();
  expect_replicates("before");
  const std::string fresh = dir_ + "/fresh";
  ASSERT_TRUE(tools::make_tls_files(fresh, 3).is_ok());
  for (const auto& entry : std::filesystem::directory_iterator(fresh)) {
    std::filesystem::copy_file(entry.path(), tls_dir_ + "/" + entry.path().filename().string(),
                               std::filesystem::copy_options::overwrite_existing);
  }
  for (int id = 1; id <= 3; ++id) {
    const std::optional<pid_t> pid = cluster_->pid(id);
    ASSERT_TRUE(pid.has_value());
    ASSERT_EQ(::kill(*pid, SIGHUP), 0);
  }
  for (int id = 1; id <= 3; ++id) expect_logged(id, "SIGHUP: certificates reloaded");
  const int follower = before.node_id == 3 ? 2 : 3;
  ASSERT_TRUE(cluster_->stop_node(follower, SIGKILL, milliseconds(3000)).is_ok());
  Client client(client_options(Semantics::AtLeastOnce));
  ASSERT_TRUE(client.call({"SET", "while-down", "v"}).ok());
  ASSERT_TRUE(cluster_->start_node(follower, false).is_ok());
  ASSERT_TRUE(cluster_->wait_up(follower, milliseconds(10'000)).is_ok());
  expect_everywhere({{"before", "v"}, {"while-down", "v"}});
  const client::RaftInfo after = leader();
  EXPECT_EQ(after.term, before.term);
  EXPECT_EQ(after.node_id, before.node_id);
}

// Node 3's certificate speaking as node 2, dialling node 1: node 1 refuses its Hello and logs
// why. Then the other way round: node 3 down, an impostor listens at its address with node
// 2's certificate; nodes 1 and 2 refuse to send it anything. Term and leader never change.
TEST_F(PeerTls, PeerPresentingAnotherNodesIdIsRefusedEitherWay) {
  start_tls_cluster(/*slot=*/62);
  ASSERT_FALSE(HasFatalFailure());
  const client::RaftInfo before = leader();
  {
    net::PeerAddress self = peer(2);
    self.port = static_cast<uint16_t>(cluster_->layout().base_peer_port + 4);  // Unused.
    Impostor dialler(NodeId{2}, self, {peer(1)}, cluster_id(), node_files(tls_dir_, 3));
    expect_logged(1, "it claims to be node 2, but its certificate (subject /CN=raftkv-node-3) "
                     "does not name raftkv-node-2");
    EXPECT_EQ(dialler.inbox().received.load(), 0);
  }
  const int victim = before.node_id == 3 ? 2 : 3;  // A follower's address is taken over.
  const int other = 5 - victim;                    // The id the impostor's certificate names.
  ASSERT_TRUE(cluster_->stop_node(victim, SIGKILL, milliseconds(3000)).is_ok());
  const auto freed = steady_clock::now();
  while (!port_free(peer(victim).port) && steady_clock::now() - freed < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  std::cout << "node " << victim << "'s peer port was free "
            << std::chrono::duration_cast<milliseconds>(steady_clock::now() - freed).count()
            << " ms after it was killed\n";
  {
    Impostor listener(NodeId{static_cast<uint64_t>(victim)}, peer(victim), {},
                      cluster_id(), node_files(tls_dir_, other));
    const std::string why = "connection to node " + std::to_string(victim) +
                            " at 127.0.0.1:" + std::to_string(peer(victim).port) +
                            ": its certificate (subject /CN=raftkv-node-" +
                            std::to_string(other) + ") does not name raftkv-node-" +
                            std::to_string(victim);
    expect_logged(1, why);
    EXPECT_EQ(listener.inbox().hellos.load(), 0);
    EXPECT_EQ(listener.inbox().received.load(), 0);
  }
  ASSERT_TRUE(cluster_->start_node(victim, false).is_ok());
  ASSERT_TRUE(cluster_->wait_up(victim, milliseconds(10'000)).is_ok());
  expect_replicates("after");
  const client::RaftInfo after = leader();
  EXPECT_EQ(after.term, before.term);
  EXPECT_EQ(after.node_id, before.node_id);
}

// Plaintext, a certificate from a foreign CA, a garbage and an oversized handshake on node
// 1's peer port: each refused and logged, node 1 keeps serving. A connection that sends
// nothing is closed once the handshake timeout (10 s) passes.
TEST_F(PeerTls, PlaintextForeignCaGarbageAndSilenceAreClosed) {
  start_tls_cluster(/*slot=*/63);
  ASSERT_FALSE(HasFatalFailure());
  const client::RaftInfo before = leader();
  const client::Endpoint peer_port{"127.0.0.1", peer(1).port};
  RawConnection silent(peer_port);
  const auto silent_since = steady_clock::now();
  ASSERT_TRUE(silent.connected());
  RawConnection plaintext(peer_port);
  // A 4-byte frame length and a few bytes, as a plaintext peer's Hello begins.
  ASSERT_TRUE(plaintext.send(std::string("\x20\x00\x00\x00\x0a\x1e\x08\x01", 8)));
  EXPECT_TRUE(plaintext.closed_within(milliseconds(3000)));
  RawConnection garbage(peer_port);
  ASSERT_TRUE(garbage.send(std::string(4096, '\xa5')));
  EXPECT_TRUE(garbage.closed_within(milliseconds(3000)));
  // A TLS handshake record announcing 16 MiB of ClientHello: past any record size.
  RawConnection oversized(peer_port);
  ASSERT_TRUE(oversized.send(std::string("\x16\x03\x01\xff\xff\x01\xff\xff\xff", 9) +
                             std::string(60'000, 'x')));
  EXPECT_TRUE(oversized.closed_within(milliseconds(3000)));
  {
    const std::string other = dir_ + "/other-ca";
    ASSERT_TRUE(tools::make_tls_files(other, 3).is_ok());
    net::TlsFiles foreign = node_files(other, 2);  // Trusts our CA, presents theirs.
    net::PeerAddress self = peer(2);
    self.port = static_cast<uint16_t>(cluster_->layout().base_peer_port + 4);
    Impostor dialler(NodeId{2}, self, {peer(1)}, cluster_id(), foreign);
    expect_logged(1, "TLS handshake failed: certificate verify failed");
    EXPECT_EQ(dialler.inbox().received.load(), 0);
  }
  EXPECT_GE(log_lines_with(1, "TLS handshake failed"), 4u);
  expect_replicates("still-serving");
  EXPECT_TRUE(silent.closed_within(milliseconds(20'000)));
  const auto silent_ms =
      std::chrono::duration_cast<milliseconds>(steady_clock::now() - silent_since).count();
  std::cout << "a peer connection that sent nothing was closed after " << silent_ms << " ms\n";
  EXPECT_GE(silent_ms, 9'000) << "closed before the handshake timeout";
  EXPECT_LE(silent_ms, 20'000);
  expect_logged(1, "TLS handshake failed: Connection timed out");
  const client::RaftInfo after = leader();
  EXPECT_EQ(after.term, before.term);
}

}  // namespace
}  // namespace raftkv::process_test
