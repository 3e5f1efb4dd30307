#include "net/peer_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <type_traits>
#include <asio/experimental/awaitable_operators.hpp>

#include "net/peer_frame.h"
#include "net/tls_context.h"
#include "proto/peer.pb.h"
#include "proto/peer_codec.h"

namespace raftkv::net {
namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;  // NOLINT: a || b on awaitables.

constexpr uint32_t kRefusalBytesMax = 4096;  // A Refusal is a sentence and a flag.
constexpr uint32_t kHelloBytesMax = 4096;    // A Hello is ids and two addresses.

// Bytes a message is charged against its peer's queue bound.
uint64_t charge(const raft::Message& message) {
  uint64_t bytes = 64;
  for (const raft::Entry& entry : message.entries) bytes += entry.size_bytes();
  if (message.snapshot) bytes += message.snapshot->data.size();
  return bytes;
}

auto no_throw(asio::error_code& error) { return asio::redirect_error(use_awaitable, error); }

// asio's default for async_read/async_write (transfer_all) hands the kernel at most 64 KiB
// per system call, and every step goes back through the event loop: a 16 MiB entry cost 256
// of each per peer. The kernel's socket buffer bounds a call anyway, so let it take all it can.
struct TransferAll {
  size_t operator()(const asio::error_code& error, size_t /*done*/) const {
    return error ? 0 : size_t{1} << 30;
  }
};

const char* lane_name(Lane lane) { return lane == Lane::Control ? "control" : "bulk"; }

using TlsStream = asio::ssl::stream<tcp::socket>;

// The TCP socket under a stream: what retire() and stop() close to end a connection.
tcp::socket& tcp_of(tcp::socket& socket) { return socket; }
tcp::socket& tcp_of(TlsStream& stream) { return stream.next_layer(); }

// The TLS handshake on `stream` as `side`. The socket is closed if the handshake has not ended
// within `timeout_ms`, so that a peer sending nothing, or a handshake that never completes,
// cannot hold a connection; the error is then timed_out.
awaitable<asio::error_code> handshake_within(TlsStream& stream,
                                             asio::ssl::stream_base::handshake_type side,
                                             uint32_t timeout_ms) {
  RAFT_ASSERT(timeout_ms > 0);
  struct Outcome {
    bool ended = false;
    bool timed_out = false;
  };
  // Shared with the timer's handler, which may run after this frame is gone.
  auto outcome = std::make_shared<Outcome>();
  asio::steady_timer deadline(stream.get_executor());
  deadline.expires_after(std::chrono::milliseconds(timeout_ms));
  deadline.async_wait([outcome, &socket = stream.next_layer()](const asio::error_code& error) {
    if (error || outcome->ended) return;  // Cancelled: the frame, and socket, may be gone.
    outcome->timed_out = true;
    asio::error_code ignored;
    socket.close(ignored);  // Fails the handshake at once.
  });
  asio::error_code error;
  co_await stream.async_handshake(side, no_throw(error));
  outcome->ended = true;
  deadline.cancel();
  RAFT_ASSERT(!(outcome->timed_out && !error));
  co_return outcome->timed_out ? asio::error_code(asio::error::timed_out) : error;
}

}  // namespace

struct PeerTransport::Link {
  Link(asio::io_context& io, PeerAddress peer, Lane which)
      : address(std::move(peer)), lane(which), wakeup(io) {}
  PeerAddress address;
  Lane lane;
  PendingBatch pending;
  uint64_t pending_bytes = 0;
  asio::steady_timer wakeup;  // Cancelled to wake the writer when something is queued.
  tcp::socket* socket = nullptr;  // Set while connected.
  PeerCounters counters;
  bool retired = false;  // The peer left the membership: the dial loop ends.
};

struct PeerTransport::Peer {
  Peer(asio::io_context& io, const PeerAddress& address)
      : lanes{Link(io, address, Lane::Control), Link(io, address, Lane::Bulk)} {}
  std::array<Link, 2> lanes;
};

PeerTransport::PeerTransport(asio::io_context& io, NodeId self, std::vector<PeerAddress> peers,
                             TransportOptions options, Logger& logger)
    : io_(io),
      self_(self),
      options_(std::move(options)),
      logger_(logger),
      acceptor_(io) {
  for (PeerAddress& peer : peers) {
    if (peer.id == self) {
      self_address_ = peer;
    } else {
      peers_.emplace(peer.id, std::make_unique<Peer>(io, peer));
    }
  }
  RAFT_ASSERT(self_address_.id == self);
}

