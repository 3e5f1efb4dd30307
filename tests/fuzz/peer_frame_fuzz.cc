// libFuzzer target: bytes from a peer connection. Decodes a frame's payload as the transport
// does, decodes every Raft message (proto/peer_codec) and steps it into a live core, which must
// refuse what is invalid without crashing or breaking its invariants. Run through
// tests/fuzz/run.sh.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/logger.h"
#include "common/prng.h"
#include "net/peer_frame.h"
#include "proto/peer.pb.h"
#include "proto/peer_codec.h"
#include "raft/memory_storage.h"
#include "raft/raft.h"

namespace {

struct Target {
  Target() : prng(1) {
    raftkv::raft::Config config;
    config.id = raftkv::NodeId{1};
    config.voters = {raftkv::NodeId{1}, raftkv::NodeId{2}, raftkv::NodeId{3}};
    raft = std::make_unique<raftkv::raft::Raft>(config, storage, prng, logger);
  }
  raftkv::raft::MemoryStorage storage;
  raftkv::Prng prng;
  raftkv::NullLogger logger;
  std::unique_ptr<raftkv::raft::Raft> raft;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Decoded as the transport decodes a frame's payload (net::BatchFrames).
  raftkv::net::BatchFrames frames;
  frames.payload(static_cast<uint32_t>(size)).assign(reinterpret_cast<const char*>(data), size);
  raftkv::pb::PeerBatch* batch = frames.decode();
  if (batch == nullptr) return 0;
  Target target;  // Fresh per input: a crash reproduces from its input alone.
  raftkv::raft::Message message;
  for (raftkv::pb::RaftMessage& encoded : *batch->mutable_messages()) {
    if (!raftkv::proto::from_proto(std::move(encoded), &message).is_ok()) continue;
    (void)target.raft->step(message);
    target.raft->check_invariants();
    if (target.raft->has_ready()) {
      const raftkv::raft::Ready ready = target.raft->ready();
      if (ready.snapshot && !target.storage.apply_snapshot(*ready.snapshot).is_ok()) return 0;
      if (!target.storage.append(ready.entries).is_ok()) return 0;
      if (ready.hard_state) target.storage.set_hard_state(*ready.hard_state);
      target.raft->advance(ready);
    }
  }
  return 0;
}
