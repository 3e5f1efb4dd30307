#include "counter.h"

#include <charconv>

namespace counter {
namespace {

// The whole state, as text: "<applied index> <value>".
class Image final : public raftkv::runtime::SnapshotImage {
 public:
  explicit Image(std::string text) : text_(std::move(text)) {}
  [[nodiscard]] raftkv::Status save(raftkv::runtime::ByteSink& sink) const override {
    return sink.write(text_);
  }

 private:
  std::string text_;
};

bool parse(std::string_view text, int64_t* out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string Counter::apply(raftkv::Index index, std::string_view entry) {
  applied_ = index;
  int64_t delta = 0;
  // Every replica refuses the same bytes the same way: the replies stay identical.
  if (!entry.starts_with("add ") || !parse(entry.substr(4), &delta)) return "error: bad request";
  value_ += delta;
  return std::to_string(value_);
}

std::string Counter::query(std::string_view request, uint64_t /*now_ms*/) const {
  return request == "get" ? std::to_string(value_) : "error: bad request";
}

std::unique_ptr<raftkv::runtime::SnapshotImage> Counter::snapshot() const {
  return std::make_unique<Image>(std::to_string(applied_.value()) + " " + std::to_string(value_));
}

raftkv::Status Counter::restore(raftkv::runtime::ByteSource& source) {
  std::string text;
  char buffer[64];
  while (text.size() < 64) {  // A stream may come in pieces.
    raftkv::Result<size_t> read = source.read(buffer);
    if (!read.is_ok()) return read.status();
    if (read.value() == 0) break;
    text.append(buffer, read.value());
  }
  const size_t space = text.find(' ');
  int64_t applied = 0;
  int64_t value = 0;
  if (space == std::string::npos || !parse(std::string_view(text).substr(0, space), &applied) ||
      !parse(std::string_view(text).substr(space + 1), &value) || applied < 0) {
    return raftkv::Status(raftkv::ErrorCode::Corruption, "not a counter snapshot: " + text);
  }
  applied_ = raftkv::Index{static_cast<uint64_t>(applied)};
  value_ = value;
  return raftkv::Status::ok();
}

}  // namespace counter