PeerTransport::~PeerTransport() { stop(); }

Status PeerTransport::start(runtime::PeerInbox& inbox) {
  inbox_ = &inbox;
  asio::error_code error;
  const asio::ip::address address = asio::ip::make_address(self_address_.host, error);
  if (error) return Status(ErrorCode::InvalidArgument, "bad address " + self_address_.host);
  const tcp::endpoint endpoint(address, self_address_.port);
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return Status(ErrorCode::IoError, "cannot listen for peers on " + self_address_.host + ":" +
                                          std::to_string(self_address_.port) + ": " +
                                          error.message());
  }
  asio::co_spawn(io_, accept_loop(), asio::detached);
  started_ = true;
  for (auto& [id, peer] : peers_) {
    for (Link& lane : peer->lanes) asio::co_spawn(io_, dial_loop(lane), asio::detached);
  }
  return Status::ok();
}

void PeerTransport::add_peer(NodeId id, const std::string& peer_addr) {
  RAFT_ASSERT(id != self_);
  const size_t colon = peer_addr.rfind(':');
  PeerAddress address{.id = id, .host = peer_addr.substr(0, colon)};
  uint16_t port = 0;
  const char* digits = colon == std::string::npos ? peer_addr.data() : &peer_addr[colon + 1];
  const char* end = peer_addr.data() + peer_addr.size();
  const auto parsed = std::from_chars(digits, end, port);
  if (colon == std::string::npos || parsed.ec != std::errc() || parsed.ptr != end || port == 0) {
    // Still a peer (its connections are accepted, messages to it dropped): a member whose
    // address this node cannot dial must not crash it.
    log_to(logger_, LogLevel::Warn, "node ", id, "'s peer address '", peer_addr,
           "' is not host:port; not dialling it");
    address.host.clear();
  }
  address.port = port;
  retire(id);
  log_to(logger_, LogLevel::Info, "peer node ", id, " at ", peer_addr);
  auto [it, added] = peers_.emplace(id, std::make_unique<Peer>(io_, address));
  RAFT_ASSERT(added);
  if (!started_ || stopped_ || address.host.empty()) return;
  for (Link& lane : it->second->lanes) asio::co_spawn(io_, dial_loop(lane), asio::detached);
}

void PeerTransport::remove_peer(NodeId id) {
  removed_.insert(id);
  retire(id);
}

void PeerTransport::retire(NodeId id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  asio::error_code ignored;
  for (Link& lane : it->second->lanes) {
    lane.retired = true;
    if (lane.socket) lane.socket->close(ignored);
    lane.wakeup.cancel();
  }
  retired_.push_back(std::move(it->second));
  peers_.erase(it);
}

void PeerTransport::stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ignored;
  acceptor_.close(ignored);
  for (auto& [id, peer] : peers_) {
    for (Link& lane : peer->lanes) {
      if (lane.socket) lane.socket->close(ignored);
      lane.wakeup.cancel();
    }
  }
}

PeerTransport::Link* PeerTransport::link(NodeId to, Lane lane) {
  auto it = peers_.find(to);
  return it == peers_.end() ? nullptr : &it->second->lanes[static_cast<size_t>(lane)];
}

template <typename Add>
bool PeerTransport::enqueue(Link* target, uint64_t bytes, Add add) {
  if (target == nullptr) return false;
  const bool fits =
      target->pending_bytes == 0 || target->pending_bytes + bytes <= options_.queue_bytes_max;
  if (target->socket == nullptr || !fits) {
    ++target->counters.messages_dropped;  // Raft retransmits; memory stays bounded.
    return false;
  }
  add(target->pending);
  target->pending_bytes += bytes;
  wake(*target);
  return true;
}

void PeerTransport::wake(Link& link) { link.wakeup.cancel(); }

void PeerTransport::send(const raft::Message& message) {
  // The core addresses members only, but a node that was removed still answers its former
  // leader: link() is null then and the message is dropped.
  const Lane lane = message.entries.empty() ? Lane::Control : Lane::Bulk;
  (void)enqueue(link(message.to, lane), charge(message),
                [&](PendingBatch& pending) { pending.add_message(message); });
}

bool PeerTransport::forward(NodeId to, runtime::ForwardRequest request) {
  const uint64_t bytes = 64 + request.request.bytes.size();
  return enqueue(link(to, Lane::Bulk), bytes, [&](PendingBatch& pending) {
    proto::to_proto(std::move(request), pending.batch.add_forward_requests());
  });
}

