// Tests for h5.json (atrium/dynamic/h5/h5_manifest.h): a full app, a minimal
// app and a library read into the model with their defaults; every limit
// accepted at its bound; then every rule broken once, each refusal checked
// for its code, file, JSON pointer and exact message; every prefix of a valid
// manifest refused without a crash; the size limit.
//
// Concurrency: single-threaded; the parser is pure.
#include "atrium/dynamic/h5/h5_manifest.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/host_api.h"
#include "atrium/result.h"
#include "atrium/semver.h"

namespace atrium::h5 {
namespace {

constexpr std::string_view kFile = "pkg.atb:h5.json";

constexpr std::string_view kApp = R"j({
  "$schema": "../docs/h5.schema.json",
  "format": 1,
  "id": "help",
  "version": "1.2.0",
  "kind": "app",
  "name": "Help centre",
  "entry": "pages/index.html",
  "fallback_url": "https://help.example.com/wallet?from=app#top",
  "jsapis": [
    {"name": "wallet.getBalance", "reason": "shows your balance"},
    {"name": "ui.toast_v2", "reason": "confirms what you did"}
  ],
  "uses": [{"id": "common", "range": "^1.0.0"}],
  "cache": {"max_age_s": 600, "immutable": ["assets/", "vendor/lib.js"]},
  "csp": "default-src 'self'; img-src 'self' data:"
})j";

constexpr std::string_view kMinimalApp = R"j({"format": 1, "id": "help",
  "version": "0.1.0", "name": "Help", "entry": "index.html",
  "fallback_url": "http://help.example.com"})j";

constexpr std::string_view kLibrary = R"j({
  "format": 1,
  "id": "common",
  "version": "1.4.0-rc.1",
  "kind": "library",
  "cache": {"immutable": ["js/"]}
})j";

// `base` with its one occurrence of `from` replaced by `to`.
std::string Edit(std::string_view base, std::string_view from, std::string_view to) {
  std::string out(base);
  const size_t at = out.find(from);
  if (at == std::string::npos || out.find(from, at + 1) != std::string::npos) {
    ADD_FAILURE() << "test bug: '" << from << "' is not in the manifest exactly once";
    return out;
  }
  return out.replace(at, from.size(), to);
}
std::string App(std::string_view from, std::string_view to) { return Edit(kApp, from, to); }
std::string Lib(std::string_view from, std::string_view to) { return Edit(kLibrary, from, to); }
// The library with `member` ("\"entry\": \"x\"") added.
std::string LibWith(std::string_view member) {
  return Lib(R"("kind": "library")", R"("kind": "library", )" + std::string(member));
}
// A JSON array of `n` items made by `item(i)`.
template <typename Item>
std::string ArrayOf(size_t n, Item item) {
  std::string out = "[";
  for (size_t i = 0; i < n; ++i) out += (i ? ", " : "") + item(i);
  return out + "]";
}

struct BadCase {
  std::string name;
  std::string text;
  std::string pointer;
  std::string message;  // the whole message (kValidation) or a part of it (kParse)
  ErrorCode code = ErrorCode::kValidation;
};

void ExpectRefused(const std::vector<BadCase>& cases) {
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    Result<H5Manifest> m = ParseH5Manifest(c.text, kFile);
    ASSERT_FALSE(m.ok());
    const Error& e = m.error();
    EXPECT_EQ(e.code, c.code) << e.ToString();
    EXPECT_EQ(e.file, kFile);
    EXPECT_EQ(e.pointer, c.pointer) << e.ToString();
    if (c.code == ErrorCode::kValidation) {
      EXPECT_EQ(e.message, c.message);
    } else {
      EXPECT_NE(e.message.find(c.message), std::string::npos) << e.ToString();
    }
    EXPECT_FALSE(ValidateH5Manifest(c.text, kFile).ok());
  }
}

// ---------------------------------------------------------------------------
// Accepted manifests.

TEST(H5ManifestTest, ReadsAFullApp) {
  Result<H5Manifest> m = ParseH5Manifest(kApp, kFile);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->format, 1);
  EXPECT_EQ(m->id, "help");
  EXPECT_EQ(m->version.ToString(), "1.2.0");
  EXPECT_EQ(m->kind, H5Kind::kApp);
  EXPECT_FALSE(m->IsLibrary());
  EXPECT_EQ(m->name, "Help centre");
  EXPECT_EQ(m->entry, "pages/index.html");
  EXPECT_EQ(m->fallback_url, "https://help.example.com/wallet?from=app#top");
  ASSERT_EQ(m->jsapis.size(), 2u);
  EXPECT_EQ(m->jsapis[0].name, "wallet.getBalance");
  EXPECT_EQ(m->jsapis[0].reason, "shows your balance");
  EXPECT_EQ(m->jsapis[1].name, "ui.toast_v2");
  ASSERT_EQ(m->uses.size(), 1u);
  EXPECT_EQ(m->uses[0].id, "common");
  EXPECT_EQ(m->uses[0].range.text(), "^1.0.0");
  EXPECT_TRUE(m->uses[0].range.Matches(*Version::Parse("1.9.0")));
  EXPECT_FALSE(m->uses[0].range.Matches(*Version::Parse("2.0.0")));
  EXPECT_EQ(m->cache.max_age_s, 600);
  EXPECT_EQ(m->cache.immutable, (std::vector<std::string>{"assets/", "vendor/lib.js"}));
  EXPECT_EQ(m->csp, "default-src 'self'; img-src 'self' data:");
  EXPECT_TRUE(ValidateH5Manifest(kApp, kFile).ok());
}

