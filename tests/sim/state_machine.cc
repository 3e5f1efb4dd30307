#include "sim/state_machine.h"

#include "common/assert.h"

namespace raftkv::sim {

void SimStateMachine::apply(Index index, std::string_view payload) {
  apply_empty(index);
  payloads_.emplace_back(payload);
  payload_set_.emplace(payload);
}

void SimStateMachine::apply_empty(Index index) {
  RAFT_ASSERT(index == applied_ + 1);
  applied_ = index;
}

void SimStateMachine::restore(Index index, std::vector<std::string> payloads) {
  applied_ = index;
  payloads_ = std::move(payloads);
  payload_set_.clear();
  payload_set_.insert(payloads_.begin(), payloads_.end());
  RAFT_ASSERT(payload_set_.size() <= payloads_.size());
}

std::string SimStateMachine::encode() const {
  std::string out;
  for (const std::string& payload : payloads_) {
    RAFT_ASSERT(payload.size() < (uint64_t{1} << 32));
    const auto size = static_cast<uint32_t>(payload.size());
    for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>(size >> shift));
    out += payload;
  }
  return out;
}

bool SimStateMachine::decode(std::string_view data, std::vector<std::string>* payloads) {
  RAFT_ASSERT(payloads != nullptr);
  payloads->clear();
  size_t offset = 0;
  while (offset < data.size()) {
    if (data.size() - offset < 4) return false;
    uint32_t size = 0;
    for (uint32_t i = 0; i < 4; ++i) {
      size |= static_cast<uint32_t>(static_cast<uint8_t>(data[offset + i])) << (8 * i);
    }
    offset += 4;
    if (data.size() - offset < size) return false;
    payloads->emplace_back(data.substr(offset, size));
    offset += size;
  }
  return true;
}

}  // namespace raftkv::sim
