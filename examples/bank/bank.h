#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "client/client.h"
#include "common/status.h"

// The bank workload: accounts and transfers on raftkv, and an audit of what the servers hold
// afterwards (issue 5 §2). Keys, under a per-run prefix P:
//   P acct:<i>   account i's balance (an integer; INCRBY/DECRBY work on it).
//   P t:<id>     how many times transfer <id> was applied. Written only by the transfer's own
//                transaction, so it counts applications, not the client's intentions.
//   P barrier    a write used to settle an unknown outcome (see run_transfers).
//
// A transfer, in one MULTI transaction (one log entry, applied atomically):
//   DECRBY P acct:<from> amount;  INCRBY P acct:<to> amount;  INCR P t:<id>
// Never negative: MULTI has no WATCH and a batch applies every command even if one fails, so a
// check inside the transaction cannot stop the debit. Instead exactly one client writes the
// accounts, one transfer at a time: it reads both balances with a linearizable read, and sends
// the transfer only if the debit leaves the balance >= 0. Nothing else writes in between, so
// the read is still true when the transfer applies — provided every transfer applies at most
// once. A duplicate (at-least-once) debits twice and can break it; that is the point of the
// example. After an unknown outcome the client first makes sure the unknown transfer can no
// longer apply later (a short pause, then a write through the log), or its next read could
// miss a debit that lands afterwards.
//
// The audit reads every counter and balance back (linearizable MGET, directly from the
// servers): applied = counters >= 1, applied twice = counters >= 2. "Balances right" compares
// each balance with initial + every applied transfer counted once: a transfer applied twice
// moves the money twice, which keeps the total but debits a customer twice.
//
// Not thread-safe: one thread runs a workload.

namespace raftkv::bank {

struct BankOptions {
  std::string prefix = "bank:";  // Key prefix of this run; distinct runs share a cluster.
  int accounts = 5;              // [2, 1000].
  int64_t initial_balance = 1000;
  int transfers = 150;           // Attempts, [1, 100'000].
  int64_t amount_max = 200;      // Each amount is uniform in [1, amount_max].
  uint64_t seed = 1;             // Chooses accounts and amounts.
  client::Semantics semantics = client::Semantics::AtMostOnce;
  std::vector<client::Endpoint> endpoints;        // Where transfers go (the fault proxy).
  std::vector<client::Endpoint> audit_endpoints;  // Setup and audit: the servers directly.
  std::chrono::milliseconds attempt_timeout{2500};
  std::chrono::milliseconds settle{300};     // Pause after an unknown outcome (see above).
  std::chrono::milliseconds run_max{30'000};  // No new transfer starts after this.
  // Transfers finished so far, for a fault injector that acts at points of the run. Optional.
  std::atomic<int>* progress = nullptr;
};

struct TransferTally {
  int attempted = 0;     // Transactions sent (the client called transaction()).
  int acknowledged = 0;  // Ok: applied, and the client knows it.
  int unknown = 0;       // May or may not have been applied.
  int failed = 0;        // Certainly not applied (unavailable, refused, session expired).
  int declined = 0;      // Not sent: the read showed too little money.
};

struct Audit {
  int applied = 0;            // Transfers whose counter is >= 1.
  int applied_twice = 0;      // Transfers whose counter is >= 2.
  int acked_not_applied = 0;  // Acknowledged but counter 0: a lost write (must stay 0).
  int unknown_applied = 0;    // Unknown outcomes that did apply.
  // Failed (certainly not applied) but counter >= 1: a false "not applied" (must stay 0).
  // Checked per transfer: a count (applied <= acknowledged + unknown) would let an unknown
  // transfer that never applied hide a failed one that did.
  int failed_applied = 0;
  int64_t total_expected = 0;
  int64_t total_actual = 0;
  int64_t balance_min = 0;
  bool balances_right = false;  // Each balance == initial + applied transfers, once each.
  [[nodiscard]] bool total_conserved() const { return total_actual == total_expected; }
};

struct BankReport {
  client::Semantics semantics = client::Semantics::AtMostOnce;
  TransferTally tally;
  Audit audit;
  std::chrono::milliseconds elapsed{0};  // Transfers only.
};

// What the client knows about one transfer.
enum class Fate { NotStarted, Declined, Acknowledged, Unknown, Failed };

struct TransferRecord {
  int from = 0;  // Account indexes, [0, accounts).
  int to = 0;
  int64_t amount = 0;
  Fate fate = Fate::NotStarted;
};

struct TransferLog {
  std::vector<TransferRecord> records;  // Index i is transfer id i + 1.
  TransferTally tally;
  std::chrono::milliseconds elapsed{0};
};

// Creates the accounts (MSET, at-least-once: setting the same values twice is harmless).
[[nodiscard]] Status setup_accounts(const BankOptions& options);
// Runs the transfers one after another, as the header comment describes. Never fails as a
// whole: each transfer's fate is recorded.
[[nodiscard]] TransferLog run_transfers(const BankOptions& options);
// Reads the accounts and counters back from the servers. Unavailable if they cannot be read.
[[nodiscard]] Result<Audit> audit(const BankOptions& options, const TransferLog& log);

// The expectations for the semantics, as "" or what failed: no acknowledged transfer
// lost and the total conserved, always; no duplicate under at-most-once and exactly-once;
// under at-least-once the balances are right exactly when nothing applied twice.
[[nodiscard]] std::string check_expectations(const BankReport& report);

// The table, one row per report, aligned for a terminal and valid Markdown.
[[nodiscard]] std::string format_table(const std::vector<BankReport>& reports,
                                       const std::vector<uint64_t>& replies_dropped);

}  // namespace raftkv::bank
