#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "common/types.h"
#include "kv/acl.h"
#include "kv/command.h"
#include "kv/keyspace.h"
#include "kv/persistent_map.h"
#include "kv/reply.h"
#include "runtime/byte_stream.h"

// The replicated key-value state machine: a deterministic function from the sequence of
// committed entries to a key space (keyspace.h: strings and hashes, with expiry deadlines and
// versions) plus a client session table. Every replica applying the same entries reaches the
// same state and the same replies; no clock, randomness or I/O is consulted
// (scripts/check_core_purity.sh enforces the includes).
//
// Time: every entry carries the leader's clock (RespStateMachine::to_entry). "Log time" is the
// largest stamp applied so far, so it never runs backwards even under a leader whose clock is
// behind; a command runs at log time: SET ... EX 10 expires 10 s of log time after its entry,
// and a key whose deadline is at or before log time is gone for every write. Expired keys are
// removed by replicated deletes only: by the write that touches one (lazily), and by the
// leader's sweep (sweep_due()), so every replica removes the same keys at the same entry.
// A read (query) runs at max(its node's clock, log time): a key past its deadline is missing
// on every node, whether or not the delete has been applied there yet. docs/semantics.md
// bounds what a leader's clock jump can do.
//
// Snapshots: copy-on-write through persistent maps. The key space is a persistent hash trie
// (hash_trie.h) and the session table a path-copying AVL tree (persistent_map.h).
// snapshot_view() copies their root pointers, O(1); the view is immutable and can be saved on
// another thread while apply() continues. Memory beyond the live state is only the nodes each
// later write copies on its path while the save runs (about 4 trie nodes at a million keys),
// never a second copy of the data; there is no fork and no pause. The cost: a write after a
// snapshot copies its path, and each key carries its 24-byte slot and the record's 32-byte
// header, acceptable next to the fsync per commit that dominates writes, and simpler to get
// right than an incremental or fork-based scheme.
//
// Sessions (exactly-once, Raft thesis §6.3): REGISTER_SESSION at log index i creates client
// id i. SESSION(client, seq, ts, cmd) applies cmd once per (client, seq): the table keeps each
// client's last sequence and its reply.
//   seq == last: the remembered reply again, cmd not applied again (a retry; its cmd is not
//                compared with the first one's).
//   seq <  last: "ERR sequence number too old" (the client has already moved past it; only the
//                last reply is kept, so a client must have one request in flight per session).
//   seq >  last: cmd applied, (seq, reply) remembered. Gaps are allowed.
//   unknown client id: "SESSION_EXPIRED ..." — never a silent re-apply.
// Expiry is decided by the log alone: REGISTER_SESSION and SESSION carry a timestamp proposed
// by the leader; "log time" is the maximum timestamp applied so far (so a leader with a slow
// clock cannot move time backwards). Whenever log time advances, sessions idle for more than
// `session_timeout_ms` of log time are removed; registering past `sessions_max` removes the
// least recently used session first (oldest last use by log index). Both are applied in log
// order, so every replica expires the same sessions at the same entry.
//
// Not thread-safe: one thread applies and queries (the node's apply thread). Snapshot views
// may be saved concurrently from another thread.

namespace raftkv::kv {

struct KvConfig {
  // Sessions idle for longer than this (in log time) expire. Clients retry well within it.
  uint64_t session_timeout_ms = 60 * 60 * 1000;
  // Most sessions kept; registering beyond it evicts the least recently used.
  size_t sessions_max = 100'000;
  // Largest value APPEND or SETRANGE may build, as Redis' proto-max-bulk-len, for entries
  // that state no limit of their own (Command::value_bytes_max, of version 2 and earlier).
  // An entry's own limit applies when it is lower.
  size_t value_bytes_max = 512u << 20;
  // Most keys one sweep entry deletes (sweep_due()): bounds the entry and its apply time.
  size_t sweep_keys_max = 64;
};

// A client session's remembered state. Part of the replicated state and of snapshots.
struct Session {
  uint64_t last_sequence = 0;  // 0 until the first command; client sequences start at 1.
  Reply last_reply;            // The reply to `last_sequence`, answered again to a retry.
  uint64_t last_active_ms = 0;  // Log time of the last use (registration included).
  uint64_t last_index = 0;      // Log index of the last use; orders the LRU eviction.
  bool operator==(const Session&) const = default;
};

using SessionMap = PersistentMap<uint64_t, Session>;
using AclMap = PersistentMap<std::string, AclUser>;

// An immutable, O(1)-taken image of the state at one applied index. Safe to save from any
// thread while the state machine it came from keeps applying.
class KvSnapshotView {
 public:
  // Streams the deterministic encoding (keys and fields in the maps' hash order, sessions and
  // users in ascending order), so equal states give equal bytes (format 4):
  //   "RKVKVSM4" u64 applied_index u64 log_time_ms
  //   u64 key_count { u32 key_len key u8 kind i64 expire_at_ms u64 version
  //                   (String: u32 len bytes | Hash: u64 n { u32 len field u32 len value }*n) }*
  //   u64 session_count { u64 client_id u64 last_sequence u64 last_active_ms u64 last_index
  //                       reply }*
  //   u64 user_count { u32 len name u8 flags (bit 0 on, bit 1 nopass) u8 categories
  //                    u32 n { u32 len hash }*n }*
  //   u32 crc32 (zlib polynomial) of all bytes before it, "RKVKVEND"
  //   reply := u8 type (Simple|Error|Bulk: u32 len bytes; Integer: i64; Nil; Array: u32 n
  //            reply*n; NilArray)
  // Format 1 ("RKVKVSM1", before expiry and hashes: keys as { u32 len key u32 len value })
  // still restores, as strings without deadline at version 0; format 2 ("RKVKVSM2", before
  // ACL users) restores with no users; format 3 ("RKVKVSM3", format 4 with keys and fields in
  // key order) restores re-sorted.
  // Returns the writer's first error unchanged.
  [[nodiscard]] Status save(runtime::ByteSink& writer) const;

