// libFuzzer target: bytes from a peer connection, into a live node. The input is one batch
// frame as the transport reads it after the Hello (net/peer_frame.h: the 8-byte header, the
// envelope, the entry data), decoded as the transport decodes it (net::parse_batch_header,
// net::BatchFrames, net::deliver_batch) and handed to a follower's runtime in a simulated
// three-node cluster (tests/sim): Raft messages with their entry data, forwarded requests and
// replies, snapshot chunks and acks, however malformed, with lengths however wrong. The node
// must refuse what is invalid without crashing or breaking an invariant the core or the
// runtime asserts, and keep running. (Raft trusts its peers, so a forged message may
// legitimately make the cluster disagree; that is not what this target looks for.) Seeds come
// from fuzz_seed_corpus. Run through tests/fuzz/run.sh.

#include <algorithm>
#include <array>
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
  if (size < net::kBatchHeaderBytes) return 0;
  std::array<uint8_t, net::kBatchHeaderBytes> header{};
  std::copy_n(data, header.size(), header.begin());
  // The limit is run.sh's -max_len, so that inputs past it exercise the refusal.
  const Result<net::BatchHeader> lengths = net::parse_batch_header(header, 65536);
  if (!lengths.is_ok()) return 0;
  const net::BatchHeader sizes = lengths.value();
  // Fewer bytes than announced: the transport would wait for them, or see the end of stream.
  const size_t rest = size - header.size();
  if (sizes.envelope_bytes > rest || sizes.data_bytes != rest - sizes.envelope_bytes) return 0;
  const char* envelope = reinterpret_cast<const char*>(data) + header.size();
  net::BatchFrames frames;
  frames.envelope(sizes.envelope_bytes).assign(envelope, sizes.envelope_bytes);
  frames.entry_data(sizes.data_bytes).assign(envelope + sizes.envelope_bytes, sizes.data_bytes);
  Result<pb::PeerBatch*> batch = frames.decode();
  if (!batch.is_ok()) return 0;
  // Fresh per input, from a fixed seed: a crash reproduces from its input alone.
  sim::Run run("peer_frame_fuzz", 1);
  sim::Simulator sim(run, sim::default_options(3));
  const std::optional<NodeId> leader = sim.wait_for_leader(10 * sim::kE);
  if (!leader) return 0;
  const NodeId target{leader->value() % 3 + 1};
  const NodeId from{target.value() % 3 + 1};
  NullLogger logger;
  (void)sim.receive(target, [&](runtime::PeerInbox& inbox) {
    net::deliver_batch(from, *batch.value(), frames.received_entry_data(), inbox, logger);
  });
  sim.run_for_ticks(3 * sim::kE);
  return 0;
}
