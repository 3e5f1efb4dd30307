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

// A directory of two connections: this test's (id 7) and another (id 9).
class FakeDirectory final : public ClientDirectory {
 public:
  explicit FakeDirectory(const ClientState* self) : self_(self) {
    other_.id = 9;
    other_.addr = "127.0.0.1:5000";
    other_.name = "other";
  }
  [[nodiscard]] std::vector<const ClientState*> clients() const override {
    return {self_, &other_};
  }
  bool kill(uint64_t id) override {
    killed.push_back(id);
    return id == 9;
  }
  [[nodiscard]] ServerCounters counters() const override {
    ServerCounters counters;
    counters.calls["get"] = 3;
    return counters;
  }
  std::vector<uint64_t> killed;

 private:
  const ClientState* self_;
  ClientState other_;
};

class ClientCommands : public ::testing::Test {
 protected:
  static constexpr uint64_t kBulkMax = 3 << 20;
  static constexpr uint64_t kRequestMax = 100;
  ServerStatus status = fake_status();  // What the node reports; a test may change it.
  ClientCommands() {
    state.id = 7;
    state.addr = "127.0.0.1:4000";
  }
  Action run(std::vector<std::string> args) {
    return translate(state, args,
                     ServerContext{[this] { return status; }, &directory, 5000, kBulkMax,
                                   kRequestMax});
  }
  // The store's reply to a Run action, through its finish step.
  std::string finish(Action& action, std::string store_reply) {
    EXPECT_EQ(action.kind, Action::Kind::Run);
    return action.finish ? action.finish(state, std::move(store_reply)) : store_reply;
  }
  ClientState state;
  FakeDirectory directory{&state};
};

TEST_F(ClientCommands, RaftMember_BadRequestsAreRefusedBeforeTheNode) {
  EXPECT_EQ(run({"RAFT.MEMBER", "ADD", "0", "127.0.0.1:7004", "127.0.0.1:6384"}).reply,
            "-ERR node id must be a positive integer, not '0'\r\n");
  EXPECT_EQ(run({"RAFT.MEMBER", "ADD", "4", "127.0.0.1", "127.0.0.1:6384"}).reply,
            "-ERR peer_addr and client_addr must be host:port\r\n");
  EXPECT_EQ(run({"RAFT.MEMBER", "ADD", "4", "h:1", "h:2", "VOTER"}).reply,
            "-ERR the optional last argument of ADD is LEARNER, not 'VOTER'\r\n");
  EXPECT_TRUE(run({"RAFT.MEMBER", "PROMOTE"}).reply.starts_with("-ERR usage: RAFT.MEMBER"));
  EXPECT_TRUE(run({"RAFT.TRANSFER", "x"}).reply.starts_with("-ERR node id must be"));
  EXPECT_EQ(run({"RAFT.MEMBER", "PROMOTE", "4"}).kind, Action::Kind::Admin);
  EXPECT_EQ(run({"raft.member", "add", "4", "h:1", "h:2", "learner"}).kind, Action::Kind::Admin);
}

TEST_F(ClientCommands, RaftMember_RefusedInsideMulti) {
  EXPECT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"RAFT.MEMBER", "LIST"}).reply,
            "-ERR RAFT.MEMBER inside MULTI is not allowed\r\n");
}

TEST_F(ClientCommands, RaftMemberList_ShowsEveryMemberWithItsRole) {
  // fake_status() has no member records: the list is empty, and the INFO fields are there.
  EXPECT_EQ(run({"RAFT.MEMBER", "LIST"}).reply, "*0\r\n");
  const std::string info = info_text(fake_status(), ServerCounters{}, {"raft"}, std::nullopt, 1);
  EXPECT_NE(info.find("learners:\r\n"), std::string::npos) << info;
  EXPECT_NE(info.find("conf_index:0\r\n"), std::string::npos) << info;
  EXPECT_NE(info.find("removed:0\r\n"), std::string::npos) << info;
}

TEST_F(ClientCommands, Translate_NamesTheCommandAsClientListShowsIt) {
  (void)run({"get", "k"});
  EXPECT_EQ(state.last_command, "get");
  (void)run({"CLIENT", "List"});
  EXPECT_EQ(state.last_command, "client|list");
  EXPECT_NE(run({"CLIENT", "LIST"}).reply.find(" cmd=client|list "), std::string::npos);
  (void)run({"NOSUCHCMD", "x"});
  EXPECT_EQ(state.last_command, "");  // Not counted by name; CLIENT LIST shows NULL.
  EXPECT_NE(run({"CLIENT", "INFO"}).reply.find(" cmd=client|info "), std::string::npos);
}