TEST(H5ManifestTest, AppliesTheDefaultsOfAnApp) {
  Result<H5Manifest> m = ParseH5Manifest(kMinimalApp, kFile);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->kind, H5Kind::kApp);
  EXPECT_TRUE(m->jsapis.empty());
  EXPECT_TRUE(m->uses.empty());
  EXPECT_EQ(m->cache.max_age_s, 0);
  EXPECT_TRUE(m->cache.immutable.empty());
  EXPECT_EQ(m->csp, kDefaultCsp);
  EXPECT_EQ(kDefaultCsp,
            "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; "
            "frame-ancestors 'self'");
}

TEST(H5ManifestTest, ReadsALibrary) {
  Result<H5Manifest> m = ParseH5Manifest(kLibrary, kFile);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_TRUE(m->IsLibrary());
  EXPECT_STREQ(H5KindName(m->kind), "library");
  EXPECT_EQ(m->id, "common");
  EXPECT_EQ(m->version.ToString(), "1.4.0-rc.1");
  EXPECT_EQ(m->name, "");
  EXPECT_EQ(m->entry, "");
  EXPECT_EQ(m->fallback_url, "");
  EXPECT_TRUE(m->jsapis.empty());
  EXPECT_TRUE(m->uses.empty());
  EXPECT_EQ(m->cache.immutable, std::vector<std::string>{"js/"});
  EXPECT_EQ(m->csp, "");  // a library's files get the app's policy

  Result<H5Manifest> named = ParseH5Manifest(LibWith(R"("name": "Common JS")"), kFile);
  ASSERT_TRUE(named.ok()) << named.error().ToString();
  EXPECT_EQ(named->name, "Common JS");
}

TEST(H5ManifestTest, AcceptsEveryLimitAtItsBound) {
  const std::string id63 = "a" + std::string(61, '-') + "9";
  ASSERT_EQ(id63.size(), 63u);
  const std::string segment255(255, 's');
  const std::string path1024 =
      segment255 + "/" + segment255 + "/" + segment255 + "/" + std::string(254, 'p') + "/x";
  ASSERT_EQ(path1024.size(), 1024u);
  const std::string url2048 = "https://a.b/" + std::string(2048 - 12, 'u');
  const std::string api128 = "a." + std::string(126, 'b');
  std::string name80;
  for (int i = 0; i < 80; ++i) name80 += "\xC3\xA9";  // "é": 2 bytes, one character
  std::string reason200;
  for (int i = 0; i < 200; ++i) reason200 += "\xE4\xB8\xAD";  // "中"
  const std::string csp4096(4096, 'x');

  std::string text = App(R"("id": "help")", R"("id": ")" + id63 + "\"");
  text = Edit(text, R"("name": "Help centre")", R"("name": ")" + name80 + "\"");
  text = Edit(text, R"("entry": "pages/index.html")", R"("entry": ")" + path1024 + "\"");
  text = Edit(text, R"("fallback_url": "https://help.example.com/wallet?from=app#top")",
              R"("fallback_url": ")" + url2048 + "\"");
  text = Edit(text, R"("csp": "default-src 'self'; img-src 'self' data:")",
              R"("csp": ")" + csp4096 + "\"");
  text = Edit(text, R"({"name": "ui.toast_v2", "reason": "confirms what you did"})",
              R"({"name": ")" + api128 + R"(", "reason": ")" + reason200 + "\"}");
  text = Edit(text, R"("max_age_s": 600)", R"("max_age_s": 31536000)");
  Result<H5Manifest> m = ParseH5Manifest(text, kFile);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->id, id63);
  EXPECT_EQ(m->entry, path1024);
  EXPECT_EQ(m->cache.max_age_s, 31536000);

  auto api = [](size_t i) {
    return R"({"name": "a.f)" + std::to_string(i) + R"(", "reason": "r"})";
  };
  auto use = [](size_t i) { return R"({"id": "lib)" + std::to_string(i) + R"(", "range": "*"})"; };
  auto prefix = [](size_t i) { return "\"p" + std::to_string(i) + "/\""; };
  std::string lists =
      Edit(kMinimalApp, R"("name": "Help")",
           R"("name": "Help", "jsapis": )" + ArrayOf(kMaxJsApis, api) + R"(, "uses": )" +
               ArrayOf(kMaxUses, use) + R"(, "cache": {"immutable": )" +
               ArrayOf(kMaxImmutablePrefixes, prefix) + "}");
  Result<H5Manifest> full = ParseH5Manifest(lists, kFile);
  ASSERT_TRUE(full.ok()) << full.error().ToString();
  EXPECT_EQ(full->jsapis.size(), kMaxJsApis);
  EXPECT_EQ(full->uses.size(), kMaxUses);
  EXPECT_EQ(full->cache.immutable.size(), kMaxImmutablePrefixes);

  // A URL with an IPv6 host and a port; a byte-order mark before the document.
  EXPECT_TRUE(
      ParseH5Manifest(Edit(kMinimalApp, "http://help.example.com", "https://[::1]:8443/x"), kFile)
          .ok());
  EXPECT_TRUE(ParseH5Manifest("\xEF\xBB\xBF" + std::string(kLibrary), kFile).ok());
}

