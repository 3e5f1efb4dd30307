#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/logger.h"
#include "common/prng.h"
#include "common/status.h"
#include "common/types.h"
#include "raft/log_storage.h"
#include "raft/messages.h"
#include "raft/progress.h"
#include "raft/quorum.h"
#include "raft/raft_log.h"

// The deterministic Raft consensus core (Raft paper and thesis; shaped like etcd-io/raft).
//
// Inputs arrive only through tick(), step(), propose(), read_index(), transfer_leadership()
// and propose_conf_change(); effects leave only through ready(). The core does no I/O, reads
// no clock, starts no thread and draws randomness only from the injected Prng, so a run is
// fully determined by its inputs and seed.
//
// The driver's loop, per Ready (the order is the safety argument):
//   1. persist ready.snapshot, ready.entries and ready.hard_state, and sync them;
//   2. send ready.messages (those for which may_send_before_persist() holds may go before 1);
//   3. apply ready.committed_entries in order, and answer ready.read_states once the state
//      machine has applied their index;
//   4. call advance(ready).
// Only one Ready may be outstanding; step() and the other inputs may be called meanwhile, and
// take_messages_before_persist() hands out what they produced that may leave before 1.
//
// Not thread-safe: one Raft is driven by one thread.
namespace raftkv::raft {

enum class Role : uint8_t { Follower, PreCandidate, Candidate, Leader };

const char* role_name(Role role);

struct Config {
  NodeId id = kNoNode;
  // Membership of a brand-new cluster; ignored when storage holds a snapshot (its ConfState wins).
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;
  // A follower that hears nothing from a leader for a random number of ticks in
  // [election_ticks, 2 * election_ticks) starts an election (Raft §5.2).
  uint32_t election_ticks = 10;
  // The leader sends heartbeats every heartbeat_ticks. Must be < election_ticks.
  uint32_t heartbeat_ticks = 1;
  // PreVote (thesis §9.6): a node first asks whether it could win, so that a node rejoining
  // from a partition cannot disrupt the cluster by bumping the term.
  bool pre_vote = true;
  // CheckQuorum (thesis §6.2): a leader that heard from no quorum for an election timeout
  // steps down, and voters ignore elections while they hear from a live leader.
  bool check_quorum = true;
  // Entries sent per Append message, in bytes (at least one entry is always sent).
  uint64_t message_bytes_max = 1 << 20;
  // Pipelining window per follower.
  uint32_t inflight_messages_max = 256;
  uint64_t inflight_bytes_max = 64ull << 20;
  // Append messages sent to one follower per acknowledgement, at most. The window still fills
  // (each acknowledgement frees about one message and sends up to this many), but a follower
  // far behind, such as a learner catching up, no longer gets the whole window in one step:
  // each message's entries are read back from storage on the caller's thread, and a 64 MiB
  // window read at once stalled the leader's heartbeats (issue 15).
  uint32_t appends_per_ack_max = 4;
  // Committed entries handed out per Ready, in bytes.
  uint64_t apply_bytes_max = 64ull << 20;
  // Proposals not yet committed, in bytes; past it propose() answers Busy (back-pressure).
  uint64_t uncommitted_bytes_max = 256ull << 20;
  // The last index the state machine applied before a restart (0 for a fresh state machine).
  Index applied;

