// Authentication against real servers (issue 17): -NOAUTH and -WRONGPASS exactly as Redis 7
// words them, failed AUTH limited per source address, ACL users replicated through the log
// (a change made through one node holds on every node, and after every node restarted from
// its own snapshot), protected mode, and the tools and a real client (raftkv, raftkv-bench,
// redis-cli, redis-py) authenticating as an ACL user.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.h"
#include "tls_files.h"

namespace raftkv::process_test {
namespace {

using client::Client;
using client::Outcome;
using client::Reply;
using client::Semantics;

constexpr const char* kPassword = "s3cret";
constexpr const char* kWrongPass = "WRONGPASS invalid username-password pair or user is disabled.";

class Security : public ClusterFixture {
 protected:
  // One command on a fresh connection to node `id`, after AUTH with `credentials` (none when
  // the password is empty). The reply, or the refusal of AUTH as an error reply.
  Reply ask(int id, std::vector<std::string> command, const tools::Credentials& credentials) {
    Result<std::vector<Reply>> replies = tools::node_exchange(
        cluster_->layout().client_endpoint(id), {std::move(command)}, milliseconds(5000),
        credentials);
    if (replies.is_ok()) return replies.value().front();
    if (replies.status().code() == ErrorCode::InvalidArgument) {
      const std::string& message = replies.status().message();
      return Reply::error(message.substr(message.find(": ") + 2));  // After "host:port: ".
    }
    ADD_FAILURE() << "node " << id << ": " << replies.status().message();
    return Reply::error("(no answer)");
  }

  // Asks until the reply is `want` (a node applies an ACL change a moment after the leader
  // commits it), up to 10 s; prints how long it took.
  void expect_eventually(int id, const std::vector<std::string>& command,
                         const tools::Credentials& credentials, const Reply& want) {
    const auto start = std::chrono::steady_clock::now();
    Reply got;
    while (std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
      got = ask(id, command, credentials);
      if (got == want) break;
      std::this_thread::sleep_for(milliseconds(20));
    }
    const auto took =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    std::cout << "node " << id << ": " << command[0] << " as '" << credentials.user << "' gave "
              << client::format_reply(got) << " after " << took.count() << " ms\n";
    EXPECT_EQ(got, want) << "node " << id;
  }

