// The JSON reading tools hotpatch's manifests share: patch.json
// (patch_package.cc) and bundle.json's "patch_points" (bundle_points.cc).
// Limits, the id and signature grammars, and Walker, the typed and located
// access to a DOM whose every failure is a kValidation Error naming the
// file and JSON pointer.
//
// Concurrency: pure functions and per-call objects.
#ifndef ATRIUM_HOTPATCH_PATCH_JSON_H_
#define ATRIUM_HOTPATCH_PATCH_JSON_H_

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "atrium/base/result_macros.h"
#include "atrium/base/strict_json.h"
#include "atrium/result.h"
#include "atrium/semver.h"

namespace atrium::hotpatch::internal::patch_json {

namespace json = boost::json;

constexpr std::string_view kManifestName = "patch.json";
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

constexpr size_t kMaxManifestBytes = 64 * 1024;
constexpr size_t kMaxSourceBytes = 256 * 1024;
// 128 hex characters plus a line ending and some slack for stray whitespace.
constexpr size_t kMaxNestingDepth = 16;  // patch.json itself needs 4 levels

constexpr size_t kMaxIdLength = 64;
constexpr size_t kMaxPointIdLength = 128;
constexpr size_t kMaxFunctionLength = 64;
constexpr size_t kMaxRecordNameLength = 64;
constexpr size_t kMaxSourceNameLength = 128;
constexpr size_t kMaxDescriptionBytes = 4096;
constexpr size_t kMaxPoints = 64;
constexpr size_t kMaxBundleTargets = 64;
constexpr size_t kMaxParams = 16;  // the runtime passes at most 16 arguments
constexpr size_t kMaxQuoted = 80;

// ---------------------------------------------------------------------------
// Messages and locations.

inline bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) { return IsLower(c) || (c >= 'A' && c <= 'Z'); }
inline bool IsControl(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7F;
}

// Quoting, JSON pointers and located errors are the strict JSON layer's.
using atrium::internal::Quote;
inline std::string Member(std::string_view base, std::string_view key) {
  return atrium::internal::Child(base, key);
}
inline std::string Element(std::string_view base, size_t index) {
  return atrium::internal::Child(base, index);
}
inline Error Located(ErrorCode code, std::string_view file, std::string pointer,
                     std::string message) {
  return atrium::internal::MakeLocated(code, file, std::move(pointer), std::move(message));
}

inline std::string JoinPath(const std::string& dir, std::string_view name) {
  std::string out = dir;
  if (!out.empty() && out.back() != '/') out += '/';
  out += name;
  return out;
}

inline std::string Position(std::string_view text, size_t offset) {
  return atrium::internal::LineColumn(text, offset);
}
inline std::string ByteAt(std::string_view text, size_t offset) {
  return atrium::internal::DescribeByteAt(text, offset);
}

inline Result<json::value> ParseDom(std::string_view text, std::string_view file,
                                    json::storage_ptr sp) {
  return atrium::internal::ParseStrictJson(
      text, file, {kMaxManifestBytes, kMaxNestingDepth, "manifest"}, std::move(sp));
}

// ---------------------------------------------------------------------------
// Grammars.

// [a-z][a-z0-9_.-]{0,63}
inline bool IsPatchId(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdLength || !IsLower(s[0])) return false;
  for (char c : s) {
    if (!IsLower(c) && !IsDigit(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

// Two or more non-empty '.'-separated labels of [a-z0-9_].
inline bool IsPointId(std::string_view s) {
  if (s.empty() || s.size() > kMaxPointIdLength) return false;
  if (s.front() == '.' || s.back() == '.' || s.find("..") != std::string_view::npos) return false;
  if (s.find('.') == std::string_view::npos) return false;
  for (char c : s) {
    if (!IsLower(c) && !IsDigit(c) && c != '_' && c != '.') return false;
  }
  return true;
}

// [A-Za-z_][A-Za-z0-9_]* of at most `max` characters.
inline bool IsIdentifier(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max || !(IsAlpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '_') return false;
  }
  return true;
}

// Why `name` is not a plain file name in the package directory, or "".
inline std::string SourceNameProblem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > kMaxSourceNameLength) {
    return "must be at most " + std::to_string(kMaxSourceNameLength) + " bytes";
  }
  if (name == "." || name == "..") return "must be a file name, not '.' or '..'";
  for (char c : name) {
    if (c == '/' || c == '\\') return "must be a plain file name in the package directory";
    if (IsControl(c)) return "must not contain control characters";
  }
  if (name == kManifestName) return "must not be " + std::string(kManifestName);
  return "";
}

