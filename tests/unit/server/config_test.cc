#include "server/config.h"

#include <gtest/gtest.h>

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

TEST(ParseServerArgs, RequiresMembership) {
  std::vector<std::string> words = {"raftkv-server", "--id", "4", "--data-dir", "/tmp/x",
                                    "--peers", "1=127.0.0.1:7001"};
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  int exit_code = 0;
  Result<ServerConfig> config =
      parse_server_args(static_cast<int>(argv.size()), argv.data(), &exit_code);
  ASSERT_FALSE(config.is_ok());
  EXPECT_NE(config.status().message().find("not among --peers"), std::string::npos);
}

TEST(ParseServerArgs, ElectionMustExceedHeartbeat) {
  std::vector<std::string> words = {"raftkv-server", "--id", "1", "--data-dir", "/tmp/x",
                                    "--peers", "1=127.0.0.1:7001", "--heartbeat-ms", "500",
                                    "--election-ms", "400"};
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  int exit_code = 0;
  EXPECT_FALSE(parse_server_args(static_cast<int>(argv.size()), argv.data(), &exit_code).is_ok());
}

TEST(ParseServerArgs, SnapshotEntriesIsOffOrAtLeast100) {
  auto parse = [](const std::string& entries) {
    std::vector<std::string> words = {"raftkv-server", "--id", "1", "--data-dir", "/tmp/x",
                                      "--peers", "1=127.0.0.1:7001", "--snapshot-entries",
                                      entries};
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    int exit_code = 0;
    return parse_server_args(static_cast<int>(argv.size()), argv.data(), &exit_code);
  };
  EXPECT_TRUE(parse("0").is_ok());
  EXPECT_TRUE(parse("100").is_ok());
  const Result<ServerConfig> tiny = parse("50");
  ASSERT_FALSE(tiny.is_ok());
  EXPECT_NE(tiny.status().message().find("--snapshot-entries"), std::string::npos);
}

TEST(ParseServerArgs, PeerHttpAddrsNameEveryMembersPage) {
  auto parse = [](const std::string& addrs) {
    std::vector<std::string> words = {"raftkv-server", "--id", "1", "--data-dir", "/tmp/x",
                                      "--peers", "1=127.0.0.1:7001", "--peer-http-addrs", addrs};
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    int exit_code = 0;
    return parse_server_args(static_cast<int>(argv.size()), argv.data(), &exit_code);
  };
  const Result<ServerConfig> config = parse("2=127.0.0.1:8082,1=127.0.0.1:8081");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  ASSERT_EQ(config.value().peer_http_addrs.size(), 2u);
  EXPECT_EQ(config.value().peer_http_addrs[0].id, NodeId{1});
  EXPECT_EQ(config.value().peer_http_addrs[1].port, 8082);
  const Result<ServerConfig> bad = parse("1=127.0.0.1");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("--peer-http-addrs"), std::string::npos);
}

}  // namespace
}  // namespace raftkv::server