  // InvalidArgument naming the first bad field.
  [[nodiscard]] Status validate() const;
};

// What propose() assigned. The proposal succeeded only if the entry applied at `index` has this
// `term`; a different term there means a new leader replaced it (the outcome is "failed").
struct Proposal {
  Term term;
  Index index;
};

// A linearizable read may be served once the state machine has applied `index`.
struct ReadState {
  Index index;
  uint64_t request_id = 0;
};

struct SoftState {
  Role role = Role::Follower;
  NodeId leader = kNoNode;
  bool operator==(const SoftState&) const = default;
};

struct Ready {
  std::optional<SoftState> soft_state;  // Set when role or known leader changed.
  std::optional<HardState> hard_state;  // Set when it changed; persist before sending.
  std::optional<Snapshot> snapshot;     // A snapshot to persist and restore the state machine from.
  std::vector<Entry> entries;           // To append; may replace a suffix of the stored log.
  std::vector<Message> messages;
  std::vector<Entry> committed_entries; // To apply, in order.
  std::vector<ReadState> read_states;
};

struct PeerStatus {
  NodeId id;
  Index match_index;
  Index next_index;
  ProgressState state = ProgressState::Probe;
  bool is_learner = false;
  uint64_t ticks_since_contact = 0;
  uint32_t inflight_messages = 0;
};

// A read-only copy of the node's state, for logs, INFO, /status and tests.
struct RaftStatus {
  NodeId id;
  Role role = Role::Follower;
  Term term;
  NodeId leader = kNoNode;
  NodeId voted_for = kNoNode;
  Index commit_index;
  Index applied_index;
  Index first_index;
  Index last_index;
  Term last_term;
  ConfState conf_state;
  NodeId transfer_target = kNoNode;
  // Leader only: a membership change (or this term's first entry) is not applied yet, so
  // propose_conf_change() answers Busy.
  bool conf_change_pending = false;
  uint64_t read_rounds = 0;       // Leader only: ReadIndex heartbeat rounds started this term.
  // The election timer: ticks since it was last reset, and the randomized timeout it runs to,
  // in [election_ticks, 2 * election_ticks). A follower or candidate campaigns when elapsed
  // reaches the timeout; on the leader, elapsed counts the CheckQuorum period instead.
  uint32_t election_elapsed_ticks = 0;
  uint32_t randomized_election_ticks = 0;
  std::vector<PeerStatus> peers;  // Leader only, sorted by id.
};

class Raft {
 public:
  // `storage`, `prng` and `logger` must outlive the Raft. Preconditions: config.validate() is
  // ok, and the storage's state is consistent (the storage layer verifies that when loading).
  Raft(const Config& config, const LogStorage& storage, Prng& prng, Logger& logger);

  // One logical tick. Followers and candidates count toward an election; a leader counts
  // toward its next heartbeat and its CheckQuorum period.
  void tick();
  // Handles one message from a peer. Returns InvalidArgument, and changes nothing, for a
  // message that cannot be valid (unknown sender, malformed entries, absurd indexes).
  [[nodiscard]] Status step(const Message& message);
  // Appends a command to the leader's log. NotLeader (hint: status().leader) on other nodes;
  // Busy while a leadership transfer runs or the uncommitted backlog is full.
  [[nodiscard]] Result<Proposal> propose(SharedBytes data);
  // Asks for a linearizable read point (Raft thesis §6.4). On the leader, `request_id` comes
  // back in a ReadState once the leader confirmed with a quorum that it still leads (and its
  // term's first entry committed). Reads queued between two Readies share one quorum round.
  // NotLeader on other nodes. Requests are dropped if leadership is lost; the driver fails
  // every outstanding read when it sees the role change.
  [[nodiscard]] Status read_index(uint64_t request_id);
  // Hands leadership to `target` (thesis §3.10): catch it up, then send TimeoutNow. Proposals
  // answer Busy until the transfer ends or is abandoned after an election timeout.
  [[nodiscard]] Status transfer_leadership(NodeId target);
  // Proposes one single-server membership change. Busy while an earlier one is unapplied.
  [[nodiscard]] Result<Proposal> propose_conf_change(const ConfChange& change);
  // The driver applied a committed ConfChange entry; the core switches to the new membership.
  ConfState apply_conf_change(const ConfChange& change);
  // The driver could not deliver a snapshot to `peer`; it is probed again.
  void report_snapshot_failed(NodeId peer);
  // The driver's transfer of a snapshot to `peer` moved on (a chunk was acknowledged): the
  // stall timeout that would otherwise presume the snapshot lost and probe again restarts.
  void report_snapshot_progress(NodeId peer);
  // The transport lost its connection to `peer`; pipelined appends to it are presumed lost.
  void report_unreachable(NodeId peer);
  // The peer's own connection to us closed, as when its process dies (the OS closes its
  // sockets). A follower whose leader that was stops honouring the leader's lease and
  // campaigns after a short random delay (up to half an election timeout) instead of a whole
  // timeout. Only timing changes, never safety: if the leader still lives, PreVote fails at
  // the voters that still hear it, and no term is spent.
  void report_peer_down(NodeId peer);

