#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/state_machine.h"

// The state machine of the embedding example: one 64-bit counter. An application gives libraft
// exactly this much (runtime/state_machine.h): how to apply a committed entry, how to answer a
// read, and how to save and restore its state. Replication, durability, elections, snapshots
// and catch-up are the runtime's.
//
// Requests are text: "add N" (a write: the reply is the new value) and "get" (a read).
namespace counter {

class Counter final : public raftkv::runtime::StateMachine {
 public:
  [[nodiscard]] std::string apply(raftkv::Index index, std::string_view entry) override;
  void apply_empty(raftkv::Index index) override { applied_ = index; }
  [[nodiscard]] std::string query(std::string_view request, uint64_t now_ms) const override;
  [[nodiscard]] raftkv::Index applied_index() const override { return applied_; }
  [[nodiscard]] std::unique_ptr<raftkv::runtime::SnapshotImage> snapshot() const override;
  [[nodiscard]] raftkv::Status restore(raftkv::runtime::ByteSource& source) override;

 private:
  int64_t value_ = 0;
  raftkv::Index applied_;
};

}  // namespace counter
