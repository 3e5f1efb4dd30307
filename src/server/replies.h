#pragma once

#include <functional>
#include <string>

#include "kv/command.h"
#include "kv/reply.h"
#include "server/client_commands.h"

// The small pieces every command family of the server answers with (client_commands.cc,
// acl_commands.cc, admin_commands.cc): a reply as RESP bytes or as an Action, and the ASCII
// case folding Redis applies to command names.
namespace raftkv::server {

[[nodiscard]] std::string upper(std::string text);
[[nodiscard]] std::string lower(std::string text);

// `value` as RESP bytes.
[[nodiscard]] std::string resp(const kv::Reply& value);
// An Action that answers `value` at once.
[[nodiscard]] Action reply(const kv::Reply& value);
// An Action that answers the error `text` ("ERR ...", "WRONGTYPE ...") at once.
[[nodiscard]] Action error(const std::string& text);
// An Action that runs `command` on the store (through the log, or as a read).
[[nodiscard]] Action run(kv::Command command);
// An Action that runs `fn` on the node's loop (Action::Kind::Admin).
[[nodiscard]] Action admin(std::function<void(runtime::Node&, runtime::Done)> fn);

}  // namespace raftkv::server
