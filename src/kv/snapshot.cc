// Snapshot save and restore of the key-value state machine; the format is documented at
// KvSnapshotView::save in state_machine.h.

#include <zlib.h>

#include <algorithm>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "kv/byte_codec.h"
#include "kv/state_machine.h"

namespace raftkv::kv {

namespace {

constexpr std::string_view kMagic = "RKVKVSM4";
// Format 1, before expiry and hashes, format 2, before ACL users, and format 3, keys in key
// order: still restored (state_machine.h).
constexpr std::string_view kMagicV1 = "RKVKVSM1";
constexpr std::string_view kMagicV2 = "RKVKVSM2";
constexpr std::string_view kMagicV3 = "RKVKVSM3";
// The first format whose keys and fields are in hash order (PersistentTree), not key order.
constexpr int kFormatHashOrder = 4;
constexpr std::string_view kEndMagic = "RKVKVEND";
// Bytes gathered before each write to the SnapshotWriter, and read per refill.
constexpr size_t kChunkBytes = 64 * 1024;
// Replies nest at most Array(Batch) > Array(SCAN) > Array(keys) > Bulk; a little slack.
constexpr int kReplyDepthMax = 4;

// zlib's crc32 (a maintained library rather than one more hand-written checksum), fed in
// pieces because its length argument is 32-bit.
uint32_t crc_extend(uint32_t crc, std::string_view bytes) {
  uLong value = crc;
  while (!bytes.empty()) {
    const size_t piece = std::min<size_t>(bytes.size(), 1u << 30);
    value = crc32(value, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(piece));
    bytes.remove_prefix(piece);
  }
  return static_cast<uint32_t>(value);
}

Status corruption(const std::string& what) {
  return {ErrorCode::Corruption, "key-value snapshot: " + what};
}

void encode_reply(const Reply& reply, std::string* out) {
  put_u8(out, static_cast<uint8_t>(reply.type));
  switch (reply.type) {
    case ReplyType::Simple:
    case ReplyType::Error:
    case ReplyType::Bulk: put_string(out, reply.text); break;
    case ReplyType::Integer: put_i64(out, reply.integer); break;
    case ReplyType::Nil:
    case ReplyType::NilArray: break;
    case ReplyType::Array:
      put_u32(out, static_cast<uint32_t>(reply.elements.size()));
      for (const Reply& element : reply.elements) encode_reply(element, out);
      break;
  }
}

// Buffers the stream into kChunkBytes writes and checksums what it passes on. After the
// writer's first error every later call is a no-op and finish() returns that error.
class Encoder {
 public:
  explicit Encoder(runtime::ByteSink& writer) : writer_(writer) { buffer_.reserve(kChunkBytes); }

  void put_fixed_u32(uint32_t value) { put_u32(&buffer_, value); maybe_flush(); }
  void put_fixed_u64(uint64_t value) { put_u64(&buffer_, value); maybe_flush(); }
  void put_raw(std::string_view bytes) {
    if (bytes.size() < kChunkBytes) {
      buffer_.append(bytes);
      maybe_flush();
      return;
    }
    // Large values go straight to the writer instead of through a copy in the buffer.
    flush();
    crc_ = crc_extend(crc_, bytes);
    emit(bytes);
  }
  void put_sized(std::string_view bytes) {
    RAFT_ASSERT(bytes.size() <= std::numeric_limits<uint32_t>::max());
    put_fixed_u32(static_cast<uint32_t>(bytes.size()));
    put_raw(bytes);
  }

  // Appends the checksum of everything so far and the end marker.
  Status finish() {
    flush();
    std::string trailer;
    put_u32(&trailer, crc_);
    trailer.append(kEndMagic);
    emit(trailer);  // Not part of its own checksum.
    return status_;
  }

 private:
  void maybe_flush() {
    if (buffer_.size() >= kChunkBytes) flush();
  }
  void flush() {
    crc_ = crc_extend(crc_, buffer_);
    emit(buffer_);
    buffer_.clear();
  }
  // Hands bytes to the writer; the caller has already added them to the checksum.
  void emit(std::string_view bytes) {
    if (!status_.is_ok() || bytes.empty()) return;
    status_ = writer_.write(std::span<const char>(bytes.data(), bytes.size()));
  }

