// libFuzzer target for the ACL rule parser (kv/acl.h), which takes an administrator's bytes
// through ACL SETUSER and every replica's bytes from the log. Rules are the input split at
// NUL. It must never crash; a rejected list must leave the user unchanged; an accepted one
// must give a user whose ACL LIST line, read back as rules by a fresh user, gives the same
// user (the line says everything there is, so a restore or a copy by hand loses nothing).
// Built by tests/fuzz/run.sh. By hand:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     tests/fuzz/acl_fuzz.cc src/kv/acl.cc src/common/assert.cc src/common/logger.cc \
//     src/common/status.cc -o acl_fuzz && ./acl_fuzz -max_total_time=60

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "kv/acl.h"
#include "split.h"

namespace {

using raftkv::kv::AclUser;

// A user with something of everything, so that rules have state to change.
AclUser start_user() {
  AclUser user;
  user.enabled = true;
  user.categories = raftkv::kv::kAclRead;
  user.password_hashes.insert(std::string(64, 'a'));
  return user;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> rules = split(bytes, '\0', 256);
  AclUser user = start_user();
  const AclUser before = user;
  if (!raftkv::kv::acl_apply_rules(rules, &user).is_ok()) {
    if (!(user == before)) std::abort();  // A refused list changes nothing.
    return 0;
  }
  if (user.nopass && !user.password_hashes.empty()) std::abort();
  if (user.password_hashes.size() > raftkv::kv::kAclPasswordsMax) std::abort();
  const std::string line = raftkv::kv::acl_describe("u", user);
  std::vector<std::string> words = split(line, ' ', 1024);
  if (words.size() < 2 || words[0] != "user" || words[1] != "u") std::abort();
  words.erase(words.begin(), words.begin() + 2);
  AclUser again;
  if (!raftkv::kv::acl_apply_rules(words, &again).is_ok()) std::abort();
  if (!(again == user)) std::abort();
  return 0;
}
