// libFuzzer target for the key-value state machine's decoders of outside bytes: command
// entries (from the log or a peer), snapshots (from disk or InstallSnapshot), and the
// argument parsers of the Redis commands the store runs (kv/commands.h: integers, floats,
// cursors, glob patterns, options), which take a client's bytes. None may crash; entries and
// snapshots of the current formats that they accept must be canonical: encoding them again
// gives the same bytes.
//
// First input byte % 3: 0 = a command entry, applied to a small state; 1 = a snapshot,
// restored in chunks of (byte / 3 + 1) bytes; 2 = a command line (arguments separated by
// NUL, the first picking the command), applied and, for a read, queried. Built by
// tests/fuzz/run.sh.
// By hand:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     tests/fuzz/kv_fuzz.cc src/kv/*.cc src/protocol/*.cc src/net/resp_encoder.cc \
//     src/common/assert.cc src/common/logger.cc src/common/status.cc -lz -o kv_fuzz && \
//     ./kv_fuzz -max_total_time=60

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "kv/command.h"
#include "kv/commands.h"
#include "kv/state_machine.h"
#include "protocol/command_table.h"

namespace {

using raftkv::Index;
using raftkv::kv::Command;
using raftkv::kv::KvStateMachine;

// A small state with a string, a counter, a hash and a key with a deadline.
KvStateMachine small_state() {
  KvStateMachine machine(raftkv::kv::KvConfig{.session_timeout_ms = 10, .sessions_max = 2,
                                              .value_bytes_max = 1 << 16});
  Command hash = Command::call({"hset", "h", "f", "1.5", "g", "x"});
  Command expiring = Command::call({"set", "e", "v", "PX", "50"});
  expiring.timestamp_ms = 1000;
  (void)machine.apply(Index(1), raftkv::kv::encode_command(Command::register_session(0)));
  (void)machine.apply(Index(2), raftkv::kv::encode_command(Command::set("n", "9")));
  (void)machine.apply(Index(3), raftkv::kv::encode_command(hash));
  (void)machine.apply(Index(4), raftkv::kv::encode_command(expiring));
  return machine;
}

void fuzz_command(std::string_view bytes) {
  raftkv::Result<Command> command = raftkv::kv::decode_command(bytes);
  KvStateMachine machine = small_state();
  // The prefetch hint reads outside bytes too; it must stay within them and change nothing.
  const std::string_view hinted[] = {bytes};
  machine.prefetch(hinted);
  // Applied whether or not it decodes: apply() answers malformed entries with an error.
  (void)machine.apply(Index(5), bytes);
  if (!command.is_ok()) return;
  // Entries of versions 1 and 2 (earlier releases') decode too, and encode as version 3.
  if (bytes[0] == raftkv::kv::kCommandVersion &&
      raftkv::kv::encode_command(command.value()) != bytes) {
    std::abort();
  }
  if (raftkv::kv::is_read_only(command.value())) (void)machine.query(command.value(), 1020);
}

void fuzz_snapshot(std::string_view bytes, size_t chunk_bytes) {
  KvStateMachine machine;
  raftkv::runtime::StringSource reader(bytes, chunk_bytes);
  if (!machine.restore(reader).is_ok()) return;
  raftkv::runtime::StringSink writer;
  if (!machine.save(writer).is_ok()) std::abort();
  // Formats 1 to 3 (earlier releases') restore too, and save as format 4.
  if (bytes.starts_with("RKVKVSM4") && writer.data() != bytes) std::abort();
}

// A client's command line: `selector` picks one of the store's commands, `bytes` holds its
// arguments separated by NUL. Run as a write (through the log) and, when it only reads, as a
// query, at a time around the deadline of "e".
void fuzz_command_line(uint8_t selector, std::string_view bytes) {
  std::vector<std::string_view> names;
  for (const raftkv::protocol::CommandSpec& spec : raftkv::protocol::all_commands()) {
    if (raftkv::kv::is_store_command(spec)) names.push_back(spec.name);
  }
  std::vector<std::string> args{std::string(names[selector % names.size()])};
  for (size_t at = 0; at <= bytes.size() && args.size() < 64;) {
    const size_t end = std::min(bytes.find('\0', at), bytes.size());
    args.emplace_back(bytes.substr(at, end - at));
    at = end + 1;
  }
  const raftkv::protocol::CommandSpec* spec = raftkv::protocol::find_command(args[0]);
  while (!spec->arity_ok(args.size()) && args.size() > 1) args.pop_back();
  if (!spec->arity_ok(args.size())) return;
  Command command = Command::call(args);
  KvStateMachine machine = small_state();
  if (raftkv::kv::is_read_only(command)) (void)machine.query(command, 1000 + selector / 4);
  command.timestamp_ms = 1000 + selector / 4;
  (void)machine.apply(Index(5), raftkv::kv::encode_command(command));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: fuzz_command(bytes); break;
    case 1: fuzz_snapshot(bytes, data[0] / 3 + 1); break;
    default: fuzz_command_line(data[0], bytes); break;
  }
  return 0;
}