  runtime::ByteSink& writer_;
  std::string buffer_;
  uint32_t crc_ = 0;
  Status status_;
};

}  // namespace

Status KvSnapshotView::save(runtime::ByteSink& writer) const {
  Encoder encoder(writer);
  encoder.put_raw(kMagic);
  encoder.put_fixed_u64(applied_index_.value());
  encoder.put_fixed_u64(log_time_ms_);
  encoder.put_fixed_u64(keys_.size());
  std::string header;
  keys_.for_each([&](std::string_view key, const Record& record) {
    encoder.put_sized(key);
    header.clear();
    put_u8(&header, static_cast<uint8_t>(record.kind()));
    put_i64(&header, record.expire_at_ms());
    put_u64(&header, record.version());
    encoder.put_raw(header);
    if (record.kind() == Value::Kind::String) {
      encoder.put_sized(record.string());
      return;
    }
    encoder.put_fixed_u64(record.hash().size());
    record.hash().for_each([&](const std::string& field, const std::string& text) {
      encoder.put_sized(field);
      encoder.put_sized(text);
    });
  });
  encoder.put_fixed_u64(sessions_.size());
  std::string reply_bytes;
  sessions_.for_each([&](uint64_t client_id, const Session& session) {
    encoder.put_fixed_u64(client_id);
    encoder.put_fixed_u64(session.last_sequence);
    encoder.put_fixed_u64(session.last_active_ms);
    encoder.put_fixed_u64(session.last_index);
    reply_bytes.clear();
    encode_reply(session.last_reply, &reply_bytes);
    encoder.put_raw(reply_bytes);
  });
  encoder.put_fixed_u64(users_.size());
  std::string user_header;
  users_.for_each([&](const std::string& name, const AclUser& user) {
    encoder.put_sized(name);
    user_header.clear();
    put_u8(&user_header, static_cast<uint8_t>((user.enabled ? 1 : 0) | (user.nopass ? 2 : 0)));
    put_u8(&user_header, user.categories);
    put_u32(&user_header, static_cast<uint32_t>(user.password_hashes.size()));
    encoder.put_raw(user_header);
    for (const std::string& hash : user.password_hashes) encoder.put_sized(hash);
  });
  return encoder.finish();
}

namespace {

// Reads the stream through a kChunkBytes buffer and checksums every byte it hands out.
// Nothing it reads is trusted: lengths are only ever satisfied by bytes actually present, so
// a corrupt length cannot make it allocate more than the stream holds.
class Decoder {
 public:
  explicit Decoder(runtime::ByteSource& reader) : reader_(reader) { buffer_.resize(kChunkBytes); }

  [[nodiscard]] uint32_t crc() const { return crc_; }

  // Appends exactly `size` bytes to *out; Corruption when the stream ends first.
  Status read_exact(size_t size, std::string* out) {
    while (size > 0) {
      if (position_ == filled_) {
        if (Status status = refill(); !status.is_ok()) return status;
        if (filled_ == 0) return corruption("truncated stream");
      }
      const size_t take = std::min(size, filled_ - position_);
      const std::string_view piece(buffer_.data() + position_, take);
      crc_ = crc_extend(crc_, piece);
      out->append(piece);
      position_ += take;
      size -= take;
    }
    return Status::ok();
  }

  Status get_u8(uint8_t* value) { return get_fixed(1, value); }
  Status get_u32(uint32_t* value) { return get_fixed(4, value); }
  Status get_u64(uint64_t* value) { return get_fixed(8, value); }
  Status get_i64(int64_t* value) {
    uint64_t raw = 0;
    Status status = get_u64(&raw);
    *value = static_cast<int64_t>(raw);
    return status;
  }
  Status get_sized(std::string* value) {
    uint32_t length = 0;
    if (Status status = get_u32(&length); !status.is_ok()) return status;
    value->clear();
    return read_exact(length, value);
  }

