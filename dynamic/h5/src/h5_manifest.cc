// The strict h5.json parser (h5_manifest.h; the rules are docs/h5.md).
//
// Two layers, like bundle.json (manifest/src/manifest.cc) and patch.json:
// ParseStrictJson builds the DOM, refusing duplicate keys and naming the
// JSON pointer and byte offset of a syntax error; then a FieldReader walk
// turns every wrong type, unknown field and broken rule into a kValidation
// Error naming the file and JSON pointer. Only the first problem is
// reported; fields are checked in the order docs/h5.md lists them.
//
// Concurrency: no shared state; every function may run on any thread at any
// time. Boost.JSON can only throw std::bad_alloc here; it is caught and
// becomes kInternal, so no exception leaves this file.
#include "atrium/dynamic/h5/h5_manifest.h"

#include <boost/json.hpp>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "atrium/base/field_reader.h"
#include "atrium/base/result_macros.h"
#include "atrium/base/strict_json.h"
#include "atrium/host_api.h"

namespace atrium::h5 {
namespace {

namespace json = boost::json;
using internal::Child;
using internal::DescribeByteAt;
using internal::FieldReader;
using internal::Quote;
using internal::SemverDetail;

constexpr size_t kMaxNestingDepth = 16;  // h5.json itself needs 3 levels

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsControl(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7F;
}

// Splits `s` at `sep`, calling `part(piece, last)` for each piece (an empty
// `s` is one empty piece) until it returns a problem (a non-empty string).
template <typename PartProblem>
std::string ForEachPart(std::string_view s, char sep, PartProblem part) {
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    std::string problem = part(s.substr(start, end == std::string_view::npos ? end : end - start),
                               /*last=*/end == std::string_view::npos);
    if (!problem.empty() || end == std::string_view::npos) return problem;
    start = end + 1;
  }
}

std::string TooLong(size_t size, size_t limit, const char* unit) {
  return "is " + std::to_string(size) + " " + unit + "; the limit is " + std::to_string(limit);
}

// ---------------------------------------------------------------------------
// Grammars: each returns why its input is not valid, or "".

// What app id errors call it: "invalid H5 app id 'Help': ...".
constexpr const char* kAppIdWhat = "H5 app id";

// The rule of IsH5AppId, named in every app id problem.
std::string AppIdRule() {
  return " (a lowercase host label: [a-z][a-z0-9-]*, at most " + std::to_string(kMaxAppIdBytes) +
         " characters, not ending in '-')";
}

std::string AppIdProblem(std::string_view id) {
  std::string problem;
  if (id.empty()) problem = "must not be empty";
  for (size_t i = 0; problem.empty() && i < id.size(); ++i) {
    const char c = id[i];
    if (IsLower(c) || (i > 0 && (IsDigit(c) || c == '-'))) continue;
    problem = DescribeByteAt(id, i) + " at " + std::to_string(i) + " is not allowed";
  }
  if (problem.empty() && id.size() > kMaxAppIdBytes) {
    problem = "is " + std::to_string(id.size()) + " characters long";
  }
  if (problem.empty() && id.back() == '-') {
    problem = "'-' at " + std::to_string(id.size() - 1) + " is not allowed";
  }
  return problem.empty() ? problem : problem + AppIdRule();
}

// IsHostApiName decides; this only says why a name fails it.
std::string JsApiNameProblem(std::string_view name) {
  if (IsHostApiName(name)) return "";
  if (name.empty()) return "must not be empty";
  if (name.size() > kMaxJsApiNameBytes) return TooLong(name.size(), kMaxJsApiNameBytes, "bytes");
  size_t segments = 0;
  std::string problem = ForEachPart(name, '.', [&](std::string_view segment, bool) {
    ++segments;
    if (segment.empty()) {
      return std::string("has an empty segment (a leading, trailing or doubled '.')");
    }
    if (!IsLower(segment[0])) {
      return "segment " + Quote(segment) + " must start with a lowercase letter";
    }
    for (char c : segment) {
      if (IsLower(c) || IsUpper(c) || IsDigit(c) || c == '_') continue;
      return "segment " + Quote(segment) + " has " + Quote(std::string_view(&c, 1)) +
             "; a segment is letters, digits and '_'";
    }
    return std::string();
  });
  if (!problem.empty()) return problem;
  if (segments < 2) return "needs at least two '.'-separated segments, like 'wallet.getBalance'";
  return "is not a host API name ('.'-separated [a-z][A-Za-z0-9_]*, at least two, at most " +
         std::to_string(kMaxJsApiNameBytes) + " bytes)";
}

// Text shown to people (name, reason): 1..max_chars characters, no C0/C1
// control characters. The JSON parser has checked that it is UTF-8.
std::string TextProblem(std::string_view text, size_t max_chars) {
  if (text.empty()) return "must not be empty";
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    auto u = static_cast<unsigned char>(text[i]);
    const bool c1 = u == 0xC2 && i + 1 < text.size() &&
                    static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(text[i + 1]) <= 0x9F;
    if (IsControl(text[i]) || c1) return "must not contain control characters";
    if ((u & 0xC0) != 0x80) ++chars;
  }
  if (chars > max_chars) return TooLong(chars, max_chars, "characters");
  return "";
}

