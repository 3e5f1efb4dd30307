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

}  // namespace

Status check_or_write_identity(const ServerConfig& config) {
  std::error_code error;
  std::filesystem::create_directories(config.data_dir, error);
  if (error) {
    return Status(ErrorCode::IoError, "cannot create data dir " + config.data_dir + ": " +
                                          error.message());
  }
  const std::string path = config.data_dir + "/identity.json";
  nlohmann::json ours = {{"cluster_name", config.cluster_name},
                         {"cluster_id", config.cluster_id()},
                         {"node_id", config.id.value()},
                         {"peers", config.peers_string()}};
  if (!std::filesystem::exists(path)) return write_durably(path, ours.dump(2) + "\n");
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
  if (!well_formed) {
    return Status(ErrorCode::Corruption,
                  path + " is not a valid identity file (JSON with numeric cluster_id and "
                         "node_id); refusing to guess whose data this is");
  }
  if (stored.value("cluster_id", uint64_t{0}) != config.cluster_id() ||
      stored.value("node_id", uint64_t{0}) != config.id.value()) {
    return Status(ErrorCode::InvalidArgument,
                  "data dir " + config.data_dir + " belongs to node " +
                      std::to_string(stored.value("node_id", uint64_t{0})) + " of cluster '" +
                      stored.value("cluster_name", std::string("?")) + "' with peers " +
                      stored.value("peers", std::string("?")) + ", but this is node " +
                      std::to_string(config.id.value()) + " of cluster '" + config.cluster_name +
                      "' with peers " + config.peers_string() +
                      "; refusing to start (use the matching --id/--peers or another dir)");
  }
  return Status::ok();
}

}  // namespace raftkv::server
