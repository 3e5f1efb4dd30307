#include "server/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace raftkv::server {
namespace {

TEST(ParsePeers, SortsAndValidates) {
  Result<std::vector<net::PeerAddress>> peers =
      parse_peers("2=127.0.0.1:7002,1=127.0.0.1:7001,3=10.0.0.3:7003");
  ASSERT_TRUE(peers.is_ok()) << peers.status().to_string();
  ASSERT_EQ(peers.value().size(), 3u);
  EXPECT_EQ(peers.value()[0].id, NodeId{1});
  EXPECT_EQ(peers.value()[2].host, "10.0.0.3");
  EXPECT_EQ(peers.value()[2].port, 7003);
}

TEST(ParsePeers, RejectsBadItems) {
  EXPECT_FALSE(parse_peers("1=127.0.0.1:7001,1=127.0.0.1:7002").is_ok());  // Repeated id.
  EXPECT_FALSE(parse_peers("0=127.0.0.1:7001").is_ok());                    // Reserved id.
  EXPECT_FALSE(parse_peers("1=localhost:7001").is_ok());                    // Not an IP.
  EXPECT_FALSE(parse_peers("1=127.0.0.1:99999").is_ok());                   // Port range.
  EXPECT_FALSE(parse_peers("1127.0.0.1:7001").is_ok());                     // No id.
  EXPECT_FALSE(parse_peers("").is_ok());
}

TEST(ServerConfig, ClusterIdDependsOnMembers) {
  ServerConfig a;
  a.peers = parse_peers("1=127.0.0.1:7001,2=127.0.0.1:7002").value();
  ServerConfig b = a;
  EXPECT_EQ(a.cluster_id(), b.cluster_id());
  b.peers = parse_peers("1=127.0.0.1:7001,2=127.0.0.1:7012").value();
  EXPECT_NE(a.cluster_id(), b.cluster_id());
  b = a;
  b.cluster_name = "other";
  EXPECT_NE(a.cluster_id(), b.cluster_id());
}

// Parses `raftkv-server --id ID --data-dir /tmp/x --peers 1=127.0.0.1:7001` plus `extra`.
Result<ServerConfig> parse_with(const std::vector<std::string>& extra,
                                const std::string& id = "1") {
  std::vector<std::string> words = {"raftkv-server", "--id", id, "--data-dir", "/tmp/x",
                                    "--peers", "1=127.0.0.1:7001"};
  words.insert(words.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  int exit_code = 0;
  return parse_server_args(static_cast<int>(argv.size()), argv.data(), &exit_code);
}

bool mentions(const Result<ServerConfig>& config, const std::string& text) {
  return !config.is_ok() && config.status().message().find(text) != std::string::npos;
}

TEST(ParseServerArgs, RequiresMembership) {
  EXPECT_TRUE(mentions(parse_with({}, "4"), "not among --peers"));
}

// Regression: a flag refused after parsing (here --tls-port without a certificate) left
// *exit_code at 0, which main() takes for --help: the server exited 0 without a word.
TEST(ParseServerArgs, ARefusedFlagIsNotMistakenForHelp) {
  std::vector<std::string> words = {"raftkv-server", "--id", "1", "--data-dir", "/tmp/x",
                                    "--peers", "1=127.0.0.1:7001", "--tls-port", "6390"};
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  int exit_code = 0;
  const Result<ServerConfig> config =
      parse_server_args(static_cast<int>(argv.size()), argv.data(), &exit_code);
  EXPECT_FALSE(config.is_ok());
  EXPECT_NE(exit_code, 0);
}

// `raftkv-server --id 4 --data-dir /tmp/x` plus `extra`, without --peers.
Result<ServerConfig> parse_join(const std::vector<std::string>& extra) {
  std::vector<std::string> words = {"raftkv-server", "--id", "4", "--data-dir", "/tmp/x"};
  words.insert(words.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  int exit_code = 0;
  return parse_server_args(static_cast<int>(argv.size()), argv.data(), &exit_code);
}

TEST(ParseServerArgs, JoinNeedsPeerAddrAndExcludesPeers) {
  const Result<ServerConfig> joined =
      parse_join({"--join", "127.0.0.1:6381", "--peer-addr", "127.0.0.1:7004"});
  ASSERT_TRUE(joined.is_ok()) << joined.status().to_string();
  EXPECT_EQ(joined.value().join_addr, "127.0.0.1:6381");
  EXPECT_EQ(joined.value().self_peer.port, 7004);
  EXPECT_TRUE(joined.value().peers.empty());
  EXPECT_TRUE(mentions(parse_join({"--join", "127.0.0.1:6381"}), "--peer-addr"));
  EXPECT_TRUE(mentions(parse_join({}), "--join"));
  EXPECT_TRUE(mentions(parse_join({"--join", "127.0.0.1:6381", "--peer-addr", "127.0.0.1:7004",
                                   "--peers", "4=127.0.0.1:7004"}),
                       "not both"));
}

// --restore-from bootstraps a new cluster: with --peers, never with --join. Its id depends on
// the file, so that it differs from the id the same name and --peers would give.
TEST(ParseServerArgs, RestoreFromGoesWithPeersOnly) {
  const Result<ServerConfig> restored = parse_with({"--restore-from", "/tmp/b.snap"});
  ASSERT_TRUE(restored.is_ok()) << restored.status().to_string();
  EXPECT_EQ(restored.value().restore_from, "/tmp/b.snap");
  EXPECT_NE(restored.value().restored_cluster_id("4:1:181:17"), restored.value().cluster_id());
  EXPECT_NE(restored.value().restored_cluster_id("4:1:181:17"),
            restored.value().restored_cluster_id("4:1:181:18"));
  const Result<ServerConfig> chosen =
      parse_with({"--restore-from", "/tmp/b.snap", "--cluster-id", "77"});
  ASSERT_TRUE(chosen.is_ok()) << chosen.status().to_string();
  EXPECT_EQ(chosen.value().restored_cluster_id("4:1:181:17"), 77u);
  EXPECT_TRUE(mentions(parse_join({"--join", "127.0.0.1:6381", "--peer-addr", "127.0.0.1:7004",
                                   "--restore-from", "/tmp/b.snap"}),
                       "--restore-from"));
}

TEST(ParseServerArgs, ElectionMustExceedHeartbeat) {
  EXPECT_FALSE(parse_with({"--heartbeat-ms", "500", "--election-ms", "400"}).is_ok());
}

TEST(ParseServerArgs, SnapshotEntriesIsOffOrAtLeast100) {
  EXPECT_TRUE(parse_with({"--snapshot-entries", "0"}).is_ok());
  EXPECT_TRUE(parse_with({"--snapshot-entries", "100"}).is_ok());
  EXPECT_TRUE(mentions(parse_with({"--snapshot-entries", "50"}), "--snapshot-entries"));
}

TEST(ParseServerArgs, SnapshotLogRatioTakesAFractionAndRefusesZero) {
  Result<ServerConfig> half = parse_with({"--snapshot-log-ratio", "0.5"});
  ASSERT_TRUE(half.is_ok()) << half.status().to_string();
  EXPECT_EQ(half.value().snapshot_log_ratio, 0.5);
  EXPECT_TRUE(mentions(parse_with({"--snapshot-log-ratio", "0"}), "--snapshot-log-ratio"));
}

TEST(ParseServerArgs, PeerHttpAddrsNameEveryMembersPage) {
  const Result<ServerConfig> config =
      parse_with({"--peer-http-addrs", "2=127.0.0.1:8082,1=127.0.0.1:8081"});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  ASSERT_EQ(config.value().peer_http_addrs.size(), 2u);
  EXPECT_EQ(config.value().peer_http_addrs[0].id, NodeId{1});
  EXPECT_EQ(config.value().peer_http_addrs[1].port, 8082);
  EXPECT_TRUE(mentions(parse_with({"--peer-http-addrs", "1=127.0.0.1"}), "--peer-http-addrs"));
}

TEST(ParseServerArgs, SizeLimits_DefaultsFollowTheValueLimit) {
  const Result<ServerConfig> defaults = parse_with({});
  ASSERT_TRUE(defaults.is_ok());
  EXPECT_EQ(defaults.value().bulk_bytes_max, kDefaultBulkBytesMax);
  EXPECT_EQ(defaults.value().request_bytes_max, kDefaultBulkBytesMax + kRequestBytesOverBulk);
  // Raising the value limit alone raises the request limit with it.
  const Result<ServerConfig> raised = parse_with({"--max-bulk-bytes", "104857600"});
  ASSERT_TRUE(raised.is_ok());
  EXPECT_EQ(raised.value().request_bytes_max, 104857600 + kRequestBytesOverBulk);
  const Result<ServerConfig> both =
      parse_with({"--max-bulk-bytes", "1000", "--max-request-bytes", "5000"});
  ASSERT_TRUE(both.is_ok());
  EXPECT_EQ(both.value().request_bytes_max, 5000u);
  EXPECT_TRUE(mentions(parse_with({"--max-bulk-bytes", "1000", "--max-request-bytes", "999"}),
                       "--max-request-bytes must be at least --max-bulk-bytes"));
  // Neither may pass what one log entry holds; the request limit follows the value limit only
  // up to it.
  EXPECT_FALSE(parse_with({"--max-bulk-bytes", std::to_string(kRequestBytesMaxMax + 1)}).is_ok());
  EXPECT_FALSE(
      parse_with({"--max-request-bytes", std::to_string(kRequestBytesMaxMax + 1)}).is_ok());
  const Result<ServerConfig> largest =
      parse_with({"--max-bulk-bytes", std::to_string(kRequestBytesMaxMax)});
  ASSERT_TRUE(largest.is_ok());
  EXPECT_EQ(largest.value().request_bytes_max, kRequestBytesMaxMax);
}

TEST(ParseServerArgs, SizeLimits_ReadFromTheConfigFile) {
  const std::string path = ::testing::TempDir() + "/raftkv-size-limits.conf";
  {
    std::ofstream file(path);
    file << "max-bulk-bytes = 2048\nmax-request-bytes = 4096\n";
  }
  const Result<ServerConfig> config = parse_with({"--config", path});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config.value().bulk_bytes_max, 2048u);
  EXPECT_EQ(config.value().request_bytes_max, 4096u);
  std::remove(path.c_str());
}

TEST(ParseServerArgs, Auth_DefaultsAndConfigFile) {
  const Result<ServerConfig> plain = parse_with({});
  ASSERT_TRUE(plain.is_ok());
  EXPECT_EQ(plain.value().auth.requirepass, "");
  EXPECT_TRUE(plain.value().auth.protected_mode);
  const std::string path = ::testing::TempDir() + "/raftkv-auth.conf";
  {
    std::ofstream file(path);
    // Quoted: CLI11 splits an unquoted value at spaces.
    file << "requirepass = \"pw with spaces\"\nprotected-mode = no\nauth-failures-burst = 5\n";
  }
  const Result<ServerConfig> config = parse_with({"--config", path});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config.value().auth.requirepass, "pw with spaces");
  EXPECT_FALSE(config.value().auth.protected_mode);
  EXPECT_EQ(config.value().auth.auth_failures_burst, 5u);
  std::remove(path.c_str());
  EXPECT_FALSE(parse_with({"--auth-failures-per-s", "0"}).is_ok());
}

TEST(ParseServerArgs, Tls_FlagsGoTogether) {
  const Result<ServerConfig> tls =
      parse_with({"--tls-port", "6390", "--tls-cert-file", "c.crt", "--tls-key-file", "c.key",
                  "--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "optional"});
  ASSERT_TRUE(tls.is_ok()) << tls.status().to_string();
  EXPECT_EQ(tls.value().tls.client_port, 6390);
  EXPECT_EQ(tls.value().tls.client_certificates, net::ClientCertificates::Optional);
  EXPECT_TRUE(mentions(parse_with({"--tls-port", "6390"}),
                       "--tls-port needs --tls-cert-file and --tls-key-file"));
  EXPECT_TRUE(mentions(parse_with({"--tls-port", "6390", "--tls-cert-file", "c",
                                   "--tls-key-file", "k"}),
                       "--tls-auth-clients yes needs --tls-ca-cert-file"));
  EXPECT_TRUE(parse_with({"--tls-port", "6390", "--tls-cert-file", "c", "--tls-key-file", "k",
                          "--tls-auth-clients", "no"})
                  .is_ok());
  EXPECT_FALSE(parse_with({"--tls-auth-clients", "maybe"}).is_ok());
}

TEST(ParseServerArgs, HttpTls_ReusesTheNodeCertificateOrTakesItsOwn) {
  const Result<ServerConfig> reused = parse_with(
      {"--http-tls", "--tls-cert-file", "n.crt", "--tls-key-file", "n.key", "--tls-ca-cert-file",
       "ca.crt"});
  ASSERT_TRUE(reused.is_ok()) << reused.status().to_string();
  EXPECT_EQ(reused.value().http.tls.cert_file, "n.crt");
  EXPECT_EQ(reused.value().http.tls.ca_file, "ca.crt");
  EXPECT_EQ(reused.value().http.client_certificates, net::ClientCertificates::No);
  const Result<ServerConfig> own =
      parse_with({"--http-tls-cert-file", "web.crt", "--http-tls-key-file", "web.key",
                  "--http-tls-ca-cert-file", "web-ca.crt", "--http-tls-auth-clients", "yes"});
  ASSERT_TRUE(own.is_ok()) << own.status().to_string();
  EXPECT_EQ(own.value().http.tls.cert_file, "web.crt");
  EXPECT_EQ(own.value().http.client_certificates, net::ClientCertificates::Yes);
  EXPECT_FALSE(parse_with({}).value().http.tls_enabled());
  EXPECT_TRUE(mentions(parse_with({"--http-tls"}), "--http-tls needs --tls-cert-file"));
  EXPECT_TRUE(mentions(parse_with({"--http-tls-cert-file", "web.crt"}), "go together"));
  EXPECT_TRUE(mentions(parse_with({"--http-tls-auth-clients", "yes"}), "needs --http-tls"));
  EXPECT_TRUE(mentions(parse_with({"--http-tls-cert-file", "w.crt", "--http-tls-key-file",
                                   "w.key", "--http-tls-auth-clients", "optional"}),
                       "needs a CA"));
}

TEST(ParseServerArgs, HttpToken_FromFlagConfigFileOrEnvironment) {
  EXPECT_EQ(parse_with({"--http-token", "flag"}).value().http.token, "flag");
  const std::string path = ::testing::TempDir() + "/raftkv-http.conf";
  std::ofstream(path) << "http-token = from-file\n";
  EXPECT_EQ(parse_with({"--config", path}).value().http.token, "from-file");
  std::remove(path.c_str());
  ASSERT_EQ(::setenv("RAFTKV_HTTP_TOKEN", "from-env", 1), 0);
  const Result<ServerConfig> env = parse_with({});
  ::unsetenv("RAFTKV_HTTP_TOKEN");
  ASSERT_TRUE(env.is_ok());
  EXPECT_EQ(env.value().http.token, "from-env");
  EXPECT_EQ(parse_with({}).value().http.token, "");
}

}  // namespace
}  // namespace raftkv::server
