// Hotpatch packages: the strict patch.json parser and reading a patch (its
// manifest and Lua source) from a signed .atb or from an installed copy
// (formats in patch_package.h). Signatures are the package format's: a
// patch is a package of kind lua_patch, verified by PackageReader and the
// artifact store like every artifact.
//
// ParsePatchManifest runs in two layers, like the bundle.json parser
// (manifest/src/manifest.cc): a basic_parser handler that builds the DOM,
// refuses duplicate keys and tracks the JSON pointer for syntax errors; then a
// walk of the DOM that turns every wrong type, unknown field and broken rule
// into a kValidation Error naming the file and JSON pointer.
//
// Concurrency: no shared state; every function may run on any thread at any
// time. Boost.JSON can only throw std::bad_alloc
// here; it is caught and becomes kInternal, so no exception leaves this file.
#include "patch_package.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "atrium/artifact_kind.h"
#include "atrium/base/hex.h"
#include "atrium/base/result_macros.h"
#include "atrium/base/strict_json.h"
#include "atrium/manifest.h"
#include "atrium/package.h"

// The early returns of base (short names for this file only; #undef'd at the end).
#define ASSIGN_OR_RETURN ATRIUM_ASSIGN_OR_RETURN
#define RETURN_IF_ERROR ATRIUM_RETURN_IF_ERROR