  // False once storage_error() is set: the core then produces nothing more.
  [[nodiscard]] bool has_ready() const;
  // Everything to persist, send and apply since the last Ready. Requires: no Ready outstanding.
  [[nodiscard]] Ready ready();
  // The driver finished the Ready returned last (persisted, sent, applied).
  void advance(const Ready& ready);
  // The messages produced since the last Ready that may be sent before anything is persisted
  // (may_send_before_persist: a leader's heartbeats and appends), taken out of the next Ready.
  // For while a Ready is outstanding: its sync may take longer than an election timeout (a
  // slow disk, a 16 MiB entry), and a leader's heartbeats must not wait for it.
  [[nodiscard]] std::vector<Message> take_messages_before_persist();
  // For while an outstanding Ready's sync is slow (a stalled disk): what was proposed and asked
  // since it goes out now, instead of waiting to batch into the next Ready. A leader sends the
  // new entries (take_messages_before_persist() hands the appends out) and starts the reads'
  // quorum round; the reads confirmed so far are returned, and not in the next Ready. The
  // entries may commit on the followers' copies alone, so neither waits for this node's disk.
  [[nodiscard]] std::vector<ReadState> replicate_while_persisting();

  [[nodiscard]] RaftStatus status() const;
  [[nodiscard]] NodeId id() const { return id_; }
  [[nodiscard]] Role role() const { return role_; }
  [[nodiscard]] Term term() const { return term_; }
  [[nodiscard]] NodeId leader() const { return leader_; }
  [[nodiscard]] const RaftLog& log() const { return log_; }
  // Set (and kept) when storage could not read entries back (Corruption, IoError): the core
  // never asserts on what the disk returns, it stops instead, and the driver must stop the
  // node (a restart recovers from what is durable, or refuses to start on real damage).
  [[nodiscard]] const Status& storage_error() const { return storage_error_; }

  // Asserts the node-local invariants (commit <= last index, applied <= commit, log terms
  // non-decreasing, per-peer match < next, role and leader consistent, term never decreased).
  // Runs after every input in debug builds; the simulator calls it after every step.
  void check_invariants() const;

 private:
  // --- raft.cc: roles, terms, Ready ---
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(Term term);
  void set_leader(NodeId leader);
  void send(Message message);
  [[nodiscard]] Status step_term(const Message& message, bool* handled);
  void step_by_role(const Message& message);
  void reset_election_timeout();
  void after_input();
  [[nodiscard]] bool is_member(NodeId id) const;
  void on_storage_error(const Status& status);
  [[nodiscard]] HardState hard_state() const;

  // --- raft_election.cc: elections, PreVote, CheckQuorum ---
  void tick_election();
  void tick_heartbeat();
  void campaign(bool pre_vote, bool leadership_transfer);
  void on_vote_request(const Message& message);
  void on_vote_response(const Message& message);
  [[nodiscard]] bool in_leader_lease() const;
  [[nodiscard]] bool promotable() const;
  void check_quorum_or_step_down();

  // --- raft_replication.cc: log replication and commit ---
  void append_entries(std::vector<Entry> entries);
  // Sends the peer what it lacks (or a snapshot); false when nothing was sent.
  bool send_append(NodeId peer, bool send_if_empty);
  void broadcast_append();
  void send_heartbeat(NodeId peer);
  void broadcast_heartbeat();
  void on_append(const Message& message);
  void on_append_response(const Message& message);
  void on_heartbeat(const Message& message);
  void on_heartbeat_response(const Message& message);
  // The peer's match index grew: advance its flow state, commit, send what it lacks.
  void on_match_advanced(NodeId peer, Progress& progress);
  bool maybe_commit();
  void leader_entries_stable(Index last_stable);
  void forget_committed_proposals();