TEST(H5ManifestTest, GrammarsForTheRouterAndTheBridge) {
  const std::string id63 = "a" + std::string(61, '-') + "9";
  for (const std::string& id : {std::string("help"), std::string("bill-history"), std::string("a1"),
                                std::string("a"), std::string("x--y"), id63}) {
    EXPECT_TRUE(IsH5AppId(id)) << id;
  }
  for (const std::string& id :
       {std::string(""), std::string("Help"), std::string("helP"), std::string("com.wallet.help"),
        std::string("bill_history"), std::string("1help"), std::string("-help"),
        std::string("help-"), std::string("help:80"), std::string("help/x"),
        std::string("h\xC3\xA9lp"), std::string("a b"), std::string("a\0", 2), id63 + "9"}) {
    EXPECT_FALSE(IsH5AppId(id)) << id;
  }
  // JS API names are host API names: the project's one rule.
  EXPECT_TRUE(IsHostApiName("wallet.getBalance"));
  EXPECT_TRUE(IsHostApiName("a.b_2.cD"));
  EXPECT_FALSE(IsHostApiName("wallet"));
  EXPECT_FALSE(IsHostApiName("wallet.GetBalance"));
  EXPECT_STREQ(H5KindName(H5Kind::kApp), "app");
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The fuzz seeds mean what their names say, and the example in docs/h5.md is
// a valid manifest.
TEST(H5ManifestTest, SeedsAndDocumentationAgree) {
  const std::filesystem::path source(ATRIUM_SOURCE_DIR);
  size_t valid = 0;
  size_t bad = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(source / "tests/fuzz/corpus/h5_manifest")) {
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    Result<H5Manifest> m = ParseH5Manifest(ReadFile(entry.path()), name);
    if (name.rfind("valid_", 0) == 0) {
      EXPECT_TRUE(m.ok()) << m.error().ToString();
      ++valid;
    } else {
      EXPECT_FALSE(m.ok());
      ++bad;
    }
  }
  EXPECT_GE(valid, 3u);
  EXPECT_GE(bad, 5u);

  const std::string doc = ReadFile(source / "docs/h5.md");
  const size_t begin = doc.find("```json\n");
  ASSERT_NE(begin, std::string::npos);
  const size_t end = doc.find("```", begin + 8);
  Result<H5Manifest> example = ParseH5Manifest(doc.substr(begin + 8, end - begin - 8), "h5.md");
  EXPECT_TRUE(example.ok()) << example.error().ToString();
}

// ---------------------------------------------------------------------------
// Refused manifests: structure.

