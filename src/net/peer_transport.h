#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "common/logger.h"
#include "common/status.h"
#include "common/types.h"
#include "raft/messages.h"
#include "runtime/transport.h"

// TCP transport between the nodes of one cluster (asio, C++20 coroutines).
//
// Each node dials every peer for its own outgoing traffic and accepts the peers' dials for
// incoming traffic, so a connection carries data one way. It dials each peer twice, one
// connection per lane (Lane), so that the Raft messages that keep a cluster stable never wait
// behind bulk data on one TCP stream:
//   Control  votes, heartbeats, every answer, appends without entries, snapshot acks;
//   Bulk     appends with entries, snapshot chunks, forwarded requests and their replies.
// A 64 MiB entry then delays heartbeats by nothing but the loop's own work. Raft tolerates the
// reordering between lanes (it must tolerate any), and each lane keeps its own order.
// Outgoing connections bind to this node's own listen address: the source address names the
// node, and fault tests partition nodes by address. A connection opens with a Hello (cluster
// id, sender, addressee, the sender's addresses); a Hello from another cluster or from a
// node the cluster removed is refused and logged (the removed node is told). A node not known
// yet is accepted: it was added by a change this node has not applied.
//
// With TransportOptions::tls, every connection is mutual TLS (1.2 or newer) before anything
// else is sent, and a node's id is bound to its certificate (net/tls_context.h): the dialer
// goes on only if the listener's certificate names raftkv-node-<the id it dialled>, the
// listener only if the dialer's names the id its Hello claims. A handshake not done within
// handshake_ms is closed. Refusals are logged with the reason; nothing from them is applied.
//
// Frames are laid out in net/peer_frame.h: a Hello (which names the protocol version; another
// version is refused, both sides logging why), then batch frames whose entry data follows the
// envelope and is written from the entries' own buffers. Everything queued for a peer while
// the previous write was in flight goes out in one frame. Each peer's
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
  std::string client_tls_addr;                // Likewise its TLS client port; "": none.
  // Per peer and lane, queued and not yet written. Past it new items are dropped, except that
  // an empty queue always takes one item however large (an entry up to the request limit).
  uint64_t queue_bytes_max = 64ull << 20;
  uint64_t frame_bytes_max = 256ull << 20;    // Largest frame accepted from a peer.
  uint32_t backoff_ms_min = 20;
  uint32_t backoff_ms_max = 1000;
  // A dial that has not connected after this long is given up and retried; a connection whose
  // sent data goes unacknowledged this long is closed (TCP_USER_TIMEOUT) and redialled, so a
  // link that was cut and healed resumes at once rather than at TCP's next backed-off
  // retransmission. 0: the kernel's defaults.
  uint32_t stall_ms = 0;
  // Mutual TLS on every peer connection: the contexts for accepted and for dialled
  // connections, asked for at each new connection, so that a reload (SIGHUP) reaches the next
  // one. Both unset: plaintext. Set one, set both.
  std::function<std::shared_ptr<asio::ssl::context>()> tls_listener_context;
  std::function<std::shared_ptr<asio::ssl::context>()> tls_dialer_context;
  // A TLS handshake, either side, not done within this long is closed (the client port's 10 s).
  uint32_t handshake_ms = 10'000;
};

enum class Lane : uint8_t { Control = 0, Bulk = 1 };

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
  // Membership (runtime/membership.h keeps the peer set equal to the replicated one). Before
  // start() they only record the peer; dialling starts with start(). A removed peer's
  // connections are closed and its dials stop.
  void add_peer(NodeId id, const std::string& peer_addr) override;
  void remove_peer(NodeId id) override;

  [[nodiscard]] std::map<NodeId, PeerCounters> counters() const;

 private:
  struct Link;  // One lane to one peer.
  struct Peer;

  Link* link(NodeId to, Lane lane);
  void wake(Link& link);
  // Queues into `link` an item of `bytes` (charged against its bound) that `add` puts into the
  // pending batch; false (dropped, counted) when not connected or over the bound.
  template <typename Add>
  bool enqueue(Link* link, uint64_t bytes, Add add);
  asio::awaitable<void> dial_loop(Link& link);
  asio::awaitable<asio::error_code> connect(asio::ip::tcp::socket& socket,
                                            const asio::ip::tcp::endpoint& remote);
  // Mutual TLS over the connected `socket`, then run_link(); returns when the connection ends
  // or is refused (logged).
  asio::awaitable<void> dial_tls(Link& link, asio::ip::tcp::socket socket);
  // Sends on `stream` (plain TCP or TLS) what is queued for `link` until the connection ends.
  template <typename Stream>
  asio::awaitable<void> run_link(Link& link, Stream& stream);
  template <typename Stream>
  asio::awaitable<void> write_frames(Link& link, Stream& stream);
  template <typename Stream>
  asio::awaitable<void> watch_for_close(Link& link, Stream& stream);
  asio::awaitable<void> accept_loop();
  // One accepted connection: the TLS handshake if configured, then read_loop().
  asio::awaitable<void> serve_accepted(asio::ip::tcp::socket socket);
  template <typename Stream>
  asio::awaitable<void> read_loop(Stream& stream, const std::string& remote);
  // Why the certificate behind an accepted connection may not speak as a node: empty if it may.
  using IdentityCheck = std::function<std::string(NodeId claimed)>;
  // The connection's first frame: the sender, or kNoNode when the connection is to close.
  template <typename Stream>
  asio::awaitable<NodeId> read_hello(Stream& stream, const std::string& remote,
                                     const IdentityCheck& identity);
  // False to close the connection; `refusal_frame` is then set to what to write back first,
  // if anything (a removed member is told so).
  [[nodiscard]] bool accept_hello(const std::string& remote, const std::string& frame,
                                  const IdentityCheck& identity, NodeId* from,
                                  std::string* refusal_frame);
  // Stops dialling `id` and forgets it (its dial loops end on their own).
  void retire(NodeId id);
  // The Refusal frame that tells `peer` the cluster removed it.
  [[nodiscard]] static std::string removed_refusal(NodeId peer);
  [[nodiscard]] static std::string refusal(const std::string& reason, bool removed);

  asio::io_context& io_;
  const NodeId self_;
  const TransportOptions options_;
  runtime::PeerInbox* inbox_ = nullptr;  // Set by start().
  Logger& logger_;
  PeerAddress self_address_;
  std::map<NodeId, std::unique_ptr<Peer>> peers_;  // Every peer other than self.
  // Removed peers whose dial loops may still hold references to their links; kept until the
  // transport goes (one small record per membership change).
  std::vector<std::unique_ptr<Peer>> retired_;
  std::set<NodeId> removed_;  // Ids the membership removed: their Hellos get a Refusal.
  std::set<NodeId> told_removed_;  // Removed ids whose refusal was logged.
  bool started_ = false;
  std::map<NodeId, PeerCounters> received_;        // Counters for incoming traffic.
  std::map<NodeId, int> incoming_connections_;     // Open ones, per peer (reconnects overlap).
  asio::ip::tcp::acceptor acceptor_;
  bool stopped_ = false;
};

}  // namespace raftkv::net