void PeerTransport::reply(NodeId to, runtime::ForwardReply reply) {
  const uint64_t bytes = 64 + reply.response.reply.size();
  // Not sent: the forwarder times out and answers its client as it must.
  (void)enqueue(link(to, Lane::Bulk), bytes, [&](PendingBatch& pending) {
    proto::to_proto(std::move(reply), pending.batch.add_forward_replies());
  });
}

void PeerTransport::send_snapshot_chunk(NodeId to, runtime::SnapshotChunk chunk) {
  const uint64_t bytes = 64 + chunk.data.size();
  // Not sent: the sender resends from the last acknowledged offset.
  (void)enqueue(link(to, Lane::Bulk), bytes, [&](PendingBatch& pending) {
    proto::to_proto(std::move(chunk), pending.batch.add_snapshot_chunks());
  });
}

void PeerTransport::send_snapshot_ack(NodeId to, runtime::SnapshotAck ack) {
  // Not sent: the leader resends the chunk.
  (void)enqueue(link(to, Lane::Control), 64, [&](PendingBatch& pending) {
    proto::to_proto(std::move(ack), pending.batch.add_snapshot_acks());
  });
}

std::map<NodeId, PeerCounters> PeerTransport::counters() const {
  std::map<NodeId, PeerCounters> out;
  for (const auto& [id, peer] : peers_) {
    PeerCounters& sum = out[id];
    for (const Link& lane : peer->lanes) {
      sum.messages_sent += lane.counters.messages_sent;
      sum.bytes_sent += lane.counters.bytes_sent;
      sum.messages_dropped += lane.counters.messages_dropped;
    }
    // Connected: both lanes up (a peer reachable on one lane only is not healthy).
    sum.connected = peer->lanes[0].counters.connected && peer->lanes[1].counters.connected;
  }
  for (const auto& [id, received] : received_) {
    out[id].messages_received = received.messages_received;
    out[id].bytes_received = received.bytes_received;
  }
  return out;
}

awaitable<void> PeerTransport::dial_loop(Link& link) {
  uint32_t backoff_ms = options_.backoff_ms_min;
  asio::steady_timer pause(io_);
  while (!stopped_ && !link.retired) {
    asio::error_code error;
    tcp::socket socket(io_);
    const tcp::endpoint local(asio::ip::make_address(self_address_.host), 0);
    const tcp::endpoint remote(asio::ip::make_address(link.address.host, error),
                               link.address.port);
    socket.open(remote.protocol(), error);
    if (!error) socket.set_option(tcp::no_delay(true), error);
    if (!error) socket.bind(local, error);  // The source address names this node.
    if (!error) error = co_await connect(socket, remote);
    if (!error) {
      backoff_ms = options_.backoff_ms_min;
      log_to(logger_, LogLevel::Debug, "connected to node ", link.address.id, " at ",
             link.address.host, ":", link.address.port, " (", lane_name(link.lane), ")");
      if (options_.tls_dialer_context) {
        co_await dial_tls(link, std::move(socket));
      } else {
        co_await run_link(link, socket);
      }
      if (stopped_ || link.retired) co_return;
      log_to(logger_, LogLevel::Info, "lost the ", lane_name(link.lane), " connection to node ",
             link.address.id);
      inbox_->on_peer_unreachable(link.address.id);
    }
    pause.expires_after(std::chrono::milliseconds(backoff_ms));
    co_await pause.async_wait(no_throw(error));
    backoff_ms = std::min(backoff_ms * 2, options_.backoff_ms_max);
  }
}

awaitable<void> PeerTransport::dial_tls(Link& link, tcp::socket socket) {
  const std::shared_ptr<asio::ssl::context> context = options_.tls_dialer_context();
  RAFT_ASSERT(context != nullptr);
  TlsStream stream(std::move(socket), *context);  // Keeps `context` alive past a reload.
  const asio::error_code error =
      co_await handshake_within(stream, asio::ssl::stream_base::client, options_.handshake_ms);
  const std::string name = node_certificate_name(link.address.id);
  const std::string mismatch = error ? "" : certificate_name_mismatch(stream, name);
  if (error || !mismatch.empty()) {
    log_to(logger_, LogLevel::Warn, "refused our ", lane_name(link.lane), " connection to node ",
           link.address.id, " at ", link.address.host, ":", link.address.port, ": ",
           error ? "TLS handshake failed: " + error.message() : mismatch);
    co_return;
  }
  if (stopped_ || link.retired) co_return;  // While the handshake ran: nothing to send now.
  co_await run_link(link, stream);
}

