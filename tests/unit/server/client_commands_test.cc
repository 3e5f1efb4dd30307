#include "server/client_commands.h"

#include "protocol/command_table.h"

#include <gtest/gtest.h>

namespace raftkv::server {
namespace {

ServerStatus fake_status() {
  ServerStatus server;
  runtime::NodeStatus& status = server.node;
  status.raft.id = NodeId{2};
  status.raft.role = raft::Role::Leader;
  status.raft.term = Term{7};
  status.raft.leader = NodeId{2};
  status.raft.commit_index = Index{41};
  status.raft.applied_index = Index{40};
  status.raft.last_index = Index{42};
  status.raft.conf_state.voters = {NodeId{1}, NodeId{2}};
  status.client_addrs = {{NodeId{1}, "127.0.0.1:6381"}, {NodeId{2}, "127.0.0.1:6382"}};
  status.leader_client_addr = "127.0.0.1:6382";
  status.snapshot_index = Index{30};
  return server;
}

class ClientCommands : public ::testing::Test {
 protected:
  Action run(std::vector<std::string> args) {
    return translate(state, args, [] { return fake_status(); });
  }
  ClientState state;
};

TEST_F(ClientCommands, Ping_RepliesPongOrEcho) {
  EXPECT_EQ(run({"PING"}).reply, "+PONG\r\n");
  EXPECT_EQ(run({"ping", "hi"}).reply, "$2\r\nhi\r\n");
}

TEST_F(ClientCommands, Set_WithConditions) {
  Action plain = run({"SET", "k", "v"});
  ASSERT_EQ(plain.kind, Action::Kind::Run);
  EXPECT_EQ(plain.command, kv::Command::set("k", "v"));
  EXPECT_EQ(run({"set", "k", "v", "nx"}).command,
            kv::Command::set("k", "v", kv::SetCondition::IfMissing));
  EXPECT_EQ(run({"SET", "k", "v", "XX"}).command,
            kv::Command::set("k", "v", kv::SetCondition::IfPresent));
  EXPECT_EQ(run({"SET", "k", "v", "EX"}).reply, "-ERR syntax error\r\n");
}

TEST_F(ClientCommands, Arity_ErrorsLikeRedis) {
  EXPECT_EQ(run({"GET"}).reply, "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(run({"MSET", "a", "1", "b"}).reply,
            "-ERR wrong number of arguments for 'mset' command\r\n");
}

TEST_F(ClientCommands, Unknown_NamesTheCommand) {
  EXPECT_EQ(run({"FLY", "away"}).reply,
            "-ERR unknown command 'FLY', with args beginning with: 'away' \r\n");
}

TEST_F(ClientCommands, IncrBy_RejectsNonInteger) {
  EXPECT_EQ(run({"INCRBY", "k", "x1"}).reply,
            "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run({"DECRBY", "k", "5"}).command, kv::Command::decr_by("k", 5));
}

TEST_F(ClientCommands, Multi_QueuesAndExecRunsOneBatch) {
  EXPECT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"SET", "a", "1"}).reply, "+QUEUED\r\n");
  EXPECT_EQ(run({"INCR", "a"}).reply, "+QUEUED\r\n");
  Action exec = run({"EXEC"});
  ASSERT_EQ(exec.kind, Action::Kind::Run);
  EXPECT_EQ(exec.command, kv::Command::batch({kv::Command::set("a", "1"), kv::Command::incr("a")}));
  EXPECT_FALSE(state.in_multi);
}

TEST_F(ClientCommands, Multi_MalformedCommandAbortsExec) {
  ASSERT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"GET"}).reply, "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(run({"EXEC"}).reply,
            "-EXECABORT Transaction discarded because of previous errors.\r\n");
}

TEST_F(ClientCommands, Exec_WithoutMultiRefused) {
  EXPECT_EQ(run({"EXEC"}).reply, "-ERR EXEC without MULTI\r\n");
}