TEST_F(ClientCommands, Ping_RepliesPongOrEcho) {
  EXPECT_EQ(run({"PING"}).reply, "+PONG\r\n");
  EXPECT_EQ(run({"ping", "hi"}).reply, "$2\r\nhi\r\n");
}

TEST_F(ClientCommands, Set_IsACallOfTheStore) {
  Action plain = run({"SET", "k", "v", "EX", "10"});
  ASSERT_EQ(plain.kind, Action::Kind::Run);
  EXPECT_EQ(plain.command, kv::Command::call({"set", "k", "v", "EX", "10"}));
}

TEST_F(ClientCommands, Arity_ErrorsLikeRedis) {
  EXPECT_EQ(run({"GET"}).reply, "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(run({"PING", "a", "b"}).reply, "-ERR wrong number of arguments for 'ping' command\r\n");
  EXPECT_EQ(run({"CLIENT"}).reply, "-ERR wrong number of arguments for 'client' command\r\n");
}

// A container's subcommands have their own arity (protocol::find_subcommand), and Redis names
// the subcommand in the error; an unknown one gets "unknown subcommand".
TEST_F(ClientCommands, Subcommand_ArityAndUnknownErrorsLikeRedis) {
  EXPECT_EQ(run({"CLIENT", "ID", "x"}).reply,
            "-ERR wrong number of arguments for 'client|id' command\r\n");
  EXPECT_EQ(run({"client", "setname"}).reply,
            "-ERR wrong number of arguments for 'client|setname' command\r\n");
  EXPECT_EQ(run({"CLIENT", "KILL"}).reply,
            "-ERR wrong number of arguments for 'client|kill' command\r\n");
  EXPECT_EQ(run({"COMMAND", "COUNT", "x"}).reply,
            "-ERR wrong number of arguments for 'command|count' command\r\n");
  EXPECT_EQ(run({"COMMAND", "GETKEYS", "GET"}).reply,
            "-ERR wrong number of arguments for 'command|getkeys' command\r\n");
  EXPECT_EQ(run({"CONFIG", "GET"}).reply,
            "-ERR wrong number of arguments for 'config|get' command\r\n");
  EXPECT_EQ(run({"CONFIG", "SET", "a", "b", "c"}).reply, "-ERR syntax error\r\n");
  EXPECT_EQ(run({"CLUSTER", "SLOTS", "x"}).reply,
            "-ERR wrong number of arguments for 'cluster|slots' command\r\n");
  EXPECT_EQ(run({"COMMAND", "LIST", "FILTERBY"}).reply, "-ERR syntax error\r\n");
  EXPECT_EQ(run({"CLIENT", "PAUSE", "10"}).reply,
            "-ERR unknown subcommand 'PAUSE'. Try CLIENT HELP.\r\n");
  EXPECT_EQ(run({"COMMAND", "foo"}).reply,
            "-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n");
}

// Inside MULTI the same checks refuse the command at once, and EXEC aborts, as in Redis.
TEST_F(ClientCommands, Multi_BadSubcommandAbortsExec) {
  ASSERT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"CLIENT", "ID", "x"}).reply,
            "-ERR wrong number of arguments for 'client|id' command\r\n");
  EXPECT_EQ(run({"SET", "a", "1"}).reply, "+QUEUED\r\n");
  EXPECT_EQ(run({"EXEC"}).reply,
            "-EXECABORT Transaction discarded because of previous errors.\r\n");
  ASSERT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"CLIENT", "NOSUCH"}).reply,
            "-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.\r\n");
  EXPECT_EQ(run({"EXEC"}).reply,
            "-EXECABORT Transaction discarded because of previous errors.\r\n");
}

TEST_F(ClientCommands, Unknown_NamesTheCommand) {
  EXPECT_EQ(run({"FLY", "away"}).reply,
            "-ERR unknown command 'FLY', with args beginning with: 'away' \r\n");
}

TEST_F(ClientCommands, Multi_QueuesAndExecRunsOneBatch) {
  EXPECT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"SET", "a", "1"}).reply, "+QUEUED\r\n");
  EXPECT_EQ(run({"INCR", "a"}).reply, "+QUEUED\r\n");
  Action exec = run({"EXEC"});
  ASSERT_EQ(exec.kind, Action::Kind::Run);
  EXPECT_EQ(exec.command, kv::Command::batch({kv::Command::call({"set", "a", "1"}),
                                              kv::Command::call({"incr", "a"})}));
  EXPECT_FALSE(state.in_multi);
  EXPECT_EQ(finish(exec, "*2\r\n+OK\r\n:2\r\n"), "*2\r\n+OK\r\n:2\r\n");
}

