#include "client/reply.h"

#include <cstdio>

namespace raftkv::client {
namespace {

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte >= 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned>(byte));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void format_into(const Reply& reply, const std::string& indent, std::string* out) {
  switch (reply.type) {
    case ReplyType::Status: *out += reply.text; return;
    case ReplyType::Error: *out += "(error) " + reply.text; return;
    case ReplyType::Integer: *out += "(integer) " + std::to_string(reply.integer); return;
    case ReplyType::Bulk: *out += quote(reply.text); return;
    case ReplyType::Nil: *out += "(nil)"; return;
    case ReplyType::Array: break;
  }
  if (reply.elements.empty()) {
    *out += "(empty array)";
    return;
  }
  for (size_t i = 0; i < reply.elements.size(); ++i) {
    const std::string number = std::to_string(i + 1) + ") ";
    if (i > 0) *out += "\n" + indent;
    *out += number;
    format_into(reply.elements[i], indent + std::string(number.size(), ' '), out);
  }
}

}  // namespace

std::string format_reply(const Reply& reply) {
  std::string out;
  format_into(reply, "", &out);
  return out;
}

std::string format_reply_raw(const Reply& reply) {
  switch (reply.type) {
    case ReplyType::Status:
    case ReplyType::Error:
    case ReplyType::Bulk: return reply.text;
    case ReplyType::Integer: return std::to_string(reply.integer);
    case ReplyType::Nil: return "";
    case ReplyType::Array: break;
  }
  std::string out;
  for (size_t i = 0; i < reply.elements.size(); ++i) {
    if (i > 0) out += "\n";
    out += format_reply_raw(reply.elements[i]);
  }
  return out;
}

std::string encode_command(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& arg : args) {
    out += "$" + std::to_string(arg.size()) + "\r\n";
    out += arg;
    out += "\r\n";
  }
  return out;
}

}  // namespace raftkv::client