TEST(H5ManifestTest, MissingRequiredFields) {
  ExpectRefused({
      {"format", App(R"("format": 1,)", ""), "/format", "missing required field 'format'"},
      {"id", App(R"("id": "help",)", ""), "/id", "missing required field 'id'"},
      {"version", App(R"("version": "1.2.0",)", ""), "/version",
       "missing required field 'version'"},
      {"name", App(R"("name": "Help centre",)", ""), "/name",
       "missing required field 'name' (required when kind is 'app')"},
      {"entry", App(R"("entry": "pages/index.html",)", ""), "/entry",
       "missing required field 'entry' (required when kind is 'app')"},
      {"fallback_url",
       App(R"("fallback_url": "https://help.example.com/wallet?from=app#top",)", ""),
       "/fallback_url", "missing required field 'fallback_url' (required when kind is 'app')"},
      {"entry_of_default_kind", Edit(kMinimalApp, R"("entry": "index.html",)", ""), "/entry",
       "missing required field 'entry' (required when kind is 'app')"},
      {"jsapi_name", App(R"("name": "wallet.getBalance", )", ""), "/jsapis/0/name",
       "missing required field 'name'"},
      {"jsapi_reason", App(R"(, "reason": "shows your balance")", ""), "/jsapis/0/reason",
       "missing required field 'reason'"},
      {"uses_id", App(R"("id": "common", )", ""), "/uses/0/id", "missing required field 'id'"},
      {"uses_range", App(R"(, "range": "^1.0.0")", ""), "/uses/0/range",
       "missing required field 'range'"},
      {"library_format", Lib(R"("format": 1,)", ""), "/format", "missing required field 'format'"},
  });
}

TEST(H5ManifestTest, WrongTypes) {
  ExpectRefused({
      {"root_array", "[]", "", "expected an object, got an array"},
      {"format_string", App(R"("format": 1)", R"("format": "1")"), "/format",
       "expected an integer, got a string"},
      {"format_fraction", App(R"("format": 1)", R"("format": 1.0)"), "/format",
       "expected an integer, got a number"},
      {"format_2", App(R"("format": 1)", R"("format": 2)"), "/format",
       "unsupported format 2: this runtime reads format 1"},
      {"format_huge", App(R"("format": 1)", R"("format": 18446744073709551615)"), "/format",
       "unsupported format 18446744073709551615: this runtime reads format 1"},
      {"schema", App(R"("$schema": "../docs/h5.schema.json")", R"("$schema": 1)"), "/$schema",
       "expected a string, got a number"},
      {"id", App(R"("id": "help")", R"("id": 7)"), "/id", "expected a string, got a number"},
      {"version", App(R"("version": "1.2.0")", R"("version": 1.2)"), "/version",
       "expected a string, got a number"},
      {"version_syntax", App(R"("version": "1.2.0")", R"("version": "1.2")"), "/version",
       "invalid version '1.2': unexpected end of input at offset 3, expected '.' after minor"},
      {"kind_bool", App(R"("kind": "app")", R"("kind": true)"), "/kind",
       "expected a string, got a boolean"},
      {"kind_unknown", App(R"("kind": "app")", R"("kind": "widget")"), "/kind",
       "unknown kind 'widget' (allowed: app, library)"},
      {"name_null", App(R"("name": "Help centre")", R"("name": null)"), "/name",
       "expected a string, got null"},
      {"entry_array", App(R"("entry": "pages/index.html")", R"("entry": [])"), "/entry",
       "expected a string, got an array"},
      {"fallback_object",
       App(R"("fallback_url": "https://help.example.com/wallet?from=app#top")",
           R"("fallback_url": {})"),
       "/fallback_url", "expected a string, got an object"},
      {"jsapis_object", Edit(kMinimalApp, R"("name": "Help")", R"("name": "Help", "jsapis": {})"),
       "/jsapis", "expected an array, got an object"},
      {"jsapi_string",
       App(R"({"name": "ui.toast_v2", "reason": "confirms what you did"})", "\"x\""), "/jsapis/1",
       "expected an object, got a string"},
      {"jsapi_name_number", App(R"("name": "ui.toast_v2")", R"("name": 2)"), "/jsapis/1/name",
       "expected a string, got a number"},
      {"uses_string", App(R"([{"id": "common", "range": "^1.0.0"}])", R"("x")"), "/uses",
       "expected an array, got a string"},
      {"range_number", App(R"("range": "^1.0.0")", R"("range": 1)"), "/uses/0/range",
       "expected a string, got a number"},
      {"cache_array", Lib(R"({"immutable": ["js/"]})", "[]"), "/cache",
       "expected an object, got an array"},
      {"max_age_string", App(R"("max_age_s": 600)", R"("max_age_s": "600")"), "/cache/max_age_s",
       "expected an integer, got a string"},
      {"immutable_string", Lib(R"(["js/"])", R"("js/")"), "/cache/immutable",
       "expected an array, got a string"},
      {"immutable_item_number", Lib(R"(["js/"])", R"(["js/", 1])"), "/cache/immutable/1",
       "expected a string, got a number"},
      {"csp_number", App(R"("csp": "default-src 'self'; img-src 'self' data:")", R"("csp": 1)"),
       "/csp", "expected a string, got a number"},
  });
}

TEST(H5ManifestTest, UnknownFieldsAtEveryLevel) {
  ExpectRefused({
      {"top", App(R"("format": 1,)", R"("format": 1, "colour": "red",)"), "/colour",
       "unknown field 'colour' (allowed: $schema, format, id, version, kind, name, entry, "
       "fallback_url, jsapis, uses, cache, csp)"},
      {"old_app_id", Lib(R"("id")", R"("app_id")"), "/app_id",
       "unknown field 'app_id' (allowed: $schema, format, id, version, kind, name, entry, "
       "fallback_url, jsapis, uses, cache, csp)"},
      {"jsapi", App(R"("reason": "shows your balance")", R"("reason": "x", "why": "y")"),
       "/jsapis/0/why", "unknown field 'why' (allowed: name, reason)"},
      {"uses", App(R"("range": "^1.0.0")", R"("range": "^1.0.0", "version": "1.0.0")"),
       "/uses/0/version", "unknown field 'version' (allowed: id, range)"},
      {"cache", Lib(R"({"immutable": ["js/"]})", R"({"etag": false})"), "/cache/etag",
       "unknown field 'etag' (allowed: max_age_s, immutable)"},
  });
}

TEST(H5ManifestTest, SyntaxDuplicateKeysAndSize) {
  ExpectRefused({
      {"duplicate_top", App(R"("version": "1.2.0",)", R"("version": "1.2.0", "version": "2.0.0",)"),
       "/version", "duplicate key 'version'", ErrorCode::kParse},
      {"duplicate_nested", App(R"("max_age_s": 600)", R"("max_age_s": 600, "max_age_s": 1)"),
       "/cache/max_age_s", "duplicate key 'max_age_s'", ErrorCode::kParse},
      {"duplicate_in_array", App(R"("name": "ui.toast_v2")", R"("name": "a.b", "name": "c.d")"),
       "/jsapis/1/name", "duplicate key 'name'", ErrorCode::kParse},
      {"empty", " \n", "", "manifest is empty; expected a JSON object", ErrorCode::kParse},
      {"trailing_comma", App(R"("cache")", R"(, "cache")"), "",
       "invalid JSON at line 15, column 3: syntax error at ','", ErrorCode::kParse},
      {"garbage_after", std::string(kLibrary) + " {}", "", "after the JSON document",
       ErrorCode::kParse},
      {"too_deep", std::string(20, '[') + std::string(20, ']'), "/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0",
       "nesting deeper than 16 levels", ErrorCode::kParse},
      {"invalid_utf8", App("Help centre", "Help \xC3("), "/name", "invalid JSON",
       ErrorCode::kParse},
  });

  // 64 KiB is the limit: a valid manifest padded to exactly the limit is read.
  std::string padded(kLibrary);
  padded += std::string(kMaxManifestBytes - padded.size(), ' ');
  EXPECT_TRUE(ParseH5Manifest(padded, kFile).ok());
  padded += ' ';
  Result<H5Manifest> m = ParseH5Manifest(padded, kFile);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kParse);
  EXPECT_EQ(m.error().ToString(),
            "pkg.atb:h5.json: manifest is 65537 bytes; the limit is 65536 (64 KiB)");
}

