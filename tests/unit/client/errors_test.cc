#include "client/errors.h"

#include <gtest/gtest.h>

#include "client/endpoint.h"
#include "client/info.h"
#include "protocol/reply_codes.h"

namespace raftkv::client {
namespace {

TEST(ClassifyError, ClassifyError_ReadsTheCodeNotTheText) {
  // The code the server puts first (src/protocol/reply_codes.h) decides; the words after it
  // are for people, and a TRYAGAIN saying "applied" is still not applied.
  EXPECT_EQ(classify_error("TRYAGAIN no leader"), ErrorClass::NotApplied);
  EXPECT_EQ(classify_error("TRYAGAIN busy: too many requests in flight"),
            ErrorClass::NotApplied);
  EXPECT_EQ(classify_error("TRYAGAIN the write may or may not have been applied"),
            ErrorClass::NotApplied);
  EXPECT_EQ(classify_error("UNCERTAIN timed out; the write may or may not have been applied"),
            ErrorClass::Ambiguous);
  EXPECT_EQ(classify_error("UNCERTAIN anything new"), ErrorClass::Ambiguous);
  EXPECT_EQ(classify_error(protocol::maybe_applied_error("why")), ErrorClass::Ambiguous);
  EXPECT_EQ(classify_error(protocol::not_applied_error("why")), ErrorClass::NotApplied);
}

TEST(ClassifyError, ClassifyError_OtherErrorsAreApplicationOrSession) {
  EXPECT_EQ(classify_error("WRONGTYPE Operation against a key"), ErrorClass::Application);
  EXPECT_EQ(classify_error("ERR unknown command 'FOO'"), ErrorClass::Application);
  EXPECT_EQ(classify_error("SESSION_EXPIRED client 7 is unknown or expired"),
            ErrorClass::SessionExpired);
}

TEST(ParseEndpoints, ParseEndpoints_ListAndBarePort) {
  Result<std::vector<Endpoint>> parsed = parse_endpoints("10.0.0.1:6381,6382,10.0.0.1:6381");
  ASSERT_TRUE(parsed.is_ok());
  ASSERT_EQ(parsed.value().size(), 2u);
  EXPECT_EQ(parsed.value()[0], (Endpoint{"10.0.0.1", 6381}));
  EXPECT_EQ(parsed.value()[1], (Endpoint{"127.0.0.1", 6382}));
}

TEST(ParseEndpoints, ParseEndpoints_RejectsBadPorts) {
  for (const char* text : {"host:", "host:0", "host:70000", "host:12x", ":6381", ""}) {
    EXPECT_FALSE(parse_endpoints(text).is_ok()) << text;
  }
}

TEST(ParseInfo, ParseInfo_ReadsRaftSection) {
  const char* text =
      "# Server\r\nredis_version:7.0.0-raftkv\r\n\r\n# Raft\r\nnode_id:2\r\nrole:follower\r\n"
      "term:5\r\nleader_id:1\r\nleader_addr:127.0.0.1:6381\r\ncommit_index:10\r\n"
      "applied_index:9\r\nlast_log_index:11\r\nmembers:1@127.0.0.1:6381,2@127.0.0.1:6382\r\n";
  Result<RaftInfo> info = parse_info(text);
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info.value().node_id, 2u);
  EXPECT_EQ(info.value().role, "follower");
  EXPECT_FALSE(info.value().is_leader());
  EXPECT_EQ(info.value().term, 5u);
  EXPECT_EQ(info.value().leader_id, 1u);
  EXPECT_EQ(info.value().leader_addr, "127.0.0.1:6381");
  EXPECT_EQ(info.value().commit_index, 10u);
  EXPECT_EQ(info.value().applied_index, 9u);
  EXPECT_EQ(info.value().last_log_index, 11u);
  ASSERT_EQ(info.value().members.size(), 2u);
  EXPECT_EQ(info.value().members[1].id, 2u);
  EXPECT_EQ(info.value().members[1].client_addr, "127.0.0.1:6382");
}

TEST(ParseInfo, ParseInfo_TlsAddressesJoinTheirMembers) {
  const std::string text =
      "role:follower\r\nterm:5\r\nleader_id:2\r\nleader_addr:127.0.0.1:6382\r\n"
      "leader_tls_addr:127.0.0.1:6392\r\nmembers:1@127.0.0.1:6381,2@127.0.0.1:6382,3\r\n"
      "tls_members:1,2@127.0.0.1:6392,3@127.0.0.1:6393\r\n";
  Result<RaftInfo> info = parse_info(text);
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info.value().leader_tls_addr, "127.0.0.1:6392");
  ASSERT_EQ(info.value().members.size(), 3u);
  EXPECT_EQ(info.value().members[0].addr(/*tls=*/true), "");  // No TLS port: not guessed.
  EXPECT_EQ(info.value().members[0].addr(/*tls=*/false), "127.0.0.1:6381");
  EXPECT_EQ(info.value().members[1].addr(/*tls=*/true), "127.0.0.1:6392");
  EXPECT_EQ(info.value().members[2].addr(/*tls=*/true), "127.0.0.1:6393");
  EXPECT_EQ(info.value().members[2].addr(/*tls=*/false), "");
  EXPECT_FALSE(parse_info("role:leader\r\nterm:1\r\ntls_members:x@y\r\n").is_ok());
}

TEST(ParseInfo, ParseInfo_MalformedIsAnError) {
  EXPECT_FALSE(parse_info("role:leader\r\nterm:x\r\n").is_ok());
  EXPECT_FALSE(parse_info("redis_version:7\r\n").is_ok());
  EXPECT_FALSE(parse_info("role:leader\r\nterm:1\r\nmembers:a@b\r\n").is_ok());
}

}  // namespace
}  // namespace raftkv::client
