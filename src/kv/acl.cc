#include "kv/acl.h"

#include <array>
#include <utility>

#include "common/assert.h"

namespace raftkv::kv {
namespace {

struct CategoryName {
  std::string_view name;
  uint8_t bits;
};

constexpr std::array kCategories = {
    CategoryName{"read", kAclRead},
    CategoryName{"write", kAclWrite},
    CategoryName{"admin", kAclAdmin},
    CategoryName{"all", kAclAll},
};

// Rules Redis takes that mean nothing here: raftkv has no key or channel restrictions, every
// user reaches every key.
constexpr std::array<std::string_view, 6> kAcceptedNoOps = {
    "~*", "allkeys", "resetkeys", "&*", "allchannels", "resetchannels",
};

Status refused(std::string_view rule, std::string_view why) {
  // A rule is echoed as Redis does; only hashes reach here, never a plaintext password.
  return {ErrorCode::InvalidArgument,
          "ERR Error in ACL SETUSER modifier '" + std::string(rule) + "': " + std::string(why)};
}

// +@name or -@name; false when `rule` is not of that form or names no category.
bool apply_category(std::string_view rule, AclUser* user) {
  if (rule.size() < 3 || (rule[0] != '+' && rule[0] != '-') || rule[1] != '@') return false;
  const std::string_view name = rule.substr(2);
  for (const CategoryName& category : kCategories) {
    if (category.name != name) continue;
    if (rule[0] == '+') {
      user->categories = static_cast<uint8_t>(user->categories | category.bits);
    } else {
      user->categories = static_cast<uint8_t>(user->categories & ~category.bits);
    }
    return true;
  }
  return false;
}

// #<hex> adds a password, !<hex> removes one.
Status apply_hash(std::string_view rule, AclUser* user) {
  RAFT_ASSERT(!rule.empty());
  RAFT_ASSERT(rule[0] == '#' || rule[0] == '!');
  const std::string_view hex = rule.substr(1);
  if (!acl_hash_ok(hex)) {
    return refused(rule, "The password hash must be exactly 64 characters and contain only "
                         "lowercase hexadecimal characters");
  }
  if (rule[0] == '!') {
    if (user->password_hashes.erase(std::string(hex)) == 0) {
      return refused(rule, "The password you are trying to remove from the user does not exist");
    }
    return Status::ok();
  }
  if (!user->password_hashes.contains(std::string(hex)) &&
      user->password_hashes.size() >= kAclPasswordsMax) {
    return refused(rule, "a user has at most " + std::to_string(kAclPasswordsMax) + " passwords");
  }
  user->password_hashes.insert(std::string(hex));
  user->nopass = false;
  return Status::ok();
}

// Rules made of one word.
bool apply_word(std::string_view rule, AclUser* user) {
  if (rule == "on" || rule == "off") {
    user->enabled = rule == "on";
  } else if (rule == "nopass" || rule == "resetpass") {
    user->nopass = rule == "nopass";
    user->password_hashes.clear();
  } else if (rule == "allcommands" || rule == "nocommands") {
    user->categories = rule == "allcommands" ? kAclAll : 0;
  } else if (rule == "reset") {
    *user = AclUser{};
  } else {
    for (std::string_view accepted : kAcceptedNoOps) {
      if (rule == accepted) return true;
    }
    return false;
  }
  return true;
}

Status apply_rule(std::string_view rule, AclUser* user) {
  if (rule.empty()) return refused(rule, "Syntax error");
  if (rule[0] == '>' || rule[0] == '<') {
    return refused("(password)", "plaintext passwords are hashed before they are logged");
  }
  if (rule[0] == '#' || rule[0] == '!') return apply_hash(rule, user);
  if (apply_word(rule, user) || apply_category(rule, user)) return Status::ok();
  if (rule[0] == '~' || rule[0] == '%' || rule[0] == '&') {
    return refused(rule, "raftkv has no key or channel patterns: every user reaches every key");
  }
  return refused(rule, "Unknown command or category name in ACL (raftkv grants the categories "
                       "+@read +@write +@admin +@all)");
}

}  // namespace

bool acl_name_ok(std::string_view name) {
  if (name.empty() || name.size() > kAclNameBytesMax) return false;
  for (const char c : name) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  return true;
}

bool acl_hash_ok(std::string_view hex) {
  if (hex.size() != kAclHashHexChars) return false;
  for (const char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status acl_apply_rules(std::span<const std::string> rules, AclUser* user) {
  RAFT_ASSERT(user != nullptr);
  AclUser changed = *user;
  for (const std::string& rule : rules) {
    if (Status status = apply_rule(rule, &changed); !status.is_ok()) return status;
  }
  RAFT_ASSERT(!changed.nopass || changed.password_hashes.empty());
  RAFT_ASSERT(changed.password_hashes.size() <= kAclPasswordsMax);
  *user = std::move(changed);
  return Status::ok();
}

std::string acl_describe(std::string_view name, const AclUser& user) {
  std::string out = "user " + std::string(name) + (user.enabled ? " on" : " off");
  if (user.nopass) out += " nopass";
  for (const std::string& hash : user.password_hashes) out += " #" + hash;
  out += " ~* &*";
  if (user.categories == kAclAll) return out + " +@all";
  out += " -@all";
  for (const CategoryName& category : kCategories) {
    if (category.bits != kAclAll && (user.categories & category.bits) != 0) {
      out += " +@" + std::string(category.name);
    }
  }
  return out;
}

}  // namespace raftkv::kv