// Parses one signature string, `<type>(<type>,...)` where a type is int,
// double, bool, string or record:<Name>, and nil may stand for the result
// (a void function). ASCII spaces around tokens are accepted; the canonical
// form (no spaces, what the runtime's SignatureString produces) is returned
// in *canonical, or a description of the first problem.
class SignatureGrammar {
 public:
  explicit SignatureGrammar(std::string_view text) : text_(text) {}

  std::string Parse(std::string* canonical) {
    std::string out;
    SkipSpaces();
    if (std::string p = Type(/*result=*/true, &out); !p.empty()) return p;
    SkipSpaces();
    if (!Eat('(')) return Expected("'(' after the result type");
    out += '(';
    SkipSpaces();
    if (!Eat(')')) {
      size_t params = 0;
      while (true) {
        if (++params > kMaxParams) {
          return "more than " + std::to_string(kMaxParams) + " parameters";
        }
        SkipSpaces();
        if (std::string p = Type(/*result=*/false, &out); !p.empty()) return p;
        SkipSpaces();
        if (Eat(')')) break;
        if (!Eat(',')) return Expected("',' or ')' after a parameter type");
        out += ',';
      }
    }
    out += ')';
    SkipSpaces();
    if (pos_ != text_.size()) return Expected("end of the signature after ')'");
    *canonical = std::move(out);
    return "";
  }

 private:
  std::string Type(bool result, std::string* out) {
    const size_t begin = pos_;
    while (pos_ < text_.size() && IsLower(text_[pos_])) ++pos_;
    std::string_view word = text_.substr(begin, pos_ - begin);
    if (word == "int" || word == "double" || word == "bool" || word == "string") {
      *out += word;
      return "";
    }
    if (word == "nil") {
      if (!result) return At(begin, "nil is only allowed as the result type (a void function)");
      *out += word;
      return "";
    }
    if (word == "record") {
      if (!Eat(':')) return Expected("':' and a record name after 'record'");
      const size_t name_begin = pos_;
      while (pos_ < text_.size() &&
             (IsAlpha(text_[pos_]) || IsDigit(text_[pos_]) || text_[pos_] == '_')) {
        ++pos_;
      }
      std::string_view name = text_.substr(name_begin, pos_ - name_begin);
      if (!IsIdentifier(name, kMaxRecordNameLength)) {
        return At(name_begin, "expected a record name [A-Za-z_][A-Za-z0-9_]* (at most " +
                                  std::to_string(kMaxRecordNameLength) + " characters)");
      }
      *out += "record:";
      *out += name;
      return "";
    }
    pos_ = begin;
    return Expected(result ? "a result type (int, double, bool, string, nil or record:<Name>)"
                           : "a parameter type (int, double, bool, string or record:<Name>)");
  }

