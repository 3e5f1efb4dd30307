#include "proto/convert.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <limits>
#include <utility>

#include "proto/storage.pb.h"

namespace raftkv::proto {
namespace {

// Protobuf takes an int length; anything at or past 2 GiB cannot be a valid record here.
Status check_size(std::string_view bytes, const char* what) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Status(ErrorCode::Corruption, std::string(what) + " too large to decode");
  }
  return Status::ok();
}

template <typename Message>
Status parse(std::string_view bytes, const char* what, Message* message) {
  Status size_ok = check_size(bytes, what);
  if (!size_ok.is_ok()) return size_ok;
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status(ErrorCode::Corruption, std::string("malformed ") + what);
  }
  return Status::ok();
}

std::vector<NodeId> to_ids(const google::protobuf::RepeatedField<uint64_t>& ids) {
  std::vector<NodeId> out;
  out.reserve(static_cast<size_t>(ids.size()));
  for (uint64_t id : ids) out.push_back(NodeId{id});
  return out;
}

void from_ids(const std::vector<NodeId>& ids, google::protobuf::RepeatedField<uint64_t>* out) {
  out->Reserve(static_cast<int>(ids.size()));
  for (NodeId id : ids) out->Add(id.value());
}

// proto3 keeps unknown enum values; one here means a newer writer or damaged bytes.
Status to_entry_type(int64_t value, raft::EntryType* out) {
  switch (value) {
    case pb::ENTRY_TYPE_NORMAL: *out = raft::EntryType::Normal; return Status::ok();
    case pb::ENTRY_TYPE_NO_OP: *out = raft::EntryType::NoOp; return Status::ok();
    case pb::ENTRY_TYPE_CONF_CHANGE: *out = raft::EntryType::ConfChange; return Status::ok();
    default: return Status(ErrorCode::Corruption, "unknown entry type " + std::to_string(value));
  }
}

}  // namespace

void to_proto(const raft::Entry& entry, pb::Entry* out) {
  out->set_term(entry.term.value());
  out->set_index(entry.index.value());
  switch (entry.type) {
    case raft::EntryType::Normal: out->set_type(pb::ENTRY_TYPE_NORMAL); break;
    case raft::EntryType::NoOp: out->set_type(pb::ENTRY_TYPE_NO_OP); break;
    case raft::EntryType::ConfChange: out->set_type(pb::ENTRY_TYPE_CONF_CHANGE); break;
  }
  out->set_data(entry.data.data(), entry.data.size());
}

void to_proto(const raft::HardState& hard_state, pb::HardState* out) {
  out->set_term(hard_state.term.value());
  out->set_voted_for(hard_state.voted_for.value());
  out->set_commit(hard_state.commit.value());
}

void to_proto(const raft::ConfState& conf_state, pb::ConfState* out) {
  from_ids(conf_state.voters, out->mutable_voters());
  from_ids(conf_state.voters_outgoing, out->mutable_voters_outgoing());
  from_ids(conf_state.learners, out->mutable_learners());
}

void to_proto(const raft::SnapshotMeta& meta, pb::SnapshotMeta* out) {
  out->set_index(meta.index.value());
  out->set_term(meta.term.value());
  to_proto(meta.conf_state, out->mutable_conf_state());
  out->set_conf_context(meta.conf_context);
}

Status from_proto(pb::Entry&& in, raft::Entry* out) {
  Status typed = to_entry_type(static_cast<int64_t>(in.type()), &out->type);
  if (!typed.is_ok()) return typed;
  out->term = Term{in.term()};
  out->index = Index{in.index()};
  out->data = std::move(*in.mutable_data());
  return Status::ok();
}

void from_proto(const pb::HardState& in, raft::HardState* out) {
  out->term = Term{in.term()};
  out->voted_for = NodeId{in.voted_for()};
  out->commit = Index{in.commit()};
}

void from_proto(const pb::ConfState& in, raft::ConfState* out) {
  out->voters = to_ids(in.voters());
  out->voters_outgoing = to_ids(in.voters_outgoing());
  out->learners = to_ids(in.learners());
}

void from_proto(const pb::SnapshotMeta& in, raft::SnapshotMeta* out) {
  out->index = Index{in.index()};
  out->term = Term{in.term()};
  from_proto(in.conf_state(), &out->conf_state);
  out->conf_context = in.conf_context();
}

void encode_entry(const raft::Entry& entry, std::string* out) {
  pb::Entry message;
  to_proto(entry, &message);
  const bool encoded = message.AppendToString(out);
  RAFT_ASSERT(encoded);  // Only fails past 2 GiB, which callers bound.
}