namespace atrium::hotpatch::internal {
namespace {

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

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return IsLower(c) || (c >= 'A' && c <= 'Z'); }
bool IsControl(char c) {
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

std::string JoinPath(const std::string& dir, std::string_view name) {
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

Result<json::value> ParseDom(std::string_view text, std::string_view file, json::storage_ptr sp) {
  return atrium::internal::ParseStrictJson(
      text, file, {kMaxManifestBytes, kMaxNestingDepth, "manifest"}, std::move(sp));
}

// ---------------------------------------------------------------------------
// Grammars.

// [a-z][a-z0-9_.-]{0,63}
bool IsPatchId(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdLength || !IsLower(s[0])) return false;
  for (char c : s) {
    if (!IsLower(c) && !IsDigit(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

// Two or more non-empty '.'-separated labels of [a-z0-9_].
bool IsPointId(std::string_view s) {
  if (s.empty() || s.size() > kMaxPointIdLength) return false;
  if (s.front() == '.' || s.back() == '.' || s.find("..") != std::string_view::npos) return false;
  if (s.find('.') == std::string_view::npos) return false;
  for (char c : s) {
    if (!IsLower(c) && !IsDigit(c) && c != '_' && c != '.') return false;
  }
  return true;
}

// [A-Za-z_][A-Za-z0-9_]* of at most `max` characters.
bool IsIdentifier(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max || !(IsAlpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '_') return false;
  }
  return true;
}

// Why `name` is not a plain file name in the package directory, or "".
std::string SourceNameProblem(std::string_view name) {
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

Result<std::string> ReadBundleName(const Walker& w, const json::object& o, const std::string& at,
                                   std::string_view key, const char* what) {
  ASSIGN_OR_RETURN(const json::value* v, w.Need(o, at, key));
  ASSIGN_OR_RETURN(std::string name, w.String(*v, Member(at, key)));
  if (!IsValidBundleName(name)) {
    return w.Invalid(Member(at, key),
                     std::string("invalid ") + what + " " + Quote(name) +
                         ": expected reverse-DNS form like 'com.example.wallet' (at least two "
                         "'.'-separated labels of [a-z0-9_-] each starting with a lowercase "
                         "letter, at most 128 characters)");
  }
  return name;
}

Result<VersionRange> ReadRange(const Walker& w, const json::value& v, const std::string& at) {
  ASSIGN_OR_RETURN(std::string text, w.String(v, at));
  Result<VersionRange> range = VersionRange::Parse(text);
  if (!range.ok()) {
    return w.Invalid(
        at, "invalid version range " + Quote(text) + ": " + SemverDetail(range.error().message));
  }
  return range;
}

Status ReadTargets(const Walker& w, const json::object& root, PatchManifest* m) {
  const std::string at = "/targets";
  ASSIGN_OR_RETURN(const json::value* v, w.Need(root, "", "targets"));
  ASSIGN_OR_RETURN(const json::object* targets, w.Object(*v, at));
  RETURN_IF_ERROR(w.OnlyFields(*targets, at, {"app", "app_versions", "bundles"}));
  ASSIGN_OR_RETURN(m->app_id, ReadBundleName(w, *targets, at, "app", "app id"));
  if (const json::value* range = w.Find(*targets, "app_versions")) {
    ASSIGN_OR_RETURN(m->app_versions, ReadRange(w, *range, Member(at, "app_versions")));
  }
  const json::value* bundles_value = w.Find(*targets, "bundles");
  if (bundles_value == nullptr) return Status::Ok();
  const std::string list_at = Member(at, "bundles");
  ASSIGN_OR_RETURN(const json::array* bundles, w.Array(*bundles_value, list_at));
  if (bundles->size() > kMaxBundleTargets) {
    return w.Invalid(list_at, "too many bundle targets (" + std::to_string(bundles->size()) +
                                  "); the limit is " + std::to_string(kMaxBundleTargets));
  }
  std::unordered_map<std::string, size_t> first_at;
  for (size_t i = 0; i < bundles->size(); ++i) {
    const std::string item_at = Element(list_at, i);
    ASSIGN_OR_RETURN(const json::object* b, w.Object((*bundles)[i], item_at));
    RETURN_IF_ERROR(w.OnlyFields(*b, item_at, {"name", "version"}));
    PatchManifest::BundleTarget target;
    ASSIGN_OR_RETURN(target.name, ReadBundleName(w, *b, item_at, "name", "bundle name"));
    auto [it, fresh] = first_at.emplace(target.name, i);
    if (!fresh) {
      return w.Invalid(Member(item_at, "name"), "duplicate bundle target " + Quote(target.name) +
                                                    " (first at " + Element(list_at, it->second) +
                                                    ")");
    }
    ASSIGN_OR_RETURN(const json::value* range, w.Need(*b, item_at, "version"));
    ASSIGN_OR_RETURN(target.range, ReadRange(w, *range, Member(item_at, "version")));
    m->bundles.push_back(std::move(target));
  }
  return Status::Ok();
}

// The "point" member of object o at `at`: a valid point id.
Result<std::string> ReadPointId(const Walker& w, const json::object& o, const std::string& at) {
  ASSIGN_OR_RETURN(const json::value* point, w.Need(o, at, "point"));
  ASSIGN_OR_RETURN(std::string id, w.String(*point, Member(at, "point")));
  if (!IsPointId(id)) {
    return w.Invalid(Member(at, "point"), "invalid point id " + Quote(id) +
                                              ": expected '.'-separated labels of [a-z0-9_] like "
                                              "'transfer.fee.compute' (at least two, at most " +
                                              std::to_string(kMaxPointIdLength) + " characters)");
  }
  return id;
}

Status ReadPoints(const Walker& w, const json::object& root, PatchManifest* m) {
  const std::string at = "/points";
  ASSIGN_OR_RETURN(const json::value* v, w.Need(root, "", "points"));
  ASSIGN_OR_RETURN(const json::array* points, w.Array(*v, at));
  if (points->empty()) return w.Invalid(at, "a patch must declare at least one point");
  if (points->size() > kMaxPoints) {
    return w.Invalid(at, "too many points (" + std::to_string(points->size()) + "); the limit is " +
                             std::to_string(kMaxPoints));
  }
  // "<point>\n<function>" -> index of its first declaration.
  std::unordered_map<std::string, size_t> first_at;
  for (size_t i = 0; i < points->size(); ++i) {
    const std::string item_at = Element(at, i);
    ASSIGN_OR_RETURN(const json::object* p, w.Object((*points)[i], item_at));
    RETURN_IF_ERROR(w.OnlyFields(*p, item_at, {"point", "mode", "function", "signature", "order"}));
    PatchPointDecl decl;

    ASSIGN_OR_RETURN(decl.point, ReadPointId(w, *p, item_at));

    if (const json::value* mode = w.Find(*p, "mode")) {
      ASSIGN_OR_RETURN(std::string text, w.String(*mode, Member(item_at, "mode")));
      if (text == "replace") {
        decl.mode = PatchMode::kReplace;
      } else if (text == "before") {
        decl.mode = PatchMode::kBefore;
      } else if (text == "after") {
        decl.mode = PatchMode::kAfter;
      } else {
        return w.Invalid(Member(item_at, "mode"), "invalid mode " + Quote(text) +
                                                      ": expected 'replace', 'before' or 'after'");
      }
    }

    ASSIGN_OR_RETURN(const json::value* function, w.Need(*p, item_at, "function"));
    ASSIGN_OR_RETURN(decl.function, w.String(*function, Member(item_at, "function")));
    if (!IsIdentifier(decl.function, kMaxFunctionLength)) {
      return w.Invalid(Member(item_at, "function"),
                       "invalid function name " + Quote(decl.function) +
                           ": expected a Lua name [A-Za-z_][A-Za-z0-9_]* of at most " +
                           std::to_string(kMaxFunctionLength) + " characters");
    }

    ASSIGN_OR_RETURN(const json::value* signature, w.Need(*p, item_at, "signature"));
    ASSIGN_OR_RETURN(std::string text, w.String(*signature, Member(item_at, "signature")));
    std::string problem = SignatureGrammar(text).Parse(&decl.signature);
    if (!problem.empty()) {
      return w.Invalid(Member(item_at, "signature"),
                       "invalid signature " + Quote(text) + ": " + problem +
                           " (form: 'result(param,...)', e.g. 'int(int,string)')");
    }

    if (const json::value* order = w.Find(*p, "order")) {
      ASSIGN_OR_RETURN(int64_t n, w.Integer(*order, Member(item_at, "order"), -1000000, 1000000));
      decl.order = static_cast<int>(n);
    }

    auto [it, fresh] = first_at.emplace(decl.point + '\n' + decl.function, i);
    if (!fresh) {
      return w.Invalid(item_at, "point " + Quote(decl.point) + " is already patched by function " +
                                    Quote(decl.function) + " (first at " + Element(at, it->second) +
                                    ")");
    }
    m->points.push_back(std::move(decl));
  }
  return Status::Ok();
}

Status ReadLimits(const Walker& w, const json::object& root, PatchManifest* m) {
  const json::value* v = w.Find(root, "limits");
  if (v == nullptr) return Status::Ok();
  const std::string at = "/limits";
  ASSIGN_OR_RETURN(const json::object* limits, w.Object(*v, at));
  RETURN_IF_ERROR(
      w.OnlyFields(*limits, at, {"memory_kb", "instructions", "time_ms", "max_faults"}));
  if (const json::value* n = w.Find(*limits, "memory_kb")) {
    ASSIGN_OR_RETURN(int64_t kb, w.Integer(*n, Member(at, "memory_kb"), 16, 65536));
    m->memory_kb = static_cast<uint32_t>(kb);
  }
  if (const json::value* n = w.Find(*limits, "instructions")) {
    ASSIGN_OR_RETURN(int64_t count, w.Integer(*n, Member(at, "instructions"), 1000, 1000000000));
    m->instructions = static_cast<uint64_t>(count);
  }
  if (const json::value* n = w.Find(*limits, "time_ms")) {
    ASSIGN_OR_RETURN(int64_t ms, w.Integer(*n, Member(at, "time_ms"), 1, 10000));
    m->time_ms = static_cast<uint32_t>(ms);
  }
  if (const json::value* n = w.Find(*limits, "max_faults")) {
    ASSIGN_OR_RETURN(int64_t faults, w.Integer(*n, Member(at, "max_faults"), 1, 1000));
    m->max_faults = static_cast<uint32_t>(faults);
  }
  return Status::Ok();
}

Result<PatchManifest> BuildManifest(const json::value& doc, std::string_view file) {
  Walker w(file);
  ASSIGN_OR_RETURN(const json::object* root, w.Object(doc, ""));
  RETURN_IF_ERROR(w.OnlyFields(
      *root, "", {"id", "version", "description", "targets", "points", "limits", "source"}));
  PatchManifest m;

  ASSIGN_OR_RETURN(const json::value* id, w.Need(*root, "", "id"));
  ASSIGN_OR_RETURN(m.id, w.String(*id, "/id"));
  if (!IsPatchId(m.id)) {
    return w.Invalid("/id", "invalid patch id " + Quote(m.id) +
                                ": expected [a-z][a-z0-9_.-]*, at most 64 characters");
  }

  ASSIGN_OR_RETURN(const json::value* version, w.Need(*root, "", "version"));
  ASSIGN_OR_RETURN(std::string version_text, w.String(*version, "/version"));
  Result<Version> parsed = Version::Parse(version_text);
  if (!parsed.ok()) {
    return w.Invalid("/version", "invalid version " + Quote(version_text) + ": " +
                                     SemverDetail(parsed.error().message));
  }
  m.version = std::move(parsed).value();

  if (const json::value* description = w.Find(*root, "description")) {
    ASSIGN_OR_RETURN(m.description, w.String(*description, "/description"));
    if (m.description.size() > kMaxDescriptionBytes) {
      return w.Invalid("/description", "description is " + std::to_string(m.description.size()) +
                                           " bytes; the limit is " +
                                           std::to_string(kMaxDescriptionBytes));
    }
  }

  RETURN_IF_ERROR(ReadTargets(w, *root, &m));
  RETURN_IF_ERROR(ReadPoints(w, *root, &m));
  RETURN_IF_ERROR(ReadLimits(w, *root, &m));

  if (const json::value* source = w.Find(*root, "source")) {
    ASSIGN_OR_RETURN(m.source, w.String(*source, "/source"));
    if (std::string problem = SourceNameProblem(m.source); !problem.empty()) {
      return w.Invalid("/source", "invalid source file name " + Quote(m.source) + ": " + problem);
    }
  }
  return m;
}

Result<std::vector<BundlePatchPoint>> BuildBundlePatchPoints(const json::value& v,
                                                             std::string_view file,
                                                             const std::string& at) {
  Walker w(file);
  ASSIGN_OR_RETURN(const json::array* points, w.Array(v, at));
  if (points->size() > kMaxPoints) {
    return w.Invalid(at, "too many points (" + std::to_string(points->size()) + "); the limit is " +
                             std::to_string(kMaxPoints));
  }
  std::vector<BundlePatchPoint> out;
  std::unordered_map<std::string, size_t> first_at;
  for (size_t i = 0; i < points->size(); ++i) {
    const std::string item_at = Element(at, i);
    ASSIGN_OR_RETURN(const json::object* p, w.Object((*points)[i], item_at));
    RETURN_IF_ERROR(w.OnlyFields(*p, item_at, {"point", "signature", "description"}));
    BundlePatchPoint point;
    ASSIGN_OR_RETURN(point.point, ReadPointId(w, *p, item_at));
    auto [it, fresh] = first_at.emplace(point.point, i);
    if (!fresh) {
      return w.Invalid(Member(item_at, "point"), "point " + Quote(point.point) +
                                                     " is declared twice (first at " +
                                                     Element(at, it->second) + ")");
    }
    ASSIGN_OR_RETURN(const json::value* signature, w.Need(*p, item_at, "signature"));
    ASSIGN_OR_RETURN(std::string text, w.String(*signature, Member(item_at, "signature")));
    if (std::string problem = SignatureGrammar(text).Parse(&point.signature); !problem.empty()) {
      return w.Invalid(Member(item_at, "signature"),
                       "invalid signature " + Quote(text) + ": " + problem +
                           " (form: 'result(param,...)', e.g. 'int(int,string)')");
    }
    if (const json::value* d = w.Find(*p, "description")) {
      ASSIGN_OR_RETURN(std::string unused, w.String(*d, Member(item_at, "description")));
    }
    out.push_back(std::move(point));
  }
  return out;
}

Result<PatchManifest> BuildManifestNoThrow(const json::value& doc, std::string_view file) {
  try {
    return BuildManifest(doc, file);
  } catch (const std::exception& ex) {
    return Located(ErrorCode::kInternal, file, "",
                   std::string("out of resources while reading the manifest: ") + ex.what());
  }
}

// The source file name the manifest DOM names ("patch.lua" when it names
// none, or names it with a non-string: the model layer reports that later).
std::string SourceNameOf(const json::value& doc) {
  if (const json::object* root = doc.if_object()) {
    if (const json::value* source = root->if_contains("source")) {
      if (source->is_string()) return std::string(source->get_string());
    }
  }
  return "patch.lua";
}

// ---------------------------------------------------------------------------
// Files.

struct FileRead {
  int error = 0;  // errno of a failed open/read, 0 on success
  bool not_regular = false;
  bool too_large = false;  // more than the limit; `data` is then partial
  std::string data;
};

// Reads `path` up to `limit` bytes (one more to tell that it is larger). A
// FIFO or device is refused without blocking on it.
FileRead ReadUpTo(const std::string& path, size_t limit) {
  FileRead r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    r.error = errno;
    return r;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    r.error = errno;
  } else if (!S_ISREG(st.st_mode)) {
    r.not_regular = true;
  } else {
    char buffer[16384];
    while (r.data.size() <= limit) {
      ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        r.error = errno;
        break;
      }
      if (n == 0) break;
      r.data.append(buffer, static_cast<size_t>(n));
    }
    r.too_large = r.error == 0 && r.data.size() > limit;
  }
  ::close(fd);
  return r;
}

// The error for a failed ReadUpTo of a package file, or nothing.
std::optional<Error> ReadProblem(const FileRead& r, const std::string& path, const char* what,
                                 size_t limit) {
  if (r.error != 0) {
    return Located(
        ErrorCode::kIo, path, "",
        std::string("cannot read ") + what + ": " + std::generic_category().message(r.error));
  }
  if (r.not_regular) {
    return Located(ErrorCode::kIo, path, "", std::string(what) + " is not a regular file");
  }
  if (r.too_large) {
    return Located(
        ErrorCode::kValidation, path, "",
        std::string(what) + " is larger than the " + std::to_string(limit / 1024) + " KiB limit");
  }
  return std::nullopt;
}

// Reads the manifest and source of the patch in `dir`: size-capped, the
// source named by the manifest's DOM. `syntax_is_corruption` turns a JSON
// syntax error into kCorrupt (an installed copy that no longer parses was
// damaged) instead of kParse (the author's mistake).
struct RawPackage {
  std::string manifest_path;
  std::string source_name;
  std::string manifest_json;
  std::string source_path;
  std::string source;
};

Result<RawPackage> ReadRawPackage(const std::string& dir, json::monotonic_resource* arena,
                                  json::value* doc, bool syntax_is_corruption) {
  RawPackage raw;
  raw.manifest_path = JoinPath(dir, kManifestName);
  FileRead manifest = ReadUpTo(raw.manifest_path, kMaxManifestBytes);
  if (auto e = ReadProblem(manifest, raw.manifest_path, "manifest", kMaxManifestBytes)) return *e;
  raw.manifest_json = std::move(manifest.data);

  Result<json::value> parsed = ParseDom(raw.manifest_json, raw.manifest_path, arena);
  if (!parsed.ok()) {
    Error e = std::move(parsed).take_error();
    if (syntax_is_corruption && e.code == ErrorCode::kParse) {
      e.code = ErrorCode::kCorrupt;
      e.message += "; the package cannot be verified (damaged, or modified after signing)";
    }
    return e;
  }
  *doc = std::move(parsed).value();

  std::string name = SourceNameOf(*doc);
  if (std::string problem = SourceNameProblem(name); !problem.empty()) {
    return Located(ErrorCode::kValidation, raw.manifest_path, "/source",
                   "invalid source file name " + Quote(name) + ": " + problem);
  }
  raw.source_path = JoinPath(dir, name);
  raw.source_name = name;
  FileRead source = ReadUpTo(raw.source_path, kMaxSourceBytes);
  if (auto e = ReadProblem(source, raw.source_path, "patch source", kMaxSourceBytes)) return *e;
  raw.source = std::move(source.data);
  return raw;
}

}  // namespace

const char* PatchModeName(PatchMode mode) {
  switch (mode) {
    case PatchMode::kReplace:
      return "replace";
    case PatchMode::kBefore:
      return "before";
    case PatchMode::kAfter:
      return "after";
  }
  return "unknown";
}

Result<std::vector<BundlePatchPoint>> ReadBundlePatchPoints(const boost::json::value& section,
                                                            std::string_view file,
                                                            std::string_view pointer) {
  try {
    return BuildBundlePatchPoints(section, file, std::string(pointer));
  } catch (const std::exception& ex) {
    return Located(ErrorCode::kInternal, file, std::string(pointer),
                   std::string("out of resources while reading patch points: ") + ex.what());
  }
}

Result<PatchManifest> ParsePatchManifest(std::string_view json, std::string_view file) {
  json::monotonic_resource arena;
  ASSIGN_OR_RETURN(json::value doc, ParseDom(json, file, &arena));
  return BuildManifestNoThrow(doc, file);
}

Result<PatchPackage> ReadPatchDir(const std::string& dir, bool installed_copy) {
  struct stat dir_stat;
  const int stat_result = ::stat(dir.c_str(), &dir_stat);
  if (stat_result != 0 || !S_ISDIR(dir_stat.st_mode)) {
    const int err = stat_result != 0 ? errno : 0;
    return Located(ErrorCode::kIo, dir, "",
                   "not a patch directory" +
                       (err != 0 ? ": " + std::generic_category().message(err) : std::string()));
  }
  json::monotonic_resource arena;
  json::value doc;
  ASSIGN_OR_RETURN(RawPackage raw, ReadRawPackage(dir, &arena, &doc, installed_copy));
  ASSIGN_OR_RETURN(PatchManifest manifest, BuildManifestNoThrow(doc, raw.manifest_path));
  PatchPackage package;
  package.manifest = std::move(manifest);
  package.manifest_json = std::move(raw.manifest_json);
  package.source = std::move(raw.source);
  package.dir = dir;
  return package;
}

Result<PatchPackage> ReadPatchPackage(const PackageReader& reader) {
  const PackageInfo& info = reader.info();
  if (info.kind != ArtifactKind::kLuaPatch) {
    return Located(ErrorCode::kValidation, reader.path(), "",
                   std::string("not a hotpatch: a package of kind ") + ArtifactKindName(info.kind) +
                       " (a hotpatch is a lua_patch package of a patch directory)");
  }
  const std::string manifest_file = reader.path() + ":" + std::string(kManifestName);
  ASSIGN_OR_RETURN(PatchManifest manifest, ParsePatchManifest(info.manifest, manifest_file));
  auto entry = std::find_if(info.entries.begin(), info.entries.end(),
                            [&](const PackEntryInfo& e) { return e.path == manifest.source; });
  if (entry == info.entries.end()) {
    return Located(ErrorCode::kValidation, manifest_file, "/source",
                   "the source " + Quote(manifest.source) + " is not in the package");
  }
  if (entry->size > kMaxSourceBytes) {
    return Located(
        ErrorCode::kValidation, reader.path() + ":" + manifest.source, "",
        "patch source is larger than the " + std::to_string(kMaxSourceBytes / 1024) + " KiB limit");
  }
  ASSIGN_OR_RETURN(std::string source, reader.ReadEntry(manifest.source));
  PatchPackage package;
  package.manifest = std::move(manifest);
  package.manifest_json = info.manifest;
  package.source = std::move(source);
  return package;
}

}  // namespace atrium::hotpatch::internal

#undef RETURN_IF_ERROR
#undef ASSIGN_OR_RETURN
