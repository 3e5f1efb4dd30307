#pragma once

#include <string>

#include "kv/reply.h"
#include "net/resp_encoder.h"

// Writes a key-value state machine reply as RESP2, with the RESP primitives of raftkv_resp (a
// leaf codec library beside src/kv): the runtime hands these bytes to clients unchanged.

namespace raftkv::kv {

inline void resp_append_reply(std::string* out, const Reply& reply) {
  switch (reply.type) {
    case ReplyType::Simple: net::resp_append_simple(out, reply.text); return;
    case ReplyType::Error: net::resp_append_error(out, reply.text); return;
    case ReplyType::Integer: net::resp_append_integer(out, reply.integer); return;
    case ReplyType::Bulk: net::resp_append_bulk(out, reply.text); return;
    case ReplyType::Nil: net::resp_append_nil(out); return;
    case ReplyType::NilArray: net::resp_append_nil_array(out); return;
    case ReplyType::Array: break;
  }
  net::resp_append_array_header(out, reply.elements.size());
  // Recursion is bounded: the state machine builds replies at most two arrays deep.
  for (const Reply& element : reply.elements) resp_append_reply(out, element);
}

}  // namespace raftkv::kv
