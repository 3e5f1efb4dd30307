#include "kv/acl.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "kv_test_util.h"

namespace raftkv::kv {
namespace {

using testing::bulk;
using testing::Driver;
using testing::integer;

const std::string kHashA(64, 'a');
const std::string kHashB = std::string(63, '0') + "f";

Status apply(std::vector<std::string> rules, AclUser* user) { return acl_apply_rules(rules, user); }

TEST(AclRules, NewUserStartsDisabledWithNothing) {
  AclUser user;
  ASSERT_TRUE(apply({}, &user).is_ok());
  EXPECT_FALSE(user.enabled);
  EXPECT_EQ(user.categories, 0);
  EXPECT_EQ(acl_describe("bob", user), "user bob off ~* &* -@all");
}

TEST(AclRules, AppliesInOrder) {
  AclUser user;
  ASSERT_TRUE(apply({"on", "#" + kHashA, "+@all", "-@admin", "~*"}, &user).is_ok());
  EXPECT_TRUE(user.enabled);
  EXPECT_EQ(user.categories, kAclRead | kAclWrite);
  EXPECT_EQ(acl_describe("bob", user), "user bob on #" + kHashA + " ~* &* -@all +@read +@write");
  ASSERT_TRUE(apply({"!" + kHashA, "nopass", "allcommands"}, &user).is_ok());
  EXPECT_TRUE(user.nopass);
  EXPECT_TRUE(user.password_hashes.empty());
  EXPECT_EQ(acl_describe("bob", user), "user bob on nopass ~* &* +@all");
}

TEST(AclRules, PasswordHashAfterNopassClearsIt) {
  AclUser user;
  ASSERT_TRUE(apply({"nopass", "#" + kHashA, "#" + kHashB}, &user).is_ok());
  EXPECT_FALSE(user.nopass);
  EXPECT_EQ(user.password_hashes.size(), 2u);
  ASSERT_TRUE(apply({"resetpass"}, &user).is_ok());
  EXPECT_TRUE(user.password_hashes.empty());
  EXPECT_FALSE(user.nopass);
}

TEST(AclRules, BadRuleChangesNothingAndNamesTheRule) {
  AclUser user;
  ASSERT_TRUE(apply({"on", "+@read"}, &user).is_ok());
  const AclUser before = user;
  const Status status = apply({"off", "+@bogus"}, &user);
  EXPECT_EQ(status.message(),
            "ERR Error in ACL SETUSER modifier '+@bogus': Unknown command or category name in "
            "ACL (raftkv grants the categories +@read +@write +@admin +@all)");
  EXPECT_EQ(user, before);
}

TEST(AclRules, RefusesMalformedHashesPlaintextAndKeyPatterns) {
  AclUser user;
  EXPECT_FALSE(apply({"#" + std::string(63, 'a')}, &user).is_ok());
  EXPECT_FALSE(apply({"#" + std::string(64, 'A')}, &user).is_ok());
  EXPECT_FALSE(apply({"!" + kHashA}, &user).is_ok());  // Not a password of the user.
  const Status plaintext = apply({">secret"}, &user);
  EXPECT_FALSE(plaintext.is_ok());
  EXPECT_EQ(plaintext.message().find("secret"), std::string::npos) << plaintext.message();
  EXPECT_FALSE(apply({"~user:*"}, &user).is_ok());
  EXPECT_FALSE(apply({""}, &user).is_ok());
  EXPECT_FALSE(apply({"+get"}, &user).is_ok());
  EXPECT_EQ(user, AclUser{});
}

TEST(AclRules, BoundsPasswordsPerUser) {
  AclUser user;
  for (size_t i = 0; i < kAclPasswordsMax; ++i) {
    std::string hash(64, '0');
    hash[0] = "0123456789abcdef"[i % 16];
    ASSERT_TRUE(apply({"#" + hash}, &user).is_ok()) << i;
  }
  EXPECT_FALSE(apply({"#" + std::string(64, 'e') + ""}, &user).is_ok());
  EXPECT_EQ(user.password_hashes.size(), kAclPasswordsMax);
}

TEST(AclNames, RefusesSpacesControlBytesAndLongNames) {
  EXPECT_TRUE(acl_name_ok("alice"));
  EXPECT_FALSE(acl_name_ok(""));
  EXPECT_FALSE(acl_name_ok("a b"));
  EXPECT_FALSE(acl_name_ok(std::string("a\0b", 3)));
  EXPECT_FALSE(acl_name_ok(std::string(kAclNameBytesMax + 1, 'x')));
}

TEST(AclStateMachine, SetUserListGetUserDelUser) {
  Driver kv;
  EXPECT_EQ(kv.apply(Command::acl_setuser("bob", {"on", "#" + kHashA, "+@read"})), Reply::ok());
  EXPECT_EQ(kv.apply(Command::acl_setuser("al", {"on", "nopass", "+@all"})), Reply::ok());
  EXPECT_EQ(kv.query(Command::acl_list()),
            Reply::array({bulk("user al on nopass ~* &* +@all"),
                          bulk("user bob on #" + kHashA + " ~* &* -@all +@read")}));
  EXPECT_EQ(kv.query(Command::acl_getuser("bob")), bulk("on 1 pass " + kHashA));
  EXPECT_EQ(kv.query(Command::acl_getuser("al")), bulk("on 7 nopass"));
  EXPECT_EQ(kv.query(Command::acl_getuser("nobody")), Reply::nil());
  EXPECT_EQ(kv.apply(Command::acl_deluser({"bob", "nobody"})), integer(1));
  EXPECT_EQ(kv.query(Command::acl_getuser("bob")), Reply::nil());
}

TEST(AclStateMachine, DefaultUserIsEachNodesOwn) {
  Driver kv;
  EXPECT_TRUE(kv.apply(Command::acl_setuser("default", {"off"})).is_error());
  EXPECT_TRUE(kv.apply(Command::acl_deluser({"x", "default"})).is_error());
  EXPECT_TRUE(kv.apply(Command::acl_setuser("a b", {"on"})).is_error());
  EXPECT_EQ(kv.query(Command::acl_list()), Reply::array({}));
}

TEST(AclStateMachine, BadRuleAppliesAsAnErrorAndChangesNothing) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::acl_setuser("bob", {"on", "+@read"})), Reply::ok());
  EXPECT_TRUE(kv.apply(Command::acl_setuser("bob", {"off", "+@nope"})).is_error());
  EXPECT_EQ(kv.query(Command::acl_getuser("bob")), bulk("on 1 pass"));
}