template <typename Stream>
awaitable<void> PeerTransport::run_link(Link& link, Stream& stream) {
  RAFT_ASSERT(link.socket == nullptr);
  link.socket = &tcp_of(stream);
  link.counters.connected = true;
  // A peer that restarted is noticed when its old connection closes, not at the next
  // write: a follower writes to another follower only to campaign, and losing that
  // first vote request to a dead socket would cost a whole election timeout.
  co_await (write_frames(link, stream) || watch_for_close(link, stream));
  link.socket = nullptr;
  link.counters.connected = false;
  link.pending.clear();
  link.pending_bytes = 0;
}

// Connects within options_.stall_ms (a dial into a cut link would otherwise wait out the
// kernel's SYN retries, minutes), then bounds how long sent data may go unacknowledged.
awaitable<asio::error_code> PeerTransport::connect(tcp::socket& socket,
                                                  const tcp::endpoint& remote) {
  asio::error_code error;
  if (options_.stall_ms == 0) {
    co_await socket.async_connect(remote, no_throw(error));
    co_return error;
  }
  asio::steady_timer timer(io_);
  timer.expires_after(std::chrono::milliseconds(options_.stall_ms));
  asio::error_code timer_error;
  const auto first = co_await (socket.async_connect(remote, no_throw(error)) ||
                               timer.async_wait(no_throw(timer_error)));
  if (first.index() == 1) co_return asio::error::timed_out;
  if (error) co_return error;
  const unsigned int user_timeout_ms = options_.stall_ms;
  if (::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
                   sizeof user_timeout_ms) != 0) {
    log_to(logger_, LogLevel::Warn, "cannot set TCP_USER_TIMEOUT on a peer connection");
  }
  co_return error;
}

// Completes when the peer closes the connection (or it fails). The peer sends nothing on it
// but, before closing, possibly a Refusal saying that the cluster removed this node.
template <typename Stream>
awaitable<void> PeerTransport::watch_for_close(Link& link, Stream& socket) {
  std::array<uint8_t, kFrameHeaderBytes> header{};
  asio::error_code error;
  co_await asio::async_read(socket, asio::buffer(header), no_throw(error));
  const uint32_t length = frame_length(header);
  if (error || length > kRefusalBytesMax) co_return;
  std::string payload(length, '\0');
  co_await asio::async_read(socket, asio::buffer(payload), no_throw(error));
  pb::PeerEnvelope envelope;
  if (error || !envelope.ParseFromString(payload) || !envelope.has_refusal()) co_return;
  log_to(logger_, LogLevel::Warn, "node ", link.address.id, " refused our connection: ",
         envelope.refusal().reason());
  if (envelope.refusal().removed() && !stopped_) {
    link.retired = true;  // No use dialling again: its answer will not change.
    inbox_->on_removed_notice(link.address.id);
  }
}

// Writes the Hello, then every batch as it is queued, until the connection fails or
// watch_for_close() ends it (cancellation).
template <typename Stream>
awaitable<void> PeerTransport::write_frames(Link& link, Stream& socket) {
  asio::error_code error;
  pb::PeerEnvelope envelope;
  pb::Hello* hello = envelope.mutable_hello();
  hello->set_protocol_version(kPeerProtocolVersion);
  hello->set_cluster_id(options_.cluster_id);
  hello->set_from(self_.value());
  hello->set_to(link.address.id.value());
  hello->set_client_addr(options_.client_addr);
  hello->set_client_tls_addr(options_.client_tls_addr);
  hello->set_peer_addr(self_address_.host + ":" + std::to_string(self_address_.port));
  std::string hello_frame;
  encode_frame(envelope, &hello_frame);
  co_await asio::async_write(socket, asio::buffer(hello_frame), no_throw(error));
  BatchFrames frames;
  std::vector<asio::const_buffer> buffers;
  while (!error && !stopped_) {
    if (link.pending.empty()) {
      link.wakeup.expires_at(asio::steady_timer::time_point::max());
      co_await link.wakeup.async_wait(no_throw(error));
      // Named: GCC 12 cannot type the co_await expression inside a template.
      const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) {
        co_return;  // The connection closed.
      }
      error = {};  // Cancelling the timer is the wake-up signal.
      continue;
    }
    link.counters.messages_sent += static_cast<uint64_t>(link.pending.batch.messages_size());
    link.pending_bytes = 0;
    // One gather write: large entry data goes out from the entries' own buffers.
    buffers.clear();
    for (std::string_view piece : frames.encode(link.pending)) {
      buffers.emplace_back(piece.data(), piece.size());
      link.counters.bytes_sent += piece.size();
    }
    co_await asio::async_write(socket, buffers, TransferAll(), no_throw(error));
    frames.recycle();
  }
}

