#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/types.h"
#include "runtime/byte_stream.h"

// What an application gives libraft: a deterministic state machine. The runtime (node.h) turns
// it into a replicated one: it logs writes through Raft, applies committed entries in log order
// on every node, answers reads after ReadIndex, snapshots it and restores it.
//
// Requests, entries and replies are bytes whose meaning only the state machine knows. The one
// rule it must keep: apply() is a pure function of the entries applied so far. It reads no
// clock, no randomness and no local state of the node, so every replica reaches the same state
// and the same replies. Time reaches it only through to_entry(), on the leader, which may
// stamp its clock into the entry.
//
// Threads: every method runs on the runtime's loop thread, except SnapshotImage::save.
namespace raftkv::runtime {

// An immutable image of the state at one applied index, taken in O(1) or close to it, that
// can be saved on another thread while the state machine keeps applying.
class SnapshotImage {
 public:
  virtual ~SnapshotImage() = default;
  // Streams the image; the same state always gives the same bytes.
  [[nodiscard]] virtual Status save(ByteSink& sink) const = 0;
};

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // On the leader, just before proposing a client's write: the log entry for `request`.
  // `now_ms` is the leader's wall clock (ms since the Unix epoch), the only clock a state
  // machine may act on; the default logs the request unchanged.
  [[nodiscard]] virtual std::string to_entry(std::string request, uint64_t now_ms) {
    (void)now_ms;
    return request;
  }
  // On the leader, once per tick: a write the state machine wants logged by itself (not for a
  // client), e.g. deleting keys whose expiry passed. `now_ms` as for to_entry(). The runtime
  // proposes it through to_entry() like a client's write and asks again only once it applied;
  // nullopt: nothing to do (the default).
  [[nodiscard]] virtual std::optional<std::string> maintenance(uint64_t now_ms) {
    (void)now_ms;
    return std::nullopt;
  }
  // Applies the committed entry at `index` (a to_entry() output, from any leader; bytes that
  // do not decode must apply as an error reply, identically everywhere) and returns the reply
  // for the client that proposed it. Precondition: index == applied_index() + 1.
  [[nodiscard]] virtual std::string apply(Index index, std::string_view entry) = 0;
  // Records that `index` was committed without a command (a leader's no-op, a membership
  // change), so applied_index() stays the position in the log.
  virtual void apply_empty(Index index) = 0;
  // A hint, before the runtime applies a run of entries or answers a run of reads: their
  // bytes, in the order they will come. A state machine may start loading what they will
  // touch, so that the memory's latency overlaps across them instead of adding up one by
  // one. It must change nothing; the default does nothing.
  virtual void prefetch(std::span<const std::string_view> requests) const { (void)requests; }
  // Answers a read-only request from the current state. `now_ms` is the serving node's wall
  // clock, never earlier than the newest time applied (a state machine with expiry needs it).
  [[nodiscard]] virtual std::string query(std::string_view request, uint64_t now_ms) const = 0;
  // The last index applied (or restored), 0 for a fresh state machine.
  [[nodiscard]] virtual Index applied_index() const = 0;

  // The current state, for a snapshot at applied_index().
  [[nodiscard]] virtual std::unique_ptr<SnapshotImage> snapshot() const = 0;
  // Replaces the whole state with a saved image; on error the state is unchanged (Corruption
  // for a stream that is not a well-formed image, the source's own error unchanged).
  [[nodiscard]] virtual Status restore(ByteSource& source) = 0;
};

}  // namespace raftkv::runtime