  // --- raft_read_index.cc: linearizable reads ---
  void queue_read(uint64_t request_id);
  void on_read_round_acked(NodeId peer, uint64_t round);
  void release_confirmed_reads();
  void start_read_round_if_needed();
  // The latest round was broadcast and a quorum has not acknowledged it yet.
  [[nodiscard]] bool read_round_in_flight() const;
  // Reads wait for a round, and none is in flight: the next Ready starts one.
  [[nodiscard]] bool read_round_due() const;
  [[nodiscard]] bool committed_in_current_term() const;

  // --- raft_transfer.cc: leadership transfer ---
  void maybe_send_timeout_now(NodeId peer);
  void abort_transfer(const char* reason);
  void on_timeout_now(const Message& message);

  // --- raft_snapshot.cc: snapshot send and install ---
  bool send_snapshot(NodeId peer);
  void on_install_snapshot(const Message& message);
  void restore_membership(const ConfState& conf_state);

  // --- raft_validate.cc: hostile input ---
  [[nodiscard]] Status validate_message(const Message& message) const;

  template <typename... Args>
  void log(LogLevel level, const Args&... args) const {
    log_to(logger_, level, "[node ", id_, " term ", term_, "] ", args...);
  }

  const Config config_;
  const NodeId id_;
  Prng& prng_;
  Logger& logger_;
  RaftLog log_;

  // Persistent (Raft Figure 2): persist before answering anything that depends on them.
  // Latest term this node has seen; never decreases.
  Term term_;
  // Candidate voted for in term_, or kNoNode.
  NodeId voted_for_ = kNoNode;

  // Volatile.
  Role role_ = Role::Follower;
  NodeId leader_ = kNoNode;
  QuorumConfig quorum_;
  ConfState conf_state_;
  // One Progress per member other than self, ordered by id so output order is deterministic.
  // On the leader, the entry for self tracks what it has synced.
  std::map<NodeId, Progress> progress_;
  // Votes received in the current (pre-)election: true granted, false refused.
  std::map<NodeId, bool> votes_;
  // Ticks since the last election timeout reset (followers, candidates) or since the last
  // CheckQuorum period began (leader).
  uint32_t election_elapsed_ = 0;
  uint32_t heartbeat_elapsed_ = 0;
  // This node's current randomized election timeout, in [election_ticks, 2 * election_ticks).
  uint32_t randomized_election_ticks_ = 0;
  // Leadership transfer in progress on the leader (kNoNode when none) and its age in ticks.
  NodeId transfer_target_ = kNoNode;
  uint32_t transfer_elapsed_ = 0;
  // Index of the latest ConfChange entry appended by this leader; only one may be unapplied.
  Index pending_conf_index_;
  // Proposals appended by this leader and not yet committed, oldest first, with their total
  // size: the back-pressure that bounds memory when followers fall behind.
  std::deque<std::pair<Index, uint64_t>> uncommitted_;
  uint64_t uncommitted_bytes_ = 0;

  // ReadIndex (raft_read_index.cc). A read waits for a quorum to acknowledge a heartbeat round
  // started after it arrived; rounds are numbered per term, starting from 1.
  struct PendingRead {
    uint64_t request_id;
    Index index;     // Commit index when the read arrived: the state it must observe.
    uint64_t round;  // The heartbeat round whose quorum acknowledgement releases it.
  };
  std::vector<PendingRead> pending_reads_;      // Ordered by round.
  std::vector<uint64_t> reads_before_commit_;  // Reads waiting for this term's first commit.
  uint64_t read_round_ = 0;                     // Latest round broadcast.
  bool read_round_wanted_ = false;              // A read waits for a round not yet broadcast.

  // Output accumulated for the next Ready.
  std::vector<Message> messages_;
  std::vector<ReadState> read_states_;
  SoftState last_soft_state_;
  HardState last_hard_state_;
  // Ready handed out and not yet advanced.
  bool ready_outstanding_ = false;
  Status storage_error_;  // See storage_error().
};

}  // namespace raftkv::raft
