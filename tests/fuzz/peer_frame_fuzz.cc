// libFuzzer target: bytes from a peer connection, into a live node. The input is decoded as the
// transport decodes a frame's payload (net::BatchFrames, net::deliver_batch) and handed to a
// follower's runtime in a simulated three-node cluster (tests/sim): Raft messages, forwarded
// requests and replies, snapshot chunks and acks, however malformed. The node must refuse what
// is invalid without crashing or breaking an invariant the core or the runtime asserts, and
// keep running. (Raft trusts its peers, so a forged message may legitimately make the cluster
// disagree; that is not what this target looks for.) Run through tests/fuzz/run.sh.

#include <cstddef>
#include <cstdint>

#include "common/logger.h"
#include "net/peer_frame.h"
#include "proto/peer.pb.h"
#include "sim/run.h"
#include "sim/scenario_util.h"
#include "sim/simulator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace raftkv;
  net::BatchFrames frames;
  frames.payload(static_cast<uint32_t>(size)).assign(reinterpret_cast<const char*>(data), size);
  pb::PeerBatch* batch = frames.decode();
  if (batch == nullptr) return 0;
  // Fresh per input, from a fixed seed: a crash reproduces from its input alone.
  sim::Run run("peer_frame_fuzz", 1);
  sim::Simulator sim(run, sim::default_options(3));
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * sim::kE);
  if (!leader) return 0;
  const NodeId target{leader->value() % 3 + 1};
  const NodeId from{target.value() % 3 + 1};
  NullLogger logger;
  (void)sim.receive(target, [&](runtime::PeerInbox& inbox) {
    net::deliver_batch(from, *batch, inbox, logger);
  });
  sim.run_for_ticks(3 * sim::kE);
  return 0;
}
