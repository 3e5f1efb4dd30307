#include "kv/resp_state_machine.h"

#include "kv/resp_reply.h"

namespace raftkv::kv {
namespace {

std::string resp(const Reply& reply) {
  std::string out;
  resp_append_reply(&out, reply);
  return out;
}

// The encoded command's type byte, after the version byte (command.h); 0 when too short.
uint8_t peek_type(std::string_view entry) {
  return entry.size() >= 2 ? static_cast<uint8_t>(entry[1]) : 0;
}

class KvImage final : public runtime::SnapshotImage {
 public:
  explicit KvImage(KvSnapshotView view) : view_(std::move(view)) {}
  [[nodiscard]] Status save(runtime::ByteSink& sink) const override { return view_.save(sink); }

 private:
  KvSnapshotView view_;
};

}  // namespace

std::string RespStateMachine::to_entry(std::string request, uint64_t now_ms) {
  const uint8_t type = peek_type(request);
  if (type != static_cast<uint8_t>(CommandType::Session) &&
      type != static_cast<uint8_t>(CommandType::RegisterSession)) {
    return request;  // No clock needed: logged as it came.
  }
  Result<Command> command = decode_command(request);
  if (!command.is_ok()) return request;  // Applies as an error reply, on every node alike.
  command.value().timestamp_ms = now_ms;
  return encode_command(command.value());
}

std::string RespStateMachine::apply(Index index, std::string_view entry) {
  return resp(machine_.apply(index, entry));
}

std::string RespStateMachine::query(std::string_view request, uint64_t /*now_ms*/) const {
  Result<Command> command = decode_command(request);
  if (!command.is_ok() || !is_read_only(command.value())) {
    return resp(Reply::error("ERR malformed read request"));
  }
  return resp(machine_.query(command.value()));
}

std::unique_ptr<runtime::SnapshotImage> RespStateMachine::snapshot() const {
  return std::make_unique<KvImage>(machine_.snapshot_view());
}

}  // namespace raftkv::kv
