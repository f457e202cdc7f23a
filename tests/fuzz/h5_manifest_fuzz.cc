// libFuzzer target for ParseH5Manifest (dynamic/h5: h5.json). The parser
// must return a manifest or an Error and never crash, hang or throw.
// Invariants checked on every input:
// 1. An error names the file, has a message, and is kParse (with an offset
//    inside the input when one is given), kValidation (with a JSON pointer;
//    "" is the document itself) or kInternal. ValidateH5Manifest agrees.
// 2. A manifest keeps the rules it promises: valid ids (one lowercase host
//    label, checked here by its own copy of the rule as well as by
//    IsH5AppId); an app has a name, an entry inside www/ and an http(s)
//    fallback that WebUrlProblem accepts, a library none of the app-only
//    fields; limits and grammars of jsapis (atrium::IsHostApiName), uses,
//    cache and csp; no JS API or library twice, no library that is the
//    package itself.
// Seeds: tests/fuzz/corpus/h5_manifest/.
//
// Concurrency: libFuzzer calls LLVMFuzzerTestOneInput from one thread.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "atrium/dynamic/h5/h5_manifest.h"
#include "atrium/host_api.h"
#include "located_error_check.h"

namespace {

namespace h5 = atrium::h5;

constexpr std::string_view kFile = "fuzz.atb:h5.json";

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "h5_manifest_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

// A path the manifest may name inside www/: relative, no '.', '..' or empty
// segment (a prefix may end with '/'), no '\', '?', '#', '%' or control byte.
bool IsWwwPath(std::string_view p, bool prefix) {
  if (p.empty() || p.size() > h5::kMaxPathBytes || p.front() == '/') return false;
  if (prefix && p.back() == '/') p.remove_suffix(1);
  if (p.empty()) return false;
  for (char c : p) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || c == '\\' || c == '?' || c == '#' || c == '%') return false;
  }
  size_t start = 0;
  while (true) {
    const size_t slash = p.find('/', start);
    const std::string_view seg =
        p.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (seg.empty() || seg == "." || seg == ".." || seg.size() > h5::kMaxPathSegmentBytes) {
      return false;
    }
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

// [a-z]([a-z0-9-]{0,61}[a-z0-9])?, written again so that the fuzzer checks
// IsH5AppId against the rule rather than against itself.
bool IsHostLabel(std::string_view id) {
  if (id.empty() || id.size() > 63 || id.front() < 'a' || id.front() > 'z' || id.back() == '-') {
    return false;
  }
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool IsText(std::string_view s, size_t max_chars) {
  size_t chars = 0;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return false;
    if ((u & 0xC0) != 0x80) ++chars;
  }
  return chars >= 1 && chars <= max_chars;
}

void CheckManifest(const h5::H5Manifest& m) {
  Require(m.format == h5::kManifestFormat, "format 1");
  Require(IsHostLabel(m.id) && h5::IsH5AppId(m.id), "app id valid");
  Require(m.cache.max_age_s >= 0 && m.cache.max_age_s <= h5::kMaxCacheMaxAgeSeconds,
          "max_age_s in bounds");
  Require(m.cache.immutable.size() <= h5::kMaxImmutablePrefixes, "immutable prefix limit");
  std::set<std::string> prefixes;
  for (const std::string& p : m.cache.immutable) {
    Require(IsWwwPath(p, /*prefix=*/true), "immutable prefix inside www/");
    Require(prefixes.insert(p).second, "no immutable prefix twice");
  }
  if (m.IsLibrary()) {
    Require(m.entry.empty() && m.fallback_url.empty() && m.jsapis.empty() && m.uses.empty() &&
                m.csp.empty(),
            "a library has no app-only field");
    Require(m.name.empty() || IsText(m.name, h5::kMaxNameChars), "library name valid");
    return;
  }
  Require(IsText(m.name, h5::kMaxNameChars), "app name valid");
  Require(IsWwwPath(m.entry, /*prefix=*/false), "entry inside www/");
  Require(m.fallback_url.size() <= h5::kMaxUrlBytes &&
              (m.fallback_url.rfind("https://", 0) == 0 || m.fallback_url.rfind("http://", 0) == 0),
          "fallback is an http(s) URL");
  Require(h5::WebUrlProblem(m.fallback_url).empty(), "WebUrlProblem accepts the fallback");
  std::string_view authority = m.fallback_url;
  authority.remove_prefix(authority.find("//") + 2);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  Require(authority.find('@') == std::string_view::npos && !authority.empty() &&
              authority.front() != ':',
          "fallback has a host and no user info");
  for (char c : m.fallback_url) {
    auto u = static_cast<unsigned char>(c);
    Require(u > 0x20 && u < 0x7F, "fallback is printable ASCII without spaces");
  }
  Require(m.jsapis.size() <= h5::kMaxJsApis, "jsapi limit");
  std::set<std::string> apis;
  for (const h5::JsApiDecl& api : m.jsapis) {
    Require(atrium::IsHostApiName(api.name), "jsapi name valid");
    Require(IsText(api.reason, h5::kMaxReasonChars), "jsapi reason valid");
    Require(apis.insert(api.name).second, "no jsapi twice");
  }
  Require(m.uses.size() <= h5::kMaxUses, "uses limit");
  std::set<std::string> libraries;
  for (const h5::LibraryUse& use : m.uses) {
    Require(IsHostLabel(use.id) && h5::IsH5AppId(use.id), "library id valid");
    Require(use.id != m.id, "not the package itself");
    Require(libraries.insert(use.id).second, "no library twice");
    Require(!use.range.text().empty(), "range parsed");
  }
  Require(!m.csp.empty() && m.csp.size() <= h5::kMaxCspBytes, "csp length");
  for (char c : m.csp) Require(c >= 0x20 && c <= 0x7E, "csp is printable ASCII");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  atrium::Result<h5::H5Manifest> m = h5::ParseH5Manifest(text, kFile);
  Require(h5::ValidateH5Manifest(text, kFile).ok() == m.ok(), "the validator agrees");
  if (m.ok()) {
    CheckManifest(*m);
    return 0;
  }
  atrium::fuzz::RequireLocatedJsonError("h5_manifest_fuzz", m.error(), kFile, size);
  return 0;
}
