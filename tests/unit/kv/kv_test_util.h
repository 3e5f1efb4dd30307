#pragma once

#include <string>
#include <vector>

#include "common/types.h"
#include "kv/command.h"
#include "kv/reply.h"
#include "kv/state_machine.h"

// Drives a KvStateMachine the way the node does: encodes each command and applies it at the
// next log index.
namespace raftkv::kv::testing {

class Driver {
 public:
  explicit Driver(KvConfig config = {}) : machine_(config) {}

  Reply apply(const Command& command) {
    return machine_.apply(Index(++last_index_), encode_command(command));
  }
  // Applies `command` as logged by a leader whose clock read `now_ms`.
  Reply apply_at(uint64_t now_ms, Command command) {
    command.timestamp_ms = now_ms;
    return apply(command);
  }
  // A client's command line, as the server builds it (a Call, or CAS/CASNX).
  Reply apply_at(uint64_t now_ms, std::vector<std::string> args) {
    return apply_at(now_ms, Command::call(std::move(args)));
  }
  // A read of a client's command line at a node whose clock reads `now_ms`.
  Reply query_at(uint64_t now_ms, std::vector<std::string> args) const {
    return machine_.query(Command::call(std::move(args)), now_ms);
  }
  Reply query(const Command& command) const { return machine_.query(command); }
  [[nodiscard]] uint64_t last_index() const { return last_index_; }
  // Records the next index as empty (a leader's no-op), as the node does.
  void skip() { machine_.apply_empty(Index(++last_index_)); }
  KvStateMachine& machine() { return machine_; }
  const KvStateMachine& machine() const { return machine_; }

  std::string snapshot_bytes() const {
    runtime::StringSink writer;
    const Status status = machine_.save(writer);
    RAFT_ASSERT(status.is_ok());
    return writer.take();
  }

 private:
  KvStateMachine machine_;
  uint64_t last_index_ = 0;
};

inline Reply integer(int64_t value) { return Reply::integer_value(value); }
inline Reply bulk(std::string value) { return Reply::bulk(std::move(value)); }

}  // namespace raftkv::kv::testing
