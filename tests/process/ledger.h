#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "common/status.h"

// Per-request identity for "failed means never applied" (issue 22, J7): each write carries a
// token of its own, the test records what the client was told about it, and afterwards counts
// the token in the servers' data. Counting writes alone cannot tell an unknown write that was
// never applied from another that was applied twice; tokens can.
//
// Outcomes are classified only through the client library (Outcome, classify_error): the
// server's error texts are the library's business.

namespace raftkv::process_test {

// What the client knows about one write.
enum class WriteFate {
  Acknowledged,  // Applied: present exactly once (at least once if the client retries).
  NotApplied,    // Certainly not applied: absent.
  Unknown,       // May or may not have been applied: present at most once.
};

[[nodiscard]] const char* write_fate_name(WriteFate fate);
// A call through client::Client. A definite error from the state machine (OutcomeKind::Error)
// is NotApplied: the command was refused whole.
[[nodiscard]] WriteFate fate_of(const client::Outcome& outcome);
// A node's reply to a write: an error reply is whatever the library classifies it as.
[[nodiscard]] WriteFate fate_of(const client::Reply& reply);
// One command sent straight to a node (tools::node_exchange): no reply at all is Unknown (the
// request may have gone out whole), else as its reply.
[[nodiscard]] WriteFate fate_of(const Result<std::vector<client::Reply>>& exchange);

// The tokens one writer appends to a key ("APPEND key <token>"), each "<prefix><n>;", and the
// check of the key's final value. Not thread-safe: one ledger per writer thread.
class TokenLedger {
 public:
  explicit TokenLedger(std::string prefix) : prefix_(std::move(prefix)) {}

  // A fresh token, not yet recorded.
  [[nodiscard]] std::string next_token() const;
  void record(const std::string& token, WriteFate fate);

  // Checks the key's final value: every acknowledged token present exactly once (at least
  // once if `acked_may_repeat`: an at-least-once client re-sends), every not-applied one
  // absent, every unknown one at most once, and no token of this prefix that was never sent.
  // Returns "" or every violation, one per line.
  [[nodiscard]] std::string check(std::string_view value, bool acked_may_repeat) const;

  // How many writes ended each way; `present` counts the unknown ones found in `value`.
  struct Tally {
    int acknowledged = 0;
    int not_applied = 0;
    int unknown = 0;
    int unknown_present = 0;
  };
  [[nodiscard]] Tally tally(std::string_view value) const;

 private:
  // How often each token of this prefix occurs in `value`.
  [[nodiscard]] std::map<std::string, int> occurrences(std::string_view value) const;

  std::string prefix_;
  std::map<std::string, WriteFate> fates_;  // token -> fate, in the order tokens are made.
};

}  // namespace raftkv::process_test