TEST(H5ManifestTest, EveryPrefixOfAValidManifestIsRefused) {
  for (std::string_view text : {kApp, kLibrary, kMinimalApp}) {
    ASSERT_TRUE(ParseH5Manifest(text, kFile).ok());
    for (size_t n = 0; n < text.size(); ++n) {
      // Exactly n bytes on the heap, so a sanitizer sees a read past the end.
      std::unique_ptr<char[]> copy(new char[n]);
      std::memcpy(copy.get(), text.data(), n);
      Result<H5Manifest> m = ParseH5Manifest(std::string_view(copy.get(), n), kFile);
      ASSERT_FALSE(m.ok()) << "prefix of " << n << " bytes";
      EXPECT_EQ(m.error().code, ErrorCode::kParse) << m.error().ToString();
      EXPECT_EQ(m.error().file, kFile);
      ASSERT_TRUE(m.error().offset.has_value()) << m.error().ToString();
      EXPECT_LE(*m.error().offset, n);
    }
  }
}

TEST(H5ManifestTest, ErrorsNameTheFileAndThePointer) {
  Result<H5Manifest> m =
      ParseH5Manifest(App(R"("name": "ui.toast_v2")", R"("name": "wallet.getBalance")"), kFile);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().ToString(),
            "pkg.atb:h5.json:/jsapis/1/name: duplicate JS API 'wallet.getBalance' (first at "
            "/jsapis/0)");
  Status s = ValidateH5Manifest(App(R"("format": 1)", R"("format": 0)"), "x.atb:h5.json");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().ToString(),
            "x.atb:h5.json:/format: unsupported format 0: this runtime reads format 1");
}

// ---------------------------------------------------------------------------
// Refused manifests: the rules of each field.

TEST(H5ManifestTest, BadAppIds) {
  auto with_id = [](const std::string& id) {
    return App(R"("id": "help")", R"("id": ")" + id + "\"");
  };
  const std::string rule =
      " (a lowercase host label: [a-z][a-z0-9-]*, at most 63 characters, not ending in '-')";
  const std::string id64 = "a" + std::string(62, '-') + "9";
  const std::string id300(300, 'a');
  ExpectRefused({
      {"uppercase_first", with_id("Help"), "/id",
       "invalid H5 app id 'Help': 'H' at 0 is not allowed" + rule},
      {"uppercase_inside", with_id("helP"), "/id",
       "invalid H5 app id 'helP': 'P' at 3 is not allowed" + rule},
      {"dots", with_id("com.wallet.help"), "/id",
       "invalid H5 app id 'com.wallet.help': '.' at 3 is not allowed" + rule},
      {"underscore", with_id("bill_history"), "/id",
       "invalid H5 app id 'bill_history': '_' at 4 is not allowed" + rule},
      {"leading_digit", with_id("1help"), "/id",
       "invalid H5 app id '1help': '1' at 0 is not allowed" + rule},
      {"leading_dash", with_id("-help"), "/id",
       "invalid H5 app id '-help': '-' at 0 is not allowed" + rule},
      {"trailing_dash", with_id("help-"), "/id",
       "invalid H5 app id 'help-': '-' at 4 is not allowed" + rule},
      {"only_dash", with_id("-"), "/id", "invalid H5 app id '-': '-' at 0 is not allowed" + rule},
      {"colon", with_id("help:80"), "/id",
       "invalid H5 app id 'help:80': ':' at 4 is not allowed" + rule},
      {"slash", with_id("help/x"), "/id",
       "invalid H5 app id 'help/x': '/' at 4 is not allowed" + rule},
      {"space", with_id("bill history"), "/id",
       "invalid H5 app id 'bill history': ' ' at 4 is not allowed" + rule},
      {"non_ascii", with_id("h\xC3\xA9lp"), "/id",
       "invalid H5 app id 'h\xC3\xA9lp': byte 0xC3 at 1 is not allowed" + rule},
      {"control", with_id(R"(a\u0001)"), "/id",
       "invalid H5 app id 'a\\x01': byte 0x01 at 1 is not allowed" + rule},
      {"empty", with_id(""), "/id", "invalid H5 app id '': must not be empty" + rule},
      {"64_characters", with_id(id64), "/id",
       "invalid H5 app id '" + id64 + "': is 64 characters long" + rule},
      {"300_characters", with_id(id300), "/id",
       "invalid H5 app id '" + id300.substr(0, 80) + "...': is 300 characters long" + rule},
      {"bad_character_beyond_63", with_id(id300 + "_"), "/id",
       "invalid H5 app id '" + id300.substr(0, 80) + "...': '_' at 300 is not allowed" + rule},
      {"uses_uppercase", App(R"("id": "common")", R"("id": "Common")"), "/uses/0/id",
       "invalid H5 app id 'Common': 'C' at 0 is not allowed" + rule},
      {"uses_dots", App(R"("id": "common")", R"("id": "com.wallet.common")"), "/uses/0/id",
       "invalid H5 app id 'com.wallet.common': '.' at 3 is not allowed" + rule},
      {"uses_number", App(R"("id": "common")", R"("id": 1)"), "/uses/0/id",
       "expected a string, got a number"},
  });
}

