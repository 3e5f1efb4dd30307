// Writes valid inputs as seeds for the fuzz targets: `fuzz_seed_corpus <corpus dir>` creates
// <dir>/<target>/seed-* files. Valid seeds let the fuzzer start deep inside the decoders.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "net/peer_frame.h"
#include "proto/convert.h"
#include "proto/peer.pb.h"
#include "sim_fs.h"
#include "storage/record.h"
#include "storage/segment.h"
#include "storage/snapshot_file.h"

namespace {

using namespace raftkv;

void write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string segment(int entries, bool with_reset = true) {
  std::string bytes;
  storage::append_record(storage::RecordType::SegmentHeader,
                         storage::encode_segment_header({1, Index{1}}), &bytes);
  std::string payload;
  proto::encode_hard_state({Term{1}, NodeId{1}, Index{0}}, &payload);
  storage::append_record(storage::RecordType::HardState, payload, &bytes);
  for (int i = 1; i <= entries; ++i) {
    payload.clear();
    proto::encode_entry({Term{1}, Index{static_cast<uint64_t>(i)}, raft::EntryType::Normal,
                         std::string(static_cast<size_t>(i * 7), 'x')},
                        &payload);
    storage::append_record(storage::RecordType::Entry, payload, &bytes);
  }
  if (with_reset) {
    payload.clear();
    proto::encode_log_reset(Index{3}, Term{2}, &payload);
    storage::append_record(storage::RecordType::LogReset, payload, &bytes);
  }
  bytes.append(600, '\0');
  return bytes;
}

// Segment 2 continuing segment(5, false): entries 4.. replaced at term 2.
std::string second_segment() {
  std::string bytes;
  storage::append_record(storage::RecordType::SegmentHeader,
                         storage::encode_segment_header({2, Index{6}}), &bytes);
  std::string payload;
  for (uint64_t i = 4; i <= 6; ++i) {
    payload.clear();
    proto::encode_entry({Term{2}, Index{i}, raft::EntryType::Normal, "y"}, &payload);
    storage::append_record(storage::RecordType::Entry, payload, &bytes);
  }
  payload.clear();
  proto::encode_hard_state({Term{2}, NodeId{1}, Index{5}}, &payload);
  storage::append_record(storage::RecordType::HardState, payload, &bytes);
  return bytes;
}

std::string snapshot_file(size_t data_bytes) {
  storage::testing::SimFs fs;
  raft::SnapshotMeta meta{Index{10}, Term{2}, {{NodeId{1}, NodeId{2}}, {}, {NodeId{3}}}};
  auto writer = storage::SnapshotWriter::create(fs, "/d", meta);
  RAFT_ASSERT(writer.is_ok());
  RAFT_ASSERT(writer.value()->write(std::string(data_bytes, 's')).is_ok());
  RAFT_ASSERT(writer.value()->finish().is_ok());
  return fs.read_all(writer.value()->path());
}

// A 3-chunk stream of a snapshot file, as a leader at term 5 sends it.
std::string snapshot_chunks() {
  const std::string file = snapshot_file(300);
  pb::PeerBatch batch;
  const size_t chunk = file.size() / 3 + 1;
  for (size_t offset = 0; offset < file.size(); offset += chunk) {
    pb::SnapshotChunk* out = batch.add_snapshot_chunks();
    out->set_term(5);
    out->set_snapshot_index(10);
    out->set_snapshot_term(2);
    out->set_offset(offset);
    out->set_data(file.substr(offset, chunk));
    out->set_file_bytes(file.size());
  }
  return batch.SerializeAsString();
}

// Batch frames as a leader at term 5 sends them (net/peer_frame.h): appends whose entry data,
// some of it past BatchFrames::kGatherBytesMin, follows the envelope; a heartbeat; a forwarded
// request and its reply.
void write_peer_frame_seeds(const std::string& dir) {
  auto frame = [](net::PendingBatch pending) {
    net::BatchFrames frames;
    std::string bytes;
    for (std::string_view piece : frames.encode(pending)) bytes.append(piece);
    return bytes;
  };
  raft::Message append;
  append.type = raft::MessageType::Append;
  append.from = NodeId{1};
  append.term = Term{5};
  append.log_term = Term{1};
  append.index = Index{1};
  for (uint64_t i = 2; i <= 4; ++i) {
    const size_t bytes = i == 3 ? net::BatchFrames::kGatherBytesMin + 10 : 40;
    append.entries.push_back(raft::Entry{Term{5}, Index{i}, raft::EntryType::Normal,
                                         std::string(bytes, static_cast<char>('a' + i))});
  }
  net::PendingBatch appends;
  for (NodeId to : {NodeId{2}, NodeId{3}}) {
    append.to = to;
    appends.add_message(append);
  }
  write(dir + "/seed-appends", frame(std::move(appends)));
  net::PendingBatch others;
  raft::Message heartbeat = append;
  heartbeat.type = raft::MessageType::Heartbeat;
  heartbeat.entries.clear();
  others.add_message(heartbeat);
  pb::ForwardRequest* request = others.batch.add_forward_requests();
  request->set_request_id(9);
  request->set_command("forwarded command");
  others.batch.add_forward_replies()->set_reply("+OK\r\n");
  write(dir + "/seed-others", frame(std::move(others)));
}

// Requests whose bulk lengths sit at, just over and far over resp_fuzz's limits (256 per
// value, 512 per command), each followed by a PING that must still be parsed.
void write_resp_seeds(const std::string& dir) {
  auto bulk = [](size_t length) { return "$" + std::to_string(length) + "\r\n" +
                                         std::string(length, 'v') + "\r\n"; };
  const std::string ping = "*1\r\n$4\r\nPING\r\n";
  write(dir + "/seed-at-limit", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n" + bulk(256) + ping);
  write(dir + "/seed-one-over", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n" + bulk(257) + ping);
  write(dir + "/seed-request-over",
        "*4\r\n$4\r\nMSET\r\n" + bulk(200) + bulk(200) + bulk(200) + ping);
  write(dir + "/seed-far-over", "*2\r\n$3\r\nGET\r\n$9223372036854775807\r\nabc" + ping);
}

// Sessions for auth_fuzz (its input format is there): HELLO with a wrong and then the right
// password of the default user, and HELLO 3 and 2 with alice's ("\x02").
void write_auth_seeds(const std::string& dir) {
  using namespace std::string_literals;
  write(dir + "/seed-hello-default",
        "\x01HELLO\0" "2\0AUTH\0default\0wrong\nGET\0k\n"
        "HELLO\0" "2\0AUTH\0default\0\x01\0SETNAME\0n"s);
  write(dir + "/seed-hello-alice",
        "\x11HELLO\0" "3\0AUTH\0alice\0\x02\nHELLO\0" "2\0AUTH\0alice\0\x02\nAUTH\0x"s);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  for (const char* target :
       {"wal_record_fuzz", "segment_scan_fuzz", "snapshot_file_fuzz", "recovery_fuzz",
        "snapshot_inbox_fuzz", "resp_fuzz", "peer_frame_fuzz", "auth_fuzz"}) {
    std::string command = "mkdir -p '" + dir + "/" + target + "'";
    if (std::system(command.c_str()) != 0) return 1;
  }
  const std::string one = segment(1);
  write(dir + "/wal_record_fuzz/seed-1", one.substr(0, 60));
  write(dir + "/segment_scan_fuzz/seed-1", segment(3));
  write(dir + "/segment_scan_fuzz/seed-2", segment(12));
  write(dir + "/recovery_fuzz/seed-1", segment(3, false));
  write(dir + "/recovery_fuzz/seed-2", segment(5, false) + "SEGMENTSPLIT" + second_segment());
  write(dir + "/snapshot_file_fuzz/seed-1", snapshot_file(0));
  write(dir + "/snapshot_file_fuzz/seed-2", snapshot_file(300));
  write(dir + "/snapshot_inbox_fuzz/seed-1", snapshot_chunks());
  write_resp_seeds(dir + "/resp_fuzz");
  write_peer_frame_seeds(dir + "/peer_frame_fuzz");
  write_auth_seeds(dir + "/auth_fuzz");
  return 0;
}