  std::string endpoints_flag() const {
    std::string out;
    for (const client::Endpoint& endpoint : cluster_->layout().client_endpoints()) {
      out += (out.empty() ? "" : ",") + endpoint.to_string();
    }
    return out;
  }
};

TEST_F(Security, NoauthWrongpassAndFailedAuthLimitedPerSource) {
  start_cluster(/*slot=*/41, 3,
                {"--requirepass", kPassword, "--auth-failures-burst", "3",
                 "--auth-failures-per-s", "2"});
  ASSERT_FALSE(HasFatalFailure());
  (void)leader();
  EXPECT_EQ(ask(1, {"GET", "k"}, {}), Reply::error("NOAUTH Authentication required."));
  EXPECT_EQ(ask(1, {"SET", "k", "v"}, {}), Reply::error("NOAUTH Authentication required."));
  EXPECT_EQ(ask(1, {"GET", "k"}, {"", "wrong"}), Reply::error(kWrongPass));
  EXPECT_EQ(ask(1, {"GET", "k"}, {"default", "wrong"}), Reply::error(kWrongPass));
  EXPECT_EQ(ask(1, {"GET", "k"}, {"nobody", "wrong"}), Reply::error(kWrongPass));
  // Three failures from 127.0.0.1: the right password is refused now, on a new connection too,
  // without being checked; another node keeps its own count.
  const auto limited_at = std::chrono::steady_clock::now();
  const Reply limited = ask(1, {"PING"}, {"", kPassword});
  std::cout << "after 3 failures: " << client::format_reply(limited) << "\n";
  ASSERT_TRUE(limited.is_error());
  EXPECT_TRUE(limited.text.starts_with("ERR too many failed AUTH attempts from 127.0.0.1"))
      << limited.text;
  EXPECT_EQ(ask(2, {"PING"}, {"", kPassword}), Reply::status("PONG"));
  // Two attempts per second come back: the right password works again within about 500 ms.
  expect_eventually(1, {"PING"}, {"", kPassword}, Reply::status("PONG"));
  const auto waited = std::chrono::duration_cast<milliseconds>(
      std::chrono::steady_clock::now() - limited_at);
  EXPECT_GE(waited.count(), 200) << "the limit lifted too soon";
  EXPECT_LE(waited.count(), 5000);
  // Nothing of the refused requests was applied; an authenticated client works.
  EXPECT_EQ(ask(3, {"GET", "k"}, {"", kPassword}), Reply::nil());
  Client client(client_options(Semantics::AtLeastOnce));
  ASSERT_TRUE(client.call({"SET", "k", "v"}).ok());
  EXPECT_EQ(ask(1, {"ACL", "WHOAMI"}, {"", kPassword}), Reply::bulk("default"));
}

// ACL SETUSER through one node holds on every node; a snapshot carries the users: after every
// node restarted from its own snapshot, with the entry that created the user compacted away,
// the user still authenticates everywhere. ACL DELUSER then holds everywhere too.
TEST_F(Security, AclChangeHoldsOnEveryNodeAndAcrossSnapshots) {
  start_cluster(/*slot=*/42, 3,
                {"--requirepass", kPassword, "--snapshot-entries", "100",
                 "--snapshot-keep-entries", "10"});
  ASSERT_FALSE(HasFatalFailure());
  (void)leader();
  const tools::Credentials admin{"", kPassword};
  const tools::Credentials alice{"alice", "apw"};
  EXPECT_EQ(ask(2, {"ACL", "SETUSER", "alice", "on", ">apw", "+@read", "+@write"}, admin),
            Reply::status("OK"));
  const uint64_t created_by = leader().commit_index;
  for (int id = 1; id <= 3; ++id) {
    expect_eventually(id, {"ACL", "WHOAMI"}, alice, Reply::bulk("alice"));
    EXPECT_EQ(ask(id, {"SET", "a" + std::to_string(id), "x"}, alice), Reply::status("OK"));
    EXPECT_EQ(ask(id, {"FLUSHALL"}, alice),
              Reply::error("NOPERM this user has no permissions to run the 'flushall' command"));
    EXPECT_EQ(ask(id, {"GET", "a1"}, {"alice", "wrong"}), Reply::error(kWrongPass));
  }
  const Reply list = ask(1, {"ACL", "LIST"}, admin);
  ASSERT_EQ(list.type, client::ReplyType::Array);
  ASSERT_EQ(list.elements.size(), 2u);
  EXPECT_EQ(list.elements[1].text.find("apw"), std::string::npos);  // Only its digest.
  EXPECT_TRUE(list.elements[1].text.starts_with("user alice on #")) << list.elements[1].text;
  Client client(client_options(Semantics::AtLeastOnce));
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(client.call({"SET", "fill:" + std::to_string(i), "v"}).ok());
  }
  kill_and_restart_all();
  ASSERT_FALSE(HasFatalFailure());
  for (int id = 1; id <= 3; ++id) {
    const Reply info = ask(id, {"INFO", "raft"}, admin);
    const size_t at = info.text.find("\nfirst_log_index:");
    ASSERT_NE(at, std::string::npos) << info.text;
    uint64_t first_index = 0;
    std::from_chars(info.text.data() + at + 17, info.text.data() + info.text.size(), first_index);
    std::cout << "node " << id << " restarted with its log from index " << first_index
              << "; alice was created at or before " << created_by << "\n";
    EXPECT_GT(first_index, created_by) << "node " << id << " still has the ACL entry in its log";
    expect_eventually(id, {"GET", "a1"}, alice, Reply::bulk("x"));
  }
  EXPECT_EQ(ask(3, {"ACL", "DELUSER", "alice"}, admin), Reply::number(1));
  for (int id = 1; id <= 3; ++id) {
    expect_eventually(id, {"PING"}, alice, Reply::error(kWrongPass));
  }
}

// An IPv4 address outside 127.0.0.0/8 that the test puts on the loopback interface itself
// (192.0.2.0/24 is reserved for documentation, RFC 5737, so it names no real host), and takes
// off again: a client bound to it reaches the node over loopback, yet is not a loopback client.
// Needs root, as the other process tests that shape the network do.
class OutsideAddress {
 public:
  static constexpr const char* kAddress = "192.0.2.77";
  // "" once the address is on lo; otherwise why not.
  std::string add() {
    const ToolRun run = run_tool("/usr/sbin/ip", {"addr", "replace", std::string(kAddress) + "/32",
                                                   "dev", "lo"}, "/dev/null");
    added_ = run.how == "exited with status 0";
    return added_ ? "" : "ip addr replace " + std::string(kAddress) + "/32 dev lo " + run.how +
                             " (root is needed): " + run.output;
  }
  ~OutsideAddress() {
    if (added_) {
      (void)run_tool("/usr/sbin/ip", {"addr", "del", std::string(kAddress) + "/32", "dev", "lo"},
                     "/dev/null");
    }
  }

