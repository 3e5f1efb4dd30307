#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "kv/state_machine.h"
#include "runtime/state_machine.h"

// The key-value state machine as the runtime sees it (runtime/state_machine.h): requests are
// encoded commands (kv/command.h), replies are RESP, ready for the client as they are. The
// server and the simulator both run the store through this class.
namespace raftkv::kv {

class RespStateMachine final : public runtime::StateMachine {
 public:
  explicit RespStateMachine(KvConfig config = {}) : machine_(config) {}

  // Session commands get the leader's clock: session expiry runs on log time (state_machine.h).
  [[nodiscard]] std::string to_entry(std::string request, uint64_t now_ms) override;
  [[nodiscard]] std::string apply(Index index, std::string_view entry) override;
  void apply_empty(Index index) override { machine_.apply_empty(index); }
  // A request that does not decode to a read-only command (a peer's forward may carry
  // anything) gets an error reply, never a crash.
  [[nodiscard]] std::string query(std::string_view request, uint64_t now_ms) const override;
  [[nodiscard]] Index applied_index() const override { return machine_.applied_index(); }
  [[nodiscard]] std::unique_ptr<runtime::SnapshotImage> snapshot() const override;
  [[nodiscard]] Status restore(runtime::ByteSource& source) override {
    return machine_.restore(source);
  }

  [[nodiscard]] const KvStateMachine& machine() const { return machine_; }

 private:
  KvStateMachine machine_;
};

}  // namespace raftkv::kv