  void SkipSpaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }
  bool Eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::string At(size_t offset, const std::string& what) const {
    return what + " at character " + std::to_string(offset + 1);
  }
  std::string Expected(const std::string& what) const {
    std::string found = pos_ < text_.size() ? Quote(text_.substr(pos_, 1)) : "the end";
    return At(pos_, "expected " + what + ", found " + found);
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------
// Model layer.

inline std::string SemverDetail(const std::string& message) {
  return std::string(atrium::internal::SemverDetail(message));
}
inline const char* Describe(const json::value& v) { return atrium::internal::JsonKindName(v); }

// Typed, located access to the manifest DOM: every failure is a kValidation
// Error naming the file and the pointer of the offending (or missing) value.
class Walker {
 public:
  explicit Walker(std::string_view file) : file_(file) {}

  Error Invalid(std::string pointer, std::string message) const {
    return Located(ErrorCode::kValidation, file_, std::move(pointer), std::move(message));
  }

  Result<const json::object*> Object(const json::value& v, const std::string& at) const {
    if (!v.is_object()) return Mistyped(at, "an object", v);
    return &v.get_object();
  }
  Result<const json::array*> Array(const json::value& v, const std::string& at) const {
    if (!v.is_array()) return Mistyped(at, "an array", v);
    return &v.get_array();
  }
  Result<std::string> String(const json::value& v, const std::string& at) const {
    if (!v.is_string()) return Mistyped(at, "a string", v);
    return std::string(v.get_string().data(), v.get_string().size());
  }
  // A JSON integer (no fraction, no exponent) within [min, max].
  Result<int64_t> Integer(const json::value& v, const std::string& at, int64_t min,
                          int64_t max) const {
    std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
    if (v.is_int64()) {
      int64_t n = v.get_int64();
      if (n < min || n > max) {
        return Invalid(at, std::to_string(n) + " is out of range: expected an integer in " + range);
      }
      return n;
    }
    if (v.is_uint64()) {
      return Invalid(
          at, std::to_string(v.get_uint64()) + " is out of range: expected an integer in " + range);
    }
    if (v.is_double()) {
      return Invalid(at, "expected an integer in " + range +
                             ", got a number with a fraction "
                             "or exponent");
    }
    return Mistyped(at, ("an integer in " + range).c_str(), v);
  }

  // nullptr when `key` is absent.
  const json::value* Find(const json::object& o, std::string_view key) const {
    return o.if_contains(key);
  }
  Result<const json::value*> Need(const json::object& o, const std::string& at,
                                  std::string_view key) const {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return Invalid(Member(at, key), "missing required field " + Quote(key));
    return v;
  }

  Status OnlyFields(const json::object& o, const std::string& at,
                    std::initializer_list<std::string_view> allowed) const {
    for (const json::key_value_pair& kv : o) {
      std::string_view key(kv.key().data(), kv.key().size());
      bool known = false;
      for (std::string_view a : allowed) known = known || a == key;
      if (known) continue;
      std::string list;
      for (std::string_view a : allowed) {
        if (!list.empty()) list += ", ";
        list += a;
      }
      return Invalid(Member(at, key), "unknown field " + Quote(key) + " (allowed: " + list + ")");
    }
    return Status::Ok();
  }

 private:
  Error Mistyped(const std::string& at, const char* expected, const json::value& got) const {
    return Invalid(at, std::string("expected ") + expected + ", got " + Describe(got));
  }

  std::string_view file_;
};

// The "point" member of object o at `at`: a valid point id.
inline Result<std::string> ReadPointId(const Walker& w, const json::object& o,
                                       const std::string& at) {
  ATRIUM_ASSIGN_OR_RETURN(const json::value* point, w.Need(o, at, "point"));
  ATRIUM_ASSIGN_OR_RETURN(std::string id, w.String(*point, Member(at, "point")));
  if (!IsPointId(id)) {
    return w.Invalid(Member(at, "point"), "invalid point id " + Quote(id) +
                                              ": expected '.'-separated labels of [a-z0-9_] like "
                                              "'transfer.fee.compute' (at least two, at most " +
                                              std::to_string(kMaxPointIdLength) + " characters)");
  }
  return id;
}

}  // namespace atrium::hotpatch::internal::patch_json

#endif  // ATRIUM_HOTPATCH_PATCH_JSON_H_