// Regression (issue 16): MULTI; PING; EXEC aborted with "unknown command".
TEST_F(ClientCommands, Multi_ConnectionCommandsRunAtExecInTheirPlace) {
  ASSERT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"PING"}).reply, "+QUEUED\r\n");
  EXPECT_EQ(run({"GET", "a"}).reply, "+QUEUED\r\n");
  EXPECT_EQ(run({"ECHO", "hi"}).reply, "+QUEUED\r\n");
  EXPECT_EQ(run({"SELECT", "1"}).reply, "+QUEUED\r\n");
  Action exec = run({"EXEC"});
  EXPECT_EQ(exec.command, kv::Command::batch({kv::Command::call({"get", "a"})}));
  EXPECT_EQ(finish(exec, "*1\r\n$1\r\nv\r\n"),
            "*4\r\n+PONG\r\n$1\r\nv\r\n$2\r\nhi\r\n-ERR DB index is out of range\r\n");
  EXPECT_EQ(finish(exec, "-TRYAGAIN no leader\r\n"), "-TRYAGAIN no leader\r\n");
  ASSERT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  ASSERT_EQ(run({"PING"}).reply, "+QUEUED\r\n");
  Action local_only = run({"EXEC"});  // Nothing for the store: answered at once.
  EXPECT_EQ(local_only.kind, Action::Kind::Reply);
  EXPECT_EQ(local_only.reply, "*1\r\n+PONG\r\n");
}

// WATCH reads the versions first (the connection waits for them); EXEC carries them, and a
// nil array from the store (a watched key changed) passes through.
TEST_F(ClientCommands, Watch_ExecCarriesTheVersionsRead) {
  Action watch = run({"WATCH", "a", "b"});
  ASSERT_EQ(watch.kind, Action::Kind::Run);
  EXPECT_TRUE(watch.blocks);
  EXPECT_TRUE(watch.request.read_only);
  EXPECT_EQ(watch.command, kv::Command::versions({"a", "b"}));
  EXPECT_EQ(finish(watch, "*2\r\n:5\r\n:0\r\n"), "+OK\r\n");
  ASSERT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"WATCH", "c"}).reply, "-ERR WATCH inside MULTI is not allowed\r\n");
  ASSERT_EQ(run({"INCR", "a"}).reply, "+QUEUED\r\n");
  Action exec = run({"EXEC"});
  EXPECT_EQ(exec.command,
            kv::Command::batch({kv::Command::call({"incr", "a"})}, {{"a", 5}, {"b", 0}}));
  EXPECT_EQ(finish(exec, "*-1\r\n"), "*-1\r\n");
  EXPECT_TRUE(state.watched.empty());  // EXEC unwatches, whatever happened.
  ASSERT_EQ(finish(watch, "*2\r\n:5\r\n:0\r\n"), "+OK\r\n");
  EXPECT_EQ(run({"UNWATCH"}).reply, "+OK\r\n");
  EXPECT_TRUE(state.watched.empty());
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
  EXPECT_EQ(call.command,
            kv::Command::session(12, 3, 0, kv::Command::call({"incrby", "acct", "-5"})));
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
                                 kv::Command::batch({kv::Command::call({"decrby", "alice", "5"}),
                                                     kv::Command::call({"incrby", "bob", "5"})})));
  EXPECT_FALSE(state.in_multi);
}

TEST_F(ClientCommands, Info_HasRaftSection) {
  const std::string text = info_text(fake_status(), ServerCounters{}, {}, std::nullopt, 1);
  EXPECT_NE(text.find("role:leader\r\n"), std::string::npos);
  EXPECT_NE(text.find("term:7\r\n"), std::string::npos);
  EXPECT_NE(text.find("leader_addr:127.0.0.1:6382\r\n"), std::string::npos);
  EXPECT_NE(text.find("members:1@127.0.0.1:6381,2@127.0.0.1:6382\r\n"), std::string::npos);
  EXPECT_NE(text.find("commit_index:41\r\n"), std::string::npos);
  EXPECT_NE(text.find("snapshot_index:30\r\n"), std::string::npos);
}

