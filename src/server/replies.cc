#include "server/replies.h"

#include <algorithm>
#include <cctype>

#include "kv/resp_reply.h"

namespace raftkv::server {

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string resp(const kv::Reply& value) {
  std::string out;
  kv::resp_append_reply(&out, value);
  return out;
}

Action reply(const kv::Reply& value) {
  Action action;
  action.reply = resp(value);
  return action;
}

Action error(const std::string& text) { return reply(kv::Reply::error(text)); }

Action run(kv::Command command) {
  Action action;
  action.kind = Action::Kind::Run;
  action.command = std::move(command);
  return action;
}

Action admin(std::function<void(runtime::Node&, runtime::Done)> fn) {
  Action action;
  action.kind = Action::Kind::Admin;
  action.admin = std::move(fn);
  return action;
}

}  // namespace raftkv::server
