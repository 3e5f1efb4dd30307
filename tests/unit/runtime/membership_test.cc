#include "runtime/membership.h"

#include <gtest/gtest.h>

namespace raftkv::runtime {
namespace {

TEST(MemberContext, RoundTripsAndMarksEmptyAddresses) {
  const Member member{.id = NodeId{4}, .peer_addr = "127.0.0.1:7004", .client_addr = ""};
  const std::string text = encode_member_context(member);
  EXPECT_EQ(text, "127.0.0.1:7004 -");
  Member decoded;
  ASSERT_TRUE(decode_member_context(text, &decoded));
  EXPECT_EQ(decoded.peer_addr, "127.0.0.1:7004");
  EXPECT_EQ(decoded.client_addr, "");
}

TEST(MemberContext, RefusesMalformedText) {
  Member decoded;
  EXPECT_FALSE(decode_member_context("", &decoded));
  EXPECT_FALSE(decode_member_context("127.0.0.1:7004", &decoded));           // One address.
  EXPECT_FALSE(decode_member_context("a:1 b:2 c:3", &decoded));              // Three.
  EXPECT_FALSE(decode_member_context("127.0.0.1 127.0.0.1:6381", &decoded));  // No port.
}

TEST(MemberSet, RoundTripsMembersRemovedIdsAndConfIndex) {
  MemberSet set;
  set.members[NodeId{1}] = Member{.id = NodeId{1}, .peer_addr = "h1:7001", .client_addr = "h1:1"};
  set.members[NodeId{4}] = Member{.id = NodeId{4}};
  set.removed = {NodeId{2}, NodeId{3}};
  set.conf_index = Index{57};
  MemberSet decoded;
  ASSERT_TRUE(decode_member_set(encode_member_set(set), &decoded));
  EXPECT_EQ(decoded.members, set.members);
  EXPECT_EQ(decoded.removed, set.removed);
  EXPECT_EQ(decoded.conf_index, Index{57});
}

TEST(MemberSet, RefusesUnknownLinesAndBadIds) {
  MemberSet decoded;
  EXPECT_FALSE(decode_member_set("member 0 a:1 b:2\n", &decoded));
  EXPECT_FALSE(decode_member_set("member x a:1 b:2\n", &decoded));
  EXPECT_FALSE(decode_member_set("removed 3 extra\n", &decoded));
  EXPECT_FALSE(decode_member_set("voter 1 a:1 b:2\n", &decoded));
  EXPECT_FALSE(decode_member_set("conf_index -1\n", &decoded));
}

TEST(MemberAddr, HostColonPortWithoutBlanks) {
  EXPECT_TRUE(valid_member_addr(""));
  EXPECT_TRUE(valid_member_addr("127.0.0.1:7001"));
  EXPECT_TRUE(valid_member_addr("node-1.example:7001"));
  EXPECT_FALSE(valid_member_addr("127.0.0.1"));
  EXPECT_FALSE(valid_member_addr(":7001"));
  EXPECT_FALSE(valid_member_addr("a b:7001"));
  EXPECT_FALSE(valid_member_addr("host:"));
}

}  // namespace
}  // namespace raftkv::runtime