void encode_entry_head(const raft::Entry& entry, std::string* out) {
  using google::protobuf::internal::WireFormatLite;
  pb::Entry message;
  raft::Entry without_data = entry;
  without_data.data = SharedBytes();
  to_proto(without_data, &message);
  const bool encoded = message.AppendToString(out);
  RAFT_ASSERT(encoded);
  if (entry.data.empty()) return;  // proto3 leaves an empty field out.
  // Fields are serialized in number order and data (4) is the last: its tag and length
  // follow the others, then its bytes.
  out->push_back(static_cast<char>(
      WireFormatLite::MakeTag(4, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)));
  uint64_t length = entry.data.size();
  for (; length >= 0x80; length >>= 7) out->push_back(static_cast<char>((length & 0x7f) | 0x80));
  out->push_back(static_cast<char>(length));
}

void encode_hard_state(const raft::HardState& hard_state, std::string* out) {
  pb::HardState message;
  to_proto(hard_state, &message);
  const bool encoded = message.AppendToString(out);
  RAFT_ASSERT(encoded);  // Only fails past 2 GiB, which callers bound.
}

void encode_snapshot_meta(const raft::SnapshotMeta& meta, std::string* out) {
  pb::SnapshotMeta message;
  to_proto(meta, &message);
  const bool encoded = message.AppendToString(out);
  RAFT_ASSERT(encoded);  // Only fails past 2 GiB, which callers bound.
}

Status decode_entry(std::string_view bytes, raft::Entry* out) {
  pb::Entry message;
  Status parsed = parse(bytes, "entry", &message);
  if (!parsed.is_ok()) return parsed;
  return from_proto(std::move(message), out);
}

Status decode_hard_state(std::string_view bytes, raft::HardState* out) {
  pb::HardState message;
  Status parsed = parse(bytes, "hard state", &message);
  if (!parsed.is_ok()) return parsed;
  from_proto(message, out);
  return Status::ok();
}

Status decode_snapshot_meta(std::string_view bytes, raft::SnapshotMeta* out) {
  pb::SnapshotMeta message;
  Status parsed = parse(bytes, "snapshot meta", &message);
  if (!parsed.is_ok()) return parsed;
  from_proto(message, out);
  return Status::ok();
}

Status decode_entry_view(std::string_view bytes, EntryView* out) {
  using google::protobuf::internal::WireFormatLite;
  Status size_ok = check_size(bytes, "entry");
  if (!size_ok.is_ok()) return size_ok;
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(bytes.data()),
                                               static_cast<int>(bytes.size()));
  uint64_t index_value = 0;
  uint64_t term_value = 0;
  uint32_t type = 0;
  std::string_view data;
  // Each field's last occurrence wins, as in ParseFromArray; a known field number with another
  // wire type is an unknown field to it, skipped here too.
  while (true) {
    const uint32_t tag = input.ReadTag();
    if (tag == 0) break;  // End of input (or an invalid zero tag, which ParseFrom rejects too).
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const auto wire_type = WireFormatLite::GetTagWireType(tag);
    bool ok = true;
    if ((field == 1 || field == 2) && wire_type == WireFormatLite::WIRETYPE_VARINT) {
      ok = input.ReadVarint64(field == 1 ? &term_value : &index_value);
    } else if (field == 3 && wire_type == WireFormatLite::WIRETYPE_VARINT) {
      ok = input.ReadVarint32(&type);
    } else if (field == 4 && wire_type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t length = 0;
      ok = input.ReadVarint32(&length) && length <= bytes.size();
      const auto start = static_cast<size_t>(input.CurrentPosition());
      ok = ok && input.Skip(static_cast<int>(length));  // False past the end.
      if (ok) data = bytes.substr(start, length);
    } else {
      ok = WireFormatLite::SkipField(&input, tag);
    }
    if (!ok) return Status(ErrorCode::Corruption, "malformed entry");
  }
  if (!input.ConsumedEntireMessage() || input.CurrentPosition() != static_cast<int>(bytes.size())) {
    return Status(ErrorCode::Corruption, "malformed entry");
  }
  Status typed = to_entry_type(type, &out->type);
  if (!typed.is_ok()) return typed;
  out->index = Index{index_value};
  out->term = Term{term_value};
  out->data = data;
  return Status::ok();
}

void encode_log_reset(Index index, Term term, std::string* out) {
  pb::LogReset message;
  message.set_index(index.value());
  message.set_term(term.value());
  const bool encoded = message.AppendToString(out);
  RAFT_ASSERT(encoded);  // Only fails past 2 GiB, which callers bound.
}

Status decode_log_reset(std::string_view bytes, Index* index, Term* term) {
  pb::LogReset message;
  Status parsed = parse(bytes, "log reset", &message);
  if (!parsed.is_ok()) return parsed;
  *index = Index{message.index()};
  *term = Term{message.term()};
  return Status::ok();
}

}  // namespace raftkv::proto