awaitable<void> PeerTransport::accept_loop() {
  while (!stopped_) {
    asio::error_code error;
    tcp::socket socket = co_await acceptor_.async_accept(no_throw(error));
    if (error) {
      if (stopped_) co_return;
      log_to(logger_, LogLevel::Warn, "accepting a peer connection failed: ", error.message());
      continue;
    }
    asio::co_spawn(io_, serve_accepted(std::move(socket)), asio::detached);
  }
}

awaitable<void> PeerTransport::serve_accepted(tcp::socket socket) {
  asio::error_code error;
  const tcp::endpoint remote_endpoint = socket.remote_endpoint(error);
  const std::string remote =
      error ? "?" : remote_endpoint.address().to_string() + ":" +
                        std::to_string(remote_endpoint.port());
  if (!options_.tls_listener_context) {
    co_await read_loop(socket, remote);
    co_return;
  }
  const std::shared_ptr<asio::ssl::context> context = options_.tls_listener_context();
  RAFT_ASSERT(context != nullptr);
  TlsStream stream(std::move(socket), *context);  // Keeps `context` alive past a reload.
  error = co_await handshake_within(stream, asio::ssl::stream_base::server,
                                    options_.handshake_ms);
  if (error) {
    log_to(logger_, LogLevel::Warn, "refused peer connection from ", remote,
           ": TLS handshake failed: ", error.message());
    co_return;
  }
  co_await read_loop(stream, remote);
}

template <typename Stream>
awaitable<void> PeerTransport::read_loop(Stream& socket, const std::string& remote) {
  asio::error_code error;
  // Only a TLS peer's certificate can bind the id its Hello claims.
  IdentityCheck identity = [](NodeId) { return std::string(); };
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    identity = [&socket](NodeId claimed) {
      return certificate_name_mismatch(socket, node_certificate_name(claimed));
    };
  }
  const NodeId from = co_await read_hello(socket, remote, identity);
  if (from == kNoNode) co_return;
  ++incoming_connections_[from];
  std::array<uint8_t, kBatchHeaderBytes> header{};
  BatchFrames frames;
  while (!stopped_) {
    co_await asio::async_read(socket, asio::buffer(header), no_throw(error));
    if (error) break;
    const Result<BatchHeader> lengths = parse_batch_header(header, options_.frame_bytes_max);
    if (!lengths.is_ok()) {
      log_to(logger_, LogLevel::Warn, "closing peer connection from node ", from, ": ",
             lengths.status().message());
      break;
    }
    const BatchHeader& sizes = lengths.value();
    const std::array<asio::mutable_buffer, 2> buffers{
        asio::buffer(frames.envelope(sizes.envelope_bytes)),
        asio::buffer(frames.entry_data(sizes.data_bytes))};
    co_await asio::async_read(socket, buffers, TransferAll(), no_throw(error));
    if (error) break;
    Result<pb::PeerBatch*> batch = frames.decode();
    if (!batch.is_ok()) {
      log_to(logger_, LogLevel::Warn, "closing peer connection from node ", from,
             ": malformed frame: ", batch.status().message());
      break;
    }
    PeerCounters& counters = received_[from];
    counters.messages_received += static_cast<uint64_t>(batch.value()->messages_size());
    counters.bytes_received += kBatchHeaderBytes + sizes.envelope_bytes + sizes.data_bytes;
    deliver_batch(from, *batch.value(), frames.received_entry_data(), *inbox_, logger_);
    frames.recycle();
    if (removed_.contains(from)) {
      // Removed while connected: say so, and close. Its redials get the same answer.
      const std::string refusal = removed_refusal(from);
      co_await asio::async_write(socket, asio::buffer(refusal), no_throw(error));
      break;
    }
  }
  if (--incoming_connections_[from] == 0 && !stopped_) {
    log_to(logger_, LogLevel::Info, "node ", from, " closed its connection");
    inbox_->on_peer_disconnected(from);
  }
}

