#pragma once

#include <string>

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
  Reply query(const Command& command) const { return machine_.query(command); }
  [[nodiscard]] uint64_t last_index() const { return last_index_; }
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
