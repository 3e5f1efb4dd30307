// libFuzzer target for the key-value state machine's decoders of outside bytes: command
// entries (from the log or a peer) and snapshots (from disk or InstallSnapshot). Neither may
// crash, and whatever they accept must be canonical: encoding it again gives the same bytes.
//
// First input byte: even = a command entry, applied to a small state; odd = a snapshot,
// restored in chunks of (byte / 2 + 1) bytes. Built by tests/fuzz/run.sh.
// By hand:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     tests/fuzz/kv_fuzz.cc src/kv/*.cc src/common/assert.cc src/common/logger.cc \
//     src/common/status.cc -lz -o kv_fuzz && ./kv_fuzz -max_total_time=60

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "kv/command.h"
#include "kv/state_machine.h"

namespace {

using raftkv::Index;
using raftkv::kv::Command;
using raftkv::kv::KvStateMachine;

void fuzz_command(std::string_view bytes) {
  raftkv::Result<Command> command = raftkv::kv::decode_command(bytes);
  KvStateMachine machine(raftkv::kv::KvConfig{.session_timeout_ms = 10, .sessions_max = 2});
  (void)machine.apply(Index(1), raftkv::kv::encode_command(Command::register_session(0)));
  (void)machine.apply(Index(2), raftkv::kv::encode_command(Command::set("n", "9")));
  // Applied whether or not it decodes: apply() answers malformed entries with an error.
  (void)machine.apply(Index(3), bytes);
  if (!command.is_ok()) return;
  if (raftkv::kv::encode_command(command.value()) != bytes) std::abort();
  if (raftkv::kv::is_read_only(command.value())) (void)machine.query(command.value());
}

void fuzz_snapshot(std::string_view bytes, size_t chunk_bytes) {
  KvStateMachine machine;
  raftkv::runtime::StringSource reader(bytes, chunk_bytes);
  if (!machine.restore(reader).is_ok()) return;
  raftkv::runtime::StringSink writer;
  if (!machine.save(writer).is_ok()) std::abort();
  if (writer.data() != bytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    fuzz_command(bytes);
  } else {
    fuzz_snapshot(bytes, data[0] / 2 + 1);
  }
  return 0;
}
