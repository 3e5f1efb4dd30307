#include "kv/reply.h"

namespace raftkv::kv {

std::string reply_debug_string(const Reply& reply) {
  switch (reply.type) {
    case ReplyType::Simple: return reply.text;
    case ReplyType::Error: return "(error) " + reply.text;
    case ReplyType::Integer: return "(integer) " + std::to_string(reply.integer);
    case ReplyType::Bulk: return "\"" + reply.text + "\"";
    case ReplyType::Nil: return "(nil)";
    case ReplyType::NilArray: return "(nil array)";
    case ReplyType::Array: break;
  }
  std::string out = "[";
  for (size_t i = 0; i < reply.elements.size(); ++i) {
    if (i > 0) out += ", ";
    out += reply_debug_string(reply.elements[i]);
  }
  return out + "]";
}

}  // namespace raftkv::kv
