#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

// The pieces of client authentication that are not commands (acl_commands.h has those):
// password hashing, the node's own settings for its default user and protected mode, and the
// per-source limit on failed AUTH attempts.
namespace raftkv::server {

// SHA-256 of `password` as 64 lower-case hex digits (OpenSSL), the form ACL users keep
// (kv/acl.h). Unsalted, as Redis keeps them: the digest stands in for the password in the
// log and snapshots; it does not make a weak password strong.
[[nodiscard]] std::string password_hash(std::string_view password);

// Equality of two digests in time independent of where they differ (CRYPTO_memcmp).
[[nodiscard]] bool hashes_equal(std::string_view a, std::string_view b);

// The address part of "ip:port" (CLIENT LIST's addr), for IPv6 too.
[[nodiscard]] std::string source_of(const std::string& addr);

// Each node's own settings, as Redis': not replicated.
struct AuthOptions {
  // The default user's password (Redis' requirepass); empty: the default user takes any.
  std::string requirepass;
  // With no requirepass, refuse clients from outside the loopback interface (Redis' protected
  // mode) with a -DENIED error saying how to open the node.
  bool protected_mode = true;
  // Failed AUTH attempts a source may make at once, and how fast it earns them back.
  uint32_t auth_failures_burst = 10;
  uint32_t auth_failures_per_s = 1;
};

// The -DENIED reply protected mode answers a non-loopback client with before closing.
[[nodiscard]] std::string protected_mode_error();

// Limits failed AUTH attempts per source address (a token bucket, kept as GCRA's theoretical
// arrival time): a source may fail `burst` times at once, then once per 1/`per_s` s. While a
// source is over its limit, its AUTH attempts are refused without a look at the password, so
// a password cannot be guessed faster than that. Remembers at most kSourcesMax sources: when
// full, it forgets those back at their full allowance, then the one closest to it.
// The node has one (main.cc), for failed AUTH on the client ports and wrong bearer tokens on
// the HTTP listener, so a source guessing at both gets one allowance, not two.
// Thread-safe: the client server's io thread and the HTTP server's threads share it.
class AuthLimiter {
 public:
  static constexpr size_t kSourcesMax = 10'000;

  AuthLimiter(uint32_t burst, uint32_t per_s);

  // 0 when `source` may try now, else the milliseconds until it may.
  [[nodiscard]] uint64_t wait_ms(const std::string& source, uint64_t now_ms) const;
  // Records a failed attempt of `source` at `now_ms`.
  void failed(const std::string& source, uint64_t now_ms);

  [[nodiscard]] size_t sources() const;

 private:
  void make_room(uint64_t now_ms);  // Needs mu_ held.

  const uint64_t interval_ms_;  // Earning back one attempt.
  const uint64_t slack_ms_;     // (burst - 1) intervals: how far ahead of now a source may be.
  mutable std::mutex mu_;  // Guards sources_.
  // Per source: when it is back at its full allowance.
  std::map<std::string, uint64_t> sources_;
};

}  // namespace raftkv::server