TEST_F(ClientCommands, ReadOnly_MakesReadsStale) {
  EXPECT_FALSE(run({"GET", "k"}).stale_read);
  EXPECT_EQ(run({"READONLY"}).reply, "+OK\r\n");
  EXPECT_TRUE(run({"GET", "k"}).stale_read);
  EXPECT_FALSE(run({"SET", "k", "v"}).stale_read);  // Writes always go to the leader.
}

TEST_F(ClientCommands, SessionCall_WrapsCommand) {
  Action call = run({"SESSION.CALL", "12", "3", "incrby", "acct", "-5"});
  ASSERT_EQ(call.kind, Action::Kind::Run);
  EXPECT_EQ(call.command, kv::Command::session(12, 3, 0, kv::Command::incr_by("acct", -5)));
  EXPECT_EQ(run({"SESSION.CALL", "0", "1", "GET", "k"}).reply,
            "-ERR client id and sequence must be positive integers\r\n");
  EXPECT_EQ(run({"SESSION.OPEN"}).command, kv::Command::register_session(0));
}

TEST_F(ClientCommands, SessionExec_WrapsTheTransaction) {
  ASSERT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  ASSERT_EQ(run({"DECRBY", "alice", "5"}).reply, "+QUEUED\r\n");
  ASSERT_EQ(run({"INCRBY", "bob", "5"}).reply, "+QUEUED\r\n");
  Action exec = run({"SESSION.EXEC", "7", "2"});
  ASSERT_EQ(exec.kind, Action::Kind::Run);
  EXPECT_EQ(exec.command,
            kv::Command::session(7, 2, 0,
                                 kv::Command::batch({kv::Command::decr_by("alice", 5),
                                                     kv::Command::incr_by("bob", 5)})));
  EXPECT_FALSE(state.in_multi);
}

TEST_F(ClientCommands, Info_HasRaftSection) {
  const std::string text = info_text(fake_status());
  EXPECT_NE(text.find("role:leader\r\n"), std::string::npos);
  EXPECT_NE(text.find("term:7\r\n"), std::string::npos);
  EXPECT_NE(text.find("leader_addr:127.0.0.1:6382\r\n"), std::string::npos);
  EXPECT_NE(text.find("members:1@127.0.0.1:6381,2@127.0.0.1:6382\r\n"), std::string::npos);
  EXPECT_NE(text.find("commit_index:41\r\n"), std::string::npos);
  EXPECT_NE(text.find("snapshot_index:30\r\n"), std::string::npos);
}

TEST_F(ClientCommands, Run_EncodesTheCommandForTheRuntime) {
  Action get = run({"GET", "k"});
  ASSERT_EQ(get.kind, Action::Kind::Run);
  EXPECT_TRUE(get.request.read_only);
  EXPECT_EQ(get.request.bytes, kv::encode_command(kv::Command::get("k")));
  Action set = run({"SET", "k", "v"});
  EXPECT_FALSE(set.request.read_only);
  EXPECT_EQ(kv::decode_command(set.request.bytes).value(), kv::Command::set("k", "v"));
}

TEST_F(ClientCommands, Command_ComesFromTheTable) {
  Action count = run({"COMMAND", "COUNT"});
  EXPECT_EQ(count.reply,
            ":" + std::to_string(protocol::all_commands().size()) + "\r\n");
  Action info = run({"command", "info", "get", "nosuch"});
  EXPECT_TRUE(info.reply.starts_with("*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*1\r\n+readonly\r\n"))
      << info.reply;
  EXPECT_TRUE(info.reply.ends_with("*0\r\n$-1\r\n")) << info.reply;  // nosuch: nil.
  EXPECT_TRUE(run({"COMMAND", "BOGUS"}).reply.starts_with("-ERR unknown subcommand"));
}

TEST_F(ClientCommands, Quit_ClosesAfterOk) {
  Action quit = run({"QUIT"});
  EXPECT_EQ(quit.kind, Action::Kind::Quit);
  EXPECT_EQ(quit.reply, "+OK\r\n");
}

}  // namespace
}  // namespace raftkv::server
