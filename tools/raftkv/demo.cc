// `raftkv demo`: the textbook story of Raft, told by a real three-node cluster and checked at
// every step (issue 4 §5). Exits non-zero if any step fails.

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "client/admin.h"
#include "commands.h"
#include "tls_files.h"
#include "web_control.h"

namespace raftkv::tools {
namespace {

using client::OutcomeKind;
using client::RaftInfo;
using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr milliseconds kElectionWait{15'000};
constexpr milliseconds kCatchUpWait{20'000};
constexpr milliseconds kStopWait{5'000};
constexpr size_t kLogLinesPerNode = 6;

int64_t ms_since(SteadyTime start) {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string describe(const RaftInfo& info) {
  return "node " + std::to_string(info.node_id) + " is " + info.role + " in term " +
         std::to_string(info.term) + ", commit " + std::to_string(info.commit_index) +
         ", applied " + std::to_string(info.applied_index);
}

// Log lines a person watching wants: role changes and elections, not heartbeats.
bool interesting(const std::string& line) {
  for (const char* word : {"became", "elect", "campaign", "vote", "step", "leader"}) {
    if (line.find(word) != std::string::npos && line.find("heartbeat") == std::string::npos) {
      return true;
    }
  }
  return false;
}

// Printing for a person watching: numbered steps, indented details, green checks, red
// failures (colours only on a terminal).
class Narrator {
 public:
  explicit Narrator(bool colour) : colour_(colour) {}
  void step(const std::string& title) {
    std::printf("\n%s== %d. %s%s\n", bold(), ++step_, title.c_str(), reset());
    std::fflush(stdout);
    current_ = "Step " + std::to_string(step_) + ": " + title;
    if (on_step) on_step(current_);
  }
  [[nodiscard]] const std::string& current() const { return current_; }
  std::function<void(const std::string&)> on_step;  // Also shows the step elsewhere (web).
  void say(const std::string& text) { print("   ", "", text); }
  void check(const std::string& text) {
    print("   ", colour_ ? "\033[32m[ok]\033[0m " : "[ok] ", text);
  }
  void failed(const std::string& text) {
    print("   ", colour_ ? "\033[31m[FAILED]\033[0m " : "[FAILED] ", text);
  }
  void log_line(int node, const std::string& line) {
    print(colour_ ? "   \033[2m| " : "   | ", "node " + std::to_string(node) + ": ",
          line + reset());
  }
  [[nodiscard]] int steps() const { return step_; }

 private:
  void print(const char* indent, const std::string& tag, const std::string& text) {
    std::printf("%s%s%s\n", indent, tag.c_str(), text.c_str());
    std::fflush(stdout);
  }
  const char* bold() const { return colour_ ? "\033[1m" : ""; }
  const char* reset() const { return colour_ ? "\033[0m" : ""; }
  bool colour_;
  int step_ = 0;
  std::string current_;
};

// The demo's clients: with `tls` (demo --tls), over TLS to the nodes' TLS ports.
client::ClientOptions demo_client_options(const ClusterLayout& layout,
                                          std::shared_ptr<const client::TlsContext> tls) {
  client::ClientOptions options;
  options.endpoints = layout.client_endpoints();
  if (tls != nullptr) {
    options.endpoints.clear();
    for (int id : layout.member_nodes()) options.endpoints.push_back(layout.tls_endpoint(id));
  }
  options.tls = std::move(tls);
  options.semantics = client::Semantics::ExactlyOnce;
  options.call_timeout = milliseconds(20'000);
  options.attempt_timeout = milliseconds(3'000);
  return options;
}

class Demo {
 public:
  Demo(const DemoOptions& options, std::shared_ptr<const client::TlsContext> tls)
      : cluster_(options.layout),
        say_(stdout_is_tty()),
        tls_(tls),
        client_(demo_client_options(options.layout, std::move(tls))),
        log_offsets_(static_cast<size_t>(kNodesMax) + 1, 0),
        keep_(options.keep),
        options_(options) {}

  int run();

 private:
  bool start_nodes();
  bool elect();
  bool write_first();
  bool kill_leader_and_fail_over();
  bool write_again();
  bool restart_old_leader();
  bool replace_dead_node();
  bool read_everywhere();
  bool write(const std::string& key, const std::string& value);
  // With --web: serve the steps to the page and print its URL.
  bool start_web();
  // With --web: let the step just told be watched before the next one.
  void pause_for_viewer();
  bool failed(const std::string& why);
  void show_log(const std::vector<int>& nodes);
  bool show_replication(uint64_t index);
  // RAFT.MEMBER ARGS through the leader; TRYAGAIN answers (a learner still behind) are
  // retried by the client until its deadline.
  client::Outcome member_command(std::vector<std::string> args);
  // Polls RAFT.MEMBER LIST until `done(members)`, for at most kCatchUpWait.
  bool wait_members(const std::function<bool(const std::vector<client::MemberRecord>&)>& done);
  [[nodiscard]] std::vector<int> all_nodes() const;

  LocalCluster cluster_;
  Narrator say_;
  std::shared_ptr<const client::TlsContext> tls_;  // demo --tls: the clients' context.
  client::Client client_;
  std::vector<std::streamoff> log_offsets_;  // Per node: log bytes already shown.
  std::vector<std::pair<std::string, std::string>> data_;  // Acknowledged writes.
  RaftInfo leader_;
  int old_leader_ = 0;
  int64_t failover_ms_ = -1;
  int64_t replace_ms_ = -1;
  bool keep_;
  const DemoOptions options_;
  std::unique_ptr<WebControl> web_;
  bool web_failed_ = false;
};

std::vector<int> Demo::all_nodes() const { return cluster_.layout().member_nodes(); }

bool Demo::failed(const std::string& why) {
  say_.failed(why);
  return false;
}

void Demo::show_log(const std::vector<int>& nodes) {
  for (int id : nodes) {
    std::ifstream file(cluster_.layout().log_path(id));
    file.seekg(log_offsets_[static_cast<size_t>(id)]);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(file, line)) {
      if (interesting(line)) lines.push_back(line);
    }
    file.clear();
    file.seekg(0, std::ios::end);
    log_offsets_[static_cast<size_t>(id)] = file.tellg();
    const size_t first = lines.size() > kLogLinesPerNode ? lines.size() - kLogLinesPerNode : 0;
    for (size_t i = first; i < lines.size(); ++i) say_.log_line(id, lines[i]);
  }
}

int Demo::run() {
  const std::vector<std::pair<const char*, bool (Demo::*)()>> steps = {
      {"start", &Demo::start_nodes},       {"election", &Demo::elect},
      {"write", &Demo::write_first},       {"failover", &Demo::kill_leader_and_fail_over},
      {"write", &Demo::write_again},       {"catch-up", &Demo::restart_old_leader},
      {"replace", &Demo::replace_dead_node}, {"read", &Demo::read_everywhere}};
  for (const auto& [name, step] : steps) {
    if ((this->*step)()) {
      // The page is served once the nodes run, that is after the first step.
      if (options_.web && web_ == nullptr && !web_failed_) web_failed_ = !start_web();
      if (web_ != nullptr) pause_for_viewer();
      continue;
    }
    std::printf("\ndemo FAILED at step %d (%s); node logs are under %s\n", say_.steps(), name,
                cluster_.layout().dir.c_str());
    cluster_.stop_all(kStopWait);
    return kExitError;
  }
  std::printf("\ndemo passed: %d steps checked; failover (kill -9 to the first acknowledged "
              "write) took %lld ms; replacing a dead node took %lld ms\n", say_.steps(),
              static_cast<long long>(failover_ms_), static_cast<long long>(replace_ms_));
  if (keep_) {
    std::printf("the cluster keeps running: raftkv cluster stop --dir %s\n",
                cluster_.layout().dir.c_str());
    (void)save_layout(cluster_.layout());
    return kExitOk;
  }
  cluster_.stop_all(kStopWait);
  std::printf("cluster stopped; logs are under %s\n", cluster_.layout().dir.c_str());
  return kExitOk;
}

bool Demo::start_nodes() {
  say_.step("Start three raftkv-server nodes");
  for (int id : all_nodes()) {
    // With --keep the nodes must outlive the demo, so they are detached then.
    if (Status started = cluster_.start_node(id, /*detach=*/keep_); !started.is_ok()) {
      return failed(started.message());
    }
    const ClusterLayout& layout = cluster_.layout();
    say_.say("node " + std::to_string(id) + ": pid " +
             std::to_string(cluster_.pid(id).value_or(0)) + ", clients on " +
             layout.client_endpoint(id).to_string() +
             (tls_ ? " and over TLS on " + layout.tls_endpoint(id).to_string() : "") +
             ", log " + layout.log_path(id));
  }
  for (int id : all_nodes()) {
    if (Status up = cluster_.wait_up(id, milliseconds(10'000)); !up.is_ok()) {
      return failed(up.message());
    }
    Result<RaftInfo> info = cluster_.info(id, milliseconds(1000));
    if (info.is_ok()) say_.say(describe(info.value()));
  }
  say_.check("all three nodes answer; each starts as a follower, waiting to hear from a leader "
             "until its randomized election timeout fires");
  return true;
}

bool Demo::elect() {
  say_.step("Leader election");
  const SteadyTime start = std::chrono::steady_clock::now();
  Result<RaftInfo> leader = cluster_.wait_for_leader(kElectionWait);
  if (!leader.is_ok()) return failed(leader.status().message());
  leader_ = leader.value();
  say_.say("what the nodes logged:");
  show_log(all_nodes());
  say_.check("node " + std::to_string(leader_.node_id) + " won the election for term " +
             std::to_string(leader_.term) + " (seen " + std::to_string(ms_since(start)) +
             " ms after the nodes answered); a majority follows it");
  return true;
}

bool Demo::write(const std::string& key, const std::string& value) {
  const SteadyTime start = std::chrono::steady_clock::now();
  const client::Outcome outcome = client_.call({"SET", key, value});
  if (!outcome.ok()) {
    return failed("SET " + key + ": " + client::outcome_kind_name(outcome.kind) + ": " +
                  (outcome.detail.empty() ? client::format_reply(outcome.reply) : outcome.detail));
  }
  data_.emplace_back(key, value);
  say_.check("SET " + key + " \"" + value + "\" acknowledged by " + outcome.endpoint.to_string() +
             " in " + std::to_string(ms_since(start)) + " ms (exactly-once session " +
             std::to_string(client_.session_id()) + ")");
  return true;
}

// Shows the entry at `index` reaching every running node's state machine.
bool Demo::show_replication(uint64_t index) {
  const SteadyTime start = std::chrono::steady_clock::now();
  for (int id : all_nodes()) {
    if (!cluster_.running(id)) continue;
    Result<RaftInfo> info = cluster_.wait_applied(id, index, kCatchUpWait);
    if (!info.is_ok()) return failed(info.status().message());
    say_.say(describe(info.value()) + "  (+" + std::to_string(ms_since(start)) + " ms)");
  }
  return true;
}

bool Demo::write_first() {
  say_.step("A client writes through the leader; the entry reaches every follower");
  if (!write("demo:greeting", "hello, raft")) return false;
  Result<RaftInfo> leader = cluster_.info(static_cast<int>(leader_.node_id), milliseconds(2000));
  if (!leader.is_ok()) return failed(leader.status().message());
  leader_ = leader.value();
  say_.say("the write is committed at or below index " + std::to_string(leader_.commit_index) +
           "; each node applies it:");
  return show_replication(leader_.commit_index);
}

bool Demo::kill_leader_and_fail_over() {
  say_.step("kill -9 the leader; the others elect a new one");
  old_leader_ = static_cast<int>(leader_.node_id);
  const uint64_t old_term = leader_.term;
  show_log(all_nodes());  // Skip what was logged so far.
  if (Status killed = cluster_.stop_node(old_leader_, SIGKILL, kStopWait); !killed.is_ok()) {
    return failed(killed.message());
  }
  const SteadyTime killed_at = std::chrono::steady_clock::now();
  say_.say("node " + std::to_string(old_leader_) + " killed with SIGKILL; writing at once:");
  if (!write("demo:after-failover", "written while node " + std::to_string(old_leader_) +
                                        " was down")) {
    return false;
  }
  failover_ms_ = ms_since(killed_at);
  Result<RaftInfo> leader = cluster_.wait_for_leader(kElectionWait, {old_leader_});
  if (!leader.is_ok()) return failed(leader.status().message());
  leader_ = leader.value();
  std::vector<int> survivors = all_nodes();
  std::erase(survivors, old_leader_);
  say_.say("what the survivors logged:");
  show_log(survivors);
  if (static_cast<int>(leader_.node_id) == old_leader_ || leader_.term <= old_term) {
    return failed("expected a new leader in a later term, got " + describe(leader_));
  }
  say_.check("node " + std::to_string(leader_.node_id) + " leads term " +
             std::to_string(leader_.term) + " (was term " + std::to_string(old_term) +
             "); failover, kill to first acknowledged write: " + std::to_string(failover_ms_) +
             " ms");
  return true;
}

bool Demo::write_again() {
  say_.step("Write again under the new leader");
  if (!write("demo:counter", "42")) return false;
  return write("demo:greeting", "hello again, raft");
}

bool Demo::restart_old_leader() {
  say_.step("Restart the old leader; it catches up and follows");
  Result<RaftInfo> leader = cluster_.info(static_cast<int>(leader_.node_id), milliseconds(2000));
  if (!leader.is_ok()) return failed(leader.status().message());
  const uint64_t target = leader.value().commit_index;
  const SteadyTime start = std::chrono::steady_clock::now();
  if (Status started = cluster_.start_node(old_leader_, keep_); !started.is_ok()) {
    return failed(started.message());
  }
  if (Status up = cluster_.wait_up(old_leader_, milliseconds(10'000)); !up.is_ok()) {
    return failed(up.message());
  }
  Result<RaftInfo> info = cluster_.wait_applied(old_leader_, target, kCatchUpWait);
  if (!info.is_ok()) return failed(info.status().message());
  say_.say(describe(info.value()) + " (leader's commit index was " + std::to_string(target) +
           "), " + std::to_string(ms_since(start)) + " ms after the restart");
  // It follows the current leader once a heartbeat reaches it.
  const SteadyTime deadline = std::chrono::steady_clock::now() + milliseconds(5000);
  while (info.is_ok() && (info.value().role != "follower" ||
                          info.value().leader_id != leader_.node_id) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
    info = cluster_.info(old_leader_, milliseconds(1000));
  }
  show_log({old_leader_});
  if (!info.is_ok()) return failed(info.status().message());
  if (info.value().role != "follower" || info.value().leader_id != leader_.node_id) {
    return failed("node " + std::to_string(old_leader_) + " should follow node " +
                  std::to_string(leader_.node_id) + ": " + describe(info.value()));
  }
  say_.check("node " + std::to_string(old_leader_) + " caught up and follows node " +
             std::to_string(leader_.node_id));
  return true;
}

client::Outcome Demo::member_command(std::vector<std::string> args) {
  client::ClientOptions options = demo_client_options(cluster_.layout(), tls_);
  options.semantics = client::Semantics::AtMostOnce;  // A change is never sent twice.
  client::Client admin(options);
  args.insert(args.begin(), "RAFT.MEMBER");
  return admin.call(args);
}

bool Demo::wait_members(
    const std::function<bool(const std::vector<client::MemberRecord>&)>& done) {
  const SteadyTime deadline = std::chrono::steady_clock::now() + kCatchUpWait;
  std::string last = "no answer";
  while (std::chrono::steady_clock::now() < deadline) {
    const client::Outcome listed = member_command({"LIST"});
    Result<std::vector<client::MemberRecord>> members = client::parse_member_list(listed.reply);
    if (listed.ok() && members.is_ok() && done(members.value())) return true;
    last = listed.ok() ? client::format_reply(listed.reply) : listed.detail;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return failed("the membership did not change as expected; last RAFT.MEMBER LIST: " + last);
}

bool is_voter(const std::vector<client::MemberRecord>& members, int id) {
  return std::any_of(members.begin(), members.end(), [&](const client::MemberRecord& member) {
    return member.id == static_cast<uint64_t>(id) && !member.learner;
  });
}

// The replacement of a machine lost for good (Raft thesis §4.2.1): the new node joins as a
// learner, which has no vote, so the quorum stays 2 of the 3 voters while it copies the data.
// Added as a voter at once it would make the quorum 3 of 4, with one dead and one still
// copying: writes would stall until it caught up. Once it has, it is promoted, and then the
// dead node is removed (2 of 3 again).
bool Demo::replace_dead_node() {
  say_.step("A follower's machine dies for good; a new node replaces it");
  // A follower that is not node 1: the new node joins through the first member.
  const int dead = leader_.node_id == 2 ? 3 : 2;
  if (Status killed = cluster_.stop_node(dead, SIGKILL, kStopWait); !killed.is_ok()) {
    return failed(killed.message());
  }
  say_.say("node " + std::to_string(dead) + " killed with SIGKILL; say its disk is lost too");
  const SteadyTime start = std::chrono::steady_clock::now();
  SteadyTime step_start = start;
  const auto took = [&step_start] {
    const std::string text = " (" + std::to_string(ms_since(step_start)) + " ms)";
    step_start = std::chrono::steady_clock::now();
    return text;
  };
  const int fresh = cluster_.mutable_layout().add_joining_node();
  if (tls_ != nullptr) {  // The new node's certificate, from the same throwaway CA.
    const ClusterLayout& layout = cluster_.layout();
    if (Status made = make_tls_files(layout.tls_dir(), layout.nodes); !made.is_ok()) {
      return failed(made.message());
    }
  }
  const std::string name = "node " + std::to_string(fresh);
  if (Status started = cluster_.start_node(fresh, keep_); !started.is_ok()) {
    return failed(started.message());
  }
  if (!wait_members([&](const auto& members) {
        return std::any_of(members.begin(), members.end(), [&](const auto& member) {
          return member.id == static_cast<uint64_t>(fresh) && member.learner;
        });
      })) {
    return false;
  }
  say_.check("[1/4] " + name + " started empty with --join " +
             cluster_.layout().join_endpoint(fresh).to_string() +
             " and was added as a learner" + took());
  Result<RaftInfo> leader = cluster_.info(static_cast<int>(leader_.node_id), milliseconds(2000));
  if (!leader.is_ok()) return failed(leader.status().message());
  Result<RaftInfo> caught_up =
      cluster_.wait_applied(fresh, leader.value().commit_index, kCatchUpWait);
  if (!caught_up.is_ok()) return failed(caught_up.status().message());
  say_.check("[2/4] " + name + " caught up: applied index " +
             std::to_string(caught_up.value().applied_index) + took());
  const client::Outcome promoted = member_command({"PROMOTE", std::to_string(fresh)});
  if (!promoted.ok()) return failed("PROMOTE: " + promoted.detail + promoted.reply.text);
  say_.check("[3/4] " + name + " promoted to voter" + took());
  const client::Outcome removed = member_command({"REMOVE", std::to_string(dead)});
  if (!removed.ok()) return failed("REMOVE: " + removed.detail + removed.reply.text);
  cluster_.mutable_layout().removed.insert(dead);
  if (!wait_members([&](const auto& members) {
        return members.size() == 3 && is_voter(members, fresh);
      })) {
    return false;
  }
  say_.check("[4/4] node " + std::to_string(dead) + " removed" + took());
  replace_ms_ = ms_since(start);
  std::string voters;
  for (int id : all_nodes()) voters += (voters.empty() ? "" : ", ") + std::to_string(id);
  say_.check("the voters are now " + voters + "; the replacement took " +
             std::to_string(replace_ms_) + " ms; writes commit on 2 of these 3");
  return write("demo:replaced", "node " + std::to_string(dead) + " by " + name);
}

bool Demo::read_everywhere() {
  say_.step("Read every key from every node (stale reads of each node's own state)");
  Result<RaftInfo> leader = cluster_.info(static_cast<int>(leader_.node_id), milliseconds(2000));
  if (!leader.is_ok()) return failed(leader.status().message());
  std::map<std::string, std::string> expected;
  for (const auto& [key, value] : data_) expected[key] = value;  // The last write wins.
  bool all_ok = true;
  for (int id : all_nodes()) {
    Result<RaftInfo> info = cluster_.wait_applied(id, leader.value().commit_index, kCatchUpWait);
    if (!info.is_ok()) return failed(info.status().message());
    for (const auto& [key, value] : expected) {
      Result<client::Reply> got = cluster_.stale_get(id, key);
      const std::string shown = got.is_ok() ? client::format_reply(got.value())
                                            : got.status().message();
      const bool match = got.is_ok() && got.value() == client::Reply::bulk(value);
      all_ok = all_ok && match;
      if (match) {
        say_.check("node " + std::to_string(id) + ": " + key + " = " + shown);
      } else {
        say_.failed("node " + std::to_string(id) + ": " + key + " = " + shown + ", expected \"" +
                    value + "\"");
      }
    }
  }
  return all_ok;
}

bool Demo::start_web() {
  const uint16_t port =
      options_.web_port != 0 ? options_.web_port : default_web_port(cluster_.layout());
  // Controls off: the page only watches, so it never touches the cluster the demo drives.
  web_ = std::make_unique<WebControl>(cluster_, WebControlOptions{.port = port,
                                                                  .controls = false});
  if (Status served = web_->start(); !served.is_ok()) {
    say_.say("no web view: " + served.message());
    return false;
  }
  web_->set_step(say_.current());
  say_.on_step = [this](const std::string& step) { web_->set_step(step); };
  say_.say("watch it live (any node's page works): " + web_->page_url(1));
  return true;
}

void Demo::pause_for_viewer() {
  if (::isatty(STDIN_FILENO) != 0) {
    std::printf("   ... press Enter for the next step ");
    std::fflush(stdout);
    std::string line;
    std::getline(std::cin, line);
    return;
  }
  std::this_thread::sleep_for(milliseconds(options_.step_pause_ms));
}

// A fresh directory for the demo: the given one if new or empty, else a new temp dir.
Result<std::string> demo_dir(const std::string& wanted) {
  if (wanted.empty()) {
    char pattern[] = "/tmp/raftkv-demo-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return Status(ErrorCode::IoError, "mkdtemp failed");
    return std::string(pattern);
  }
  std::error_code error;
  if (std::filesystem::exists(wanted, error) && !std::filesystem::is_empty(wanted, error)) {
    return Status(ErrorCode::InvalidArgument,
                  wanted + " is not empty; the demo needs a new cluster (pick another --dir)");
  }
  std::filesystem::create_directories(wanted, error);
  if (error) return Status(ErrorCode::IoError, "cannot create " + wanted + ": " + error.message());
  return wanted;
}

// demo --tls: the throwaway certificates of nodes 1-3 (as `cluster start --tls`), and the
// clients' context presenting client.crt.
Result<std::shared_ptr<const client::TlsContext>> demo_tls(const ClusterLayout& layout) {
  const std::string certs = layout.tls_dir();
  if (Status made = make_tls_files(certs, layout.nodes); !made.is_ok()) return made;
  Result<std::shared_ptr<client::TlsContext>> tls = client::TlsContext::make(
      {.enabled = true, .ca_file = certs + "/ca.crt", .cert_file = certs + "/client.crt",
       .key_file = certs + "/client.key"});
  if (!tls.is_ok()) return tls.status();
  return std::shared_ptr<const client::TlsContext>(std::move(tls).value());
}

}  // namespace

int run_demo(const DemoOptions& options) {
  DemoOptions resolved = options;
  resolved.layout.nodes = 3;
  Result<std::string> dir = demo_dir(options.layout.dir);
  if (!dir.is_ok()) return fail(kExitUsage, dir.status().message());
  resolved.layout.dir = dir.value();
  if (Status valid = validate_layout(resolved.layout); !valid.is_ok()) {
    return fail(kExitUsage, valid.message());
  }
  if (Status free = check_ports_free(resolved.layout); !free.is_ok()) {
    return fail(kExitError, free.message());
  }
  std::shared_ptr<const client::TlsContext> tls;
  if (resolved.layout.tls) {
    Result<std::shared_ptr<const client::TlsContext>> made = demo_tls(resolved.layout);
    if (!made.is_ok()) return fail(kExitError, made.status().message());
    tls = std::move(made).value();
  }
  std::printf("raftkv demo: three nodes under %s, server %s%s\n", resolved.layout.dir.c_str(),
              resolved.layout.server_path.c_str(),
              tls ? "; peers and clients over TLS (throwaway CA in DIR/tls)" : "");
  Demo demo(resolved, std::move(tls));
  return demo.run();
}

}  // namespace raftkv::tools
