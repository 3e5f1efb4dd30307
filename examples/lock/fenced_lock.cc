#include "fenced_lock.h"

#include <charconv>
#include <thread>

namespace raftkv::lock {
namespace {

using client::Exchange;
using client::Reply;
using client::ReplyType;

constexpr std::chrono::milliseconds kAttemptTimeout{5000};
constexpr int kWriteAttemptsMax = 20;

Status unavailable(const std::string& why) { return {ErrorCode::Unavailable, why}; }

std::optional<uint64_t> parse_token(const Reply& reply) {
  if (reply.type == ReplyType::Nil) return 0;  // No write yet: any token passes.
  if (reply.type != ReplyType::Bulk) return std::nullopt;
  uint64_t token = 0;
  const char* end = reply.text.data() + reply.text.size();
  const auto [at, error] = std::from_chars(reply.text.data(), end, token);
  if (error != std::errc() || at != end) return std::nullopt;
  return token;
}

// One attempt of FencedStore::write on `connection`: WATCH, read the fence, then either
// refuse or MULTI/EXEC. nullopt: the fence moved between WATCH and EXEC, try again.
Result<std::optional<FencedStore::Written>> attempt(client::Connection& connection,
                                                    const std::string& name, uint64_t token,
                                                    const std::string& data, uint64_t* fence) {
  const auto deadline = client::SteadyClock::now() + kAttemptTimeout;
  const std::string fence_key = "fence:" + name;
  Exchange read = connection.exchange({{"WATCH", fence_key}, {"GET", fence_key}}, deadline);
  if (read.kind != Exchange::Kind::Replied) return unavailable("WATCH: " + read.detail);
  const std::optional<uint64_t> seen = parse_token(read.replies[1]);
  if (!seen) return Status(ErrorCode::Corruption, "the fence is not a number");
  if (*seen > token) {
    *fence = *seen;
    (void)connection.call({"UNWATCH"}, deadline);
    return std::optional(FencedStore::Written::Refused);
  }
  Exchange write = connection.exchange({{"MULTI"},
                                        {"SET", fence_key, std::to_string(token)},
                                        {"SET", "data:" + name, data},
                                        {"EXEC"}},
                                       deadline);
  if (write.kind == Exchange::Kind::NotSent) return unavailable("EXEC: " + write.detail);
  if (write.kind == Exchange::Kind::Lost) {
    return Status(ErrorCode::IoError, "EXEC's reply was lost: written or not, unknown");
  }
  const Reply& exec = write.replies.back();
  if (exec.type == ReplyType::Nil) return std::optional<FencedStore::Written>();  // Moved.
  if (exec.type != ReplyType::Array) {
    return Status(ErrorCode::InvalidArgument, "EXEC answered " + client::format_reply(exec));
  }
  *fence = token;
  return std::optional(FencedStore::Written::Ok);
}

}  // namespace

Result<std::optional<Lease>> FencedLock::try_acquire(const std::string& name,
                                                     std::chrono::milliseconds ttl) {
  // The lease and its token in one transaction, so one log entry: tokens grow in the order
  // leases are granted. Drawn apart, in either order, a holder paused between the two steps
  // would carry a token out of that order (README.md shows how that breaks the fence).
  // The INCR applies even when the SET finds the lock held: a token is then skipped.
  const client::Outcome taken = client_.transaction(
      {{"SET", "lock:" + name, "held", "NX", "PX", std::to_string(ttl.count())},
       {"INCR", "lock:" + name + ":fence"}});
  if (!taken.ok()) return unavailable("MULTI SET NX PX, INCR: " + taken.detail + taken.reply.text);
  const std::vector<Reply>& replies = taken.reply.elements;
  if (replies.size() != 2 || replies[1].type != ReplyType::Integer) {
    return Status(ErrorCode::InvalidArgument, "EXEC answered " + client::format_reply(taken.reply));
  }
  if (replies[0].type == ReplyType::Nil) return std::optional<Lease>();  // Held by another.
  return std::optional(Lease{name, static_cast<uint64_t>(replies[1].integer), ttl});
}

Result<FencedStore::Written> FencedStore::write(const std::string& name, uint64_t token,
                                                const std::string& data, uint64_t* fence) {
  for (int round = 0; round < kWriteAttemptsMax; ++round) {
    for (const client::Endpoint& endpoint : endpoints_) {
      Result<std::unique_ptr<client::Connection>> connection = client::SocketConnection::open(
          endpoint, client::SteadyClock::now() + kAttemptTimeout);
      if (!connection.is_ok()) continue;
      Result<std::optional<Written>> done = attempt(*connection.value(), name, token, data,
                                                    fence);
      if (!done.is_ok() && done.status().code() == ErrorCode::Unavailable) continue;
      if (!done.is_ok()) return done.status();
      if (done.value()) return *done.value();
      break;  // The fence moved under the WATCH: read it again.
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 * (round + 1)));
  }
  return unavailable("no write went through in " + std::to_string(kWriteAttemptsMax) +
                     " rounds");
}

}  // namespace raftkv::lock
