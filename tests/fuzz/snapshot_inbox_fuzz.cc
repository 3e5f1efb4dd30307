// libFuzzer target: snapshot chunks from a peer (SnapshotInbox, src/runtime/snapshot_transfer.h).
// The input is a PeerBatch whose snapshot_chunks are decoded as the transport decodes them and
// delivered in order to a follower's inbox on an in-memory disk. Whatever the chunks claim
// (sizes, offsets, terms, damaged bytes), the inbox must answer each with an ack and never
// crash; a stream it calls complete must hold a verified snapshot file that storage then
// installs or refuses with a clean error.
#include <cstddef>
#include <cstdint>

#include "common/logger.h"
#include "proto/peer.pb.h"
#include "proto/peer_codec.h"
#include "runtime/snapshot_transfer.h"
#include "sim_fs.h"
#include "storage/disk_storage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace raftkv;
  pb::PeerBatch batch;
  if (!batch.ParseFromArray(data, static_cast<int>(size))) return 0;
  storage::testing::SimFs fs;
  storage::DiskStorageOptions options;
  options.fs = &fs;
  options.segment_bytes = 4096;  // Small files keep each run cheap.
  options.background_threads = false;  // No threads: one input, one behaviour.
  Result<std::unique_ptr<storage::DiskStorage>> opened = storage::DiskStorage::open("/d", options);
  RAFT_ASSERT(opened.is_ok());
  NullLogger logger;
  runtime::SnapshotInbox inbox(*opened.value(), logger);
  for (pb::SnapshotChunk& encoded : *batch.mutable_snapshot_chunks()) {
    const runtime::SnapshotChunk chunk = proto::from_proto(std::move(encoded));
    runtime::SnapshotInbox::ChunkResult result =
        inbox.on_chunk(NodeId{1}, Term{5}, NodeId{2}, chunk);
    if (!result.install) continue;
    RAFT_ASSERT(result.install->snapshot.has_value());
    std::unique_ptr<runtime::IncomingSnapshot> file = inbox.take_verified();
    RAFT_ASSERT(file != nullptr);
    const Status installed = opened.value()->install_received_snapshot(std::move(file));
    RAFT_ASSERT(installed.is_ok() || installed.code() == ErrorCode::InvalidArgument ||
                installed.code() == ErrorCode::Corruption);
  }
  return 0;
}
