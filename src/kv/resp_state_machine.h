#pragma once

#include <memory>
#include <optional>
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

  // Every command gets the leader's clock: expiry and sessions run on log time
  // (state_machine.h). Bytes that do not decode are logged unchanged (they apply as an error).
  [[nodiscard]] std::string to_entry(std::string request, uint64_t now_ms) override;
  // The active half of expiry: an ExpireSweep of keys past their deadline, if any.
  [[nodiscard]] std::optional<std::string> maintenance(uint64_t now_ms) override;
  [[nodiscard]] std::string apply(Index index, std::string_view entry) override;
  void apply_empty(Index index) override { machine_.apply_empty(index); }
  // A request that does not decode to a read-only command (a peer's forward may carry
  // anything) gets an error reply, never a crash. Runs at max(now_ms, log time).
  [[nodiscard]] std::string query(std::string_view request, uint64_t now_ms) const override;
  [[nodiscard]] Index applied_index() const override { return machine_.applied_index(); }
  [[nodiscard]] std::unique_ptr<runtime::SnapshotImage> snapshot() const override;
  [[nodiscard]] Status restore(runtime::ByteSource& source) override {
    return machine_.restore(source);
  }

  [[nodiscard]] const KvStateMachine& machine() const { return machine_; }

 private:
  KvStateMachine machine_;
  // Counts queries, to seed RANDOMKEY and HRANDFIELD differently each time. A node's own
  // business (what a read picks at random is not replicated state), hence mutable.
  mutable uint64_t queries_ = 0;
};

}  // namespace raftkv::kv