 private:
  bool added_ = false;
};

// With no password, a client from outside the loopback interface gets Redis' -DENIED text,
// adapted to raftkv's flags, and is disconnected; loopback clients are served.
TEST_F(Security, ProtectedModeRefusesClientsFromOtherAddresses) {
  OutsideAddress outside_address;
  const std::string why = outside_address.add();
  ASSERT_EQ(why, "") << "this test needs a client address outside 127.0.0.0/8";
  const std::string source = OutsideAddress::kAddress;
  start_cluster(/*slot=*/43, 3);
  ASSERT_FALSE(HasFatalFailure());
  RawConnection outside(cluster_->layout().client_endpoint(1), source);
  ASSERT_TRUE(outside.connected()) << "from " << source;
  const std::string said = outside.read_some(milliseconds(3000));
  std::cout << "a client from " << source << " was told: " << said.substr(0, 120) << "...\n";
  EXPECT_TRUE(said.starts_with("-DENIED raftkv is running in protected mode")) << said;
  EXPECT_NE(said.find("'--requirepass <password>'"), std::string::npos);
  EXPECT_NE(said.find("'--protected-mode no'"), std::string::npos);
  EXPECT_TRUE(outside.closed_within(milliseconds(3000)));
  EXPECT_EQ(ask(1, {"PING"}, {}), Reply::status("PONG"));
  std::ifstream log(cluster_->layout().log_path(1));
  const std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("protected mode: refused client " + source), std::string::npos);
}

TEST_F(Security, ToolsAndRedisClientsAuthenticateAsAUser) {
  start_cluster(/*slot=*/44, 3, {"--requirepass", kPassword});
  ASSERT_FALSE(HasFatalFailure());
  (void)leader();
  ASSERT_EQ(ask(1, {"ACL", "SETUSER", "bob", "on", ">bpw", "+@all"}, {"", kPassword}),
            Reply::status("OK"));
  for (int id = 1; id <= 3; ++id) {
    expect_eventually(id, {"PING"}, {"bob", "bpw"}, Reply::status("PONG"));
  }
  const std::string endpoints = endpoints_flag();
  ToolRun set = run_tool(RAFTKV_CLI_PATH,
                         {"-e", endpoints, "--user", "bob", "--pass", "bpw", "set", "k", "v1"},
                         dir_ + "/cli-set.txt");
  EXPECT_EQ(set.how, "exited with status 0") << set.output;
  ToolRun wrong = run_tool(RAFTKV_CLI_PATH,
                           {"-e", endpoints, "--user", "bob", "--pass", "nope", "get", "k"},
                           dir_ + "/cli-wrong.txt");
  std::cout << "raftkv with a wrong password: " << wrong.how << ": " << wrong.output;
  EXPECT_NE(wrong.how, "exited with status 0");
  EXPECT_NE(wrong.output.find("WRONGPASS"), std::string::npos) << wrong.output;
  const client::Endpoint node2 = cluster_->layout().client_endpoint(2);
  ToolRun cli = run_tool("/usr/bin/redis-cli",
                         {"-p", std::to_string(node2.port), "--user", "bob", "--pass", "bpw",
                          "--no-auth-warning", "GET", "k"},
                         dir_ + "/redis-cli.txt");
  EXPECT_EQ(cli.output, "v1\n") << cli.how;
  const std::string script =
      "import redis\n"
      "r = redis.Redis(port=" + std::to_string(node2.port) + ", username='bob', password='bpw')\n"
      "r.set('py', 'yes')\n"
      "assert r.get('py') == b'yes', r.get('py')\n"
      "try:\n"
      "    redis.Redis(port=" + std::to_string(node2.port) +
      ", username='bob', password='no').ping()\n"
      "    raise SystemExit('a wrong password was accepted')\n"
      "except redis.exceptions.ResponseError as error:\n"  // Debian's 4.3 maps no WRONGPASS.
      "    assert str(error).startswith('WRONGPASS'), error\n"
      "    print('redis-py refused:', error)\n"
      "print('redis-py ok')\n";
  std::ofstream(dir_ + "/check.py") << script;
  ToolRun py = run_tool("/usr/bin/python3", {"-B", dir_ + "/check.py"}, dir_ + "/py.txt");
  std::cout << py.output;
  EXPECT_EQ(py.how, "exited with status 0") << py.output;
  EXPECT_NE(py.output.find("redis-py ok"), std::string::npos);
  ToolRun bench = run_tool(RAFTKV_BENCH_PATH,
                           {"--target", "raftkv", "--endpoints", endpoints, "--user", "bob",
                            "--pass", "bpw", "--clients", "4", "--ops", "400", "--json"},
                           dir_ + "/bench.txt");
  std::cout << bench.output;
  EXPECT_EQ(bench.how, "exited with status 0") << bench.output;
  EXPECT_EQ(bench.output.find("AUTH or READONLY"), std::string::npos) << bench.output;
}

}  // namespace
}  // namespace raftkv::process_test

