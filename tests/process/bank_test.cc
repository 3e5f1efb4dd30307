// The bank example's run with the real binaries, once per semantics (issue 5 §4): transfers
// through the fault-injecting proxy (replies dropped after the request reached a server,
// replies delayed) while the leader is killed with SIGKILL and restarted, then the servers'
// state is audited. The properties asserted are the guarantees, not luck: a run need not
// produce a duplicate or an unknown, but whatever it produced must add up.

#include "bank.h"
#include "chaos.h"
#include "harness.h"

namespace raftkv::process_test {
namespace {

using client::Semantics;

class Bank : public ClusterFixture {
 protected:
  // A smaller run than the example's: enough transfers around two leader kills.
  bank::FaultyRun run(int slot, Semantics semantics) {
    start_cluster(slot);
    if (HasFatalFailure()) return {};
    EXPECT_NE(leader().node_id, 0u);
    bank::BankOptions options;
    options.prefix = std::string("bank:") + client::semantics_name(semantics) + ":";
    options.semantics = semantics;
    options.transfers = 60;
    options.seed = 7;
    options.run_max = milliseconds(30'000);
    bank::FaultOptions faults;
    faults.seed = 11;
    faults.drop_probability = 0.06;
    bank::ChaosOptions chaos;
    chaos.kills = 2;
    Result<bank::FaultyRun> result = bank::run_with_faults(*cluster_, options, faults, chaos);
    EXPECT_TRUE(result.is_ok()) << result.status().message();
    if (!result.is_ok()) return {};
    const bank::FaultyRun& done = result.value();
    for (const std::string& event : done.events) std::cerr << "  " << event << "\n";
    // The run did meet faults, and every transfer was tried.
    EXPECT_GE(done.events.size(), 2u) << "the leader was never killed";
    EXPECT_GT(done.proxy.replies_dropped, 0u);
    const bank::TransferTally& tally = done.report.tally;
    EXPECT_EQ(tally.attempted + tally.declined, options.transfers);
    std::cerr << "  " << bank::format_table({done.report}, {done.proxy.replies_dropped});
    return done;
  }
};

// Checks that hold under every semantics, per transfer (each has its own counter key, so the
// audit knows which transfers applied, not only how many): nothing acknowledged is lost,
// nothing the client was told failed was applied, and the transaction is atomic (it debits
// and credits in one entry, so even a duplicate keeps the total). Applied twice is checked
// per semantics by the tests below.
void expect_accounting(const bank::BankReport& report) {
  const bank::Audit& audit = report.audit;
  EXPECT_EQ(audit.acked_not_applied, 0);
  EXPECT_EQ(audit.failed_applied, 0);
  EXPECT_TRUE(audit.total_conserved()) << audit.total_actual << " != " << audit.total_expected;
  EXPECT_EQ(bank::check_expectations(report), "");
}

TEST_F(Bank, ExactlyOnce_DroppedRepliesAndLeaderKills_EachTransferAppliedOnce) {
  const bank::FaultyRun done = run(/*slot=*/16, Semantics::ExactlyOnce);
  if (HasFailure()) return;
  expect_accounting(done.report);
  EXPECT_EQ(done.report.audit.applied_twice, 0);
  EXPECT_TRUE(done.report.audit.balances_right);
  EXPECT_GE(done.report.audit.balance_min, 0);
}

TEST_F(Bank, AtMostOnce_DroppedRepliesAndLeaderKills_NothingAppliedTwice) {
  const bank::FaultyRun done = run(/*slot=*/17, Semantics::AtMostOnce);
  if (HasFailure()) return;
  expect_accounting(done.report);
  EXPECT_EQ(done.report.audit.applied_twice, 0);
  EXPECT_TRUE(done.report.audit.balances_right);
  EXPECT_GE(done.report.audit.balance_min, 0);
}

TEST_F(Bank, AtLeastOnce_DroppedRepliesAndLeaderKills_BalancesRightExactlyWithoutDuplicates) {
  const bank::FaultyRun done = run(/*slot=*/18, Semantics::AtLeastOnce);
  if (HasFailure()) return;
  expect_accounting(done.report);
  // Duplicates may or may not happen; if one did, a customer was debited twice.
  EXPECT_EQ(done.report.audit.balances_right, done.report.audit.applied_twice == 0);
  EXPECT_EQ(done.report.tally.unknown, 0) << "at-least-once retries until acknowledged";
}

}  // namespace
}  // namespace raftkv::process_test