  [[nodiscard]] Index applied_index() const { return applied_index_; }

 private:
  friend class KvStateMachine;
  KeyMap keys_;
  SessionMap sessions_;
  AclMap users_;
  Index applied_index_;
  uint64_t log_time_ms_ = 0;
};

class KvStateMachine {
 public:
  explicit KvStateMachine(KvConfig config = {});

  // Applies the committed entry at `index` whose data is `entry` (an encode_command output)
  // and returns the reply for the client that proposed it. Bytes that do not decode apply as
  // an error reply, identically on every replica. Precondition: index > applied_index().
  Reply apply(Index index, std::string_view entry);

  // Records that `index` was applied without a command (a leader's no-op, a membership
  // change), so applied_index() stays the position in the log. Precondition: as apply().
  void apply_empty(Index index);

  // A hint before applying, or querying, a run of encoded commands: starts loading the keys
  // they name first (first_key_hint) into the cache, all at once. Changes nothing.
  void prefetch(std::span<const std::string_view> commands) const;

  // Answers a read-only command (is_read_only) from the current state, without the log, at
  // max(now_ms, log time). The server calls it once ReadIndex says the state is recent
  // enough. `seed` feeds RANDOMKEY and HRANDFIELD. Precondition: read-only and
  // validate_command ok. Takes the command: its arguments become the handler's.
  [[nodiscard]] Reply query(Command command, uint64_t now_ms, uint64_t seed = 0) const;
  // The same at log time (tests, checkers).
  [[nodiscard]] Reply query(Command command) const { return query(std::move(command), 0); }

  // Up to sweep_keys_max keys past their deadline at max(now_ms, log time), as an
  // ExpireSweep command for the leader to log; nullopt when none is due.
  [[nodiscard]] std::optional<Command> sweep_due(uint64_t now_ms) const;

  // O(1) image of the current state for save(). See the class comment.
  [[nodiscard]] KvSnapshotView snapshot_view() const;
  // Same as snapshot_view().save(writer).
  [[nodiscard]] Status save(runtime::ByteSink& writer) const;
  // Replaces the whole state with a saved snapshot. Corruption (state unchanged) when the
  // stream is truncated, has trailing bytes, fails its checksum, or is not well formed;
  // a reader error is returned unchanged (state unchanged too).
  [[nodiscard]] Status restore(runtime::ByteSource& reader);

  [[nodiscard]] Index applied_index() const { return applied_index_; }
  [[nodiscard]] uint64_t log_time_ms() const { return log_time_ms_; }
  [[nodiscard]] size_t key_count() const { return keys_.size(); }
  [[nodiscard]] const Keyspace& keys() const { return keys_; }
  [[nodiscard]] size_t session_count() const { return sessions_.size(); }
  // The session of `client_id`, or nullptr (unknown or expired). For status pages and tests.
  [[nodiscard]] const Session* find_session(uint64_t client_id) const {
    return sessions_.find(client_id);
  }
  [[nodiscard]] const KvConfig& config() const { return config_; }
  // The ACL user `name`, or nullptr. For tests.
  [[nodiscard]] const AclUser* find_user(const std::string& name) const {
    return users_.find(name);
  }

 private:
  // The apply_* helpers consume `command`: they move keys and values into the map instead of
  // copying them (a value may be hundreds of MiB).
  Reply apply_command(Index index, Command& command);
  Reply apply_data(Index index, Command& command);  // Key-space commands and Batch.
  Reply apply_batch(Index index, Command& command);
  Reply apply_simple(Index index, Command& command);
  Reply apply_cas(Index index, Command& command);
  Reply apply_sweep(const Command& command);
  Reply apply_acl_setuser(const Command& command);
  Reply apply_acl_deluser(const Command& command);
  [[nodiscard]] Reply query_acl(const Command& command) const;
  [[nodiscard]] bool watched_unchanged(const Command& batch) const;
  [[nodiscard]] int64_t log_now() const { return static_cast<int64_t>(log_time_ms_); }
  Reply register_session(Index index, const Command& command);
  Reply apply_session(Index index, Command& command);
  void advance_log_time(uint64_t timestamp_ms);
  void expire_sessions();
  void put_session(uint64_t client_id, Session session);
  void erase_session(uint64_t client_id);

  KvConfig config_;
  // The key space. Updated only by apply(); read by query() and snapshot views.
  Keyspace keys_;
  // Client sessions by client id. Invariant: holds exactly the ids in lru_.
  SessionMap sessions_;
  // (last_index, client_id) of every session, oldest use first: the expiry and eviction
  // order. Derived from sessions_ (rebuilt on restore), so not part of a snapshot.
  std::set<std::pair<uint64_t, uint64_t>> lru_;
  // ACL users by name (kv/acl.h); "default" is never here (each node's requirepass).
  // Updated only by apply(); at most kAclUsersMax.
  AclMap users_;
  // Last index applied. Increases with every apply() and apply_empty().
  Index applied_index_;
  // Largest leader timestamp applied so far; never decreases.
  uint64_t log_time_ms_ = 0;
  // The longest string the entry being applied may build: its proposer's limit, at most
  // config_.value_bytes_max. Set by apply() for each entry; not part of a snapshot.
  size_t entry_value_bytes_max_ = 0;
};

}  // namespace raftkv::kv
