#include "kv/commands.h"

#include <array>
#include <functional>
#include <vector>

#include "kv/commands_util.h"
#include "protocol/name_index.h"

namespace raftkv::kv {
namespace {

using detail::ReadArgs;
using detail::WriteArgs;
using ReadHandler = Reply (*)(const ReadContext&, ReadArgs);
using WriteHandler = Reply (*)(WriteContext&, WriteArgs&);

// One command the store executes: exactly one of `read` and `write` is set, as the command
// table marks it read-only or not (a test checks they agree).
struct Handler {
  std::string_view name;
  ReadHandler read = nullptr;
  WriteHandler write = nullptr;
};

constexpr Handler reads(std::string_view name, ReadHandler handler) {
  return {name, handler, nullptr};
}
constexpr Handler writes(std::string_view name, WriteHandler handler) {
  return {name, nullptr, handler};
}

// In name order, as the command table.
constexpr std::array kHandlers = {
    writes("append", detail::append_command),
    writes("copy", detail::copy_command),
    reads("dbsize", detail::dbsize_command),
    writes("decr", detail::incr_command),
    writes("decrby", detail::incr_command),
    writes("del", detail::del_command),
    reads("exists", detail::exists_command),
    writes("expire", detail::expire_command),
    writes("expireat", detail::expire_command),
    reads("expiretime", detail::expiretime_command),
    writes("flushall", detail::flush_command),
    writes("flushdb", detail::flush_command),
    reads("get", detail::get_command),
    writes("getdel", detail::getdel_command),
    writes("getex", detail::getex_command),
    reads("getrange", detail::getrange_command),
    writes("getset", detail::getset_command),
    writes("hdel", detail::hdel_command),
    reads("hexists", detail::hexists_command),
    reads("hget", detail::hget_command),
    reads("hgetall", detail::hgetall_command),
    writes("hincrby", detail::hincrby_command),
    writes("hincrbyfloat", detail::hincrbyfloat_command),
    reads("hkeys", detail::hgetall_command),
    reads("hlen", detail::hlen_command),
    reads("hmget", detail::hmget_command),
    writes("hmset", detail::hset_command),
    reads("hrandfield", detail::hrandfield_command),
    reads("hscan", detail::hscan_command),
    writes("hset", detail::hset_command),
    writes("hsetnx", detail::hsetnx_command),
    reads("hstrlen", detail::hstrlen_command),
    reads("hvals", detail::hgetall_command),
    writes("incr", detail::incr_command),
    writes("incrby", detail::incr_command),
    writes("incrbyfloat", detail::incrbyfloat_command),
    reads("keys", detail::keys_command),
    reads("memory", detail::memory_command),
    reads("mget", detail::mget_command),
    writes("mset", detail::mset_command),
    writes("msetnx", detail::msetnx_command),
    writes("persist", detail::persist_command),
    writes("pexpire", detail::expire_command),
    writes("pexpireat", detail::expire_command),
    reads("pexpiretime", detail::expiretime_command),
    writes("psetex", detail::setex_command),
    reads("pttl", detail::ttl_command),
    reads("randomkey", detail::randomkey_command),
    writes("rename", detail::rename_command),
    writes("renamenx", detail::rename_command),
    reads("scan", detail::scan_command),
    writes("set", detail::set_command),
    writes("setex", detail::setex_command),
    writes("setnx", detail::setnx_command),
    writes("setrange", detail::setrange_command),
    reads("strlen", detail::strlen_command),
    reads("substr", detail::getrange_command),
    reads("touch", detail::exists_command),
    reads("ttl", detail::ttl_command),
    reads("type", detail::type_command),
    writes("unlink", detail::del_command),
};

const Handler* find_handler(std::string_view name) {
  static const protocol::NameIndex<Handler> index(kHandlers);
  return index.find(name);
}

// The handler of an entry of the command table (null: the store does not execute it), by the
// entry's position: no name is hashed (a pipelined GET looked its handler up three times).
const Handler* handler_of(const protocol::CommandSpec& spec) {
  const std::span<const protocol::CommandSpec> table = protocol::all_commands();
  static const std::vector<const Handler*> by_position = [table] {
    std::vector<const Handler*> handlers;
    for (const protocol::CommandSpec& entry : table) handlers.push_back(find_handler(entry.name));
    return handlers;
  }();
  const std::less<> before;
  if (before(&spec, table.data()) || !before(&spec, table.data() + table.size())) {
    return nullptr;  // A subcommand's entry: none is the store's.
  }
  return by_position[static_cast<size_t>(&spec - table.data())];
}

}  // namespace

namespace detail {

const Record* live(WriteContext& context, const std::string& key) {
  context.keys.expire_if_due(key, context.now_ms);
  return context.keys.find(key, context.now_ms);
}

ReadContext read_view(const WriteContext& context) {
  return ReadContext{context.keys, context.now_ms, context.index.value()};
}

}  // namespace detail

bool is_store_command(const protocol::CommandSpec& spec) { return handler_of(spec) != nullptr; }

Reply execute_read(const ReadContext& context, const protocol::CommandSpec& spec,
                   std::span<const std::string> args) {
  RAFT_ASSERT(!args.empty() && args[0] == spec.name);
  const Handler* handler = handler_of(spec);
  RAFT_ASSERT(handler != nullptr);
  RAFT_ASSERT(handler->read != nullptr);
  return handler->read(context, args);
}

Reply execute_write(WriteContext& context, const protocol::CommandSpec& spec,
                    std::vector<std::string>& args) {
  RAFT_ASSERT(!args.empty() && args[0] == spec.name);
  const Handler* handler = handler_of(spec);
  RAFT_ASSERT(handler != nullptr);  // Validated when decoded.
  if (handler->read != nullptr) return handler->read(detail::read_view(context), args);
  return handler->write(context, args);
}

}  // namespace raftkv::kv
