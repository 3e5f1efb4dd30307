#pragma once

#include "common/types.h"
#include "raft/messages.h"
#include "raft/raft.h"

// What happens inside one node, for whoever watches: the live web view (src/server's
// EventFeed), the simulator's checkers and narration, tests. Called on the loop thread, as it
// happens; every method defaults to nothing and must return quickly.
namespace raftkv::runtime {

class Observer {
 public:
  virtual ~Observer() = default;
  // The core's role or known leader changed.
  virtual void on_role_change(raft::Role /*role*/, Term /*term*/, NodeId /*leader*/) {}
  // A Ready was taken from the core, before anything of it is written or sent.
  virtual void on_ready(const raft::Ready& /*ready*/) {}
  // The Ready's entries and hard state are durable.
  virtual void on_durable(const raft::Ready& /*ready*/) {}
  virtual void on_send(const raft::Message& /*message*/) {}
  // A peer's message, about to be stepped into the core.
  virtual void on_receive(const raft::Message& /*message*/) {}
  // A committed entry was applied (to the state machine or, for a no-op or membership change,
  // to the node).
  virtual void on_apply(const raft::Entry& /*entry*/) {}
  // The state machine was replaced by a snapshot's (at start, or a leader's InstallSnapshot).
  virtual void on_restore(const raft::SnapshotMeta& /*meta*/) {}
  // Once per tick, after the core ticked.
  virtual void on_tick(const raft::Raft& /*core*/) {}
};

}  // namespace raftkv::runtime