// A path inside www/ as the manifest writes it: canonical, relative, the
// file's own name (no query, fragment or percent-encoding). A `prefix` may
// end with '/' ("assets/").
std::string WwwPathProblem(std::string_view path, bool prefix) {
  if (path.empty()) return "must not be empty";
  if (path.size() > kMaxPathBytes) return TooLong(path.size(), kMaxPathBytes, "bytes");
  if (path.front() == '/') return "must be relative to www/, not start with '/'";
  for (char c : path) {
    if (IsControl(c)) return "must not contain control characters";
    if (c == '\\') return "must use '/' as separator, not '\\'";
    if (c == '?' || c == '#') {
      return "must be a path only, without a query ('?') or fragment ('#')";
    }
    if (c == '%') return "must not contain '%' (write the file's name, not its URL encoding)";
  }
  std::string_view body = path;
  if (prefix && body.back() == '/') body.remove_suffix(1);
  return ForEachPart(body, '/', [&](std::string_view segment, bool last) {
    if (segment == "..") return std::string("must not contain '..' segments");
    if (segment == ".") return std::string("must not contain '.' segments");
    if (segment.empty()) {
      return std::string(last && !prefix ? "must name a file, not end with '/'"
                                         : "must not contain empty segments ('//')");
    }
    if (segment.size() > kMaxPathSegmentBytes) {
      return "has a segment of " + std::to_string(segment.size()) + " bytes; the limit is " +
             std::to_string(kMaxPathSegmentBytes);
    }
    return std::string();
  });
}

// A Content-Security-Policy header value.
std::string CspProblem(std::string_view csp) {
  if (csp.empty()) return "must not be empty";
  if (csp.size() > kMaxCspBytes) return TooLong(csp.size(), kMaxCspBytes, "bytes");
  for (size_t i = 0; i < csp.size(); ++i) {
    if (csp[i] == '\r' || csp[i] == '\n') {
      return "must not contain CR or LF (a header value is one line)";
    }
    auto u = static_cast<unsigned char>(csp[i]);
    if (u < 0x20 || u > 0x7E) {
      return "must be printable ASCII (0x20 to 0x7E); found " + DescribeByteAt(csp, i) +
             " at byte " + std::to_string(i);
    }
  }
  return "";
}

// ---------------------------------------------------------------------------
// The walk.

// A string at `at` that `problem` accepts; `what` names it in the message.
template <typename ProblemOf>
Result<std::string> ReadChecked(const FieldReader& r, const json::value& v, const std::string& at,
                                const char* what, ProblemOf problem_of) {
  ATRIUM_ASSIGN_OR_RETURN(std::string s, r.AsString(v, at));
  if (std::string problem = problem_of(s); !problem.empty()) {
    return r.Invalid(at, std::string("invalid ") + what + " " + Quote(s) + ": " + problem);
  }
  return s;
}

// The member `key` of root, which an app must have.
Result<const json::value*> NeedForApp(const FieldReader& r, const json::object& root,
                                      std::string_view key) {
  const json::value* v = root.if_contains(key);
  if (v == nullptr) {
    return r.Invalid(Child("", key),
                     "missing required field " + Quote(key) + " (required when kind is 'app')");
  }
  return v;
}

// Fields only an app may have, and why.
struct AppOnlyField {
  std::string_view key;
  const char* why;
};
constexpr AppOnlyField kAppOnlyFields[] = {
    {"entry", "a library is not opened, so it has no entry page"},
    {"fallback_url", "a library is not opened, so it has no fallback"},
    {"jsapis", "a library calls no host API itself; the app that uses it declares them"},
    {"uses", "a library uses no other library; the app declares every library it uses"},
    {"csp", "a library's files are served with the policy of the app that uses it"},
};

