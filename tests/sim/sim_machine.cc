#include "sim/sim_machine.h"

#include <vector>

#include "common/assert.h"

namespace raftkv::sim {
namespace {

constexpr std::string_view kKvPrefix = "kv/";
constexpr std::string_view kMagic = "SIMSNAP1";

void put_u64(std::string* out, uint64_t value) {
  for (int shift = 0; shift < 64; shift += 8) out->push_back(static_cast<char>(value >> shift));
}

bool get_u64(std::string_view* in, uint64_t* value) {
  if (in->size() < 8) return false;
  *value = 0;
  for (uint32_t i = 0; i < 8; ++i) {
    *value |= static_cast<uint64_t>(static_cast<uint8_t>((*in)[i])) << (8 * i);
  }
  in->remove_prefix(8);
  return true;
}

// "SIMSNAP1" u64 applied_index u64 list_bytes list [KV snapshot bytes]. The payload list is
// copied when the image is taken (a simulation's lists are short); the KV image is O(1).
class Image final : public runtime::SnapshotImage {
 public:
  Image(Index applied, std::string list, std::unique_ptr<runtime::SnapshotImage> kv)
      : applied_(applied), list_(std::move(list)), kv_(std::move(kv)) {}

  [[nodiscard]] Status save(runtime::ByteSink& sink) const override {
    std::string head(kMagic);
    put_u64(&head, applied_.value());
    put_u64(&head, list_.size());
    head += list_;
    if (Status written = sink.write(head); !written.is_ok()) return written;
    return kv_ ? kv_->save(sink) : Status::ok();
  }

 private:
  Index applied_;
  std::string list_;
  std::unique_ptr<runtime::SnapshotImage> kv_;
};

Status corrupt(const std::string& what) {
  return Status(ErrorCode::Corruption, "simulator snapshot: " + what);
}

}  // namespace

SimMachine::SimMachine(std::optional<kv::KvConfig> kv_config) : kv_config_(kv_config) {
  if (kv_config_) kv_.emplace(*kv_config_);
}

std::string SimMachine::kv_request(uint64_t id, std::string_view command) {
  return std::string(kKvPrefix) + std::to_string(id) + "/" + std::string(command);
}

std::optional<std::string_view> SimMachine::kv_command(std::string_view payload) {
  if (!payload.starts_with(kKvPrefix)) return std::nullopt;
  const size_t slash = payload.find('/', kKvPrefix.size());
  if (slash == std::string_view::npos) return std::nullopt;
  return payload.substr(slash + 1);
}

std::string SimMachine::to_entry(std::string request, uint64_t now_ms) {
  const std::optional<std::string_view> command = kv_command(request);
  if (!kv_ || !command) return request;
  const std::string prefix(request.data(), static_cast<size_t>(command->data() - request.data()));
  return prefix + kv_->to_entry(std::string(*command), now_ms);
}

std::string SimMachine::apply(Index index, std::string_view entry) {
  list_.apply(index, entry);
  const std::optional<std::string_view> command = kv_command(entry);
  if (!kv_) return "+OK\r\n";
  if (!command) {
    kv_->apply_empty(index);
    if (kv_applied_) kv_applied_(index, entry, nullptr);
    return "+OK\r\n";
  }
  std::string reply = kv_->apply(index, *command);
  if (kv_applied_) kv_applied_(index, entry, &reply);
  return reply;
}

void SimMachine::apply_empty(Index index) {
  list_.apply_empty(index);
  if (!kv_) return;
  kv_->apply_empty(index);
  if (kv_applied_) kv_applied_(index, {}, nullptr);
}

void SimMachine::prefetch(std::span<const std::string_view> requests) const {
  if (!kv_) return;
  std::vector<std::string_view> commands;
  for (std::string_view request : requests) {
    if (const std::optional<std::string_view> command = kv_command(request)) {
      commands.push_back(*command);
    }
  }
  kv_->prefetch(commands);
}

std::string SimMachine::query(std::string_view request, uint64_t now_ms) const {
  const std::optional<std::string_view> command = kv_command(request);
  if (kv_ && command) return kv_->query(*command, now_ms);
  return std::to_string(list_.payloads().size());
}

std::unique_ptr<runtime::SnapshotImage> SimMachine::snapshot() const {
  return std::make_unique<Image>(list_.applied(), list_.encode(),
                                 kv_ ? kv_->snapshot() : nullptr);
}

Status SimMachine::restore(runtime::ByteSource& source) {
  std::string bytes;
  std::string buffer(64 * 1024, '\0');
  while (true) {
    Result<size_t> got = source.read(std::span<char>(buffer.data(), buffer.size()));
    if (!got.is_ok()) return got.status();
    if (got.value() == 0) break;
    bytes.append(buffer.data(), got.value());
  }
  std::string_view in(bytes);
  if (!in.starts_with(kMagic)) return corrupt("bad magic");
  in.remove_prefix(kMagic.size());
  uint64_t applied = 0;
  uint64_t list_bytes = 0;
  if (!get_u64(&in, &applied) || !get_u64(&in, &list_bytes) || in.size() < list_bytes) {
    return corrupt("truncated");
  }
  std::vector<std::string> payloads;
  if (!SimStateMachine::decode(in.substr(0, list_bytes), &payloads)) return corrupt("bad list");
  in.remove_prefix(list_bytes);
  if (kv_) {
    kv::RespStateMachine restored(*kv_config_);
    runtime::StringSource kv_source(in);
    if (Status status = restored.restore(kv_source); !status.is_ok()) return status;
    if (restored.applied_index() != Index{applied}) return corrupt("KV at another index");
    kv_ = std::move(restored);
  } else if (!in.empty()) {
    return corrupt("trailing bytes");
  }
  list_.restore(Index{applied}, std::move(payloads));
  return Status::ok();
}

}  // namespace raftkv::sim
