#include "bank.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <thread>

#include "common/prng.h"

namespace raftkv::bank {
namespace {

using client::Client;
using client::ClientOptions;
using client::Outcome;
using client::OutcomeKind;
using client::Reply;
using client::ReplyType;
using client::Semantics;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr size_t kKeysPerRead = 200;  // MGET batch size in the audit.

std::string account_key(const BankOptions& options, int account) {
  return options.prefix + "acct:" + std::to_string(account);
}

std::string counter_key(const BankOptions& options, size_t transfer_index) {
  return options.prefix + "t:" + std::to_string(transfer_index + 1);
}

// Through the proxy with the run's semantics, or directly with at-least-once (setup, audit).
ClientOptions client_options(const BankOptions& options, bool through_proxy) {
  ClientOptions out;
  out.endpoints = through_proxy ? options.endpoints : options.audit_endpoints;
  out.semantics = through_proxy ? options.semantics : Semantics::AtLeastOnce;
  out.attempt_timeout = options.attempt_timeout;
  out.call_timeout = milliseconds(20'000);
  // The leader INFO names is a server address: following it would bypass the proxy. Any node
  // accepts any command (followers forward), so the client stays where it connected.
  out.follow_leader = !through_proxy;
  out.jitter_seed = options.seed + 1;
  return out;
}

bool parse_int(const std::string& text, int64_t* value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return ec == std::errc() && ptr == end && !text.empty();
}

// An MGET reply as integers; a missing key reads as 0 (a transfer counter never written).
Result<std::vector<int64_t>> integers_of(const Outcome& outcome, size_t count) {
  if (!outcome.ok() || outcome.reply.type != ReplyType::Array ||
      outcome.reply.elements.size() != count) {
    return Status(ErrorCode::Unavailable,
                  "MGET failed: " + (outcome.detail.empty() ? format_reply(outcome.reply)
                                                            : outcome.detail));
  }
  std::vector<int64_t> values;
  for (const Reply& element : outcome.reply.elements) {
    int64_t value = 0;
    if (element.type == ReplyType::Bulk && !parse_int(element.text, &value)) {
      return Status(ErrorCode::InvalidArgument, "not an integer: " + element.text);
    }
    values.push_back(value);
  }
  return values;
}

// Linearizable MGET of any number of keys, in bounded batches.
Result<std::vector<int64_t>> read_integers(Client& client, const std::vector<std::string>& keys) {
  std::vector<int64_t> values;
  for (size_t first = 0; first < keys.size(); first += kKeysPerRead) {
    const size_t last = std::min(keys.size(), first + kKeysPerRead);
    std::vector<std::string> args = {"MGET"};
    args.insert(args.end(), keys.begin() + static_cast<ptrdiff_t>(first),
                keys.begin() + static_cast<ptrdiff_t>(last));
    Result<std::vector<int64_t>> batch = integers_of(client.call(args), last - first);
    if (!batch.is_ok()) return batch.status();
    values.insert(values.end(), batch.value().begin(), batch.value().end());
  }
  RAFT_ASSERT(values.size() == keys.size());
  return values;
}

// The plan is fixed by the seed alone, so every semantics runs the same transfers.
std::vector<TransferRecord> plan_transfers(const BankOptions& options) {
  Prng prng(options.seed);
  std::vector<TransferRecord> plan(static_cast<size_t>(options.transfers));
  const auto accounts = static_cast<uint64_t>(options.accounts);
  for (TransferRecord& record : plan) {
    record.from = static_cast<int>(prng.uniform(0, accounts - 1));
    // Any account but `from`: draw among the others and skip over it.
    const auto other = static_cast<int>(prng.uniform(0, accounts - 2));
    record.to = other >= record.from ? other + 1 : other;
    const auto amount_max = static_cast<uint64_t>(options.amount_max);
    record.amount = static_cast<int64_t>(prng.uniform(1, amount_max));
    RAFT_ASSERT(record.from != record.to);
  }
  return plan;
}

// After an unknown outcome: the transfer may still be on its way (a follower forwarding it, or
// in the leader's log, uncommitted). A linearizable read now could miss a debit that applies a
// moment later, and the next transfer would be checked against a stale balance. So wait out
// the forwarding, then write through the log: a leader applies entries in log order, so once
// this write is acknowledged an earlier entry has applied; and a new leader's first commit
// ends every older entry it lacks. Either way the unknown transfer can no longer apply later.
void settle_unknown(const BankOptions& options, Client& client) {
  std::this_thread::sleep_for(options.settle);
  // Its duplicates are harmless: nothing reads the barrier's value.
  (void)client.call({"INCR", options.prefix + "barrier"}, Semantics::AtLeastOnce);
}

Fate fate_of(const Outcome& outcome) {
  switch (outcome.kind) {
    case OutcomeKind::Ok: return Fate::Acknowledged;
    case OutcomeKind::Unknown: return Fate::Unknown;
    case OutcomeKind::Error:
    case OutcomeKind::Unavailable:
    case OutcomeKind::SessionExpired: return Fate::Failed;
  }
  return Fate::Failed;
}

// One transfer: read both balances, decline if the debit would go negative, else send the
// transaction. Returns the fate.
Fate transfer(const BankOptions& options, Client& client, size_t index,
              const TransferRecord& record) {
  Result<std::vector<int64_t>> balances = read_integers(
      client, {account_key(options, record.from), account_key(options, record.to)});
  if (!balances.is_ok()) return Fate::Failed;  // Nothing was sent.
  if (balances.value()[0] < record.amount) return Fate::Declined;
  const std::string amount = std::to_string(record.amount);
  const Outcome outcome = client.transaction({{"DECRBY", account_key(options, record.from), amount},
                                              {"INCRBY", account_key(options, record.to), amount},
                                              {"INCR", counter_key(options, index)}});
  const Fate fate = fate_of(outcome);
  if (fate == Fate::Unknown) settle_unknown(options, client);
  return fate;
}

void count(TransferTally& tally, Fate fate) {
  switch (fate) {
    case Fate::NotStarted: return;
    case Fate::Declined: ++tally.declined; return;
    case Fate::Acknowledged: ++tally.acknowledged; break;
    case Fate::Unknown: ++tally.unknown; break;
    case Fate::Failed: ++tally.failed; break;
  }
  ++tally.attempted;
}

const char* yes_no(bool value) { return value ? "yes" : "no"; }

}  // namespace

Status setup_accounts(const BankOptions& options) {
  RAFT_ASSERT(options.accounts >= 2 && options.accounts <= 1000);
  RAFT_ASSERT(options.initial_balance >= 0);
  Client client(client_options(options, /*through_proxy=*/false));
  std::vector<std::string> args = {"MSET"};
  for (int account = 0; account < options.accounts; ++account) {
    args.push_back(account_key(options, account));
    args.push_back(std::to_string(options.initial_balance));
  }
  const Outcome outcome = client.call(args);
  if (!outcome.ok()) {
    return Status(ErrorCode::Unavailable, "creating the accounts failed: " +
                                              (outcome.detail.empty() ? format_reply(outcome.reply)
                                                                      : outcome.detail));
  }
  return Status::ok();
}

TransferLog run_transfers(const BankOptions& options) {
  RAFT_ASSERT(options.transfers >= 1 && options.transfers <= 100'000);
  RAFT_ASSERT(!options.endpoints.empty());
  TransferLog log;
  log.records = plan_transfers(options);
  Client client(client_options(options, /*through_proxy=*/true));
  const Clock::time_point start = Clock::now();
  for (size_t i = 0; i < log.records.size(); ++i) {
    if (Clock::now() - start >= options.run_max) break;  // The rest stay NotStarted.
    TransferRecord& record = log.records[i];
    record.fate = transfer(options, client, i, record);
    count(log.tally, record.fate);
    if (options.progress != nullptr) options.progress->store(static_cast<int>(i + 1));
  }
  log.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  RAFT_ASSERT(log.tally.attempted ==
              log.tally.acknowledged + log.tally.unknown + log.tally.failed);
  return log;
}

Result<Audit> audit(const BankOptions& options, const TransferLog& log) {
  Client client(client_options(options, /*through_proxy=*/false));
  std::vector<std::string> keys;
  for (int account = 0; account < options.accounts; ++account) {
    keys.push_back(account_key(options, account));
  }
  for (size_t i = 0; i < log.records.size(); ++i) keys.push_back(counter_key(options, i));
  Result<std::vector<int64_t>> values = read_integers(client, keys);
  if (!values.is_ok()) return values.status();
  const auto accounts = static_cast<size_t>(options.accounts);
  const std::vector<int64_t> balances(values.value().begin(),
                                      values.value().begin() + static_cast<ptrdiff_t>(accounts));
  std::vector<int64_t> expected(accounts, options.initial_balance);
  Audit result;
  for (size_t i = 0; i < log.records.size(); ++i) {
    const TransferRecord& record = log.records[i];
    const int64_t applications = values.value()[accounts + i];
    RAFT_ASSERT(applications >= 0);
    if (applications == 0) {
      result.acked_not_applied += record.fate == Fate::Acknowledged ? 1 : 0;
      continue;
    }
    ++result.applied;
    result.applied_twice += applications >= 2 ? 1 : 0;
    result.unknown_applied += record.fate == Fate::Unknown ? 1 : 0;
    result.failed_applied += record.fate == Fate::Failed ? 1 : 0;
    expected[static_cast<size_t>(record.from)] -= record.amount;  // Once, however often.
    expected[static_cast<size_t>(record.to)] += record.amount;
  }
  result.total_expected = options.initial_balance * options.accounts;
  for (int64_t balance : balances) result.total_actual += balance;
  result.balance_min = *std::min_element(balances.begin(), balances.end());
  result.balances_right = balances == expected;
  return result;
}

std::string check_expectations(const BankReport& report) {
  const Audit& audit = report.audit;
  std::string failed;
  auto expect = [&failed](bool holds, const std::string& what) {
    if (!holds) failed += (failed.empty() ? "" : "; ") + what;
  };
  expect(audit.acked_not_applied == 0,
         std::to_string(audit.acked_not_applied) + " acknowledged transfers not applied");
  // One transaction moves the money both ways, so even a duplicate keeps the total.
  expect(audit.total_conserved(), "total not conserved");
  expect(audit.failed_applied == 0,
         std::to_string(audit.failed_applied) + " transfers failed yet applied");
  if (report.semantics == Semantics::AtLeastOnce) {
    expect(audit.balances_right == (audit.applied_twice == 0),
           "balances right must mean no duplicate, and a duplicate wrong balances");
  } else {
    expect(audit.applied_twice == 0, "a transfer applied twice");
    expect(audit.balances_right, "balances differ from the applied transfers");
    expect(audit.balance_min >= 0, "a balance went negative");
  }
  return failed;
}

std::string format_table(const std::vector<BankReport>& reports,
                         const std::vector<uint64_t>& replies_dropped) {
  RAFT_ASSERT(replies_dropped.size() == reports.size());
  std::string out =
      "| semantics     | attempted | acked | unknown | failed | applied | applied twice "
      "| replies dropped | total conserved | balances right | lowest balance |\n"
      "|---------------|-----------|-------|---------|--------|---------|---------------"
      "|-----------------|-----------------|----------------|----------------|\n";
  for (size_t i = 0; i < reports.size(); ++i) {
    const BankReport& report = reports[i];
    char row[320];
    std::snprintf(row, sizeof row,
                  "| %-13s | %9d | %5d | %7d | %6d | %7d | %13d | %15llu | %-15s | %-14s "
                  "| %14lld |\n",
                  client::semantics_name(report.semantics), report.tally.attempted,
                  report.tally.acknowledged, report.tally.unknown, report.tally.failed,
                  report.audit.applied, report.audit.applied_twice,
                  static_cast<unsigned long long>(replies_dropped[i]),
                  yes_no(report.audit.total_conserved()), yes_no(report.audit.balances_right),
                  static_cast<long long>(report.audit.balance_min));
    out += row;
  }
  return out;
}

}  // namespace raftkv::bank