TEST(H5ManifestTest, EntryPathsStayInsideWww) {
  auto with_entry = [](std::string_view json_string) {
    return App(R"("entry": "pages/index.html")", R"("entry": )" + std::string(json_string));
  };
  const std::string long_segment(256, 's');
  const std::string long_path = std::string(1020, 'p') + "/a.html";
  ExpectRefused({
      {"parent", with_entry(R"("../x")"), "/entry",
       "invalid entry '../x': must not contain '..' segments"},
      {"inner_parent", with_entry(R"("a/../b")"), "/entry",
       "invalid entry 'a/../b': must not contain '..' segments"},
      {"absolute", with_entry(R"("/abs")"), "/entry",
       "invalid entry '/abs': must be relative to www/, not start with '/'"},
      {"backslash", with_entry(R"("a\\b")"), "/entry",
       R"(invalid entry 'a\\b': must use '/' as separator, not '\')"},
      {"empty_segment", with_entry(R"("a//b")"), "/entry",
       "invalid entry 'a//b': must not contain empty segments ('//')"},
      {"dot", with_entry(R"("./a")"), "/entry",
       "invalid entry './a': must not contain '.' segments"},
      {"nul", with_entry(R"("a\u0000b.html")"), "/entry",
       R"(invalid entry 'a\x00b.html': must not contain control characters)"},
      {"newline", with_entry(R"("a\n.html")"), "/entry",
       R"(invalid entry 'a\x0A.html': must not contain control characters)"},
      {"query", with_entry(R"("index.html?x=1")"), "/entry",
       "invalid entry 'index.html?x=1': must be a path only, without a query ('?') or fragment "
       "('#')"},
      {"fragment", with_entry(R"("index.html#top")"), "/entry",
       "invalid entry 'index.html#top': must be a path only, without a query ('?') or fragment "
       "('#')"},
      {"percent", with_entry(R"("%2e%2e/x")"), "/entry",
       "invalid entry '%2e%2e/x': must not contain '%' (write the file's name, not its URL "
       "encoding)"},
      {"directory", with_entry(R"("pages/")"), "/entry",
       "invalid entry 'pages/': must name a file, not end with '/'"},
      {"empty", with_entry(R"("")"), "/entry", "invalid entry '': must not be empty"},
      {"long_segment", with_entry("\"" + long_segment + "\""), "/entry",
       "invalid entry '" + long_segment.substr(0, 80) +
           "...': has a segment of 256 bytes; the limit is 255"},
      {"long_path", with_entry("\"" + long_path + "\""), "/entry",
       "invalid entry '" + long_path.substr(0, 80) + "...': is 1027 bytes; the limit is 1024"},
  });
}

TEST(H5ManifestTest, FallbackUrls) {
  auto with_url = [](const std::string& url) {
    return App("https://help.example.com/wallet?from=app#top", url);
  };
  const std::string long_url = "https://a.b/" + std::string(2037, 'u');
  ExpectRefused({
      {"ftp", with_url("ftp://help.example.com/"), "/fallback_url",
       "invalid fallback URL 'ftp://help.example.com/': scheme 'ftp' is not allowed (only https "
       "and http, in lowercase)"},
      {"javascript", with_url("javascript:alert(1)"), "/fallback_url",
       "invalid fallback URL 'javascript:alert(1)': scheme 'javascript' is not allowed (only "
       "https and http, in lowercase)"},
      {"uppercase_scheme", with_url("HTTPS://a.b/"), "/fallback_url",
       "invalid fallback URL 'HTTPS://a.b/': scheme 'HTTPS' is not allowed (only https and "
       "http, in lowercase)"},
      {"relative", with_url("help.example.com/x"), "/fallback_url",
       "invalid fallback URL 'help.example.com/x': must be an absolute URL starting with "
       "'https://' or 'http://'"},
      {"no_host", with_url("https://"), "/fallback_url",
       "invalid fallback URL 'https://': has no host"},
      {"no_host_path", with_url("https:///index.html"), "/fallback_url",
       "invalid fallback URL 'https:///index.html': has no host"},
      {"no_slashes", with_url("https:a.b"), "/fallback_url",
       "invalid fallback URL 'https:a.b': has no host (expected '//' after 'https:')"},
      {"port_only", with_url("https://:443/"), "/fallback_url",
       "invalid fallback URL 'https://:443/': has no host"},
      {"userinfo", with_url("https://user:pw@help.example.com/"), "/fallback_url",
       "invalid fallback URL 'https://user:pw@help.example.com/': must not contain user info (a "
       "'@' before the host)"},
      {"space", with_url("https://help.example.com/a b"), "/fallback_url",
       "invalid fallback URL 'https://help.example.com/a b': must not contain whitespace or "
       "control characters"},
      {"non_ascii",
       with_url("https://b\xC3\xBC"
                "cher.de/"),
       "/fallback_url",
       "invalid fallback URL 'https://b\xC3\xBC"
       "cher.de/': must be ASCII (percent-encode other "
       "characters)"},
      {"backslash_host", with_url(R"(https://evil.com\\@good.com/)"), "/fallback_url",
       R"(invalid fallback URL 'https://evil.com\\@good.com/': must not contain '\')"},
      {"bad_host", with_url("https://a!b.com/"), "/fallback_url",
       "invalid fallback URL 'https://a!b.com/': has an invalid host 'a!b.com' (letters, digits, "
       "'-', '.' and '_')"},
      {"port_zero", with_url("https://a.b:0/"), "/fallback_url",
       "invalid fallback URL 'https://a.b:0/': has an invalid port '0' (1 to 65535)"},
      {"port_big", with_url("https://a.b:65536/"), "/fallback_url",
       "invalid fallback URL 'https://a.b:65536/': has an invalid port '65536' (1 to 65535)"},
      {"port_empty", with_url("https://a.b:/"), "/fallback_url",
       "invalid fallback URL 'https://a.b:/': has an invalid port '' (1 to 65535)"},
      {"ipv6_open", with_url("https://[::1/"), "/fallback_url",
       "invalid fallback URL 'https://[::1/': has an IPv6 host without its closing ']'"},
      {"empty", with_url(""), "/fallback_url", "invalid fallback URL '': must not be empty"},
      {"too_long", with_url(long_url), "/fallback_url",
       "invalid fallback URL '" + long_url.substr(0, 80) +
           "...': is 2049 bytes; the limit is 2048"},
  });
}

// WebUrlProblem is the rule ParseH5Manifest applies to fallback_url (and the
// layer to app.json's), with the same words.
TEST(H5ManifestTest, WebUrlProblemIsTheFallbackRule) {
  for (std::string_view url : {"https://help.example.com/", "http://a.b", "https://[::1]:8443/x",
                               "https://a_b.example.com:65535/p?q=1#f"}) {
    EXPECT_EQ(WebUrlProblem(url), "") << url;
    EXPECT_TRUE(
        ParseH5Manifest(App("https://help.example.com/wallet?from=app#top", url), kFile).ok())
        << url;
  }
  EXPECT_EQ(WebUrlProblem("ftp://a.b/"),
            "scheme 'ftp' is not allowed (only https and http, in lowercase)");
  EXPECT_EQ(WebUrlProblem("https://u@a.b/"), "must not contain user info (a '@' before the host)");
  for (std::string_view url : {"", "a.b", "https://", "https://a.b:0/", "https://a b/",
                               "https://[::1/", "javascript:alert(1)", "https://a!b/"}) {
    const std::string problem = WebUrlProblem(url);
    EXPECT_NE(problem, "") << url;
    Result<H5Manifest> m =
        ParseH5Manifest(App("https://help.example.com/wallet?from=app#top", url), kFile);
    ASSERT_FALSE(m.ok()) << url;
    EXPECT_EQ(m.error().pointer, "/fallback_url");
    EXPECT_EQ(m.error().message, "invalid fallback URL '" + std::string(url) + "': " + problem);
  }
}

TEST(H5ManifestTest, JsApis) {
  auto with_name = [](const std::string& name) {
    return App(R"("name": "ui.toast_v2")", R"("name": ")" + name + "\"");
  };
  auto api = [](size_t i) {
    return R"({"name": "a.f)" + std::to_string(i) + R"(", "reason": "r"})";
  };
  const std::string name129 = "a." + std::string(127, 'b');
  ExpectRefused({
      {"one_segment", with_name("wallet"), "/jsapis/1/name",
       "invalid JS API name 'wallet': needs at least two '.'-separated segments, like "
       "'wallet.getBalance'"},
      {"uppercase_start", with_name("wallet.GetBalance"), "/jsapis/1/name",
       "invalid JS API name 'wallet.GetBalance': segment 'GetBalance' must start with a lowercase "
       "letter"},
      {"digit_start", with_name("wallet.2fa"), "/jsapis/1/name",
       "invalid JS API name 'wallet.2fa': segment '2fa' must start with a lowercase letter"},
      {"empty_segment", with_name("wallet..get"), "/jsapis/1/name",
       "invalid JS API name 'wallet..get': has an empty segment (a leading, trailing or doubled "
       "'.')"},
      {"dash", with_name("wallet.get-balance"), "/jsapis/1/name",
       "invalid JS API name 'wallet.get-balance': segment 'get-balance' has '-'; a segment is "
       "letters, digits and '_'"},
      {"too_long", with_name(name129), "/jsapis/1/name",
       "invalid JS API name '" + name129.substr(0, 80) + "...': is 129 bytes; the limit is 128"},
      {"duplicate", with_name("wallet.getBalance"), "/jsapis/1/name",
       "duplicate JS API 'wallet.getBalance' (first at /jsapis/0)"},
      {"empty_reason", App(R"("reason": "confirms what you did")", R"("reason": "")"),
       "/jsapis/1/reason", "invalid reason '': must not be empty"},
      {"long_reason",
       App(R"("reason": "confirms what you did")", R"("reason": ")" + std::string(201, 'r') + "\""),
       "/jsapis/1/reason",
       "invalid reason '" + std::string(80, 'r') + "...': is 201 characters; the limit is 200"},
      {"control_reason", App(R"("reason": "confirms what you did")", R"("reason": "a\tb")"),
       "/jsapis/1/reason", R"(invalid reason 'a\x09b': must not contain control characters)"},
      {"too_many",
       Edit(kMinimalApp, R"("name": "Help")",
            R"("name": "Help", "jsapis": )" + ArrayOf(kMaxJsApis + 1, api)),
       "/jsapis", "too many JS APIs (257); the limit is 256"},
  });
}

