#pragma once

#include <string>

#include "kv/reply.h"
#include "net/resp_encoder.h"

// Writes a key-value state machine reply as RESP2. Header-only on purpose: raftkv_resp does
// not depend on raftkv_kv (src/net sits beside src/kv, not above it); the server, which links
// both, includes this header.

namespace raftkv::net {

inline void resp_append_reply(std::string* out, const kv::Reply& reply) {
  switch (reply.type) {
    case kv::ReplyType::Simple: resp_append_simple(out, reply.text); return;
    case kv::ReplyType::Error: resp_append_error(out, reply.text); return;
    case kv::ReplyType::Integer: resp_append_integer(out, reply.integer); return;
    case kv::ReplyType::Bulk: resp_append_bulk(out, reply.text); return;
    case kv::ReplyType::Nil: resp_append_nil(out); return;
    case kv::ReplyType::Array: break;
  }
  resp_append_array_header(out, reply.elements.size());
  // Recursion is bounded: the state machine builds replies at most two arrays deep.
  for (const kv::Reply& element : reply.elements) resp_append_reply(out, element);
}

}  // namespace raftkv::net
