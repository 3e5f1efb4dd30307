#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "raft/messages.h"

// The one codec between the core's plain structs (raft/messages.h) and their protobuf
// encodings (proto/storage.proto). Storage uses it for WAL records and snapshot metadata; the
// network will use it for peer messages, so disk and wire agree on one encoding.
//
// Encoding cannot fail. Decoding validates: the bytes come from disk or a peer, so malformed
// input (bad protobuf, out-of-range enum) returns Corruption, never asserts.

namespace raftkv::pb {
class Entry;
class HardState;
class ConfState;
class SnapshotMeta;
}  // namespace raftkv::pb

namespace raftkv::proto {

void to_proto(const raft::Entry& entry, pb::Entry* out);
void to_proto(const raft::HardState& hard_state, pb::HardState* out);
void to_proto(const raft::ConfState& conf_state, pb::ConfState* out);
void to_proto(const raft::SnapshotMeta& meta, pb::SnapshotMeta* out);

// Moves the payload out of `in` rather than copying it; `in` keeps its other fields.
[[nodiscard]] Status from_proto(pb::Entry&& in, raft::Entry* out);
void from_proto(const pb::HardState& in, raft::HardState* out);
void from_proto(const pb::ConfState& in, raft::ConfState* out);
void from_proto(const pb::SnapshotMeta& in, raft::SnapshotMeta* out);

// Serialized forms. encode_* appends to `out` (so a caller can frame in place).
void encode_entry(const raft::Entry& entry, std::string* out);
// Appends the encoding of `entry` up to its data: encode_entry's bytes are these followed by
// entry.data, so a large payload can be written from where it is instead of copied.
void encode_entry_head(const raft::Entry& entry, std::string* out);
void encode_hard_state(const raft::HardState& hard_state, std::string* out);
void encode_snapshot_meta(const raft::SnapshotMeta& meta, std::string* out);

[[nodiscard]] Status decode_entry(std::string_view bytes, raft::Entry* out);
// An encoded entry read where it lies: decode_entry's fields, but `data` views the payload
// inside the encoded bytes instead of copying it.
struct EntryView {
  Term term;
  Index index;
  raft::EntryType type = raft::EntryType::Normal;
  std::string_view data;
};
// Accepts every entry decode_entry accepts, with the same fields, validating the whole message
// without copying or allocating: what WAL replay needs per record (the index and term), and
// what lets a run of entries read from the WAL share the one buffer they were read into.
[[nodiscard]] Status decode_entry_view(std::string_view bytes, EntryView* out);
[[nodiscard]] Status decode_hard_state(std::string_view bytes, raft::HardState* out);
[[nodiscard]] Status decode_snapshot_meta(std::string_view bytes, raft::SnapshotMeta* out);

// A log reset (a leader's snapshot replaced the whole log): the log restarts after
// (index, term).
void encode_log_reset(Index index, Term term, std::string* out);
[[nodiscard]] Status decode_log_reset(std::string_view bytes, Index* index, Term* term);

}  // namespace raftkv::proto