TEST_F(ClientCommands, Info_NamesTlsAddressesOnLinesOfTheirOwn) {
  EXPECT_NE(info_text(status, ServerCounters{}, {}, std::nullopt, 1).find("tls_members:1,2\r\n"),
            std::string::npos);  // No TLS port known: ids alone.
  status.node.client_tls_addrs = {{NodeId{2}, "127.0.0.1:6392"}};
  status.node.leader_client_tls_addr = "127.0.0.1:6392";
  const std::string text = info_text(status, ServerCounters{}, {}, std::nullopt, 1);
  EXPECT_NE(text.find("leader_tls_addr:127.0.0.1:6392\r\n"), std::string::npos);
  EXPECT_NE(text.find("tls_members:1,2@127.0.0.1:6392\r\n"), std::string::npos);
  // The plaintext lines are unchanged, for clients that know no other.
  EXPECT_NE(text.find("members:1@127.0.0.1:6381,2@127.0.0.1:6382\r\n"), std::string::npos);
}

TEST_F(ClientCommands, Run_EncodesTheCommandForTheRuntime) {
  Action get = run({"GET", "k"});
  ASSERT_EQ(get.kind, Action::Kind::Run);
  EXPECT_TRUE(get.request.read_only);
  EXPECT_EQ(get.request.bytes, kv::encode_command(kv::Command::call({"get", "k"})));
  Action set = run({"SET", "k", "v"});
  EXPECT_FALSE(set.request.read_only);
  EXPECT_EQ(kv::decode_command(set.request.bytes).value(), kv::Command::call({"set", "k", "v"}));
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
  // A container lists its subcommands last, each as a command of its own.
  const std::string client = run({"COMMAND", "INFO", "client"}).reply;
  EXPECT_NE(client.find("*10\r\n$9\r\nclient|id\r\n:2\r\n"), std::string::npos) << client;
  EXPECT_EQ(run({"COMMAND", "INFO", "get"}).reply.find("client|"), std::string::npos);
}

