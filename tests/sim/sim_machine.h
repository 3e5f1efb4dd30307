#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "kv/resp_state_machine.h"
#include "runtime/state_machine.h"
#include "sim/state_machine.h"

// The state machine each simulated node runs, through the real runtime: the ordered list of
// applied payloads every scenario checks (SimStateMachine), and, when the simulation runs the
// key-value store, the real one (kv::RespStateMachine) beside it.
//
// Requests:
//   a write is a payload, unique per proposal (ClientHistory::new_payload), logged as it is;
//   a KV command travels as "kv/<unique id>/<encoded command>" (kv_request()), so that every
//   attempt is a distinct payload to the history while the store sees the command alone;
//   a read (read-only request) of anything but a KV command answers how many payloads are
//   applied, in decimal: the prefix of the agreed order it observed.
// Snapshots carry both, so a node restored from one holds what a node that applied every
// entry holds. Not thread-safe, except that snapshot images may be saved anywhere.
namespace raftkv::sim {

class SimMachine final : public runtime::StateMachine {
 public:
  // After each apply of a KV node: the entry, and the store's reply (nullptr when the entry
  // held no KV command).
  using KvApplied =
      std::function<void(Index index, std::string_view entry, const std::string* reply)>;

  explicit SimMachine(std::optional<kv::KvConfig> kv_config);

  // "kv/<id>/<command>" for a KV command; `id` makes it unique.
  [[nodiscard]] static std::string kv_request(uint64_t id, std::string_view command);
  // The encoded command inside a kv_request() payload, or nullopt for any other payload.
  [[nodiscard]] static std::optional<std::string_view> kv_command(std::string_view payload);

  void set_kv_applied(KvApplied hook) { kv_applied_ = std::move(hook); }

  [[nodiscard]] const SimStateMachine& payloads() const { return list_; }
  // The KV store, or nullptr when the simulation runs none.
  [[nodiscard]] const kv::KvStateMachine* kv() const { return kv_ ? &kv_->machine() : nullptr; }

  // runtime::StateMachine.
  [[nodiscard]] std::string to_entry(std::string request, uint64_t now_ms) override;
  [[nodiscard]] std::string apply(Index index, std::string_view entry) override;
  void apply_empty(Index index) override;
  // Hands the KV commands among `requests` to the store's prefetch, so that every scenario
  // runs it on a real key space under its faults.
  void prefetch(std::span<const std::string_view> requests) const override;
  [[nodiscard]] std::string query(std::string_view request, uint64_t now_ms) const override;
  [[nodiscard]] Index applied_index() const override { return list_.applied(); }
  [[nodiscard]] std::unique_ptr<runtime::SnapshotImage> snapshot() const override;
  [[nodiscard]] Status restore(runtime::ByteSource& source) override;

 private:
  SimStateMachine list_;
  std::optional<kv::RespStateMachine> kv_;
  std::optional<kv::KvConfig> kv_config_;
  KvApplied kv_applied_;
};

}  // namespace raftkv::sim