  // Ok when the underlying stream has no byte left.
  Status expect_end() {
    if (position_ != filled_) return corruption("trailing bytes");
    if (Status status = refill(); !status.is_ok()) return status;
    return filled_ == 0 ? Status::ok() : corruption("trailing bytes");
  }

 private:
  template <typename T>
  Status get_fixed(size_t size, T* value) {
    scratch_.clear();
    if (Status status = read_exact(size, &scratch_); !status.is_ok()) return status;
    ByteReader bytes(scratch_);
    bool ok = false;
    if constexpr (sizeof(T) == 1) ok = bytes.get_u8(value);
    if constexpr (sizeof(T) == 4) ok = bytes.get_u32(value);
    if constexpr (sizeof(T) == 8) ok = bytes.get_u64(value);
    RAFT_ASSERT(ok);  // read_exact delivered exactly `size` bytes.
    return Status::ok();
  }

  Status refill() {
    Result<size_t> count = reader_.read(std::span<char>(buffer_.data(), buffer_.size()));
    if (!count.is_ok()) return count.status();
    RAFT_ASSERT(count.value() <= buffer_.size());
    position_ = 0;
    filled_ = count.value();
    return Status::ok();
  }

  runtime::ByteSource& reader_;
  std::string buffer_;
  std::string scratch_;
  size_t position_ = 0;
  size_t filled_ = 0;
  uint32_t crc_ = 0;
};

Status decode_reply(Decoder* decoder, int depth, Reply* reply) {
  if (depth > kReplyDepthMax) return corruption("reply nested too deeply");
  uint8_t raw_type = 0;
  if (Status status = decoder->get_u8(&raw_type); !status.is_ok()) return status;
  if (raw_type > static_cast<uint8_t>(ReplyType::NilArray)) return corruption("bad reply type");
  reply->type = static_cast<ReplyType>(raw_type);
  switch (reply->type) {
    case ReplyType::Simple:
    case ReplyType::Error:
    case ReplyType::Bulk: return decoder->get_sized(&reply->text);
    case ReplyType::Integer: return decoder->get_i64(&reply->integer);
    case ReplyType::Nil:
    case ReplyType::NilArray: return Status::ok();
    case ReplyType::Array: break;
  }
  uint32_t count = 0;
  if (Status status = decoder->get_u32(&count); !status.is_ok()) return status;
  for (uint32_t i = 0; i < count; ++i) {  // No reserve: the count is not trusted.
    reply->elements.emplace_back();
    Status status = decode_reply(decoder, depth + 1, &reply->elements.back());
    if (!status.is_ok()) return status;
  }
  return Status::ok();
}

// What restore() decodes before it swaps it in; the live state stays untouched until then.
struct Decoded {
  int format = 4;
  uint64_t applied_index = 0;
  uint64_t log_time_ms = 0;
  std::vector<Ref<const Record>> keys;
  std::vector<SessionMap::Item> sessions;
  std::vector<AclMap::Item> users;
};

// True when `a` strictly precedes `b` in the order format `format` writes keys or fields in
// (Map's order from format 4 on, key order before).
template <typename Map>
bool in_order(int format, const typename Map::Key& a, const typename Map::Key& b) {
  return format >= kFormatHashOrder ? Map::precedes(a, b) : a < b;
}

// A hash's fields: at least one (an empty hash is deleted), in strictly ascending order.
Status decode_hash(Decoder* decoder, int format, Value* value) {
  uint64_t count = 0;
  if (Status status = decoder->get_u64(&count); !status.is_ok()) return status;
  if (count == 0) return corruption("empty hash");
  std::vector<HashMap::Item> fields;
  for (uint64_t i = 0; i < count; ++i) {  // No reserve: the count is not trusted.
    HashMap::Item item;
    if (Status status = decoder->get_sized(&item.key); !status.is_ok()) return status;
    if (Status status = decoder->get_sized(&item.value); !status.is_ok()) return status;
    if (!fields.empty() && !in_order<HashMap>(format, fields.back().key, item.key)) {
      return corruption("hash fields out of order");
    }
    fields.push_back(std::move(item));
  }
  if (format < kFormatHashOrder) {
    std::sort(fields.begin(), fields.end(), [](const HashMap::Item& a, const HashMap::Item& b) {
      return HashMap::precedes(a.key, b.key);
    });
  }
  value->hash = HashMap::from_sorted(std::move(fields));
  return Status::ok();
}

// One key's value in format 2: kind, deadline, version, then the string or the hash.
Status decode_value(Decoder* decoder, const Decoded& decoded, Value* value) {
  uint8_t kind = 0;
  Status status = decoder->get_u8(&kind);
  if (status.is_ok()) status = decoder->get_i64(&value->expire_at_ms);
  if (status.is_ok()) status = decoder->get_u64(&value->version);
  if (!status.is_ok()) return status;
  if (kind > static_cast<uint8_t>(Value::Kind::Hash)) return corruption("bad value kind");
  if (value->expire_at_ms < 0 && value->expire_at_ms != kNoExpiry) {
    return corruption("bad deadline");
  }
  if (value->version > decoded.applied_index) return corruption("key version from the future");
  value->kind = static_cast<Value::Kind>(kind);
  if (value->kind == Value::Kind::String) return decoder->get_sized(&value->string);
  return decode_hash(decoder, decoded.format, value);
}

Status decode_keys(Decoder* decoder, Decoded* out) {
  uint64_t count = 0;
  if (Status status = decoder->get_u64(&count); !status.is_ok()) return status;
  for (uint64_t i = 0; i < count; ++i) {  // No reserve: the count is not trusted.
    std::string key;
    Value value;
    if (Status status = decoder->get_sized(&key); !status.is_ok()) return status;
    Status status = out->format == 1 ? decoder->get_sized(&value.string)
                                     : decode_value(decoder, *out, &value);
    if (!status.is_ok()) return status;
    if (!out->keys.empty() && !in_order<KeyMap>(out->format, out->keys.back()->key(), key)) {
      return corruption("keys out of order");
    }
    out->keys.push_back(Record::make(key, std::move(value)));
  }
  if (out->format < kFormatHashOrder) {
    std::sort(out->keys.begin(), out->keys.end(),
              [](const Ref<const Record>& a, const Ref<const Record>& b) {
                return KeyMap::precedes(a->key(), b->key());
              });
  }
  return Status::ok();
}

// Checks what the session rules guarantee, so a restored table keeps apply()'s invariants.
Status check_session(const Decoded& decoded, uint64_t client_id, const Session& session) {
  if (!decoded.sessions.empty() && decoded.sessions.back().key >= client_id) {
    return corruption("sessions out of order");
  }
  if (client_id == 0 || client_id > session.last_index) return corruption("bad client id");
  if (session.last_index > decoded.applied_index) return corruption("session from the future");
  if (session.last_active_ms > decoded.log_time_ms) return corruption("session time ahead");
  return Status::ok();
}

Status decode_sessions(Decoder* decoder, Decoded* out) {
  uint64_t count = 0;
  if (Status status = decoder->get_u64(&count); !status.is_ok()) return status;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t client_id = 0;
    Session session;
    Status status = decoder->get_u64(&client_id);
    if (status.is_ok()) status = decoder->get_u64(&session.last_sequence);
    if (status.is_ok()) status = decoder->get_u64(&session.last_active_ms);
    if (status.is_ok()) status = decoder->get_u64(&session.last_index);
    if (status.is_ok()) status = decode_reply(decoder, 0, &session.last_reply);
    if (status.is_ok()) status = check_session(*out, client_id, session);
    if (!status.is_ok()) return status;
    out->sessions.push_back({client_id, std::move(session)});
  }
  return Status::ok();
}

// One user after its name: what acl_apply_rules could have built, within its bounds.
Status decode_user(Decoder* decoder, AclUser* user) {
  uint8_t flags = 0;
  uint32_t hashes = 0;
  Status status = decoder->get_u8(&flags);
  if (status.is_ok()) status = decoder->get_u8(&user->categories);
  if (status.is_ok()) status = decoder->get_u32(&hashes);
  if (!status.is_ok()) return status;
  if (flags > 3 || user->categories > kAclAll) return corruption("bad user flags");
  if (hashes > kAclPasswordsMax || ((flags & 2) != 0 && hashes != 0)) {
    return corruption("bad user passwords");
  }
  user->enabled = (flags & 1) != 0;
  user->nopass = (flags & 2) != 0;
  for (uint32_t i = 0; i < hashes; ++i) {
    std::string hash;
    if (status = decoder->get_sized(&hash); !status.is_ok()) return status;
    if (!acl_hash_ok(hash) || !user->password_hashes.insert(std::move(hash)).second) {
      return corruption("bad password hash");
    }
  }
  return Status::ok();
}

Status decode_users(Decoder* decoder, Decoded* out) {
  if (out->format < 3) return Status::ok();  // Written before ACL users: none.
  uint64_t count = 0;
  if (Status status = decoder->get_u64(&count); !status.is_ok()) return status;
  if (count > kAclUsersMax) return corruption("too many users");
  for (uint64_t i = 0; i < count; ++i) {
    AclMap::Item item;
    if (Status status = decoder->get_sized(&item.key); !status.is_ok()) return status;
    if (!acl_name_ok(item.key) || item.key == "default") return corruption("bad user name");
    if (!out->users.empty() && !(out->users.back().key < item.key)) {
      return corruption("users out of order");
    }
    if (Status status = decode_user(decoder, &item.value); !status.is_ok()) return status;
    out->users.push_back(std::move(item));
  }
  return Status::ok();
}

Status decode_snapshot(Decoder* decoder, Decoded* out) {
  std::string magic;
  if (Status status = decoder->read_exact(kMagic.size(), &magic); !status.is_ok()) return status;
  if (magic == kMagicV1) {
    out->format = 1;
  } else if (magic == kMagicV2) {
    out->format = 2;
  } else if (magic == kMagicV3) {
    out->format = 3;
  } else if (magic == kMagic) {
    out->format = 4;
  } else {
    return corruption("bad magic (not a key-value snapshot, or a format this release "
                      "does not know)");
  }
  Status status = decoder->get_u64(&out->applied_index);
  if (status.is_ok()) status = decoder->get_u64(&out->log_time_ms);
  if (status.is_ok()) status = decode_keys(decoder, out);
  if (status.is_ok()) status = decode_sessions(decoder, out);
  if (status.is_ok()) status = decode_users(decoder, out);
  if (!status.is_ok()) return status;
  const uint32_t computed = decoder->crc();
  uint32_t stored = 0;
  std::string end;
  if (status = decoder->get_u32(&stored); !status.is_ok()) return status;
  if (status = decoder->read_exact(kEndMagic.size(), &end); !status.is_ok()) return status;
  if (stored != computed) return corruption("checksum mismatch");
  if (end != kEndMagic) return corruption("bad end marker");
  return decoder->expect_end();
}

}  // namespace

Status KvStateMachine::restore(runtime::ByteSource& reader) {
  Decoder decoder(reader);
  Decoded decoded;
  if (Status status = decode_snapshot(&decoder, &decoded); !status.is_ok()) return status;
  std::set<std::pair<uint64_t, uint64_t>> lru;
  for (const SessionMap::Item& item : decoded.sessions) {
    if (!lru.insert({item.value.last_index, item.key}).second) {
      return corruption("two sessions last used at one index");
    }
  }
  // All checks passed: only now replace the live state.
  keys_ = Keyspace(KeyMap::from_sorted(std::move(decoded.keys)));
  sessions_ = SessionMap::from_sorted(std::move(decoded.sessions));
  users_ = AclMap::from_sorted(std::move(decoded.users));
  lru_ = std::move(lru);
  applied_index_ = Index(decoded.applied_index);
  log_time_ms_ = decoded.log_time_ms;
  RAFT_ASSERT(lru_.size() == sessions_.size());
  return Status::ok();
}

}  // namespace raftkv::kv