// The connection's first frame, an envelope frame in every protocol version. kNoNode when the
// connection is to close (after writing back a refusal, if there is one).
template <typename Stream>
awaitable<NodeId> PeerTransport::read_hello(Stream& socket, const std::string& remote,
                                           const IdentityCheck& identity) {
  asio::error_code error;
  std::array<uint8_t, kFrameHeaderBytes> header{};
  co_await asio::async_read(socket, asio::buffer(header), no_throw(error));
  if (error) co_return kNoNode;
  const uint32_t length = frame_length(header);
  if (length > kHelloBytesMax) {
    log_to(logger_, LogLevel::Warn, "refused peer connection from ", remote, ": a first frame of ",
           length, " bytes is no Hello");
    co_return kNoNode;
  }
  std::string payload(length, '\0');
  co_await asio::async_read(socket, asio::buffer(payload), no_throw(error));
  if (error) co_return kNoNode;
  NodeId from = kNoNode;
  std::string refusal;
  if (accept_hello(remote, payload, identity, &from, &refusal)) co_return from;
  if (!refusal.empty()) co_await asio::async_write(socket, asio::buffer(refusal), no_throw(error));
  co_return kNoNode;
}

std::string PeerTransport::removed_refusal(NodeId peer) {
  return refusal("node " + std::to_string(peer.value()) + " was removed from the cluster", true);
}

std::string PeerTransport::refusal(const std::string& reason, bool removed) {
  pb::PeerEnvelope answer;
  answer.mutable_refusal()->set_reason(reason);
  answer.mutable_refusal()->set_removed(removed);
  std::string frame;
  encode_frame(answer, &frame);
  return frame;
}

bool PeerTransport::accept_hello(const std::string& remote, const std::string& bytes,
                                 const IdentityCheck& identity, NodeId* from,
                                 std::string* refusal_frame) {
  pb::PeerEnvelope envelope;
  auto refuse = [&](const std::string& why) {
    log_to(logger_, LogLevel::Warn, "refused peer connection from ", remote, ": ", why);
    return false;
  };
  if (!envelope.ParseFromString(bytes) || !envelope.has_hello()) {
    return refuse("it did not open with a Hello");
  }
  const pb::Hello& hello = envelope.hello();
  if (hello.protocol_version() != kPeerProtocolVersion) {
    // Its frames after the Hello would not parse here; run one version across the cluster.
    *refusal_frame = refusal("node " + std::to_string(self_.value()) +
                                 " speaks peer protocol version " +
                                 std::to_string(kPeerProtocolVersion) + ", not " +
                                 std::to_string(hello.protocol_version()) +
                                 "; run one raftkv-server version across the cluster",
                             false);
    return refuse("it speaks peer protocol version " + std::to_string(hello.protocol_version()) +
                  ", this node version " + std::to_string(kPeerProtocolVersion) +
                  " (run one raftkv-server version across the cluster)");
  }
  if (hello.cluster_id() != options_.cluster_id) {
    return refuse("cluster id " + std::to_string(hello.cluster_id()) + " is not ours (" +
                  std::to_string(options_.cluster_id) + ")");
  }
  if (hello.to() != self_.value()) {
    return refuse("addressed to node " + std::to_string(hello.to()) + ", we are node " +
                  std::to_string(self_.value()));
  }
  if (hello.from() == 0 || hello.from() == self_.value()) {
    return refuse("it claims to be node " + std::to_string(hello.from()));
  }
  if (const std::string mismatch = identity(NodeId{hello.from()}); !mismatch.empty()) {
    return refuse("it claims to be node " + std::to_string(hello.from()) + ", but " + mismatch);
  }
  if (removed_.contains(NodeId{hello.from()})) {
    // Tell it, so that it stops campaigning in vain (it may have missed its removal). Logged
    // once: it redials until it hears.
    *refusal_frame = removed_refusal(NodeId{hello.from()});
    if (!told_removed_.insert(NodeId{hello.from()}).second) return false;
    return refuse("node " + std::to_string(hello.from()) + " was removed from the cluster");
  }
  if (!peers_.contains(NodeId{hello.from()})) {
    // Most likely added by a membership change this node has not applied yet (it was cut
    // off): its replication must reach us, and our answers it (raft_validate.cc).
    log_to(logger_, LogLevel::Info, "node ", hello.from(), " is not a member here yet; accepting ",
           "it (the change adding it has not reached this node) and answering it at ",
           hello.peer_addr());
    add_peer(NodeId{hello.from()}, hello.peer_addr());
  }
  *from = NodeId{hello.from()};
  inbox_->on_peer_hello(*from, hello.client_addr(), hello.client_tls_addr());
  return true;
}

}  // namespace raftkv::net
