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
  // `value_bytes_max`: this node's limit on a value's length (--max-bulk-bytes), which
  // to_entry() states in each entry it proposes; 0 states none (config.value_bytes_max
  // then bounds APPEND and SETRANGE).
  explicit RespStateMachine(KvConfig config = {}, uint64_t value_bytes_max = 0)
      : machine_(config), value_bytes_max_(value_bytes_max) {}

  // Every command gets the leader's clock: expiry and sessions run on log time
  // (state_machine.h), and this node's limit on a value's length, so that every replica
  // refuses the same APPEND or SETRANGE past it (command.h). Bytes that do not decode are
  // logged unchanged (they apply as an error).
  [[nodiscard]] std::string to_entry(std::string request, uint64_t now_ms) override;
  // The active half of expiry: an ExpireSweep of keys past their deadline, if any.
  [[nodiscard]] std::optional<std::string> maintenance(uint64_t now_ms) override;
  [[nodiscard]] std::string apply(Index index, std::string_view entry) override;
  void apply_empty(Index index) override { machine_.apply_empty(index); }
  void prefetch(std::span<const std::string_view> commands) const override {
    machine_.prefetch(commands);
  }
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
  uint64_t value_bytes_max_;  // Stated in each entry to_entry() makes, unless 0.
  // Counts queries, to seed RANDOMKEY and HRANDFIELD differently each time. A node's own
  // business (what a read picks at random is not replicated state), hence mutable.
  mutable uint64_t queries_ = 0;
};

}  // namespace raftkv::kv
