#include "server/join.h"

#include <charconv>

#include "client/admin.h"
#include "client/client.h"

namespace raftkv::server {
namespace {

std::string self_peer_addr(const ServerConfig& config) {
  return config.self_peer.host + ":" + std::to_string(config.self_peer.port);
}

// `rounds_max`: rounds of dialling before giving up when no member answers.
Result<client::Client> connect(const std::string& addr, int rounds_max) {
  Result<client::Endpoint> endpoint = client::parse_endpoint(addr);
  if (!endpoint.is_ok()) return endpoint.status();
  client::ClientOptions options;
  options.endpoints = {endpoint.value()};
  options.unreachable_rounds_max = rounds_max;
  options.call_timeout = client::Millis(30'000);
  return client::Client(options);
}

// The command's reply, or why there is none.
Result<client::Reply> call(client::Client& cluster, const std::vector<std::string>& args) {
  client::Outcome outcome = cluster.call(args);
  if (outcome.ok()) return std::move(outcome.reply);
  const std::string why = outcome.kind == client::OutcomeKind::Error ? outcome.reply.text
                                                                      : outcome.detail;
  return Status(outcome.kind == client::OutcomeKind::Error ? ErrorCode::InvalidArgument
                                                           : ErrorCode::Unavailable,
                args[0] + (args.size() > 1 ? " " + args[1] : "") + ": " + why);
}

Result<uint64_t> query_cluster_id(client::Client& cluster) {
  Result<client::Reply> reply = call(cluster, {"RAFT.CLUSTERID"});
  if (!reply.is_ok()) return reply.status();
  const std::string& text = reply.value().text;
  uint64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id == 0) {
    return Status(ErrorCode::InvalidArgument, "RAFT.CLUSTERID answered '" + text + "'");
  }
  return id;
}

// The membership with this node in it: as listed, or after adding it as a learner.
Result<std::vector<client::MemberRecord>> ensure_member(client::Client& cluster,
                                                        const ServerConfig& config,
                                                        Logger& logger) {
  const std::string peer = self_peer_addr(config);
  for (int attempt = 0; attempt < 2; ++attempt) {
    Result<client::Reply> listed = call(cluster, {"RAFT.MEMBER", "LIST"});
    if (!listed.is_ok()) return listed.status();
    Result<std::vector<client::MemberRecord>> members = client::parse_member_list(listed.value());
    if (!members.is_ok()) return members.status();
    for (const client::MemberRecord& member : members.value()) {
      if (member.id != config.id.value()) continue;
      if (member.peer_addr != peer) {
        return Status(ErrorCode::InvalidArgument,
                      "node " + std::to_string(member.id) + " is already a member at peer "
                      "address " + member.peer_addr + ", not " + peer);
      }
      return members;
    }
    log_to(logger, LogLevel::Info, "adding node ", config.id, " (peer ", peer, ", client ",
           config.client_addr(), ") to the cluster as a learner");
    Result<client::Reply> added =
        call(cluster, {"RAFT.MEMBER", "ADD", std::to_string(config.id.value()), peer,
                       config.client_addr(), "LEARNER"});
    if (!added.is_ok() && added.status().code() != ErrorCode::Unavailable) return added.status();
  }
  return Status(ErrorCode::Unavailable, "added, but not listed as a member yet; start again");
}

}  // namespace

Result<uint64_t> cluster_id_at(const std::string& addr) {
  Result<client::Client> cluster = connect(addr, 2);
  if (!cluster.is_ok()) return cluster.status();
  return query_cluster_id(cluster.value());
}

Result<Identity> join_cluster(const ServerConfig& config, Logger& logger) {
  Result<client::Client> cluster = connect(config.join_addr, 20);
  if (!cluster.is_ok()) return cluster.status();
  Result<uint64_t> cluster_id = query_cluster_id(cluster.value());
  if (!cluster_id.is_ok()) return cluster_id.status();
  Result<std::vector<client::MemberRecord>> members =
      ensure_member(cluster.value(), config, logger);
  if (!members.is_ok()) return members.status();
  Identity identity{.cluster_id = cluster_id.value()};
  std::string listed;
  for (const client::MemberRecord& member : members.value()) {
    identity.members.push_back({.id = NodeId{member.id},
                                .peer_addr = member.peer_addr,
                                .client_addr = member.client_addr,
                                .learner = member.learner});
    listed += (listed.empty() ? "" : ", ") + std::to_string(member.id) +
              (member.learner ? " (learner)" : "");
  }
  log_to(logger, LogLevel::Info, "joined cluster ", cluster_id.value(), " through ",
         config.join_addr, " as a learner; members ", listed,
         "; the leader now sends the snapshot and the log");
  return identity;
}

}  // namespace raftkv::server