TEST(H5ManifestTest, Names) {
  auto with_name = [](const std::string& name) {
    return App(R"("name": "Help centre")", R"("name": ")" + name + "\"");
  };
  ExpectRefused({
      {"empty", with_name(""), "/name", "invalid name '': must not be empty"},
      {"too_long", with_name(std::string(81, 'n')), "/name",
       "invalid name '" + std::string(80, 'n') + "...': is 81 characters; the limit is 80"},
      {"bell", with_name(R"(a\u0007)"), "/name",
       R"(invalid name 'a\x07': must not contain control characters)"},
      {"c1_control", with_name(R"(a\u0085)"), "/name",
       "invalid name 'a\xC2\x85': must not contain control characters"},
      {"library_empty_name", LibWith(R"("name": "")"), "/name",
       "invalid name '': must not be empty"},
  });
}

TEST(H5ManifestTest, LibrariesHaveNoAppFields) {
  const std::string tail = " is not allowed when kind is 'library': ";
  ExpectRefused({
      {"entry", LibWith(R"("entry": "index.html")"), "/entry",
       "field 'entry'" + tail + "a library is not opened, so it has no entry page"},
      {"fallback_url", LibWith(R"("fallback_url": "https://a.b/")"), "/fallback_url",
       "field 'fallback_url'" + tail + "a library is not opened, so it has no fallback"},
      {"jsapis", LibWith(R"("jsapis": [])"), "/jsapis",
       "field 'jsapis'" + tail +
           "a library calls no host API itself; the app that uses it declares them"},
      {"uses", LibWith(R"("uses": [])"), "/uses",
       "field 'uses'" + tail +
           "a library uses no other library; the app declares every library it uses"},
      {"csp", LibWith(R"("csp": "default-src 'none'")"), "/csp",
       "field 'csp'" + tail +
           "a library's files are served with the policy of the app that uses it"},
  });
}

TEST(H5ManifestTest, Uses) {
  auto use = [](size_t i) { return R"({"id": "lib)" + std::to_string(i) + R"(", "range": "*"})"; };
  const std::string second = R"(, {"id": "common", "range": "2.x"}])";
  ExpectRefused({
      {"itself", App(R"("id": "common")", R"("id": "help")"), "/uses/0/id",
       "package 'help' cannot use itself as a library"},
      {"bad_range", App(R"("range": "^1.0.0")", R"("range": "^^1")"), "/uses/0/range",
       "invalid version range '^^1': unexpected '^' at offset 1, expected major version number or "
       "wildcard"},
      {"empty_range", App(R"("range": "^1.0.0")", R"("range": "")"), "/uses/0/range",
       "invalid version range '': empty range at offset 0, expected a version, comparator or '*'"},
      {"duplicate", App(R"("^1.0.0"}])", R"("^1.0.0"})" + second), "/uses/1/id",
       "duplicate library 'common' (first at /uses/0)"},
      {"too_many",
       Edit(kMinimalApp, R"("name": "Help")",
            R"("name": "Help", "uses": )" + ArrayOf(kMaxUses + 1, use)),
       "/uses", "too many libraries (33); the limit is 32"},
  });
}

TEST(H5ManifestTest, Cache) {
  auto prefix = [](size_t i) { return "\"p" + std::to_string(i) + "/\""; };
  ExpectRefused({
      {"max_age_negative", App(R"("max_age_s": 600)", R"("max_age_s": -1)"), "/cache/max_age_s",
       "value -1 out of range [0, 31536000]"},
      {"max_age_too_long", App(R"("max_age_s": 600)", R"("max_age_s": 31536001)"),
       "/cache/max_age_s", "value 31536001 out of range [0, 31536000]"},
      {"max_age_fraction", App(R"("max_age_s": 600)", R"("max_age_s": 1.5)"), "/cache/max_age_s",
       "expected an integer, got a number"},
      {"max_age_huge", App(R"("max_age_s": 600)", R"("max_age_s": 18446744073709551615)"),
       "/cache/max_age_s", "value 31536001 out of range [0, 31536000]"},
      {"parent_prefix", Lib(R"(["js/"])", R"(["js/", "../x/"])"), "/cache/immutable/1",
       "invalid immutable prefix '../x/': must not contain '..' segments"},
      {"absolute_prefix", Lib(R"(["js/"])", R"(["/js/"])"), "/cache/immutable/0",
       "invalid immutable prefix '/js/': must be relative to www/, not start with '/'"},
      {"double_slash", Lib(R"(["js/"])", R"(["js//"])"), "/cache/immutable/0",
       "invalid immutable prefix 'js//': must not contain empty segments ('//')"},
      {"empty_prefix", Lib(R"(["js/"])", R"([""])"), "/cache/immutable/0",
       "invalid immutable prefix '': must not be empty"},
      {"duplicate_prefix", Lib(R"(["js/"])", R"(["js/", "css/", "js/"])"), "/cache/immutable/2",
       "duplicate immutable prefix 'js/' (first at /cache/immutable/0)"},
      {"too_many", Lib(R"(["js/"])", ArrayOf(kMaxImmutablePrefixes + 1, prefix)),
       "/cache/immutable", "too many immutable prefixes (65); the limit is 64"},
  });
}

TEST(H5ManifestTest, ContentSecurityPolicy) {
  auto with_csp = [](const std::string& csp) {
    return App(R"("csp": "default-src 'self'; img-src 'self' data:")", R"("csp": ")" + csp + "\"");
  };
  ExpectRefused({
      {"newline", with_csp(R"(default-src 'self'\nSet-Cookie: a=b)"), "/csp",
       R"(invalid csp 'default-src \'self\'\x0ASet-Cookie: a=b': must not contain CR or LF (a )"
       R"(header value is one line))"},
      {"carriage_return", with_csp(R"(a\rb)"), "/csp",
       R"(invalid csp 'a\x0Db': must not contain CR or LF (a header value is one line))"},
      {"tab", with_csp(R"(a\tb)"), "/csp",
       R"(invalid csp 'a\x09b': must be printable ASCII (0x20 to 0x7E); found byte 0x09 at byte 1)"},
      {"non_ascii", with_csp("default-src 'self' caf\xC3\xA9"), "/csp",
       "invalid csp 'default-src \\'self\\' caf\xC3\xA9': must be printable ASCII (0x20 to 0x7E); "
       "found byte 0xC3 at byte 22"},
      {"delete", with_csp(R"(a\u007f)"), "/csp",
       R"(invalid csp 'a\x7F': must be printable ASCII (0x20 to 0x7E); found byte 0x7F at byte 1)"},
      {"too_long", with_csp(std::string(4097, 'x')), "/csp",
       "invalid csp '" + std::string(80, 'x') + "...': is 4097 bytes; the limit is 4096"},
      {"empty", with_csp(""), "/csp", "invalid csp '': must not be empty"},
  });
}

}  // namespace
}  // namespace atrium::h5