namespace raftkv::process_test {
namespace {

// A cluster whose nodes also serve clients over TLS (`raftkv cluster start --tls`: the
// throwaway CA of tls_files.h), the default user needing kPassword.
class Tls : public Security {
 protected:
  void start_tls(int slot) { start_tls_cluster(slot, {"--requirepass", kPassword}); }

  // redis-cli over TLS to node `id`'s TLS port, with the given CA and client certificate.
  ToolRun redis_cli_tls(int id, const std::string& ca, const std::string& cert_base,
                        const std::vector<std::string>& command) {
    std::vector<std::string> args = {
        "--tls", "--cacert", ca, "--cert", cert_base + ".crt", "--key", cert_base + ".key",
        "-p", std::to_string(cluster_->layout().tls_endpoint(id).port), "--user", "default",
        "--pass", kPassword, "--no-auth-warning"};
    args.insert(args.end(), command.begin(), command.end());
    return run_tool("/usr/bin/redis-cli", args, dir_ + "/redis-cli-" + std::to_string(runs_++));
  }

  // SIGHUP reloads the certificate files: after node 1's files are replaced by ones from a
  // new CA and it gets SIGHUP, clients trusting the new CA get in and those trusting only the
  // old one do not; no restart, no leader change.
  void expect_sighup_reload() {
    const client::RaftInfo before = leader();
    std::filesystem::copy_file(tls_dir_ + "/ca.crt", dir_ + "/old-ca.crt");
    const std::string fresh = dir_ + "/fresh-ca";
    ASSERT_TRUE(tools::make_tls_files(fresh, 1).is_ok());
    for (const char* file : {"raftkv-node-1.crt", "raftkv-node-1.key", "ca.crt"}) {
      std::filesystem::copy_file(fresh + "/" + file, tls_dir_ + "/" + file,
                                 std::filesystem::copy_options::overwrite_existing);
    }
    const std::optional<pid_t> pid = cluster_->pid(1);
    ASSERT_TRUE(pid.has_value());
    ASSERT_EQ(::kill(*pid, SIGHUP), 0);
    const auto start = std::chrono::steady_clock::now();
    while (log_lines_with(1, "SIGHUP: certificates reloaded") == 0 &&
           std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    ASSERT_EQ(log_lines_with(1, "SIGHUP: certificates reloaded"), 1u);
    EXPECT_EQ(redis_cli_tls(1, fresh + "/ca.crt", fresh + "/client", {"PING"}).output, "PONG\n");
    const ToolRun old = redis_cli_tls(1, dir_ + "/old-ca.crt", tls_dir_ + "/client", {"PING"});
    EXPECT_EQ(old.output.find("PONG"), std::string::npos) << old.output;
    const client::RaftInfo after = leader();
    EXPECT_EQ(after.term, before.term);
    EXPECT_EQ(after.node_id, before.node_id);
    EXPECT_TRUE(cluster_->running(1));
  }

  int runs_ = 0;
};

TEST_F(Tls, RedisCliAndRedisPyOverTlsBesideThePlaintextPort_CertificatesReloadOnSighup) {
  start_tls(/*slot=*/45);
  ASSERT_FALSE(HasFatalFailure());
  (void)leader();
  const ToolRun set =
      redis_cli_tls(1, tls_dir_ + "/ca.crt", tls_dir_ + "/client", {"SET", "k", "v"});
  EXPECT_EQ(set.output, "OK\n") << set.how;
  EXPECT_EQ(ask(2, {"GET", "k"}, {"", kPassword}), Reply::bulk("v"));  // Plaintext, same data.
  ASSERT_EQ(ask(1, {"ACL", "SETUSER", "carol", "on", ">cpw", "+@read", "+@write"},
                {"", kPassword}),
            Reply::status("OK"));
  for (int id = 1; id <= 3; ++id) {
    expect_eventually(id, {"PING"}, {"carol", "cpw"}, Reply::status("PONG"));
  }
  const uint16_t port = cluster_->layout().tls_endpoint(3).port;
  const std::string script =
      "import redis\n"
      "r = redis.Redis(port=" + std::to_string(port) + ", username='carol', password='cpw',\n"
      "                ssl=True, ssl_ca_certs='" + tls_dir_ + "/ca.crt',\n"
      "                ssl_certfile='" + tls_dir_ + "/client.crt', ssl_keyfile='" + tls_dir_ +
      "/client.key')\n"
      "r.set('py', 'tls')\n"
      "assert r.get('py') == b'tls'\n"
      "assert r.get('k') == b'v'\n"
      "print('redis-py over TLS ok:', r.connection_pool.connection_class.__name__)\n";
  std::ofstream(dir_ + "/tls_check.py") << script;
  const ToolRun py = run_tool("/usr/bin/python3", {"-B", dir_ + "/tls_check.py"}, dir_ + "/py");
  std::cout << py.output;
  EXPECT_EQ(py.how, "exited with status 0") << py.output;
  EXPECT_NE(py.output.find("redis-py over TLS ok: SSLConnection"), std::string::npos);
  expect_sighup_reload();
}

// Bad input on the TLS port: plaintext, a server certificate from an unknown CA (the client
// refuses), a client certificate from an unknown CA and none at all (the node refuses). Each
// is logged with its cause and closed; nothing is applied; the node serves everyone else.
TEST_F(Tls, PlaintextWrongCaAndMissingCertificateAreRefusedAndLogged) {
  start_tls(/*slot=*/46);
  ASSERT_FALSE(HasFatalFailure());
  (void)leader();
  RawConnection plaintext(cluster_->layout().tls_endpoint(1));
  ASSERT_TRUE(plaintext.connected());
  ASSERT_TRUE(plaintext.send("*3\r\n$3\r\nSET\r\n$1\r\np\r\n$1\r\nx\r\n"));
  const std::string answer = plaintext.read_some(milliseconds(3000));
  EXPECT_EQ(answer.find("+OK"), std::string::npos) << answer;
  EXPECT_TRUE(plaintext.closed_within(milliseconds(3000)));
  const std::string other = dir_ + "/other-ca";
  ASSERT_TRUE(tools::make_tls_files(other, 1).is_ok());
  const ToolRun wrong_ca = redis_cli_tls(1, other + "/ca.crt", tls_dir_ + "/client", {"PING"});
  std::cout << "client with another CA: " << wrong_ca.how << ": " << wrong_ca.output;
  EXPECT_EQ(wrong_ca.output.find("PONG"), std::string::npos);
  EXPECT_NE(wrong_ca.output.find("certificate verify failed"), std::string::npos);
  const ToolRun foreign_cert = redis_cli_tls(1, tls_dir_ + "/ca.crt", other + "/client", {"PING"});
  std::cout << "client certificate from another CA: " << foreign_cert.output;
  EXPECT_EQ(foreign_cert.output.find("PONG"), std::string::npos);
  const ToolRun no_cert = run_tool(
      "/usr/bin/redis-cli",
      {"--tls", "--cacert", tls_dir_ + "/ca.crt", "-p",
       std::to_string(cluster_->layout().tls_endpoint(1).port), "PING"},
      dir_ + "/no-cert");
  std::cout << "client without a certificate: " << no_cert.output;
  EXPECT_EQ(no_cert.output.find("PONG"), std::string::npos);
  EXPECT_GE(log_lines_with(1, "TLS handshake with client 127.0.0.1"), 3u);
  std::cout << "node 1 logged " << log_lines_with(1, "TLS handshake with client")
            << " failed handshakes\n";
  EXPECT_EQ(ask(1, {"GET", "p"}, {"", kPassword}), Reply::nil());
  EXPECT_EQ(redis_cli_tls(1, tls_dir_ + "/ca.crt", tls_dir_ + "/client", {"PING"}).output,
            "PONG\n");
}

}  // namespace
}  // namespace raftkv::process_test