TEST_F(ClientCommands, Command_GetKeysAndDocsFromTheTable) {
  EXPECT_EQ(run({"COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"}).reply,
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  EXPECT_EQ(run({"COMMAND", "GETKEYS", "PING", "x"}).reply,
            "-ERR The command has no key arguments\r\n");
  EXPECT_EQ(run({"COMMAND", "GETKEYS", "GET", "a", "b"}).reply,
            "-ERR Invalid number of arguments specified for command\r\n");
  EXPECT_EQ(run({"COMMAND", "DOCS", "hset"}).reply,
            "*2\r\n$4\r\nhset\r\n*6\r\n$7\r\nsummary\r\n$0\r\n\r\n$5\r\nsince\r\n"
            "$5\r\n1.0.0\r\n$5\r\ngroup\r\n$4\r\nhash\r\n");
}

// Regression (issue 16): every CLIENT subcommand answered +OK.
TEST_F(ClientCommands, Client_AnswersForReal) {
  EXPECT_EQ(run({"CLIENT", "ID"}).reply, ":7\r\n");
  EXPECT_EQ(run({"CLIENT", "GETNAME"}).reply, "$-1\r\n");
  EXPECT_EQ(run({"CLIENT", "SETNAME", "web 1"}).reply,
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(run({"CLIENT", "SETNAME", "web"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"CLIENT", "GETNAME"}).reply, "$3\r\nweb\r\n");
  EXPECT_EQ(run({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}).reply, "+OK\r\n");
  const std::string list = run({"CLIENT", "LIST"}).reply;
  EXPECT_NE(list.find("id=7 addr=127.0.0.1:4000 "), std::string::npos) << list;
  EXPECT_NE(list.find(" name=web "), std::string::npos) << list;
  EXPECT_NE(list.find("lib-name=redis-py"), std::string::npos) << list;
  EXPECT_NE(list.find("id=9 addr=127.0.0.1:5000 "), std::string::npos) << list;
  EXPECT_EQ(run({"CLIENT", "KILL", "127.0.0.1:5000"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"CLIENT", "KILL", "127.0.0.1:1"}).reply, "-ERR No such client\r\n");
  EXPECT_EQ(run({"CLIENT", "KILL", "ID", "9"}).reply, ":1\r\n");
  EXPECT_EQ(directory.killed, (std::vector<uint64_t>{9, 9}));
  EXPECT_EQ(run({"CLIENT", "KILL", "ID", "7"}).reply, ":0\r\n");  // SKIPME yes by default.
  EXPECT_EQ(run({"CLIENT", "KILL", "ID", "7", "SKIPME", "no"}).reply, ":1\r\n");
  EXPECT_TRUE(state.kill);
  EXPECT_TRUE(run({"CLIENT", "REPLY", "OFF"}).silent);
  EXPECT_TRUE(state.replies_off);
  EXPECT_EQ(run({"CLIENT", "REPLY", "ON"}).reply, "+OK\r\n");
  EXPECT_TRUE(run({"CLIENT", "NOSUCH"}).reply.starts_with("-ERR unknown subcommand 'NOSUCH'"));
}

// Regression (issue 16): SELECT abc gave the wrong error text. The texts are Redis 7.0.15's
// (its own tests check none of them; they were read from a redis-server 7.0.15).
TEST_F(ClientCommands, Select_OnlyDatabaseZero) {
  EXPECT_EQ(run({"SELECT", "0"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"SELECT", "abc"}).reply, "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run({"SELECT", "1.5"}).reply, "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run({"SELECT", "99999999999"}).reply,
            "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n");
  EXPECT_EQ(run({"SELECT", "1"}).reply, "-ERR DB index is out of range\r\n");
  EXPECT_EQ(run({"SELECT", "-1"}).reply, "-ERR DB index is out of range\r\n");
}

// RESP2 only: HELLO 3 gets -NOPROTO, so that clients fall back (ioredis, redis-py).
TEST_F(ClientCommands, Hello_SpeaksResp2Only) {
  EXPECT_EQ(run({"HELLO", "3"}).reply, "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(run({"HELLO", "x"}).reply,
            "-ERR Protocol version is not an integer or out of range\r\n");
  const std::string hello = run({"HELLO", "2", "AUTH", "default", "pw", "SETNAME", "n"}).reply;
  EXPECT_TRUE(hello.starts_with("*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n")) << hello;
  EXPECT_NE(hello.find("$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:7\r\n"), std::string::npos);
  EXPECT_NE(hello.find("$6\r\nmaster"), std::string::npos);  // fake_status: node 2 leads.
  EXPECT_EQ(state.name, "n");
  Action bob = run({"HELLO", "2", "AUTH", "bob", "pw"});  // A replicated user: read the store.
  EXPECT_EQ(finish(bob, "$-1\r\n"),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
}

// One shard: the leader is the master of every slot, the followers its replicas.
TEST_F(ClientCommands, Cluster_DescribesOneShard) {
  const std::string slots = run({"CLUSTER", "SLOTS"}).reply;
  EXPECT_EQ(slots,  // The master only (cluster_slots() says why).
            "*1\r\n*3\r\n:0\r\n:16383\r\n"
            "*3\r\n$9\r\n127.0.0.1\r\n:6382\r\n$40\r\n" + std::string(39, '0') + "2\r\n");
  const std::string nodes = run({"CLUSTER", "NODES"}).reply;
  EXPECT_NE(nodes.find("127.0.0.1:6382@16382 myself,master - 0 0 7 connected 0-16383\n"),
            std::string::npos) << nodes;
  EXPECT_NE(nodes.find("127.0.0.1:6381@16381 slave " + std::string(39, '0') + "2"),
            std::string::npos) << nodes;
  EXPECT_NE(run({"CLUSTER", "INFO"}).reply.find("cluster_state:ok"), std::string::npos);
  EXPECT_EQ(run({"CLUSTER", "MYID"}).reply, "$40\r\n" + std::string(39, '0') + "2\r\n");
}

// During an election the topology waits for the next leader (Node::await_leader), so that a
// client does not take this follower for the master; INFO and MYID answer at once.
TEST_F(ClientCommands, Cluster_DuringAnElectionAnswersOnceALeaderIsKnown) {
  status.node.raft.role = raft::Role::Follower;
  status.node.raft.leader = kNoNode;
  EXPECT_NE(run({"CLUSTER", "INFO"}).reply.find("cluster_state:fail"), std::string::npos);
  EXPECT_EQ(run({"CLUSTER", "MYID"}).kind, Action::Kind::Reply);
  for (const char* sub : {"SLOTS", "SHARDS", "NODES"}) {
    Action action = run({"CLUSTER", sub});
    ASSERT_EQ(action.kind, Action::Kind::Admin) << sub;
    ASSERT_TRUE(action.admin && action.finish) << sub;
  }
  Action slots = run({"CLUSTER", "SLOTS"});
  status.node.raft.leader = NodeId{1};  // The election settled while it waited.
  EXPECT_EQ(slots.finish(state, ""),
            "*1\r\n*3\r\n:0\r\n:16383\r\n"
            "*3\r\n$9\r\n127.0.0.1\r\n:6381\r\n$40\r\n" + std::string(39, '0') + "1\r\n");
  status.node.raft.leader = kNoNode;
  Action nodes = run({"CLUSTER", "NODES"});  // No leader within the wait: it names itself.
  const std::string text = nodes.finish(state, "");
  EXPECT_NE(text.find("127.0.0.1:6382@16382 myself,master"), std::string::npos) << text;
}

// A client on the TLS port must be sent to TLS ports: following a plaintext one would drop
// its encryption (or fail its handshake). Members without a TLS port are left out for it.
TEST_F(ClientCommands, Cluster_OverTlsNamesTlsPorts) {
  status.node.client_tls_addrs = {{NodeId{2}, "127.0.0.1:7382"}};
  state.tls = true;
  EXPECT_EQ(run({"CLUSTER", "SLOTS"}).reply,
            "*1\r\n*3\r\n:0\r\n:16383\r\n"
            "*3\r\n$9\r\n127.0.0.1\r\n:7382\r\n$40\r\n" + std::string(39, '0') + "2\r\n");
  const std::string nodes = run({"CLUSTER", "NODES"}).reply;
  EXPECT_NE(nodes.find("127.0.0.1:7382@17382 myself,master"), std::string::npos) << nodes;
  EXPECT_EQ(nodes.find(":6381"), std::string::npos) << nodes;  // Node 1 has no TLS port.
  EXPECT_EQ(nodes.find(":6382"), std::string::npos) << nodes;
  EXPECT_EQ(run({"CLUSTER", "SHARDS"}).reply.find("6382"), std::string::npos);
}

TEST_F(ClientCommands, Info_SectionsAsAsked) {
  Action info = run({"INFO", "keyspace"});
  ASSERT_EQ(info.kind, Action::Kind::Run);
  EXPECT_TRUE(info.stale_read);  // This node's own view, as every INFO figure.
  EXPECT_EQ(finish(info, "*2\r\n:3\r\n:1\r\n"),
            "$44\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\n\r\n");
  const std::string text = info_text(fake_status(), directory.counters(), {"everything"},
                                     std::nullopt, 2);
  for (const char* field : {"redis_version:", "connected_clients:2", "used_memory:",
                            "used_cpu_user:", "role:master", "cmdstat_get:calls=3",
                            "cluster_enabled:1", "# Raft", "large_writes_waiting:0"}) {
    EXPECT_NE(text.find(field), std::string::npos) << field;
  }
  const std::string cpu = info_text(fake_status(), {}, {"cpu"}, std::nullopt, 1);
  EXPECT_EQ(cpu.find("used_memory"), std::string::npos);
}

// Issue 21: clients ask the node's value limit the way they ask Redis's.
TEST_F(ClientCommands, ConfigGet_ProtoMaxBulkLenIsTheNodesLimit) {
  EXPECT_EQ(run({"CONFIG", "GET", "proto-max-bulk-len"}).reply,
            "*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n3145728\r\n");
  EXPECT_EQ(run({"CONFIG", "GET", "PROTO-*"}).reply, run({"CONFIG", "GET", "proto*"}).reply);
}

// Issue 21: EXEC is one log entry, so a MULTI whose queue passes the request limit is refused
// at the command that passes it, and EXEC aborts (nothing of it applied), as for any refusal.
TEST_F(ClientCommands, Multi_QueueOverTheRequestLimitAbortsExec) {
  ASSERT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"SET", "a", std::string(60, 'x')}).reply, "+QUEUED\r\n");
  EXPECT_EQ(run({"SET", "b", std::string(60, 'y')}).reply,
            "-ERR request exceeds maximum allowed size (max-request-bytes)\r\n");
  EXPECT_EQ(run({"EXEC"}).reply,
            "-EXECABORT Transaction discarded because of previous errors.\r\n");
  // The count starts again with the next MULTI.
  ASSERT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"SET", "a", std::string(60, 'x')}).reply, "+QUEUED\r\n");
  EXPECT_EQ(run({"DISCARD"}).reply, "+OK\r\n");
  ASSERT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"SET", "a", std::string(60, 'x')}).reply, "+QUEUED\r\n");
}

TEST_F(ClientCommands, Quit_ClosesAfterOk) {
  Action quit = run({"QUIT"});
  EXPECT_EQ(quit.kind, Action::Kind::Quit);
  EXPECT_EQ(quit.reply, "+OK\r\n");
}

}  // namespace
}  // namespace raftkv::server
