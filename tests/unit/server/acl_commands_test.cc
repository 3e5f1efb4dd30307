#include "server/acl_commands.h"

#include <gtest/gtest.h>

#include "kv/resp_reply.h"

namespace raftkv::server {
namespace {

constexpr const char* kNoAuth = "-NOAUTH Authentication required.\r\n";
constexpr const char* kWrongPass =
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

std::string bulk(const std::string& text) {
  return "$" + std::to_string(text.size()) + "\r\n" + text + "\r\n";
}

// A connection to a node whose default user needs "secret", failed AUTH limited to 3 at once
// then 1 per second.
class AclCommands : public ::testing::Test {
 protected:
  AclCommands() {
    options.requirepass = "secret";
    state.id = 3;
    state.addr = "10.0.0.9:5123";
    reset_auth(state, &options);
  }
  Action run(std::vector<std::string> args) {
    return translate(state, args,
                     ServerContext{[] { return ServerStatus{}; }, nullptr, now_ms,
                                   /*bulk_bytes_max=*/0, /*request_bytes_max=*/0, &options,
                                   &limiter});
  }
  std::string finish(Action& action, std::string store_reply) {
    EXPECT_EQ(action.kind, Action::Kind::Run);
    return action.finish ? action.finish(state, std::move(store_reply)) : store_reply;
  }
  AuthOptions options;
  AuthLimiter limiter{3, 1};
  ClientState state;
  uint64_t now_ms = 1'000'000;
};

TEST(Auth, PasswordHashIsSha256Hex) {
  EXPECT_EQ(password_hash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(password_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(hashes_equal(password_hash("x"), password_hash("x")));
  EXPECT_FALSE(hashes_equal(password_hash("x"), password_hash("y")));
  EXPECT_EQ(source_of("10.1.2.3:40000"), "10.1.2.3");
  EXPECT_EQ(source_of("::1:40000"), "::1");
}

TEST_F(AclCommands, EverythingButAuthHelloQuitResetNeedsAuth) {
  EXPECT_EQ(run({"GET", "k"}).reply, kNoAuth);
  EXPECT_EQ(run({"PING"}).reply, kNoAuth);
  EXPECT_EQ(run({"ACL", "WHOAMI"}).reply, kNoAuth);
  EXPECT_EQ(run({"MULTI"}).reply, kNoAuth);
  // As Redis: an unknown command or a wrong argument count is answered first.
  EXPECT_EQ(run({"NOSUCH"}).reply.substr(0, 20), "-ERR unknown command");
  EXPECT_EQ(run({"GET"}).reply, "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(run({"HELLO", "2"}).reply.substr(0, 16), "-NOAUTH HELLO mu");
  EXPECT_EQ(run({"RESET"}).reply, "+RESET\r\n");
  EXPECT_FALSE(state.authenticated);
}

TEST_F(AclCommands, DefaultUserTakesRequirepass) {
  EXPECT_EQ(run({"AUTH", "wrong"}).reply, kWrongPass);
  EXPECT_FALSE(state.authenticated);
  EXPECT_EQ(run({"AUTH", "secret"}).reply, "+OK\r\n");
  EXPECT_TRUE(state.authenticated);
  EXPECT_EQ(run({"ACL", "WHOAMI"}).reply, bulk("default"));
  EXPECT_EQ(run({"GET", "k"}).kind, Action::Kind::Run);
  EXPECT_EQ(run({"RESET"}).reply, "+RESET\r\n");  // RESET forgets the AUTH, as in Redis.
  EXPECT_EQ(run({"GET", "k"}).reply, kNoAuth);
  EXPECT_EQ(run({"AUTH", "default", "secret"}).reply, "+OK\r\n");
}

TEST_F(AclCommands, NoPasswordConfiguredKeepsRedisErrors) {
  options.requirepass.clear();
  reset_auth(state, &options);
  EXPECT_TRUE(state.authenticated);
  EXPECT_EQ(run({"AUTH", "x"}).reply,
            "-ERR AUTH <password> called without any password configured for the default "
            "user. Are you sure your configuration is correct?\r\n");
  EXPECT_EQ(run({"AUTH", "default", "anything"}).reply, "+OK\r\n");  // nopass takes any.
}

TEST_F(AclCommands, ReplicatedUserAuthenticatesFromTheStore) {
  Action auth = run({"AUTH", "bob", "pw"});
  ASSERT_EQ(auth.kind, Action::Kind::Run);
  EXPECT_EQ(auth.command, kv::Command::acl_getuser("bob"));
  EXPECT_TRUE(auth.stale_read);  // This node's applied users; valid without a leader.
  EXPECT_TRUE(auth.blocks);      // Later requests wait for the verdict.
  const std::string record = "on 1 pass " + password_hash("nope") + " " + password_hash("pw");
  EXPECT_EQ(finish(auth, bulk(record)), "+OK\r\n");
  EXPECT_EQ(state.user, "bob");
  EXPECT_EQ(state.categories, kv::kAclRead);
  EXPECT_EQ(run({"GET", "k"}).kind, Action::Kind::Run);
  EXPECT_EQ(run({"SET", "k", "v"}).reply,
            "-NOPERM this user has no permissions to run the 'set' command\r\n");
  EXPECT_EQ(run({"CONFIG", "GET", "x"}).reply,
            "-NOPERM this user has no permissions to run the 'config|get' command\r\n");
  EXPECT_EQ(run({"SESSION.CALL", "1", "1", "SET", "k", "v"}).reply,
            "-NOPERM this user has no permissions to run the 'set' command\r\n");
  EXPECT_EQ(run({"ACL", "WHOAMI"}).reply, bulk("bob"));
}

TEST_F(AclCommands, DisabledUnknownOrWrongPasswordIsWrongpass) {
  Action off = run({"AUTH", "bob", "pw"});
  EXPECT_EQ(finish(off, bulk("off 7 pass " + password_hash("pw"))), kWrongPass);
  Action unknown = run({"AUTH", "carol", "pw"});
  EXPECT_EQ(finish(unknown, "$-1\r\n"), kWrongPass);
  Action wrong = run({"HELLO", "2", "AUTH", "bob", "bad"});
  EXPECT_EQ(finish(wrong, bulk("on 7 pass " + password_hash("pw"))), kWrongPass);
  EXPECT_FALSE(state.authenticated);
  // Three failures: this source is at its limit (see below); another one tries.
  EXPECT_EQ(run({"AUTH", "dave", "anything"}).kind, Action::Kind::Reply);
  state.addr = "10.0.0.7:1";
  Action nopass = run({"HELLO", "2", "AUTH", "dave", "anything", "SETNAME", "d"});
  EXPECT_TRUE(finish(nopass, bulk("on 6 nopass")).starts_with("*14\r\n"));
  EXPECT_EQ(state.name, "d");
  EXPECT_EQ(state.categories, kv::kAclWrite | kv::kAclAdmin);
}

TEST_F(AclCommands, HelloAuthWithWrongPasswordNeverAuthenticates) {
  // HELLO's AUTH option takes the same check as AUTH: a wrong, empty or near password for the
  // default user gets -WRONGPASS (or, past the limit, the limiter's refusal), never HELLO's
  // reply, and leaves the connection unauthenticated and unnamed. HELLO 3 is refused before
  // any password is looked at (RESP2 only).
  const std::vector<std::vector<std::string>> attempts = {
      {"HELLO", "2", "AUTH", "default", "wrong"},
      {"HELLO", "2", "AUTH", "default", ""},
      {"HELLO", "2", "AUTH", "default", "secret "},
      {"HELLO", "2", "AUTH", "default", "SECRET", "SETNAME", "n"},
      {"HELLO", "2", "AUTH", "secret", "default"},
      {"HELLO", "3", "AUTH", "default", "wrong"},
      {"HELLO", "3", "AUTH", "default", "secret"}};
  for (size_t i = 0; i < attempts.size(); ++i) {
    state.addr = "10.0.1." + std::to_string(i) + ":1";  // Each from its own source.
    Action action = run(attempts[i]);
    const std::string expected = attempts[i][1] == "3"
                                     ? "-NOPROTO unsupported protocol version\r\n"
                                     : std::string(kWrongPass);
    if (attempts[i][3] == "secret") {  // A user named "secret": the store has none.
      EXPECT_EQ(finish(action, "$-1\r\n"), kWrongPass) << i;
    } else {
      EXPECT_EQ(action.reply, expected) << i;
    }
    EXPECT_FALSE(state.authenticated) << i;
    EXPECT_EQ(state.name, "") << i;
  }
  EXPECT_EQ(run({"GET", "k"}).reply, kNoAuth);
  EXPECT_TRUE(run({"HELLO", "2", "AUTH", "default", "secret"}).reply.starts_with("*14\r\n"));
  EXPECT_TRUE(state.authenticated);
}

TEST_F(AclCommands, FailedAuthIsRateLimitedPerSource) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(run({"AUTH", "bad"}).reply, kWrongPass) << i;
  // Over the limit: refused without a look at the password, the right one included.
  EXPECT_EQ(run({"AUTH", "secret"}).reply,
            "-ERR too many failed AUTH attempts from 10.0.0.9, retry in 1000 ms\r\n");
  Action replicated = run({"AUTH", "bob", "pw"});
  EXPECT_EQ(replicated.kind, Action::Kind::Reply);  // Not even a read of the store.
  // Another source is not affected.
  state.addr = "10.0.0.8:1";
  EXPECT_EQ(run({"AUTH", "secret"}).reply, "+OK\r\n");
  state.addr = "10.0.0.9:5123";
  now_ms += 1000;  // One attempt earned back.
  EXPECT_EQ(run({"AUTH", "secret"}).reply, "+OK\r\n");
}

TEST(AuthLimiter, BoundsTheSourcesItRemembers) {
  AuthLimiter limiter(1, 1);
  for (size_t i = 0; i < AuthLimiter::kSourcesMax + 5; ++i) {
    limiter.failed("10.0." + std::to_string(i), 1000);  // All over the limit at once.
  }
  EXPECT_EQ(limiter.sources(), AuthLimiter::kSourcesMax);
  EXPECT_GT(limiter.wait_ms("10.0." + std::to_string(AuthLimiter::kSourcesMax + 4), 1000), 0u);
}

TEST_F(AclCommands, AclSetUserHashesPasswordsBeforeTheLog) {
  ASSERT_EQ(run({"AUTH", "secret"}).reply, "+OK\r\n");
  Action set = run({"ACL", "SETUSER", "bob", "on", ">pw", "<old", "+@read"});
  ASSERT_EQ(set.kind, Action::Kind::Run);
  EXPECT_EQ(set.command, kv::Command::acl_setuser("bob", {"on", "#" + password_hash("pw"),
                                                          "!" + password_hash("old"), "+@read"}));
  EXPECT_EQ(set.request.bytes.find("pw"), std::string::npos);
  EXPECT_FALSE(set.request.read_only);
  Action del = run({"ACL", "DELUSER", "bob", "carol"});
  EXPECT_EQ(del.command, kv::Command::acl_deluser({"bob", "carol"}));
  Action list = run({"ACL", "LIST"});
  EXPECT_EQ(list.command, kv::Command::acl_list());
  EXPECT_EQ(finish(list, "*1\r\n" + bulk("user bob on nopass ~* &* +@all")),
            "*2\r\n" + bulk("user default on #" + password_hash("secret") + " ~* &* +@all") +
                bulk("user bob on nopass ~* &* +@all"));
  EXPECT_EQ(run({"ACL", "NOPE"}).reply, "-ERR unknown subcommand 'NOPE'. Try ACL HELP.\r\n");
  EXPECT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  EXPECT_EQ(run({"ACL", "LIST"}).reply, "-ERR Command not allowed inside a transaction\r\n");
}

TEST_F(AclCommands, AdminCategoryGuardsFlushConfigAndAcl) {
  Action auth = run({"AUTH", "w", "pw"});
  ASSERT_EQ(finish(auth, bulk("on 3 nopass")), "+OK\r\n");
  EXPECT_EQ(run({"SET", "k", "v"}).kind, Action::Kind::Run);
  const std::vector<std::vector<std::string>> admin = {
      {"FLUSHALL"}, {"ACL", "SETUSER", "x"}, {"ACL", "LIST"}, {"CLIENT", "KILL", "1.2.3.4:5"}};
  for (const auto& args : admin) {
    EXPECT_TRUE(run(args).reply.starts_with("-NOPERM")) << args[0];
  }
  EXPECT_EQ(run({"ACL", "WHOAMI"}).reply, bulk("w"));
  EXPECT_EQ(run({"MULTI"}).reply, "+OK\r\n");
  EXPECT_TRUE(run({"FLUSHDB"}).reply.starts_with("-NOPERM"));
  EXPECT_EQ(run({"EXEC"}).reply,
            "-EXECABORT Transaction discarded because of previous errors.\r\n");
}

}  // namespace
}  // namespace raftkv::server
