// libFuzzer target for the RESP2 request parser (src/net/resp_parser.h): bytes from any
// client must never crash it, and how they are chunked must never change what it parses.
//
// The first input byte seeds the chunk sizes; the rest is the client's byte stream, parsed
// once whole and once in pseudo-random chunks (1..64 bytes). Both runs must yield the same
// commands, refusals and error. Small limits make the limit paths reachable; the seeds
// (fuzz_seed_corpus) hold bulk-length headers at, just over and far over them, so refusing a
// command and skipping its bytes is explored from the start. Bulk strings from 8 bytes on
// that a chunk cuts are received into strings of their own, so that path meets the other.
//
// Built by tests/fuzz/run.sh; by hand:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     tests/fuzz/resp_fuzz.cc src/net/resp_parser.cc src/common/assert.cc \
//     src/common/logger.cc -o resp_fuzz && ./resp_fuzz -max_total_time=60

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "net/resp_parser.h"

namespace {

using raftkv::net::RespLimits;
using raftkv::net::RespParser;

struct Parsed {
  std::vector<std::vector<std::string>> commands;
  std::string error;
  bool operator==(const Parsed&) const = default;
};

void drain(RespParser* parser, const RespLimits& limits, Parsed* parsed) {
  std::vector<std::string_view> args;
  while (parsed->error.empty()) {
    const RespParser::Outcome outcome = parser->next(&args);
    if (outcome == RespParser::Outcome::NeedMore) return;
    if (outcome == RespParser::Outcome::Refused) {
      if (parser->refusal().rfind("ERR ", 0) != 0) std::abort();
      parsed->commands.push_back({"refused: " + parser->refusal()});
      continue;
    }
    if (outcome == RespParser::Outcome::Error) {
      parsed->error = parser->error();
      if (parsed->error.rfind("ERR Protocol error: ", 0) != 0) std::abort();
      return;
    }
    // Arrays are bounded by the array limit, inline commands by their line length.
    if (args.empty()) std::abort();
    if (args.size() > limits.array_length_max && args.size() > limits.inline_bytes_max) {
      std::abort();
    }
    std::vector<std::string> copy;
    size_t bulk_bytes = 0;
    for (std::string_view arg : args) {
      bulk_bytes += arg.size();
      // Inline arguments are bounded by the line, bulk ones by the bulk limit.
      if (arg.size() > limits.bulk_bytes_max && arg.size() > limits.inline_bytes_max) {
        std::abort();
      }
      copy.emplace_back(arg);
    }
    // A command over the request limit is refused, never returned (inline ones are bounded
    // by their line instead).
    if (bulk_bytes > limits.request_bytes_max && bulk_bytes > limits.inline_bytes_max) {
      std::abort();
    }
    parsed->commands.push_back(std::move(copy));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint32_t seed = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const RespLimits limits{.bulk_bytes_max = 256, .request_bytes_max = 512,
                          .inline_bytes_max = 128, .array_length_max = 16,
                          .owned_bulk_bytes_min = 8};

  RespParser whole_parser(limits);
  Parsed whole;
  whole_parser.feed(input);
  drain(&whole_parser, limits, &whole);

  RespParser chunked_parser(limits);
  Parsed chunked;
  for (size_t at = 0; at < input.size();) {
    seed = seed * 1103515245u + 12345u;  // A fixed LCG: the run replays from the input.
    const size_t take = std::min<size_t>(1 + (seed >> 16) % 64, input.size() - at);
    chunked_parser.feed(input.substr(at, take));
    at += take;
    drain(&chunked_parser, limits, &chunked);
  }
  if (!(whole == chunked)) std::abort();
  return 0;
}
