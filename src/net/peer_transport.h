#pragma once

#include <asio.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/logger.h"
#include "common/status.h"
#include "common/types.h"
#include "raft/messages.h"
#include "runtime/transport.h"

namespace raftkv::pb {
class PeerBatch;
}  // namespace raftkv::pb

// TCP transport between the nodes of one cluster (asio, C++20 coroutines).
//
// Each node dials every peer once for its own outgoing traffic and accepts the peers' dials for
// incoming traffic, so a connection carries data one way. Outgoing connections bind to this
// node's own listen address: the source address names the node, and fault tests partition
// nodes by address. A connection opens with a Hello (cluster id, sender, addressee); a Hello
// from another cluster or an unknown node is refused and logged.
//
// Frames are a 4-byte little-endian length and a PeerEnvelope (proto/peer.proto). Everything
// queued for a peer while the previous write was in flight goes out in one frame. Each peer's
// queue is bounded in bytes: past the bound new messages are dropped (Raft retransmits), so a
// slow or dead peer cannot grow memory without limit. A lost connection is retried with
// exponential backoff and reported to the inbox (raft::Raft::report_unreachable).
//
// It is the runtime's Transport (runtime/transport.h): values go out and come in decoded (the
// wire format stays here and in proto/peer_codec); what arrives goes to a runtime::PeerInbox.
//
// Runs entirely on the given io_context's thread; not thread-safe.
namespace raftkv::net {

struct PeerAddress {
  NodeId id;
  std::string host;
  uint16_t port = 0;
};

struct TransportOptions {
  uint64_t cluster_id = 0;
  std::string client_addr;                    // Announced in Hello, for INFO and redirects.
  uint64_t queue_bytes_max = 64ull << 20;     // Per peer, queued and not yet written.
  uint64_t frame_bytes_max = 256ull << 20;    // Largest frame accepted from a peer.
  uint32_t backoff_ms_min = 20;
  uint32_t backoff_ms_max = 1000;
};

struct PeerCounters {
  uint64_t messages_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t messages_received = 0;
  uint64_t bytes_received = 0;
  uint64_t messages_dropped = 0;  // Queue full or not connected.
  bool connected = false;
};

class PeerTransport final : public runtime::Transport {
 public:
  PeerTransport(asio::io_context& io, NodeId self, std::vector<PeerAddress> peers,
                TransportOptions options, Logger& logger);
  ~PeerTransport();
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // Binds the listen socket (IoError naming the address if taken) and starts dialing peers;
  // everything that arrives goes to `inbox`, which must outlive the transport.
  [[nodiscard]] Status start(runtime::PeerInbox& inbox);
  // Closes every socket; queued data is dropped.
  void stop();

  // runtime::Transport. Each call queues for the peer; what is queued goes out in the next
  // frame. forward() is false when the peer is not connected (nothing was sent). Snapshot
  // chunks are dropped when the peer is not connected or its queue is full; the leader resends
  // from the last acknowledged offset.
  void send(const raft::Message& message) override;
  [[nodiscard]] bool forward(NodeId to, runtime::ForwardRequest request) override;
  void reply(NodeId to, runtime::ForwardReply reply) override;
  void send_snapshot_chunk(NodeId to, runtime::SnapshotChunk chunk) override;
  void send_snapshot_ack(NodeId to, runtime::SnapshotAck ack) override;

  [[nodiscard]] std::map<NodeId, PeerCounters> counters() const;

 private:
  struct Link;

  Link* link(NodeId to);
  void wake(Link& link);
  asio::awaitable<void> dial_loop(Link& link);
  asio::awaitable<void> write_frames(Link& link, asio::ip::tcp::socket& socket);
  asio::awaitable<void> watch_for_close(asio::ip::tcp::socket& socket);
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> read_loop(asio::ip::tcp::socket socket);
  [[nodiscard]] bool accept_hello(const std::string& remote, const std::string& frame,
                                  NodeId* from);

  asio::io_context& io_;
  const NodeId self_;
  const TransportOptions options_;
  runtime::PeerInbox* inbox_ = nullptr;  // Set by start().
  Logger& logger_;
  PeerAddress self_address_;
  std::map<NodeId, std::unique_ptr<Link>> links_;  // One per peer other than self.
  std::map<NodeId, PeerCounters> received_;        // Counters for incoming traffic.
  std::map<NodeId, int> incoming_connections_;     // Open ones, per peer (reconnects overlap).
  asio::ip::tcp::acceptor acceptor_;
  bool stopped_ = false;
};

}  // namespace raftkv::net
