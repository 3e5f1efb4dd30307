#pragma once

#include <cstdint>
#include <string>

#include "common/types.h"
#include "raft/messages.h"
#include "runtime/request.h"

// How the runtime talks to its peers, as decoded values: the wire format is the transport's
// business (src/net in the server, an in-memory network in the simulator). Besides the core's
// messages a node sends forwarded client requests and their replies, and streams snapshot
// files in chunks (snapshots.h).
//
// Delivery is best effort: anything may be dropped, delayed or reordered (Raft retransmits;
// forwards time out; snapshot chunks are resent from the last acknowledged offset), but a
// transport never invents or alters a value.
namespace raftkv::runtime {

// A client request a follower relays to the leader.
struct ForwardRequest {
  uint64_t id = 0;  // The forwarder's, echoed in the reply.
  Request request;
};

struct ForwardReply {
  uint64_t id = 0;
  Response response;
};

// A piece of the leader's snapshot file (Raft §7 InstallSnapshot, streamed beside the core's
// InstallSnapshot message, which carries only the metadata).
struct SnapshotChunk {
  Term term;             // The leader's term.
  Index snapshot_index;  // Which snapshot: its last index and term.
  Term snapshot_term;
  uint64_t offset = 0;   // Where `data` starts in the file.
  uint64_t file_bytes = 0;  // The whole file's size; the last chunk ends there.
  std::string data;
};

// The follower's answer to each chunk: the offset it wants next, so a leader resumes there
// after a lost chunk or connection (and from 0 after a follower restart).
struct SnapshotAck {
  Index snapshot_index;
  Term snapshot_term;
  uint64_t received_bytes = 0;
  bool done = false;   // The whole file arrived and verified.
  std::string error;   // Set when the follower gave up on this snapshot; the leader stops.
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(const raft::Message& message) = 0;
  // False when the peer cannot be reached now: nothing was sent, so the request is certainly
  // not applied through this forward.
  [[nodiscard]] virtual bool forward(NodeId to, ForwardRequest request) = 0;
  virtual void reply(NodeId to, ForwardReply reply) = 0;
  virtual void send_snapshot_chunk(NodeId to, SnapshotChunk chunk) = 0;
  virtual void send_snapshot_ack(NodeId to, SnapshotAck ack) = 0;
  // The membership changed (membership.h): dial `id` at `peer_addr` ("host:port"), replacing
  // what was known of it, and accept its connections. The simulator's network needs no
  // addresses and ignores both calls.
  virtual void add_peer(NodeId id, const std::string& peer_addr) {
    (void)id;
    (void)peer_addr;
  }
  // `id` left the membership: stop dialling it, and refuse its connections from now on.
  virtual void remove_peer(NodeId id) { (void)id; }
};

// What a transport delivers to the runtime (runtime::Node implements it), on the loop thread.
// `from` is the peer the connection authenticated, never a claim inside the payload.
class PeerInbox {
 public:
  virtual ~PeerInbox() = default;
  virtual void on_message(NodeId from, raft::Message message) = 0;
  virtual void on_forward_request(NodeId from, ForwardRequest request) = 0;
  virtual void on_forward_reply(NodeId from, ForwardReply reply) = 0;
  virtual void on_snapshot_chunk(NodeId from, SnapshotChunk chunk) = 0;
  virtual void on_snapshot_ack(NodeId from, const SnapshotAck& ack) = 0;
  // A batch of the above has been delivered: a good moment to drive the core once for all.
  virtual void on_batch_end() = 0;
  // Our connection to `peer` failed: what we sent it lately may be lost.
  virtual void on_peer_unreachable(NodeId peer) = 0;
  // Every connection `peer` opened to us closed: its process has probably stopped.
  virtual void on_peer_disconnected(NodeId peer) = 0;
  // `peer` introduced itself; `client_addr` is where it serves clients, `client_tls_addr`
  // where it serves them over TLS ("": it does not, or it is older than that field).
  virtual void on_peer_hello(NodeId peer, const std::string& client_addr,
                             const std::string& client_tls_addr) = 0;
  // `peer` refused our connection because the cluster removed this node (it applied the
  // removal, so the removal is committed).
  virtual void on_removed_notice(NodeId peer) { (void)peer; }
};

}  // namespace raftkv::runtime