Status ReadJsApis(const FieldReader& r, const json::object& root, H5Manifest* m) {
  ATRIUM_ASSIGN_OR_RETURN(const json::array* list, r.OptionalArray(root, "", "jsapis"));
  if (list == nullptr) return Status::Ok();
  const std::string base = "/jsapis";
  if (list->size() > kMaxJsApis) {
    return r.Invalid(base, "too many JS APIs (" + std::to_string(list->size()) +
                               "); the limit is " + std::to_string(kMaxJsApis));
  }
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string at = Child(base, i);
    ATRIUM_ASSIGN_OR_RETURN(const json::object* o, r.AsObject((*list)[i], at));
    ATRIUM_RETURN_IF_ERROR(r.CheckKnownFields(*o, at, {"name", "reason"}));
    JsApiDecl api;
    const json::value* name = o->if_contains("name");
    if (name == nullptr) return r.Invalid(Child(at, "name"), "missing required field 'name'");
    ATRIUM_ASSIGN_OR_RETURN(
        api.name, ReadChecked(r, *name, Child(at, "name"), "JS API name", JsApiNameProblem));
    auto [it, fresh] = seen.emplace(api.name, i);
    if (!fresh) {
      return r.Invalid(Child(at, "name"), "duplicate JS API " + Quote(api.name) + " (first at " +
                                              Child(base, it->second) + ")");
    }
    const json::value* reason = o->if_contains("reason");
    if (reason == nullptr) return r.Invalid(Child(at, "reason"), "missing required field 'reason'");
    ATRIUM_ASSIGN_OR_RETURN(
        api.reason, ReadChecked(r, *reason, Child(at, "reason"), "reason", [](std::string_view s) {
          return TextProblem(s, kMaxReasonChars);
        }));
    m->jsapis.push_back(std::move(api));
  }
  return Status::Ok();
}

Status ReadUses(const FieldReader& r, const json::object& root, H5Manifest* m) {
  ATRIUM_ASSIGN_OR_RETURN(const json::array* list, r.OptionalArray(root, "", "uses"));
  if (list == nullptr) return Status::Ok();
  const std::string base = "/uses";
  if (list->size() > kMaxUses) {
    return r.Invalid(base, "too many libraries (" + std::to_string(list->size()) +
                               "); the limit is " + std::to_string(kMaxUses));
  }
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string at = Child(base, i);
    ATRIUM_ASSIGN_OR_RETURN(const json::object* o, r.AsObject((*list)[i], at));
    ATRIUM_RETURN_IF_ERROR(r.CheckKnownFields(*o, at, {"id", "range"}));
    LibraryUse use;
    const json::value* id = o->if_contains("id");
    if (id == nullptr) return r.Invalid(Child(at, "id"), "missing required field 'id'");
    ATRIUM_ASSIGN_OR_RETURN(use.id, ReadChecked(r, *id, Child(at, "id"), kAppIdWhat, AppIdProblem));
    if (use.id == m->id) {
      return r.Invalid(Child(at, "id"),
                       "package " + Quote(m->id) + " cannot use itself as a library");
    }
    auto [it, fresh] = seen.emplace(use.id, i);
    if (!fresh) {
      return r.Invalid(Child(at, "id"), "duplicate library " + Quote(use.id) + " (first at " +
                                            Child(base, it->second) + ")");
    }
    ATRIUM_ASSIGN_OR_RETURN(std::string range_text, r.RequiredString(*o, at, "range"));
    Result<VersionRange> range = VersionRange::Parse(range_text);
    if (!range.ok()) {
      return r.Invalid(Child(at, "range"), "invalid version range " + Quote(range_text) + ": " +
                                               std::string(SemverDetail(range.error().message)));
    }
    use.range = std::move(range).value();
    m->uses.push_back(std::move(use));
  }
  return Status::Ok();
}

Status ReadCache(const FieldReader& r, const json::object& root, H5Manifest* m) {
  ATRIUM_ASSIGN_OR_RETURN(const json::object* cache, r.OptionalObject(root, "", "cache"));
  if (cache == nullptr) return Status::Ok();
  const std::string at = "/cache";
  ATRIUM_RETURN_IF_ERROR(r.CheckKnownFields(*cache, at, {"max_age_s", "immutable"}));
  ATRIUM_ASSIGN_OR_RETURN(m->cache.max_age_s,
                          r.OptionalInt(*cache, at, "max_age_s", 0, 0, kMaxCacheMaxAgeSeconds));
  ATRIUM_ASSIGN_OR_RETURN(const json::array* list, r.OptionalArray(*cache, at, "immutable"));
  if (list == nullptr) return Status::Ok();
  const std::string base = Child(at, "immutable");
  if (list->size() > kMaxImmutablePrefixes) {
    return r.Invalid(base, "too many immutable prefixes (" + std::to_string(list->size()) +
                               "); the limit is " + std::to_string(kMaxImmutablePrefixes));
  }
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string item = Child(base, i);
    ATRIUM_ASSIGN_OR_RETURN(
        std::string prefix,
        ReadChecked(r, (*list)[i], item, "immutable prefix",
                    [](std::string_view s) { return WwwPathProblem(s, /*prefix=*/true); }));
    auto [it, fresh] = seen.emplace(prefix, i);
    if (!fresh) {
      return r.Invalid(item, "duplicate immutable prefix " + Quote(prefix) + " (first at " +
                                 Child(base, it->second) + ")");
    }
    m->cache.immutable.push_back(std::move(prefix));
  }
  return Status::Ok();
}

