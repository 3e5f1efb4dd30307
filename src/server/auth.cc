#include "server/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>

#include "common/assert.h"

namespace raftkv::server {

std::string password_hash(std::string_view password) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const int ok = EVP_Digest(password.data(), password.size(), digest, &length, EVP_sha256(),
                            nullptr);
  RAFT_ASSERT(ok == 1);  // SHA-256 of bytes in memory cannot fail short of a broken OpenSSL.
  RAFT_ASSERT(length == 32);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

bool hashes_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string source_of(const std::string& addr) {
  const size_t colon = addr.rfind(':');
  return colon == std::string::npos ? addr : addr.substr(0, colon);
}

std::string protected_mode_error() {
  return "-DENIED raftkv is running in protected mode because protected mode is enabled and no "
         "password is set for the default user. In this mode connections are only accepted "
         "from the loopback interface. If you want to connect from external computers to "
         "raftkv you may adopt one of the following solutions: 1) Set a password for the "
         "default user: restart the node with '--requirepass <password>' (or 'requirepass' in "
         "its --config file), then AUTH with it. 2) If you started the node only for testing "
         "and MAKE SURE it is not reachable from the internet, restart it with "
         "'--protected-mode no' (or 'protected-mode no' in its --config file). 3) Connect "
         "from the node's own host, over the loopback interface. NOTE: You only need to do one "
         "of the above things in order for the node to start accepting connections from the "
         "outside.\r\n";
}

AuthLimiter::AuthLimiter(uint32_t burst, uint32_t per_s)
    : interval_ms_(std::max<uint64_t>(1000 / std::max<uint32_t>(per_s, 1), 1)),
      slack_ms_((std::max<uint32_t>(burst, 1) - 1) * interval_ms_) {
  RAFT_ASSERT(interval_ms_ >= 1);
  RAFT_ASSERT(slack_ms_ < interval_ms_ * std::max<uint64_t>(burst, 1));
}

uint64_t AuthLimiter::wait_ms(const std::string& source, uint64_t now_ms) const {
  std::lock_guard lock(mu_);
  const auto it = sources_.find(source);
  if (it == sources_.end() || it->second <= now_ms + slack_ms_) return 0;
  return it->second - now_ms - slack_ms_;
}

void AuthLimiter::failed(const std::string& source, uint64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = sources_.find(source);
  if (it == sources_.end()) {
    if (sources_.size() >= kSourcesMax) make_room(now_ms);
    it = sources_.emplace(source, now_ms).first;
  }
  it->second = std::max(it->second, now_ms) + interval_ms_;
  RAFT_ASSERT(sources_.size() <= kSourcesMax);
}

size_t AuthLimiter::sources() const {
  std::lock_guard lock(mu_);
  return sources_.size();
}

void AuthLimiter::make_room(uint64_t now_ms) {
  std::erase_if(sources_, [&](const auto& entry) { return entry.second <= now_ms; });
  if (sources_.size() < kSourcesMax) return;
  // Everyone is over the limit (an attack from many addresses): forget the nearest to its
  // full allowance, which has the least to lose.
  const auto nearest = std::min_element(
      sources_.begin(), sources_.end(),
      [](const auto& a, const auto& b) { return a.second < b.second; });
  sources_.erase(nearest);
  RAFT_ASSERT(sources_.size() < kSourcesMax);
}

}  // namespace raftkv::server
