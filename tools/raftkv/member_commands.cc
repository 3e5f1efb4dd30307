// raftkv member list|add|promote|remove|replace and raftkv leader transfer: the cluster
// administration commands of raftkv-server (server/admin_commands.h), through the leader.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "client/admin.h"
#include "commands.h"

namespace raftkv::tools {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t ms_since(Clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

// One admin command through the leader. Its TRYAGAIN answers (a change pending, a learner
// still behind) are retried by the client until the deadline, as for any write.
client::Outcome admin_call(const client::ClientOptions& options,
                           const std::vector<std::string>& args) {
  client::Client cluster(options);
  return cluster.call(args, client::Semantics::AtMostOnce);
}

// Prints the step and its time, or the failure; the exit code.
int step(const char* what, const client::Outcome& outcome, Clock::time_point started) {
  if (!outcome.ok()) {
    std::cout << what << ": failed after " << ms_since(started) << " ms\n";
    return report(outcome, false);
  }
  std::cout << what << " (" << ms_since(started) << " ms)\n";
  return kExitOk;
}

// Promotes `id` once it has caught up: asks again while the leader answers that it is too far
// behind, printing how far each second, until `timeout`.
int promote_when_caught_up(client::ClientOptions options, uint64_t id,
                           std::chrono::milliseconds timeout) {
  const Clock::time_point started = Clock::now();
  options.call_timeout = std::min(options.call_timeout, client::Millis(2000));
  options.attempt_timeout = std::min(options.attempt_timeout, options.call_timeout);
  std::string last;
  while (Clock::now() - started < timeout) {
    client::Outcome outcome = admin_call(options, {"RAFT.MEMBER", "PROMOTE", std::to_string(id)});
    if (outcome.ok() || outcome.kind == client::OutcomeKind::Error) {
      return step(("[3/4] promoted node " + std::to_string(id) + " to voter").c_str(), outcome,
                  started);
    }
    if (outcome.detail != last) std::cout << "      waiting: " << outcome.detail << "\n";
    last = outcome.detail;
    usleep(1'000'000);
  }
  return fail(kExitUnavailable, "node " + std::to_string(id) + " did not catch up within " +
                                    std::to_string(timeout.count()) + " ms: " + last);
}

}  // namespace

int run_member_list(const DataOptions& options) {
  Result<client::ClientOptions> parsed = client_options(options);
  if (!parsed.is_ok()) return fail(kExitUsage, parsed.status().message());
  client::Outcome outcome = admin_call(parsed.value(), {"RAFT.MEMBER", "LIST"});
  if (!outcome.ok()) return report(outcome, options.raw);
  Result<std::vector<client::MemberRecord>> members = client::parse_member_list(outcome.reply);
  if (!members.is_ok()) return fail(kExitError, members.status().message());
  std::printf("%-5s %-22s %-22s %s\n", "ID", "PEER", "CLIENT", "ROLE");
  for (const client::MemberRecord& member : members.value()) {
    std::printf("%-5llu %-22s %-22s %s\n", static_cast<unsigned long long>(member.id),
                member.peer_addr.c_str(), member.client_addr.c_str(),
                member.learner ? "learner" : "voter");
  }
  return kExitOk;
}

int run_member_change(const DataOptions& options, const std::vector<std::string>& args) {
  Result<client::ClientOptions> parsed = client_options(options);
  if (!parsed.is_ok()) return fail(kExitUsage, parsed.status().message());
  std::vector<std::string> command = {"RAFT.MEMBER"};
  command.insert(command.end(), args.begin(), args.end());
  return report(admin_call(parsed.value(), command), options.raw);
}

int run_member_replace(const DataOptions& options, uint64_t old_id, uint64_t new_id,
                       const std::string& peer_addr, const std::string& client_addr) {
  Result<client::ClientOptions> parsed = client_options(options);
  if (!parsed.is_ok()) return fail(kExitUsage, parsed.status().message());
  const std::string old_text = std::to_string(old_id);
  const std::string new_text = std::to_string(new_id);
  std::cout << "replacing node " << old_text << " by node " << new_text << " (peer " << peer_addr
            << ", client " << client_addr << ")\n";
  Clock::time_point started = Clock::now();
  client::Outcome added = admin_call(
      parsed.value(), {"RAFT.MEMBER", "ADD", new_text, peer_addr, client_addr, "LEARNER"});
  const bool already = added.kind == client::OutcomeKind::Error &&
                       added.reply.text.find("is already a member") != std::string::npos;
  if (already) {
    std::cout << "[1/4] node " << new_text << " is already a member (it joined by itself)\n";
  } else if (int code = step(("[1/4] added node " + new_text + " as a learner").c_str(), added,
                             started);
             code != kExitOk) {
    return code;
  }
  std::cout << "[2/4] waiting for node " << new_text << " to catch up\n";
  const client::Millis wait(std::max(options.timeout_ms, 600'000));
  if (int code = promote_when_caught_up(parsed.value(), new_id, wait); code != kExitOk) {
    return code;
  }
  started = Clock::now();
  return step(("[4/4] removed node " + old_text).c_str(),
              admin_call(parsed.value(), {"RAFT.MEMBER", "REMOVE", old_text}), started);
}

int run_leader_transfer(const DataOptions& options, uint64_t id) {
  Result<client::ClientOptions> parsed = client_options(options);
  if (!parsed.is_ok()) return fail(kExitUsage, parsed.status().message());
  const Clock::time_point started = Clock::now();
  std::vector<std::string> command = {"RAFT.TRANSFER"};
  if (id != 0) command.push_back(std::to_string(id));
  client::Outcome outcome = admin_call(parsed.value(), command);
  if (!outcome.ok()) return report(outcome, options.raw);
  const uint64_t target = static_cast<uint64_t>(outcome.reply.integer);
  client::Client cluster(parsed.value());
  while (ms_since(started) < static_cast<uint64_t>(options.timeout_ms)) {
    Result<client::RaftInfo> info = cluster.info();
    if (info.is_ok() && info.value().leader_id == target) {
      std::cout << "node " << target << " leads term " << info.value().term << " (transfer took "
                << ms_since(started) << " ms)\n";
      return kExitOk;
    }
    usleep(50'000);
  }
  return fail(kExitUnavailable, "node " + std::to_string(target) + " did not take over");
}

}  // namespace raftkv::tools