TEST(AclStateMachine, AclChangesStayOutOfBatchesAndSessions) {
  EXPECT_FALSE(validate_command(Command::batch({Command::acl_setuser("x", {"on"})})).is_ok());
  EXPECT_FALSE(validate_command(Command::session(1, 1, 0, Command::acl_deluser({"x"}))).is_ok());
  EXPECT_TRUE(is_read_only(Command::acl_list()));
  EXPECT_FALSE(is_read_only(Command::acl_setuser("x", {"on"})));
}

TEST(AclSnapshot, UsersSurviveSaveAndRestore) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::acl_setuser("bob", {"on", "#" + kHashA, "#" + kHashB, "+@write"})),
            Reply::ok());
  ASSERT_EQ(kv.apply(Command::acl_setuser("carol", {"off", "nopass"})), Reply::ok());
  ASSERT_EQ(kv.apply(Command::set("k", "v")), Reply::ok());
  KvStateMachine restored;
  const std::string bytes = kv.snapshot_bytes();
  runtime::StringSource reader(bytes, 7);
  ASSERT_TRUE(restored.restore(reader).is_ok());
  EXPECT_EQ(restored.query(Command::acl_list()), kv.query(Command::acl_list()));
  ASSERT_NE(restored.find_user("bob"), nullptr);
  EXPECT_EQ(*restored.find_user("bob"), *kv.machine().find_user("bob"));
  EXPECT_EQ(restored.query(Command::get("k")), bulk("v"));
}

// A format 2 snapshot (before users) is a format 4 one without the user count (and with its
// keys in key order: one key is in both orders).
TEST(AclSnapshot, FormatTwoRestoresWithNoUsers) {
  Driver kv;
  ASSERT_EQ(kv.apply(Command::set("k", "v")), Reply::ok());
  std::string bytes = kv.snapshot_bytes();
  ASSERT_TRUE(bytes.starts_with("RKVKVSM4"));
  bytes[7] = '2';
  const size_t users_at = bytes.size() - 12 - 8;
  ASSERT_EQ(bytes.substr(users_at, 8), std::string(8, '\0'));
  bytes.erase(users_at, 8);
  const size_t crc_at = bytes.size() - 12;
  const auto crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(crc_at)));
  for (size_t i = 0; i < 4; ++i) bytes[crc_at + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  Driver target;
  ASSERT_EQ(target.apply(Command::acl_setuser("old", {"on"})), Reply::ok());
  runtime::StringSource reader(bytes, 64);
  ASSERT_TRUE(target.machine().restore(reader).is_ok());
  EXPECT_EQ(target.query(Command::get("k")), bulk("v"));
  EXPECT_EQ(target.query(Command::acl_list()), Reply::array({}));
}

}  // namespace
}  // namespace raftkv::kv
