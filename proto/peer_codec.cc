#include "proto/peer_codec.h"

#include <utility>

#include "proto/peer.pb.h"
#include "proto/convert.h"
#include "proto/storage.pb.h"

namespace raftkv::proto {

void to_proto(const raft::Message& message, pb::RaftMessage* out,
              std::vector<SharedBytes>* entry_data) {
  out->set_type(static_cast<uint32_t>(message.type));
  out->set_from(message.from.value());
  out->set_to(message.to.value());
  out->set_term(message.term.value());
  out->set_log_term(message.log_term.value());
  out->set_index(message.index.value());
  out->mutable_entries()->Reserve(static_cast<int>(message.entries.size()));
  for (const raft::Entry& entry : message.entries) {
    to_proto(raft::Entry{entry.term, entry.index, entry.type, SharedBytes()}, out->add_entries());
    entry_data->push_back(entry.data);
  }
  out->set_commit(message.commit.value());
  out->set_reject(message.reject);
  out->set_hint_index(message.hint_index.value());
  out->set_hint_term(message.hint_term.value());
  out->set_read_round(message.read_round);
  out->set_leadership_transfer(message.leadership_transfer);
  if (message.snapshot) {
    out->set_has_snapshot(true);
    to_proto(message.snapshot->meta, out->mutable_snapshot_meta());
    out->set_snapshot_data(message.snapshot->data);
  }
}

Status from_proto(pb::RaftMessage&& in, raft::Message* out) {
  if (in.type() > static_cast<uint32_t>(raft::MessageType::TimeoutNow)) {
    return Status(ErrorCode::Corruption, "unknown message type " + std::to_string(in.type()));
  }
  out->type = static_cast<raft::MessageType>(in.type());
  out->from = NodeId{in.from()};
  out->to = NodeId{in.to()};
  out->term = Term{in.term()};
  out->log_term = Term{in.log_term()};
  out->index = Index{in.index()};
  out->entries.clear();
  out->entries.reserve(static_cast<size_t>(in.entries_size()));
  for (pb::Entry& entry : *in.mutable_entries()) {
    if (Status status = from_proto(std::move(entry), &out->entries.emplace_back());
        !status.is_ok()) {
      return status;
    }
  }
  out->commit = Index{in.commit()};
  out->reject = in.reject();
  out->hint_index = Index{in.hint_index()};
  out->hint_term = Term{in.hint_term()};
  out->read_round = in.read_round();
  out->leadership_transfer = in.leadership_transfer();
  out->snapshot.reset();
  if (in.has_snapshot()) {
    raft::Snapshot& snapshot = out->snapshot.emplace();
    from_proto(in.snapshot_meta(), &snapshot.meta);
    snapshot.data = std::move(*in.mutable_snapshot_data());
  }
  return Status::ok();
}

void to_proto(runtime::ForwardRequest&& request, pb::ForwardRequest* out) {
  out->set_request_id(request.id);
  out->set_command(std::move(request.request.bytes));
  out->set_read_only(request.request.read_only);
}

void to_proto(runtime::ForwardReply&& reply, pb::ForwardReply* out) {
  out->set_request_id(reply.id);
  out->set_reply(std::move(reply.response.reply));
  out->set_outcome(static_cast<uint32_t>(reply.response.outcome));
}

void to_proto(runtime::SnapshotChunk&& chunk, pb::SnapshotChunk* out) {
  out->set_term(chunk.term.value());
  out->set_snapshot_index(chunk.snapshot_index.value());
  out->set_snapshot_term(chunk.snapshot_term.value());
  out->set_offset(chunk.offset);
  out->set_file_bytes(chunk.file_bytes);
  out->set_data(std::move(chunk.data));
}

void to_proto(runtime::SnapshotAck&& ack, pb::SnapshotAck* out) {
  out->set_snapshot_index(ack.snapshot_index.value());
  out->set_snapshot_term(ack.snapshot_term.value());
  out->set_received_bytes(ack.received_bytes);
  out->set_done(ack.done);
  out->set_error(std::move(ack.error));
}

runtime::ForwardRequest from_proto(pb::ForwardRequest&& in) {
  return {in.request_id(),
          runtime::Request{std::move(*in.mutable_command()), in.read_only()}};
}

runtime::ForwardReply from_proto(pb::ForwardReply&& in) {
  runtime::Outcome outcome = runtime::Outcome::MaybeApplied;
  if (in.outcome() == static_cast<uint32_t>(runtime::Outcome::Ok)) outcome = runtime::Outcome::Ok;
  if (in.outcome() == static_cast<uint32_t>(runtime::Outcome::NotApplied)) {
    outcome = runtime::Outcome::NotApplied;
  }
  return {in.request_id(), runtime::Response{outcome, std::move(*in.mutable_reply())}};
}

runtime::SnapshotChunk from_proto(pb::SnapshotChunk&& in) {
  return {.term = Term{in.term()},
          .snapshot_index = Index{in.snapshot_index()},
          .snapshot_term = Term{in.snapshot_term()},
          .offset = in.offset(),
          .file_bytes = in.file_bytes(),
          .data = std::move(*in.mutable_data())};
}

runtime::SnapshotAck from_proto(pb::SnapshotAck&& in) {
  return {.snapshot_index = Index{in.snapshot_index()},
          .snapshot_term = Term{in.snapshot_term()},
          .received_bytes = in.received_bytes(),
          .done = in.done(),
          .error = std::move(*in.mutable_error())};
}

}  // namespace raftkv::proto
