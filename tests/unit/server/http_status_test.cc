#include "server/http_status.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/auth.h"

namespace raftkv::server {
namespace {

const std::map<NodeId, std::string> kHttp = {{NodeId{1}, "127.0.0.1:8081"},
                                             {NodeId{2}, "10.0.0.2:8082"}};

TEST(AllowedOrigin, OnlyTheMembersPagesMayReadAnotherNode) {
  EXPECT_TRUE(allowed_origin("http://127.0.0.1:8081", kHttp));
  EXPECT_TRUE(allowed_origin("http://10.0.0.2:8082", kHttp));
  EXPECT_TRUE(allowed_origin("http://localhost:8081", kHttp));  // The same loopback page.
  EXPECT_FALSE(allowed_origin("http://localhost:8082", kHttp));  // 8082 is not on loopback.
  EXPECT_FALSE(allowed_origin("http://127.0.0.1:8083", kHttp));
  EXPECT_FALSE(allowed_origin("https://127.0.0.1:8081", kHttp));
  EXPECT_FALSE(allowed_origin("http://evil.example", kHttp));
  EXPECT_FALSE(allowed_origin("null", kHttp));
  EXPECT_FALSE(allowed_origin("", kHttp));
}

TEST(AllowedOrigin, AnHttpsNodeTrustsOnlyHttpsPages) {
  EXPECT_TRUE(allowed_origin("https://127.0.0.1:8081", kHttp, "https"));
  EXPECT_TRUE(allowed_origin("https://localhost:8081", kHttp, "https"));
  EXPECT_FALSE(allowed_origin("http://127.0.0.1:8081", kHttp, "https"));
  EXPECT_FALSE(allowed_origin("https://127.0.0.1:8083", kHttp, "https"));
}

TEST(BearerToken, OnlyTheRightTokenPassesAndEveryRefusalSaysWhy) {
  const std::string hash = password_hash("s3cret");
  EXPECT_EQ(bearer_token_refusal("Bearer s3cret", hash), "");
  EXPECT_EQ(bearer_token_refusal("bearer s3cret", hash), "");  // The scheme is case-blind.
  EXPECT_NE(bearer_token_refusal("", hash).find("needs a token"), std::string::npos);
  EXPECT_NE(bearer_token_refusal("Basic czNjcmV0", hash).find("not 'Bearer"), std::string::npos);
  for (const char* wrong : {"Bearer s3cre", "Bearer s3cret ", "Bearer S3CRET", "Bearer "}) {
    EXPECT_EQ(bearer_token_refusal(wrong, hash), "wrong token\n") << wrong;
  }
}

TEST(StatusJson, MembersCarryTheirHttpAddressWhenKnown) {
  ServerStatus server;
  runtime::NodeStatus& status = server.node;
  status.raft.id = NodeId{1};
  status.raft.conf_state.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
  status.client_addrs[NodeId{1}] = "127.0.0.1:6381";
  status.snapshot_index = Index{7};
  const nlohmann::json json = nlohmann::json::parse(status_json(server, 10, kHttp));
  EXPECT_EQ(json["snapshot_index"], 7);
  ASSERT_EQ(json["members"].size(), 3u);
  EXPECT_EQ(json["members"][0]["http_addr"], "127.0.0.1:8081");
  EXPECT_EQ(json["members"][0]["client_addr"], "127.0.0.1:6381");
  EXPECT_EQ(json["members"][1]["http_addr"], "10.0.0.2:8082");
  EXPECT_EQ(json["members"][2]["http_addr"], "");
}

TEST(StatusJson, ShowsLearnersTheConfigurationIndexAndAPendingChange) {
  ServerStatus server;
  runtime::NodeStatus& status = server.node;
  status.raft.conf_state.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
  status.raft.conf_state.learners = {NodeId{4}};
  status.raft.conf_change_pending = true;
  status.conf_index = Index{42};
  const nlohmann::json json = nlohmann::json::parse(status_json(server, 10, kHttp));
  EXPECT_EQ(json["learners"], nlohmann::json::array({4}));
  EXPECT_EQ(json["conf_index"], 42);
  EXPECT_EQ(json["conf_change_pending"], true);
  EXPECT_EQ(json["removed"], false);
  const std::string metrics = status_metrics(server);
  for (const char* line : {"raftkv_voters 3\n", "raftkv_learners 1\n", "raftkv_conf_index 42\n",
                           "raftkv_conf_change_pending 1\n"}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace raftkv::server
