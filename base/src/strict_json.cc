#include "atrium/base/strict_json.h"

#include <boost/json/basic_parser_impl.hpp>
#include <cstdio>
#include <exception>
#include <string>
#include <unordered_set>
#include <vector>

namespace atrium::internal {
namespace {

namespace json = boost::json;

constexpr size_t kMaxQuotedLength = 80;
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

bool IsUtf8Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

// 'text' for messages: escaped, and cut (at a UTF-8 boundary) when long.
std::string Quote(std::string_view s) {
  bool cut = s.size() > kMaxQuotedLength;
  if (cut) {
    size_t n = kMaxQuotedLength;
    while (n > 0 && IsUtf8Continuation(s[n])) --n;
    s = s.substr(0, n);
  }
  std::string out = "'";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  if (cut) out += "...";
  out += '\'';
  return out;
}

std::string Child(std::string_view pointer, std::string_view key) {
  std::string out(pointer);
  out += '/';
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Child(std::string_view pointer, size_t index) {
  return std::string(pointer) + "/" + std::to_string(index);
}

// "line L, column C" (1-based; columns count UTF-8 characters).
std::string LineColumn(std::string_view text, size_t offset) {
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if (!IsUtf8Continuation(text[i])) {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

Error MakeLocated(ErrorCode code, std::string_view file, std::string pointer, std::string message) {
  Error e = MakeError(code, std::move(message));
  e.file = std::string(file);
  e.pointer = std::move(pointer);
  return e;
}

namespace {

// basic_parser handler: builds the DOM into a value_stack exactly as
// boost::json's own parser does, rejects duplicate keys, and keeps the JSON
// pointer of the value being read.
class DomBuilder {
 public:
  static constexpr size_t max_object_size = json::object::max_size();
  static constexpr size_t max_array_size = json::array::max_size();
  static constexpr size_t max_key_size = json::string::max_size();
  static constexpr size_t max_string_size = json::string::max_size();

  explicit DomBuilder(json::storage_ptr sp) { values_.reset(std::move(sp)); }

  json::value Release() { return values_.release(); }
  // Set when parsing stopped on a duplicate key; the key is the last token of
  // CurrentPointer().
  bool found_duplicate_key() const { return found_duplicate_key_; }
  const std::string& duplicate_key() const { return frames_.back().key; }

  // Pointer of the value being read: for each open container, the index of
  // the current element or the key whose value is pending.
  std::string CurrentPointer() const {
    std::string out;
    for (const Frame& f : frames_) {
      if (f.is_array) {
        out = Child(out, f.count);
      } else if (f.key_pending) {
        out = Child(out, f.key);
      }
    }
    return out;
  }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    frames_.emplace_back().is_array = false;
    return true;
  }
  bool on_object_end(size_t n, json::error_code&) {
    frames_.pop_back();
    values_.push_object(n);
    EndValue();
    return true;
  }
  bool on_array_begin(json::error_code&) {
    frames_.emplace_back().is_array = true;
    return true;
  }
  bool on_array_end(size_t n, json::error_code&) {
    frames_.pop_back();
    values_.push_array(n);
    EndValue();
    return true;
  }
  bool on_key_part(json::string_view s, size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    values_.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, size_t, json::error_code& ec) {
    key_.append(s.data(), s.size());
    Frame& f = frames_.back();
    f.key = key_;
    f.key_pending = true;
    if (!f.keys.insert(std::move(key_)).second) {
      found_duplicate_key_ = true;
      ec = json::error::syntax;
      return false;
    }
    key_.clear();
    values_.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, size_t, json::error_code&) {
    values_.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, size_t, json::error_code&) {
    values_.push_string(s);
    EndValue();
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t i, json::string_view, json::error_code&) {
    values_.push_int64(i);
    EndValue();
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, json::error_code&) {
    values_.push_uint64(u);
    EndValue();
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    values_.push_double(d);
    EndValue();
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    values_.push_bool(b);
    EndValue();
    return true;
  }
  bool on_null(json::error_code&) {
    values_.push_null();
    EndValue();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct Frame {
    bool is_array = false;
    size_t count = 0;                      // array: elements completed so far
    std::string key;                       // object: last key read
    bool key_pending = false;              // object: `key` read, its value not complete
    std::unordered_set<std::string> keys;  // object: keys seen
  };

  void EndValue() {
    if (frames_.empty()) return;
    Frame& f = frames_.back();
    if (f.is_array) {
      ++f.count;
    } else {
      f.key_pending = false;
    }
  }

  json::value_stack values_;
  std::vector<Frame> frames_;
  std::string key_;  // key being read (it may arrive in parts)
  bool found_duplicate_key_ = false;
};

}  // namespace

std::string DescribeByteAt(std::string_view text, size_t offset) {
  if (offset >= text.size()) return "end of input";
  auto u = static_cast<unsigned char>(text[offset]);
  if (u >= 0x20 && u < 0x7F) return std::string("'") + text[offset] + "'";
  char buf[16];
  std::snprintf(buf, sizeof(buf), "byte 0x%02X", u);
  return buf;
}

// Parses `text` into a DOM allocated from `sp`. Errors are kParse, except
// kInternal when memory runs out.
Result<json::value> ParseStrictJson(std::string_view text, std::string_view file,
                                    const StrictJsonLimits& limits, json::storage_ptr sp) {
  const std::string noun = limits.noun;
  if (text.size() > limits.max_bytes) {
    const size_t m = limits.max_bytes;
    const std::string human = m % (size_t{1} << 20) == 0 ? std::to_string(m >> 20) + " MiB"
                              : m % 1024 == 0            ? std::to_string(m >> 10) + " KiB"
                                                         : std::to_string(m) + " bytes";
    return MakeLocated(ErrorCode::kParse, file, "",
                       noun + " is " + std::to_string(text.size()) + " bytes; the limit is " +
                           std::to_string(m) + " (" + human + ")");
  }
  size_t skip = text.substr(0, kUtf8Bom.size()) == kUtf8Bom ? kUtf8Bom.size() : 0;
  std::string_view body = text.substr(skip);
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    Error e = MakeLocated(ErrorCode::kParse, file, "", noun + " is empty; expected a JSON object");
    e.offset = text.size();
    return e;
  }

  json::parse_options options;
  options.max_depth = limits.max_depth;
  try {
    json::basic_parser<DomBuilder> parser(options, std::move(sp));
    json::error_code ec;
    size_t consumed = parser.write_some(false, body.data(), body.size(), ec);
    size_t offset = skip + consumed;
    std::string what;
    if (ec) {
      if (parser.handler().found_duplicate_key()) {
        what = "duplicate key " + Quote(parser.handler().duplicate_key());
      } else if (ec == json::error::incomplete) {
        what = "unexpected end of input (truncated " + noun + "?)";
      } else if (ec == json::error::too_deep) {
        what = "nesting deeper than " + std::to_string(limits.max_depth) + " levels";
      } else if (ec == json::error::syntax) {
        what = "syntax error at " + DescribeByteAt(text, offset);
      } else {
        what = ec.message() + " at " + DescribeByteAt(text, offset);
      }
    } else if (consumed < body.size()) {
      what = "unexpected " + DescribeByteAt(text, offset) + " after the JSON document";
    } else {
      return parser.handler().Release();
    }
    Error e = MakeLocated(ErrorCode::kParse, file, parser.handler().CurrentPointer(),
                          "invalid JSON at " + LineColumn(text, offset) + ": " + what);
    e.offset = offset;
    return e;
  } catch (const std::exception& ex) {
    return MakeLocated(ErrorCode::kInternal, file, "",
                       std::string("internal error while parsing: ") + ex.what());
  }
}

const char* JsonKindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "an unknown value";
}

std::string_view SemverDetail(std::string_view message) {
  for (std::string_view prefix : {"invalid range '", "invalid version '"}) {
    if (message.substr(0, prefix.size()) != prefix) continue;
    size_t end = message.find("': ", prefix.size());
    if (end != std::string_view::npos) return message.substr(end + 3);
  }
  return message;
}

}  // namespace atrium::internal
