// Exactly-once sessions on the real servers (issue 5): a duplicate (client id, seq) gets the
// remembered reply and is not applied again, on any node; an unknown session is refused with
// SESSION_EXPIRED, never silently applied.

#include "client/errors.h"
#include "harness.h"

namespace raftkv::process_test {
namespace {

class Sessions : public ClusterFixture {};

using client::Reply;

Reply call_on(tools::LocalCluster& cluster, int node, const std::vector<std::string>& args) {
  Result<std::vector<Reply>> replies =
      tools::node_exchange(cluster.layout().client_endpoint(node), {args}, milliseconds(5000));
  EXPECT_TRUE(replies.is_ok()) << replies.status().message();
  return replies.is_ok() ? replies.value().front() : Reply::error("no reply");
}

TEST_F(Sessions, SessionCall_DuplicateSequence_RememberedReplyNotReapplied) {
  start_cluster(/*slot=*/10);
  ASSERT_NE(leader().node_id, 0u);
  const Reply opened = call_on(*cluster_, 1, {"SESSION.OPEN"});
  ASSERT_EQ(opened.type, client::ReplyType::Integer) << client::format_reply(opened);
  const std::string id = std::to_string(opened.integer);
  EXPECT_EQ(call_on(*cluster_, 1, {"SESSION.CALL", id, "1", "INCR", "dup"}), Reply::number(1));
  // The same request again, through other nodes (a client retrying after a failover).
  EXPECT_EQ(call_on(*cluster_, 2, {"SESSION.CALL", id, "1", "INCR", "dup"}), Reply::number(1));
  EXPECT_EQ(call_on(*cluster_, 3, {"SESSION.CALL", id, "1", "INCR", "dup"}), Reply::number(1));
  EXPECT_EQ(call_on(*cluster_, 1, {"GET", "dup"}), Reply::bulk("1"));
  EXPECT_EQ(call_on(*cluster_, 2, {"SESSION.CALL", id, "2", "INCR", "dup"}), Reply::number(2));
  EXPECT_EQ(call_on(*cluster_, 3, {"GET", "dup"}), Reply::bulk("2"));
}

TEST_F(Sessions, SessionCall_UnknownSession_SessionExpiredAndNotApplied) {
  start_cluster(/*slot=*/11);
  ASSERT_NE(leader().node_id, 0u);
  const Reply reply = call_on(*cluster_, 2, {"SESSION.CALL", "999999", "1", "SET", "x", "1"});
  ASSERT_EQ(reply.type, client::ReplyType::Error);
  EXPECT_EQ(client::classify_error(reply.text), client::ErrorClass::SessionExpired) << reply.text;
  EXPECT_EQ(call_on(*cluster_, 1, {"GET", "x"}), Reply::nil());
}

}  // namespace
}  // namespace raftkv::process_test
