#include "server/identity.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace raftkv::server {
namespace {

Status io_error(const std::string& what) {
  return Status(ErrorCode::IoError, what + ": " + std::strerror(errno));
}

Status write_durably(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create " + temp);
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = written && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return io_error("cannot write " + temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) return io_error("cannot rename " + temp);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return io_error("cannot open " + dir);
  const bool dir_synced = ::fsync(dir_fd) == 0;
  ::close(dir_fd);
  return dir_synced ? Status::ok() : io_error("cannot fsync " + dir);
}

std::string peers_text(const std::vector<runtime::Member>& members) {
  std::string out;
  for (const runtime::Member& member : members) {
    if (member.learner) continue;
    out += (out.empty() ? "" : ",") + std::to_string(member.id.value()) + "=" + member.peer_addr;
  }
  return out;
}

nlohmann::json to_json(const ServerConfig& config, const Identity& identity) {
  nlohmann::json members = nlohmann::json::array();
  for (const runtime::Member& member : identity.members) {
    members.push_back({{"id", member.id.value()},
                       {"peer_addr", member.peer_addr},
                       {"client_addr", member.client_addr},
                       {"learner", member.learner}});
  }
  return {{"cluster_name", config.cluster_name},
          {"cluster_id", identity.cluster_id},
          {"node_id", config.id.value()},
          {"peers", peers_text(identity.members)},
          {"members", members}};
}

Identity from_flags(const ServerConfig& config) {
  Identity identity{.cluster_id = config.cluster_id()};
  for (const net::PeerAddress& peer : config.peers) {
    runtime::Member member{.id = peer.id,
                           .peer_addr = peer.host + ":" + std::to_string(peer.port)};
    if (peer.id == config.id) member.client_addr = config.client_addr();
    identity.members.push_back(std::move(member));
  }
  return identity;
}

// The stored membership: "members" if present, else the "peers" string of older files.
Result<std::vector<runtime::Member>> stored_members(const nlohmann::json& stored) {
  std::vector<runtime::Member> out;
  if (!stored.contains("members")) {
    Result<std::vector<net::PeerAddress>> peers = parse_peers(stored.value("peers", ""));
    if (!peers.is_ok()) return peers.status();
    for (const net::PeerAddress& peer : peers.value()) {
      out.push_back({.id = peer.id, .peer_addr = peer.host + ":" + std::to_string(peer.port)});
    }
    return out;
  }
  const nlohmann::json& members = stored["members"];
  if (!members.is_array()) return Status(ErrorCode::Corruption, "members is not an array");
  for (const nlohmann::json& member : members) {
    const bool well_formed = member.is_object() && member.contains("id") &&
                             member["id"].is_number_unsigned() &&
                             member.value("peer_addr", nlohmann::json(0)).is_string() &&
                             member.value("client_addr", nlohmann::json(0)).is_string() &&
                             member.value("learner", nlohmann::json(0)).is_boolean();
    if (!well_formed) return Status(ErrorCode::Corruption, "a member is malformed");
    out.push_back({.id = NodeId{member["id"].get<uint64_t>()},
                   .peer_addr = member["peer_addr"].get<std::string>(),
                   .client_addr = member["client_addr"].get<std::string>(),
                   .learner = member["learner"].get<bool>()});
  }
  return out;
}

}  // namespace

bool has_identity(const ServerConfig& config) {
  return std::filesystem::exists(config.data_dir + "/identity.json");
}

Result<Identity> check_or_write_identity(const ServerConfig& config, const Identity* joined) {
  std::error_code error;
  std::filesystem::create_directories(config.data_dir, error);
  if (error) {
    return Status(ErrorCode::IoError, "cannot create data dir " + config.data_dir + ": " +
                                          error.message());
  }
  const std::string path = config.data_dir + "/identity.json";
  if (!std::filesystem::exists(path)) {
    Identity identity = joined != nullptr ? *joined : from_flags(config);
    Status written = write_durably(path, to_json(config, identity).dump(2) + "\n");
    if (!written.is_ok()) return written;
    return identity;
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json stored = nlohmann::json::parse(text.str(), nullptr, false);
  // value() below throws on a field of the wrong type; check the shape first, so a damaged or
  // hand-edited file gives a clear error, not a crash.
  const bool well_formed = !stored.is_discarded() && stored.is_object() &&
                           stored.contains("cluster_id") &&
                           stored["cluster_id"].is_number_unsigned() &&
                           stored.contains("node_id") && stored["node_id"].is_number_unsigned() &&
                           stored.value("cluster_name", nlohmann::json("")).is_string() &&
                           stored.value("peers", nlohmann::json("")).is_string();
  Result<std::vector<runtime::Member>> members =
      well_formed ? stored_members(stored) : Status(ErrorCode::Corruption, "bad shape");
  if (!members.is_ok()) {
    return Status(ErrorCode::Corruption,
                  path + " is not a valid identity file (JSON with numeric cluster_id and "
                         "node_id, and a membership: " + members.status().message() +
                         "); refusing to guess whose data this is");
  }
  if (stored.value("node_id", uint64_t{0}) != config.id.value()) {
    return Status(ErrorCode::InvalidArgument,
                  "data dir " + config.data_dir + " belongs to node " +
                      std::to_string(stored.value("node_id", uint64_t{0})) + " of cluster '" +
                      stored.value("cluster_name", std::string("?")) + "' (id " +
                      std::to_string(stored.value("cluster_id", uint64_t{0})) +
                      "), but this is node " + std::to_string(config.id.value()) +
                      "; refusing to start (use the matching --id or another dir)");
  }
  const std::string stored_name = stored.value("cluster_name", std::string("raftkv"));
  if (stored_name != config.cluster_name) {
    return Status(ErrorCode::InvalidArgument,
                  "data dir " + config.data_dir + " belongs to cluster '" + stored_name +
                      "', but this is cluster '" + config.cluster_name +
                      "'; refusing to start (use the matching --cluster-name or another dir)");
  }
  return Identity{.cluster_id = stored.value("cluster_id", uint64_t{0}),
                  .members = std::move(members).value()};
}

}  // namespace raftkv::server