Result<H5Manifest> BuildManifest(const json::value& doc, std::string_view file) {
  FieldReader r(file);
  ATRIUM_ASSIGN_OR_RETURN(const json::object* root, r.AsObject(doc, ""));
  ATRIUM_RETURN_IF_ERROR(
      r.CheckKnownFields(*root, "",
                         {"$schema", "format", "id", "version", "kind", "name", "entry",
                          "fallback_url", "jsapis", "uses", "cache", "csp"}));
  if (auto schema = r.OptionalString(*root, "", "$schema", ""); !schema.ok()) {
    return std::move(schema).take_error();
  }
  H5Manifest m;

  const json::value* format = root->if_contains("format");
  if (format == nullptr) return r.Invalid("/format", "missing required field 'format'");
  if (!format->is_int64() && !format->is_uint64()) {
    return r.WrongType("/format", "an integer", *format);
  }
  if (!format->is_int64() || format->get_int64() != kManifestFormat) {
    return r.Invalid("/format", "unsupported format " + json::serialize(*format) +
                                    ": this runtime reads format " +
                                    std::to_string(kManifestFormat));
  }

  const json::value* id = root->if_contains("id");
  if (id == nullptr) return r.Invalid("/id", "missing required field 'id'");
  ATRIUM_ASSIGN_OR_RETURN(m.id, ReadChecked(r, *id, "/id", kAppIdWhat, AppIdProblem));

  ATRIUM_ASSIGN_OR_RETURN(std::string version, r.RequiredString(*root, "", "version"));
  Result<Version> parsed = Version::Parse(version);
  if (!parsed.ok()) {
    return r.Invalid("/version", "invalid version " + Quote(version) + ": " +
                                     std::string(SemverDetail(parsed.error().message)));
  }
  m.version = std::move(parsed).value();

  ATRIUM_ASSIGN_OR_RETURN(std::string kind, r.OptionalString(*root, "", "kind", "app"));
  if (kind == "library") {
    m.kind = H5Kind::kLibrary;
  } else if (kind != "app") {
    return r.Invalid("/kind", "unknown kind " + Quote(kind) + " (allowed: app, library)");
  }

  auto name_problem = [](std::string_view s) { return TextProblem(s, kMaxNameChars); };
  if (m.IsLibrary()) {
    for (const AppOnlyField& f : kAppOnlyFields) {
      if (root->contains(f.key)) {
        return r.Invalid(Child("", f.key), "field " + Quote(f.key) +
                                               " is not allowed when kind is 'library': " + f.why);
      }
    }
    m.csp.clear();
    if (const json::value* name = root->if_contains("name")) {
      ATRIUM_ASSIGN_OR_RETURN(m.name, ReadChecked(r, *name, "/name", "name", name_problem));
    }
    ATRIUM_RETURN_IF_ERROR(ReadCache(r, *root, &m));
    return m;
  }

  ATRIUM_ASSIGN_OR_RETURN(const json::value* name, NeedForApp(r, *root, "name"));
  ATRIUM_ASSIGN_OR_RETURN(m.name, ReadChecked(r, *name, "/name", "name", name_problem));
  ATRIUM_ASSIGN_OR_RETURN(const json::value* entry, NeedForApp(r, *root, "entry"));
  ATRIUM_ASSIGN_OR_RETURN(
      m.entry, ReadChecked(r, *entry, "/entry", "entry",
                           [](std::string_view s) { return WwwPathProblem(s, /*prefix=*/false); }));
  ATRIUM_ASSIGN_OR_RETURN(const json::value* fallback, NeedForApp(r, *root, "fallback_url"));
  ATRIUM_ASSIGN_OR_RETURN(
      m.fallback_url, ReadChecked(r, *fallback, "/fallback_url", "fallback URL", WebUrlProblem));
  ATRIUM_RETURN_IF_ERROR(ReadJsApis(r, *root, &m));
  ATRIUM_RETURN_IF_ERROR(ReadUses(r, *root, &m));
  ATRIUM_RETURN_IF_ERROR(ReadCache(r, *root, &m));
  if (const json::value* csp = root->if_contains("csp")) {
    ATRIUM_ASSIGN_OR_RETURN(m.csp, ReadChecked(r, *csp, "/csp", "csp", CspProblem));
  }
  return m;
}

}  // namespace

