#include "kv/resp_state_machine.h"

#include "kv/resp_reply.h"

namespace raftkv::kv {
namespace {

std::string resp(const Reply& reply) {
  std::string out;
  resp_append_reply(&out, reply);
  return out;
}

class KvImage final : public runtime::SnapshotImage {
 public:
  explicit KvImage(KvSnapshotView view) : view_(std::move(view)) {}
  [[nodiscard]] Status save(runtime::ByteSink& sink) const override { return view_.save(sink); }

 private:
  KvSnapshotView view_;
};

// Overwrites the little-endian u64 at `offset` of `bytes`.
void put_u64_at(std::string* bytes, size_t offset, uint64_t value) {
  RAFT_ASSERT(offset + 8 <= bytes->size());
  for (size_t i = 0; i < 8; ++i) {
    (*bytes)[offset + i] = static_cast<char>((value >> (8 * i)) & 0xff);
  }
}

}  // namespace

std::string RespStateMachine::to_entry(std::string request, uint64_t now_ms) {
  // The current encoding has the timestamp and the limit at fixed places: stamp them without
  // decoding the whole command (a value may be large). An ill-formed entry still applies as
  // an error.
  if (request.size() >= 17 && static_cast<uint8_t>(request[0]) == kCommandVersion) {
    put_u64_at(&request, 1, now_ms);
    if (value_bytes_max_ != 0) put_u64_at(&request, 9, value_bytes_max_);
    return request;
  }
  Result<Command> command = decode_command(request);
  if (!command.is_ok()) return request;  // Applies as an error reply, on every node alike.
  command.value().timestamp_ms = now_ms;
  if (value_bytes_max_ != 0) command.value().value_bytes_max = value_bytes_max_;
  return encode_command(command.value());
}

std::optional<std::string> RespStateMachine::maintenance(uint64_t now_ms) {
  std::optional<Command> sweep = machine_.sweep_due(now_ms);
  if (!sweep) return std::nullopt;
  return encode_command(*sweep);  // to_entry() stamps it, like a client's write.
}

std::string RespStateMachine::apply(Index index, std::string_view entry) {
  return resp(machine_.apply(index, entry));
}

std::string RespStateMachine::query(std::string_view request, uint64_t now_ms) const {
  Result<Command> command = decode_command(request);
  if (!command.is_ok() || !is_read_only(command.value())) {
    return resp(Reply::error("ERR malformed read request"));
  }
  const uint64_t seed = now_ms ^ (++queries_ * 0x9e3779b97f4a7c15ULL);
  return resp(machine_.query(std::move(command).value(), now_ms, seed));
}

std::unique_ptr<runtime::SnapshotImage> RespStateMachine::snapshot() const {
  return std::make_unique<KvImage>(machine_.snapshot_view());
}

}  // namespace raftkv::kv
