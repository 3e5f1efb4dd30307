#include "server/restore.h"

#include <filesystem>
#include <memory>
#include <string>

#include "storage/crc32c.h"
#include "storage/disk_storage.h"
#include "storage/snapshot_file.h"

namespace raftkv::server {
namespace {

Status invalid(const std::string& what) { return Status(ErrorCode::InvalidArgument, what); }

// The file, opened and verified whole (header, meta, whole-file checksum).
Result<std::unique_ptr<storage::SnapshotReader>> open_verified(const std::string& path) {
  Result<std::unique_ptr<storage::SnapshotReader>> reader =
      storage::SnapshotReader::open(storage::posix_fs(), path);
  Status status = reader.is_ok() ? reader.value()->verify() : reader.status();
  if (status.is_ok() && reader.value()->meta().index == Index{0}) {
    status = Status(ErrorCode::Corruption, "it holds no state (index 0)");
  }
  if (!status.is_ok()) {
    return invalid("--restore-from " + path + " is not a valid snapshot file: " +
                   status.message());
  }
  // verify() read the data through; the copy reads it again from the start.
  return storage::SnapshotReader::open(storage::posix_fs(), path);
}

// The meta the new cluster starts from: the file's position in the log, the membership of
// --peers. An empty conf_context makes the runtime take the members' addresses from --peers
// too (runtime/membership.h), as at any bootstrap.
raft::SnapshotMeta new_cluster_meta(const ServerConfig& config, const raft::SnapshotMeta& file) {
  raft::SnapshotMeta meta{.index = file.index, .term = file.term};
  for (const net::PeerAddress& peer : config.peers) meta.conf_state.voters.push_back(peer.id);
  RAFT_ASSERT(!meta.conf_state.voters.empty());
  return meta;
}

// Streams the file's state into `storage` as a leader's snapshot, then a hard state at the
// snapshot's term that commits it (the core must find its term at least the log's).
// Returns the fingerprint the cluster id is hashed from: position, size and data checksum.
Result<std::string> install(const ServerConfig& config, storage::SnapshotReader& file,
                            storage::DiskStorage& storage) {
  const raft::SnapshotMeta meta = new_cluster_meta(config, file.meta());
  Result<std::unique_ptr<storage::SnapshotWriter>> writer = storage.begin_snapshot(meta);
  if (!writer.is_ok()) return writer.status();
  std::string buffer(1 << 20, '\0');
  uint32_t crc = 0;
  while (true) {
    Result<size_t> got = file.read(std::span<char>(buffer.data(), buffer.size()));
    if (!got.is_ok()) return got.status();
    if (got.value() == 0) break;
    crc = storage::crc32c_extend(crc, buffer.data(), got.value());
    Status written = writer.value()->write(std::span<const char>(buffer.data(), got.value()));
    if (!written.is_ok()) return written;
  }
  RAFT_ASSERT(writer.value()->data_bytes() == file.data_bytes());
  if (Status finished = storage.finish_leader_snapshot(std::move(writer).value());
      !finished.is_ok()) {
    return finished;
  }
  if (Status hard = storage.set_hard_state({meta.term, kNoNode, meta.index}); !hard.is_ok()) {
    return hard;
  }
  return std::to_string(meta.index.value()) + ":" + std::to_string(meta.term.value()) + ":" +
         std::to_string(file.data_bytes()) + ":" + std::to_string(crc);
}

Result<std::string> restore_into(const ServerConfig& config, Logger& logger) {
  Result<std::unique_ptr<storage::SnapshotReader>> file = open_verified(config.restore_from);
  if (!file.is_ok()) return file.status();
  std::error_code error;
  std::filesystem::create_directories(config.data_dir, error);
  if (error) {
    return Status(ErrorCode::IoError,
                  "cannot create data dir " + config.data_dir + ": " + error.message());
  }
  storage::DiskStorageOptions options;
  options.logger = &logger;
  Result<std::unique_ptr<storage::DiskStorage>> storage =
      storage::DiskStorage::open(config.data_dir + "/raft", options);
  if (!storage.is_ok()) return storage.status();
  return install(config, *file.value(), *storage.value());
}

}  // namespace

Result<uint64_t> restore_from_snapshot_file(const ServerConfig& config, Logger& logger) {
  RAFT_ASSERT(!config.restore_from.empty());
  RAFT_ASSERT(config.join_addr.empty());  // The flags refuse --restore-from with --join.
  std::error_code error;
  const bool existed = std::filesystem::exists(config.data_dir, error);
  if (existed && !std::filesystem::is_empty(config.data_dir, error)) {
    return invalid("--restore-from starts a new cluster and needs an empty data dir, but " +
                   config.data_dir +
                   " is not empty; refusing to start (to restart this node, drop the flag)");
  }
  Result<std::string> fingerprint = restore_into(config, logger);
  if (!fingerprint.is_ok()) {
    // Leave the dir as it was found, so that a corrected command can run again.
    if (existed) {
      for (const auto& item : std::filesystem::directory_iterator(config.data_dir, error)) {
        std::filesystem::remove_all(item.path(), error);
      }
    } else {
      std::filesystem::remove_all(config.data_dir, error);
    }
    return fingerprint.status();
  }
  const uint64_t cluster_id = config.restored_cluster_id(fingerprint.value());
  log_to(logger, LogLevel::Warn, "RESTORED from ", config.restore_from, " (index:term:bytes:crc ",
         fingerprint.value(), "): a NEW cluster ", cluster_id, " of members ",
         config.peers_string(), "; nodes of the cluster the file came from are refused");
  return cluster_id;
}

}  // namespace raftkv::server