const char* H5KindName(H5Kind kind) {
  switch (kind) {
    case H5Kind::kApp:
      return "app";
    case H5Kind::kLibrary:
      return "library";
  }
  return "unknown";
}

Result<H5Manifest> ParseH5Manifest(std::string_view text, std::string_view file) {
  json::monotonic_resource arena;
  ATRIUM_ASSIGN_OR_RETURN(
      json::value doc, internal::ParseStrictJson(
                           text, file, {kMaxManifestBytes, kMaxNestingDepth, "manifest"}, &arena));
  try {
    return BuildManifest(doc, file);
  } catch (const std::exception& e) {
    return internal::MakeLocated(
        ErrorCode::kInternal, file, "",
        std::string("out of resources while reading the manifest: ") + e.what());
  }
}

Status ValidateH5Manifest(std::string_view text, std::string_view file) {
  Result<H5Manifest> m = ParseH5Manifest(text, file);
  return m.ok() ? Status::Ok() : Status(m.error());
}

bool IsH5AppId(std::string_view id) { return AppIdProblem(id).empty(); }

// An absolute http(s) URL with a host, no user info, printable ASCII.
std::string WebUrlProblem(std::string_view url) {
  if (url.empty()) return "must not be empty";
  if (url.size() > kMaxUrlBytes) return TooLong(url.size(), kMaxUrlBytes, "bytes");
  for (char c : url) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return "must not contain whitespace or control characters";
    if (u >= 0x80) return "must be ASCII (percent-encode other characters)";
    if (c == '\\') return "must not contain '\\'";
  }
  const size_t colon = url.find(':');
  const std::string_view scheme = url.substr(0, colon == std::string_view::npos ? 0 : colon);
  if (scheme != "https" && scheme != "http") {
    bool is_scheme = !scheme.empty() && (IsLower(scheme[0]) || IsUpper(scheme[0]));
    for (char c : scheme) {
      is_scheme =
          is_scheme && (IsLower(c) || IsUpper(c) || IsDigit(c) || c == '+' || c == '-' || c == '.');
    }
    if (!is_scheme) return "must be an absolute URL starting with 'https://' or 'http://'";
    return "scheme " + Quote(scheme) + " is not allowed (only https and http, in lowercase)";
  }
  std::string_view rest = url.substr(colon + 1);
  if (rest.substr(0, 2) != "//") {
    return "has no host (expected '//' after '" + std::string(scheme) + ":')";
  }
  rest.remove_prefix(2);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return "must not contain user info (a '@' before the host)";
  }
  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority[0] == '[') {  // an IPv6 literal
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return "has an IPv6 host without its closing ']'";
    host = authority.substr(0, close + 1);
    for (char c : host.substr(1, host.size() - 2)) {
      const bool hex = IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.') return "has an invalid IPv6 host " + Quote(host);
    }
    if (host.size() == 2) return "has no host";
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') return "has " + Quote(after) + " after the IPv6 host";
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
  } else {
    const size_t port_colon = authority.find(':');
    if (port_colon != std::string_view::npos) {
      host = authority.substr(0, port_colon);
      port = authority.substr(port_colon + 1);
      has_port = true;
    }
    if (host.empty()) return "has no host";
    for (char c : host) {
      if (IsLower(c) || IsUpper(c) || IsDigit(c) || c == '-' || c == '.' || c == '_') continue;
      return "has an invalid host " + Quote(host) + " (letters, digits, '-', '.' and '_')";
    }
  }
  if (has_port) {
    uint32_t number = 0;
    bool digits = !port.empty() && port.size() <= 5;
    for (size_t i = 0; digits && i < port.size(); ++i) {
      digits = IsDigit(port[i]);
      number = number * 10 + static_cast<uint32_t>(port[i] - '0');
    }
    if (!digits || number == 0 || number > 65535) {
      return "has an invalid port " + Quote(port) + " (1 to 65535)";
    }
  }
  return "";
}

}  // namespace atrium::h5
