// Command-line validation, key formatting and the workload's key choices.

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "options.h"
#include "run.h"
#include "workload.h"

namespace raftkv::bench {
namespace {

BenchOptions valid_options() {
  BenchOptions o;
  o.endpoints = {{"127.0.0.1", 6381}};
  return o;
}

TEST(ValidateOptions, Defaults_Valid) {
  BenchOptions o = valid_options();
  o.clients = 8;
  ASSERT_TRUE(validate_options(&o, 2).is_ok());
  EXPECT_EQ(o.connections, 8u);  // One per client by default.
  EXPECT_EQ(o.threads, 2u);      // Capped by the hardware threads.
}

TEST(ValidateOptions, ReadRatioAboveOne_Rejected) {
  BenchOptions o = valid_options();
  o.read_ratio = 2;
  const Status status = validate_options(&o, 2);
  ASSERT_FALSE(status.is_ok());
  EXPECT_NE(status.message().find("--read-ratio"), std::string::npos);
}

TEST(ValidateOptions, MoreConnectionsThanClients_Rejected) {
  BenchOptions o = valid_options();
  o.clients = 2;
  o.connections = 3;
  EXPECT_FALSE(validate_options(&o, 2).is_ok());
}

TEST(ValidateOptions, KeySizeTooSmallForKeyspace_Rejected) {
  BenchOptions o = valid_options();
  o.key_size = 4;  // "k" + 3 digits: 1000 keys.
  o.keyspace = 1000;
  EXPECT_TRUE(validate_options(&o, 2).is_ok());
  o.keyspace = 1001;
  EXPECT_FALSE(validate_options(&o, 2).is_ok());
}

TEST(ValidateOptions, ThreadsNeverExceedConnections) {
  BenchOptions o = valid_options();
  o.clients = 64;
  o.connections = 1;
  o.threads = 4;
  ASSERT_TRUE(validate_options(&o, 8).is_ok());
  EXPECT_EQ(o.threads, 1u);
}

TEST(ParseOptions, BadTarget_ExitsWithUsage) {
  const char* argv[] = {"raftkv-bench", "--target", "redis", "--endpoints", "127.0.0.1:1"};
  const ParsedOptions parsed = parse_options(5, argv);
  EXPECT_FALSE(parsed.run);
  EXPECT_EQ(parsed.exit_code, kExitUsage);
}

TEST(ParseOptions, FullCommandLine_Parsed) {
  const char* argv[] = {"raftkv-bench", "--target", "etcd", "--endpoints", "a:1,b:2",
                        "--clients", "4", "--read-ratio", "0.5", "--read-mode", "serializable",
                        "--ops", "100", "--json", "--quiet", "--label", "x"};
  const ParsedOptions parsed = parse_options(17, argv);
  ASSERT_TRUE(parsed.run);
  EXPECT_EQ(parsed.options.target, Target::Etcd);
  ASSERT_EQ(parsed.options.endpoints.size(), 2u);
  EXPECT_EQ(parsed.options.endpoints[1].port, 2);
  EXPECT_EQ(parsed.options.read_mode, ReadMode::Serializable);
  EXPECT_EQ(parsed.options.ops_max, 100u);
  EXPECT_TRUE(parsed.options.json);
  EXPECT_EQ(parsed.options.label, "x");
}

TEST(ParseOptions, TlsFlags_Parsed) {
  const char* argv[] = {"raftkv-bench", "--target", "raftkv", "--endpoints", "a:1", "--tls",
                        "--cacert", "ca.crt", "--cert", "c.crt", "--key", "c.key"};
  const ParsedOptions parsed = parse_options(12, argv);
  ASSERT_TRUE(parsed.run);
  EXPECT_TRUE(parsed.options.tls.enabled);
  EXPECT_EQ(parsed.options.tls.ca_file, "ca.crt");
  EXPECT_EQ(parsed.options.tls.cert_file, "c.crt");
  EXPECT_EQ(parsed.options.tls.key_file, "c.key");
}

TEST(ValidateOptions, TlsWithEtcd_Accepted) {
  BenchOptions o = valid_options();
  o.target = Target::Etcd;
  o.tls.enabled = true;
  EXPECT_TRUE(validate_options(&o, 2).is_ok());
}

TEST(ValidateOptions, CertificateWithoutTls_Rejected) {
  BenchOptions o = valid_options();
  o.tls.cert_file = "c.crt";
  const Status status = validate_options(&o, 2);
  ASSERT_FALSE(status.is_ok());
  EXPECT_NE(status.message().find("need --tls"), std::string::npos);
}

TEST(FormatKey, ZeroPaddedToTheSize) {
  std::string key(8, '?');
  format_key(42, key);
  EXPECT_EQ(key, "k0000042");
  format_key(123'456'789, key);  // More digits than fit: the low ones.
  EXPECT_EQ(key, "k3456789");
}

TEST(Workload, FreshKeys_DistinctAcrossClients) {
  const WorkloadSpec spec{.read_ratio = 0, .keyspace = 0, .prefill = 10, .clients = 3};
  std::set<uint64_t> keys;
  for (uint32_t c = 0; c < 3; ++c) {
    Workload workload(spec, c);
    for (int i = 0; i < 100; ++i) {
      const Op op = workload.next(0);
      EXPECT_EQ(op.kind, OpKind::Write);
      EXPECT_GE(op.key, 10u);  // Above the prefilled keys.
      EXPECT_TRUE(keys.insert(op.key).second) << op.key;
    }
  }
}

TEST(Workload, ReadRatio_ReadsFromPrefilledKeys) {
  const WorkloadSpec spec{.read_ratio = 0.5, .keyspace = 0, .prefill = 50, .clients = 1};
  Workload workload(spec, 0);
  int reads = 0;
  for (int i = 0; i < 10'000; ++i) {
    const Op op = workload.next(0);
    if (op.kind == OpKind::Read) {
      ++reads;
      EXPECT_LT(op.key, 50u);
    }
  }
  EXPECT_GT(reads, 4'500);
  EXPECT_LT(reads, 5'500);
}

TEST(Workload, PrefillPhase_WritesTheTicketsKey) {
  const WorkloadSpec spec{.prefill = 5, .prefill_phase = true, .clients = 2};
  Workload workload(spec, 1);
  EXPECT_EQ(workload.next(3).key, 3u);
  EXPECT_EQ(workload.next(3).kind, OpKind::Write);
}

TEST(RunControl, AckGap_LongestIntervalWithoutAck) {
  RunControl control({.warmup_s = 1, .duration_s = 10});
  control.begin(1'000'000'000);  // Measured period: [2 s, 12 s].
  control.note_ack(1'500'000'000);  // Warmup: ignored.
  control.note_ack(2'100'000'000);
  control.note_ack(5'100'000'000);  // A 3 s gap.
  control.note_ack(5'000'000'000);  // Older timestamp from another thread: ignored.
  control.note_ack(6'000'000'000);
  EXPECT_EQ(control.max_ack_gap_ns(7'000'000'000), 3'000'000'000);
  EXPECT_EQ(control.max_ack_gap_ns(10'000'000'000), 4'000'000'000);  // The tail counts.
}

TEST(RunControl, OpsMode_HandsOutEachTicketOnce) {
  RunControl control({.ops_max = 3});
  control.begin(1);
  uint64_t ticket = 99;
  std::vector<uint64_t> got;
  while (control.claim(&ticket)) got.push_back(ticket);
  EXPECT_EQ(got, (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(control.end_ns(), INT64_MAX);
}

}  // namespace
}  // namespace raftkv::bench
