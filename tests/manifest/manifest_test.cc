// Tests for the bundle.json and app.json parsers (atrium/manifest.h): a full
// manifest read into the model, then bad input on purpose. Each failure case
// checks the error code, the file, the JSON pointer and that the message says
// what is wrong. Bad variants are made by editing a good document with
// Boost.JSON, so each case changes exactly one thing.
//
// Concurrency: single-threaded tests.
#include "atrium/manifest.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/base/strict_json.h"
#include "atrium/manifest/app_sections.h"

namespace atrium {
namespace {

namespace json = boost::json;

constexpr char kFile[] = "bundles/bill/bundle.json";
constexpr char kAppFile[] = "app/app.json";

constexpr char kFullManifest[] = R"json({
  "$schema": "../../docs/bundle.schema.json",
  "name": "com.wallet.bill",
  "version": "1.4.2-beta.1+build.7",
  "description": "Bills and payments",
  "library": "lib/libbill.so",
  "activation": "eager",
  "requires": [
    {"name": "com.wallet.account", "version": "^2.1.0"},
    {"name": "com.wallet.analytics", "version": ">=1.0.0 <3.0.0", "optional": true},
    {"name": "com.wallet.theme"}
  ],
  "provides": [
    {"interface": "com.wallet.bill.BillService", "version": "2.0.0"},
    {"interface": "com.wallet.bill.BillWidget"}
  ],
  "micro_apps": [
    {"id": "bill", "type": "native", "entry": "BillHome", "title": "Bills"},
    {"id": "bill-help", "type": "h5", "entry": "help/index.html"}
  ],
  "startup": [
    {"id": "init.db", "stage": "boot", "thread": "io"},
    {"id": "warm_cache", "stage": "post_frame", "after": ["init.db", "com.wallet.account:login"]}
  ],
  "resources": ["lua/bill.lua", "h5/help"]
})json";

constexpr char kApp[] = R"json({
  "$schema": "../docs/app.schema.json",
  "id": "com.wallet.app",
  "version": "3.0.0",
  "name": "Wallet",
  "home": "home",
  "baseline": ["bundles/home", "bundles/bill", "bundles/account"]
})json";

// ---------------------------------------------------------------------------
// Helpers.

// Returns `base` with the value at `pointer` set to `v` (the parent must
// exist; an object member is added if missing).
std::string Set(std::string_view base, std::string_view pointer, json::value v) {
  json::value doc = json::parse(base);
  size_t slash = pointer.rfind('/');
  std::string_view parent_ptr = pointer.substr(0, slash);
  std::string key(pointer.substr(slash + 1));
  json::value& parent = parent_ptr.empty() ? doc : doc.at_pointer(parent_ptr);
  if (parent.is_array()) {
    parent.as_array().at(std::stoul(key)) = std::move(v);
  } else {
    parent.as_object()[key] = std::move(v);
  }
  return json::serialize(doc);
}

// Returns `base` without the member at `pointer`.
std::string Remove(std::string_view base, std::string_view pointer) {
  json::value doc = json::parse(base);
  size_t slash = pointer.rfind('/');
  std::string_view parent_ptr = pointer.substr(0, slash);
  json::value& parent = parent_ptr.empty() ? doc : doc.at_pointer(parent_ptr);
  parent.as_object().erase(pointer.substr(slash + 1));
  return json::serialize(doc);
}

json::value Str(const std::string& s) { return json::value(json::string_view(s)); }

std::string SetManifest(std::string_view pointer, json::value v) {
  return Set(kFullManifest, pointer, std::move(v));
}
std::string SetApp(std::string_view pointer, json::value v) {
  return Set(kApp, pointer, std::move(v));
}

// Succeeds if `result` is an error with this code, file and pointer whose
// message contains every fragment.
template <typename T>
::testing::AssertionResult IsError(const Result<T>& result, ErrorCode code,
                                   std::string_view pointer,
                                   std::initializer_list<std::string_view> fragments,
                                   std::string_view file) {
  if (result.ok()) return ::testing::AssertionFailure() << "parsed without error";
  const Error& e = result.error();
  if (e.code != code) {
    return ::testing::AssertionFailure() << "code is '" << ErrorCodeName(e.code) << "', want '"
                                         << ErrorCodeName(code) << "': " << e.ToString();
  }
  if (e.file != file) {
    return ::testing::AssertionFailure() << "file is '" << e.file << "': " << e.ToString();
  }
  if (e.pointer != pointer) {
    return ::testing::AssertionFailure()
           << "pointer is '" << e.pointer << "', want '" << pointer << "': " << e.ToString();
  }
  for (std::string_view fragment : fragments) {
    if (e.message.find(fragment) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "message lacks '" << fragment << "': " << e.ToString();
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ManifestFails(std::string_view text, ErrorCode code,
                                         std::string_view pointer,
                                         std::initializer_list<std::string_view> fragments) {
  return IsError(ParseManifest(text, kFile), code, pointer, fragments, kFile);
}

::testing::AssertionResult AppFails(std::string_view text, ErrorCode code, std::string_view pointer,
                                    std::initializer_list<std::string_view> fragments) {
  return IsError(ParseAppDescriptor(text, kAppFile), code, pointer, fragments, kAppFile);
}

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "atrium_manifest_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, std::string_view content) const {
    std::string path = path_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------
// bundle.json: good input.

TEST(ManifestTest, FullManifestFillsEveryField) {
  Result<Manifest> r = ParseManifest(kFullManifest, kFile);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const Manifest& m = *r;
  EXPECT_EQ(m.name, "com.wallet.bill");
  EXPECT_EQ(m.version.major, 1u);
  EXPECT_EQ(m.version.minor, 4u);
  EXPECT_EQ(m.version.patch, 2u);
  EXPECT_EQ(m.version.prerelease, (std::vector<std::string>{"beta", "1"}));
  EXPECT_EQ(m.version.build, "build.7");
  EXPECT_EQ(m.description, "Bills and payments");
  EXPECT_EQ(m.library, "lib/libbill.so");
  EXPECT_EQ(m.activation, Activation::kEager);

  ASSERT_EQ(m.requires_.size(), 3u);
  EXPECT_EQ(m.requires_[0].name, "com.wallet.account");
  EXPECT_EQ(m.requires_[0].range.text(), "^2.1.0");
  EXPECT_FALSE(m.requires_[0].optional);
  EXPECT_TRUE(m.requires_[0].range.Matches(*Version::Parse("2.5.0")));
  EXPECT_FALSE(m.requires_[0].range.Matches(*Version::Parse("3.0.0")));
  EXPECT_EQ(m.requires_[1].name, "com.wallet.analytics");
  EXPECT_EQ(m.requires_[1].range.text(), ">=1.0.0 <3.0.0");
  EXPECT_TRUE(m.requires_[1].optional);
  EXPECT_EQ(m.requires_[2].name, "com.wallet.theme");
  EXPECT_EQ(m.requires_[2].range.text(), "*");
  EXPECT_TRUE(m.requires_[2].range.Matches(*Version::Parse("7.1.0")));

  ASSERT_EQ(m.provides.size(), 2u);
  EXPECT_EQ(m.provides[0].interface_id, "com.wallet.bill.BillService");
  EXPECT_EQ(m.provides[0].version, *Version::Parse("2.0.0"));
  EXPECT_EQ(m.provides[1].interface_id, "com.wallet.bill.BillWidget");
  EXPECT_EQ(m.provides[1].version, *Version::Parse("1.0.0"));

  ASSERT_EQ(m.micro_apps.size(), 2u);
  EXPECT_EQ(m.micro_apps[0].id, "bill");
  EXPECT_EQ(m.micro_apps[0].type, "native");
  EXPECT_EQ(m.micro_apps[0].entry, "BillHome");
  EXPECT_EQ(m.micro_apps[0].title, "Bills");
  EXPECT_EQ(m.micro_apps[1].id, "bill-help");
  EXPECT_EQ(m.micro_apps[1].type, "h5");
  EXPECT_EQ(m.micro_apps[1].entry, "help/index.html");
  EXPECT_EQ(m.micro_apps[1].title, "");

  ASSERT_EQ(m.startup.size(), 2u);
  EXPECT_EQ(m.startup[0].id, "init.db");
  EXPECT_EQ(m.startup[0].stage, "boot");
  EXPECT_TRUE(m.startup[0].after.empty());
  EXPECT_EQ(m.startup[0].thread, "io");
  EXPECT_EQ(m.startup[1].id, "warm_cache");
  EXPECT_EQ(m.startup[1].stage, "post_frame");
  EXPECT_EQ(m.startup[1].after, (std::vector<std::string>{"init.db", "com.wallet.account:login"}));
  EXPECT_EQ(m.startup[1].thread, "main");

  EXPECT_EQ(m.resources, (std::vector<std::string>{"lua/bill.lua", "h5/help"}));
}

TEST(ManifestTest, MinimalManifestGetsDefaults) {
  Result<Manifest> r = ParseManifest(R"({"name": "com.a.b", "version": "0.1.0"})", kFile);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->name, "com.a.b");
  EXPECT_EQ(r->version, *Version::Parse("0.1.0"));
  EXPECT_EQ(r->activation, Activation::kLazy);
  EXPECT_TRUE(r->library.empty());
  EXPECT_TRUE(r->description.empty());
  EXPECT_TRUE(r->requires_.empty());
  EXPECT_TRUE(r->provides.empty());
  EXPECT_TRUE(r->micro_apps.empty());
  EXPECT_TRUE(r->startup.empty());
  EXPECT_TRUE(r->resources.empty());
}

TEST(ManifestTest, AcceptsEmptyArraysLazyActivationBomAndWhitespace) {
  std::string text = "\xEF\xBB\xBF \r\n\t" +
                     Set(R"({"name": "com.a.b", "version": "1.0.0", "activation": "lazy",
                             "requires": [], "provides": [], "micro_apps": [], "startup": [],
                             "resources": []})",
                         "/description", "") +
                     "\n\n";
  Result<Manifest> r = ParseManifest(text, kFile);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->activation, Activation::kLazy);
}

TEST(ManifestTest, ReserializedManifestParsesToTheSameModel) {
  Result<Manifest> a = ParseManifest(kFullManifest, kFile);
  Result<Manifest> b = ParseManifest(json::serialize(json::parse(kFullManifest)), kFile);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->name, b->name);
  EXPECT_EQ(a->version, b->version);
  EXPECT_EQ(a->startup.size(), b->startup.size());
  EXPECT_EQ(a->resources, b->resources);
}

TEST(ManifestTest, BundleNameRules) {
  for (std::string_view good : {"com.a", "com.wallet.bill", "a.b-c_d.e9", "x1.y-"}) {
    EXPECT_TRUE(IsValidBundleName(good)) << good;
  }
  std::string long_name = "com." + std::string(124, 'a');  // 128 characters
  EXPECT_TRUE(IsValidBundleName(long_name));
  EXPECT_FALSE(IsValidBundleName(long_name + "a"));
  for (std::string_view bad :
       {"", "com", "Com.a", "com.A", "com..a", ".com.a", "com.a.", "1com.a", "com.1a", "com.-a",
        "com._a", "com.a b", "com/a.b", "com.a:b", "com.\xC3\xA9"}) {
    EXPECT_FALSE(IsValidBundleName(bad)) << bad;
  }
}

// ---------------------------------------------------------------------------
// bundle.json: malformed JSON.

TEST(ManifestTest, EveryTruncationIsASyntaxErrorWithOffset) {
  std::string_view full = kFullManifest;
  for (size_t n = 0; n < full.size(); ++n) {
    Result<Manifest> r = ParseManifest(full.substr(0, n), kFile);
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    const Error& e = r.error();
    EXPECT_EQ(e.code, ErrorCode::kParse) << n << ": " << e.ToString();
    EXPECT_EQ(e.file, kFile);
    ASSERT_TRUE(e.offset.has_value()) << n << ": " << e.ToString();
    EXPECT_LE(*e.offset, n);
  }
}

TEST(ManifestTest, TruncatedDocumentNamesPointerOffsetAndLine) {
  std::string text = "{\"name\": \"com.a.b\", \"requires\": [{\"name\": ";
  EXPECT_TRUE(ManifestFails(text, ErrorCode::kParse, "/requires/0/name",
                            {"invalid JSON", "line 1, column 43", "unexpected end of input"}));
  EXPECT_EQ(ParseManifest(text, kFile).error().offset, text.size());

  EXPECT_TRUE(
      ManifestFails("{\"name\": \"com.a", ErrorCode::kParse, "/name", {"unexpected end of input"}));
  EXPECT_TRUE(ManifestFails("{\"resources\": [\"a\", \"b\"", ErrorCode::kParse, "/resources/2",
                            {"unexpected end of input"}));
  EXPECT_TRUE(ManifestFails("{", ErrorCode::kParse, "", {"line 1, column 2"}));
}

TEST(ManifestTest, SyntaxErrorReportsLineAndColumn) {
  std::string text = "{\n  \"name\": \"com.a.b\",\n  \"version\" \"1.0.0\"\n}";
  Result<Manifest> r = ParseManifest(text, kFile);
  EXPECT_TRUE(IsError(r, ErrorCode::kParse, "/version", {"line 3, column 13", "'\"'"}, kFile));
  EXPECT_EQ(r.error().offset, text.find("\"1.0.0\""));
}

TEST(ManifestTest, ColumnsCountCharactersNotBytes) {
  std::string text = "{\"description\": \"\xC3\xA9\xC3\xA9\", x}";
  EXPECT_TRUE(ManifestFails(text, ErrorCode::kParse, "", {"line 1, column 23", "'x'"}));
}

TEST(ManifestTest, TrailingGarbageIsRejected) {
  std::string good = R"({"name": "com.a.b", "version": "1.0.0"})";
  Result<Manifest> r = ParseManifest(good + " x", kFile);
  EXPECT_TRUE(IsError(r, ErrorCode::kParse, "", {"after the JSON document", "'x'"}, kFile));
  EXPECT_EQ(r.error().offset, good.size() + 1);
  EXPECT_TRUE(ManifestFails(good + good, ErrorCode::kParse, "", {"after the JSON document"}));
  EXPECT_TRUE(ManifestFails(good + ",", ErrorCode::kParse, "", {"after the JSON document"}));
}

TEST(ManifestTest, NonStandardJsonIsRejected) {
  EXPECT_TRUE(ManifestFails(R"({"name": "com.a.b", "version": "1.0.0",})", ErrorCode::kParse, "",
                            {"syntax error"}));
  EXPECT_TRUE(
      ManifestFails("{\"name\": \"com.a.b\" // comment\n}", ErrorCode::kParse, "", {"'/'"}));
  EXPECT_TRUE(ManifestFails("{'name': 'com.a.b'}", ErrorCode::kParse, "", {"'''"}));
  EXPECT_TRUE(ManifestFails("{\"name\": NaN}", ErrorCode::kParse, "/name", {"'N'"}));
  EXPECT_TRUE(ManifestFails("{\"description\": \"\xFF\"}", ErrorCode::kParse, "/description",
                            {"byte 0xFF"}));
  EXPECT_TRUE(ManifestFails("{\"description\": \"a\nb\"}", ErrorCode::kParse, "/description",
                            {"byte 0x0A"}));
}

TEST(ManifestTest, EmptyDocumentIsRejected) {
  for (std::string_view text : {"", "   \n\t ", "\xEF\xBB\xBF"}) {
    EXPECT_TRUE(ManifestFails(text, ErrorCode::kParse, "", {"empty"}))
        << ::testing::PrintToString(text);
  }
}

TEST(ManifestTest, DeepNestingIsRejected) {
  std::string text = "{\"description\": " + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_TRUE(ManifestFails(text, ErrorCode::kParse,
                            "/description/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0"
                            "/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0",
                            {"nesting deeper than 32"}));
}

TEST(ManifestTest, OversizedInputIsRejected) {
  constexpr size_t kLimit = 1 << 20;
  std::string head = R"({"name": "com.a.b", "version": "1.0.0", "description": ")";
  std::string tail = "\"}";
  std::string fits = head + std::string(kLimit - head.size() - tail.size(), 'x') + tail;
  ASSERT_EQ(fits.size(), kLimit);
  EXPECT_TRUE(ParseManifest(fits, kFile).ok());
  std::string too_big = head + std::string(kLimit - head.size() - tail.size() + 1, 'x') + tail;
  EXPECT_TRUE(ManifestFails(too_big, ErrorCode::kParse, "", {"1 MiB"}));
}

TEST(ManifestTest, DuplicateKeysAreRejected) {
  std::string top = R"({"name": "com.a.b", "version": "1.0.0", "name": "com.c.d"})";
  Result<Manifest> r = ParseManifest(top, kFile);
  EXPECT_TRUE(IsError(r, ErrorCode::kParse, "/name", {"duplicate key 'name'", "line 1"}, kFile));
  ASSERT_TRUE(r.error().offset.has_value());
  EXPECT_GE(*r.error().offset, top.rfind("\"name\""));

  EXPECT_TRUE(ManifestFails(
      R"({"name": "com.a.b", "version": "1.0.0",
          "requires": [{"name": "com.c.d"},
                       {"name": "com.e.f", "optional": true, "optional": false}]})",
      ErrorCode::kParse, "/requires/1/optional", {"duplicate key 'optional'", "line 3"}));
  // Keys are compared after unescaping; pointers escape '~' and '/'.
  EXPECT_TRUE(ManifestFails(R"({"name": "com.a.b", "n\u0061me": "com.a.b"})", ErrorCode::kParse,
                            "/name", {"duplicate key 'name'"}));
  EXPECT_TRUE(ManifestFails(R"({"description": {"a/b~": 1, "a/b~": 2}})", ErrorCode::kParse,
                            "/description/a~1b~0", {"duplicate key 'a/b~'"}));
  // The same key in sibling objects is fine.
  EXPECT_TRUE(ParseManifest(R"({"name": "com.a.b", "version": "1.0.0",
                                "requires": [{"name": "com.c.d"}, {"name": "com.e.f"}]})",
                            kFile)
                  .ok());
}

TEST(ManifestTest, RootMustBeAnObject) {
  EXPECT_TRUE(
      ManifestFails("[]", ErrorCode::kValidation, "", {"expected an object, got an array"}));
  EXPECT_TRUE(ManifestFails("\"com.a.b\"", ErrorCode::kValidation, "",
                            {"expected an object, got a string"}));
  EXPECT_TRUE(ManifestFails("null", ErrorCode::kValidation, "", {"expected an object, got null"}));
  EXPECT_TRUE(
      ManifestFails("42", ErrorCode::kValidation, "", {"expected an object, got a number"}));
  EXPECT_TRUE(
      ManifestFails("true", ErrorCode::kValidation, "", {"expected an object, got a boolean"}));
}

// ---------------------------------------------------------------------------
// bundle.json: types, fields, rules.

struct TypeCase {
  const char* pointer;
  json::value value;
  const char* expected;  // the message fragment naming the expected type
};

TEST(ManifestTest, WrongTypesNameTheExpectedType) {
  const std::vector<TypeCase> cases = {
      {"/$schema", 1, "expected a string, got a number"},
      {"/name", 1, "expected a string, got a number"},
      {"/version", 1.5, "expected a string, got a number"},
      {"/description", true, "expected a string, got a boolean"},
      {"/library", json::array{"a"}, "expected a string, got an array"},
      {"/activation", nullptr, "expected a string, got null"},
      {"/requires", json::object{}, "expected an array, got an object"},
      {"/requires/0", "com.a.b", "expected an object, got a string"},
      {"/requires/0/name", json::object{}, "expected a string, got an object"},
      {"/requires/0/version", 2, "expected a string, got a number"},
      {"/requires/1/optional", "yes", "expected a boolean, got a string"},
      {"/requires/1/optional", 1, "expected a boolean, got a number"},
      {"/provides", "com.x.Y", "expected an array, got a string"},
      {"/provides/0", 3, "expected an object, got a number"},
      {"/provides/0/interface", nullptr, "expected a string, got null"},
      {"/provides/0/version", 2, "expected a string, got a number"},
      {"/micro_apps", true, "expected an array, got a boolean"},
      {"/micro_apps/0", json::array{}, "expected an object, got an array"},
      {"/micro_apps/0/id", 1, "expected a string, got a number"},
      {"/micro_apps/0/type", false, "expected a string, got a boolean"},
      {"/micro_apps/0/entry", json::array{}, "expected a string, got an array"},
      {"/micro_apps/0/title", 7, "expected a string, got a number"},
      {"/startup", json::object{}, "expected an array, got an object"},
      {"/startup/0", "init", "expected an object, got a string"},
      {"/startup/0/id", 1, "expected a string, got a number"},
      {"/startup/0/stage", 0, "expected a string, got a number"},
      {"/startup/1/after", "init.db", "expected an array, got a string"},
      {"/startup/1/after/0", 1, "expected a string, got a number"},
      {"/startup/0/thread", nullptr, "expected a string, got null"},
      {"/resources", "lua", "expected an array, got a string"},
      {"/resources/1", json::object{}, "expected a string, got an object"},
  };
  for (const TypeCase& c : cases) {
    EXPECT_TRUE(ManifestFails(SetManifest(c.pointer, c.value), ErrorCode::kValidation, c.pointer,
                              {c.expected}))
        << c.pointer;
  }
}

TEST(ManifestTest, UnknownFieldsAreRejectedAtEveryLevel) {
  for (const char* pointer : {"/Name", "/dependencies", "/requires/0/range", "/provides/1/name",
                              "/micro_apps/0/icon", "/startup/1/nice", "/startup/0/$schema"}) {
    std::string field = std::string(pointer).substr(std::string(pointer).rfind('/') + 1);
    EXPECT_TRUE(ManifestFails(SetManifest(pointer, "x"), ErrorCode::kValidation, pointer,
                              {"unknown field '" + field + "'", "allowed:"}))
        << pointer;
  }
  EXPECT_TRUE(ManifestFails(SetManifest("/requires/0/nam", "com.a.b"), ErrorCode::kValidation,
                            "/requires/0/nam", {"unknown field 'nam'", "name, version, optional"}));
}

TEST(ManifestTest, MissingRequiredFields) {
  for (const char* pointer :
       {"/name", "/version", "/requires/0/name", "/provides/0/interface", "/micro_apps/0/id",
        "/micro_apps/0/type", "/micro_apps/1/entry", "/startup/0/id", "/startup/1/stage"}) {
    std::string field = std::string(pointer).substr(std::string(pointer).rfind('/') + 1);
    EXPECT_TRUE(ManifestFails(Remove(kFullManifest, pointer), ErrorCode::kValidation, pointer,
                              {"missing required field '" + field + "'"}))
        << pointer;
  }
}

TEST(ManifestTest, BadBundleNames) {
  for (const char* name :
       {"", "bill", "Com.wallet.bill", "com..bill", "com.wallet.", "9.bill", "com wallet"}) {
    EXPECT_TRUE(ManifestFails(SetManifest("/name", name), ErrorCode::kValidation, "/name",
                              {"invalid bundle name '" + std::string(name) + "'", "reverse-DNS"}))
        << name;
    EXPECT_TRUE(ManifestFails(SetManifest("/requires/1/name", name), ErrorCode::kValidation,
                              "/requires/1/name", {"invalid bundle name"}))
        << name;
  }
  EXPECT_TRUE(ManifestFails(SetManifest("/name", Str("com." + std::string(200, 'a'))),
                            ErrorCode::kValidation, "/name", {"invalid bundle name", "128"}));
}

TEST(ManifestTest, ErrorsAfterTheNameNameTheBundle) {
  Result<Manifest> r = ParseManifest(SetManifest("/version", "1.0"), kFile);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().bundle, "com.wallet.bill");
  EXPECT_EQ(r.error().ToString().rfind(std::string(kFile) + ":/version:", 0), 0u)
      << r.error().ToString();
}

TEST(ManifestTest, BadVersions) {
  for (const char* version : {"1.0", "v1.0.0", "01.0.0", "1.0.0-", "", "1.0.0.0", "latest"}) {
    EXPECT_TRUE(ManifestFails(SetManifest("/version", version), ErrorCode::kValidation, "/version",
                              {"invalid version '" + std::string(version) + "': "}))
        << version;
  }
  EXPECT_TRUE(ManifestFails(SetManifest("/provides/0/version", "2"), ErrorCode::kValidation,
                            "/provides/0/version", {"invalid version '2': "}));
}

TEST(ManifestTest, BadRanges) {
  for (const char* range : {"^1.x.y", "1.2.3 -", ">=1.0.0 <", "1.2.3.4", "=>1.0.0", "latest"}) {
    Result<Manifest> r = ParseManifest(SetManifest("/requires/0/version", range), kFile);
    EXPECT_TRUE(IsError(r, ErrorCode::kValidation, "/requires/0/version",
                        {"invalid version range '" + std::string(range) + "': "}, kFile))
        << range;
    // The semver parser's own explanation follows the colon.
    if (!r.ok()) {
      EXPECT_GT(r.error().message.size(),
                std::string("invalid version range '': ").size() + std::strlen(range))
          << r.error().message;
    }
  }
}

TEST(ManifestTest, SelfDependencyIsRejected) {
  EXPECT_TRUE(ManifestFails(SetManifest("/requires/2/name", "com.wallet.bill"),
                            ErrorCode::kValidation, "/requires/2/name",
                            {"'com.wallet.bill' cannot require itself"}));
}

TEST(ManifestTest, DuplicateEntriesAreRejected) {
  EXPECT_TRUE(ManifestFails(
      SetManifest("/requires/2/name", "com.wallet.account"), ErrorCode::kValidation,
      "/requires/2/name", {"duplicate requirement 'com.wallet.account'", "first at /requires/0"}));
  EXPECT_TRUE(
      ManifestFails(SetManifest("/provides/1/interface", "com.wallet.bill.BillService"),
                    ErrorCode::kValidation, "/provides/1/interface",
                    {"duplicate interface 'com.wallet.bill.BillService'", "first at /provides/0"}));
  EXPECT_TRUE(ManifestFails(SetManifest("/micro_apps/1/id", "bill"), ErrorCode::kValidation,
                            "/micro_apps/1/id",
                            {"duplicate micro app id 'bill'", "first at /micro_apps/0"}));
  EXPECT_TRUE(ManifestFails(SetManifest("/startup/1/id", "init.db"), ErrorCode::kValidation,
                            "/startup/1/id",
                            {"duplicate startup task id 'init.db'", "first at /startup/0"}));
  EXPECT_TRUE(ManifestFails(SetManifest("/resources/1", "lua/bill.lua"), ErrorCode::kValidation,
                            "/resources/1",
                            {"duplicate resource path 'lua/bill.lua'", "first at /resources/0"}));
  EXPECT_TRUE(ManifestFails(SetManifest("/startup/1/after/1", "init.db"), ErrorCode::kValidation,
                            "/startup/1/after/1", {"duplicate dependency 'init.db'"}));
}

TEST(ManifestTest, BadPaths) {
  struct PathCase {
    const char* path;
    const char* problem;
  };
  const std::vector<PathCase> cases = {
      {"", "must not be empty"},
      {"/usr/lib/libbill.so", "must be relative"},
      {"../libbill.so", "'..'"},
      {"lib/../../libbill.so", "'..'"},
      {"lib/..", "'..'"},
      {"./libbill.so", "'.'"},
      {"lib//libbill.so", "empty segments"},
      {"lib/", "empty segments"},
      {"lib\\libbill.so", "'\\'"},
      {"lib/\x01x.so", "control characters"},
  };
  for (const PathCase& c : cases) {
    EXPECT_TRUE(ManifestFails(SetManifest("/library", c.path), ErrorCode::kValidation, "/library",
                              {"invalid library path", c.problem}))
        << c.path;
    EXPECT_TRUE(ManifestFails(SetManifest("/resources/1", c.path), ErrorCode::kValidation,
                              "/resources/1", {"invalid resource path", c.problem}))
        << c.path;
  }
  // ".." inside a name is not a parent reference.
  EXPECT_TRUE(ParseManifest(SetManifest("/library", "lib..bill.so"), kFile).ok());
}

TEST(ManifestTest, NativeMicroAppNeedsALibrary) {
  EXPECT_TRUE(ManifestFails(Remove(kFullManifest, "/library"), ErrorCode::kValidation,
                            "/micro_apps/0/type",
                            {"micro app 'bill'", "'native'", "no \"library\""}));
  // Non-native micro apps do not.
  std::string h5_only = Set(Remove(kFullManifest, "/library"), "/micro_apps/0/type", "hcf");
  EXPECT_TRUE(ParseManifest(h5_only, kFile).ok());
}

TEST(ManifestTest, BadActivation) {
  EXPECT_TRUE(ManifestFails(SetManifest("/activation", "Eager"), ErrorCode::kValidation,
                            "/activation", {"invalid activation 'Eager'", "'lazy' or 'eager'"}));
}

TEST(ManifestTest, InterfaceIds) {
  for (const char* good : {"com.x.Y", "Com.Wallet.AccountService", "a.b_c-D9"}) {
    EXPECT_TRUE(ParseManifest(SetManifest("/provides/0/interface", good), kFile).ok()) << good;
  }
  for (const char* bad :
       {"AccountService", "", "com..X", "com.X.", "com.9X", "com.X Y", "com/X.Y"}) {
    EXPECT_TRUE(ManifestFails(SetManifest("/provides/0/interface", bad), ErrorCode::kValidation,
                              "/provides/0/interface",
                              {"invalid interface id '" + std::string(bad) + "'"}))
        << bad;
  }
}

TEST(ManifestTest, MicroAppRules) {
  for (const char* bad : {"", "Bill", "1bill", "bill.help", "bill help"}) {
    EXPECT_TRUE(ManifestFails(SetManifest("/micro_apps/1/id", bad), ErrorCode::kValidation,
                              "/micro_apps/1/id",
                              {"invalid micro app id '" + std::string(bad) + "'"}))
        << bad;
  }
  EXPECT_TRUE(
      ParseManifest(SetManifest("/micro_apps/1/id", Str("b" + std::string(63, 'x'))), kFile).ok());
  EXPECT_TRUE(ManifestFails(SetManifest("/micro_apps/1/id", Str("b" + std::string(64, 'x'))),
                            ErrorCode::kValidation, "/micro_apps/1/id", {"at most 64"}));
  for (const char* bad : {"", "H5", "5h", "web view"}) {
    EXPECT_TRUE(ManifestFails(SetManifest("/micro_apps/1/type", bad), ErrorCode::kValidation,
                              "/micro_apps/1/type",
                              {"invalid micro app type '" + std::string(bad) + "'"}))
        << bad;
  }
  EXPECT_TRUE(ManifestFails(SetManifest("/micro_apps/1/entry", ""), ErrorCode::kValidation,
                            "/micro_apps/1/entry", {"entry must not be empty"}));
}

TEST(ManifestTest, StartupTaskOptions) {
  std::string text = SetManifest("/startup/0/priority", "user_blocking");
  auto with = [&](const char* pointer, json::value v) { text = Set(text, pointer, v); };
  with("/startup/0/weight", 25);
  with("/startup/0/optional", true);
  with("/startup/0/budget_ms", 12.5);
  with("/startup/0/run_after_failure", true);
  auto m = ParseManifest(text, kFile);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->startup[0].priority, "user_blocking");
  EXPECT_EQ(m->startup[0].weight, 25u);
  EXPECT_TRUE(m->startup[0].optional);
  EXPECT_DOUBLE_EQ(m->startup[0].budget_ms, 12.5);
  EXPECT_TRUE(m->startup[0].run_after_failure);
  EXPECT_EQ(m->startup[1].priority, "user_visible");
  EXPECT_EQ(m->startup[1].weight, 1u);
  EXPECT_FALSE(m->startup[1].optional);
  EXPECT_EQ(m->startup[1].budget_ms, 0);

  EXPECT_TRUE(ManifestFails(SetManifest("/startup/0/priority", "urgent"), ErrorCode::kValidation,
                            "/startup/0/priority",
                            {"invalid priority 'urgent'", "user_blocking, user_visible"}));
  EXPECT_TRUE(ManifestFails(SetManifest("/startup/0/weight", 0), ErrorCode::kValidation,
                            "/startup/0/weight", {"out of range [1, 1000000]"}));
  EXPECT_TRUE(ManifestFails(SetManifest("/startup/0/weight", 1.5), ErrorCode::kValidation,
                            "/startup/0/weight", {"expected an integer"}));
  EXPECT_TRUE(ManifestFails(SetManifest("/startup/0/weight", "big"), ErrorCode::kValidation,
                            "/startup/0/weight", {"expected an integer"}));
  EXPECT_TRUE(ManifestFails(SetManifest("/startup/0/budget_ms", -1), ErrorCode::kValidation,
                            "/startup/0/budget_ms", {"must be > 0"}));
  EXPECT_TRUE(ManifestFails(SetManifest("/startup/0/optional", "yes"), ErrorCode::kValidation,
                            "/startup/0/optional", {"expected a boolean"}));
}

TEST(ManifestTest, StartupRules) {
  // Stage names are checked against the app's stages when the launch's task
  // graph is built; the manifest checks their form.
  EXPECT_TRUE(ManifestFails(SetManifest("/startup/0/stage", "First Frame"), ErrorCode::kValidation,
                            "/startup/0/stage",
                            {"invalid stage 'First Frame'", "boot, framework, first_frame"}));
  for (const char* stage : {"boot", "framework", "first_frame", "post_frame", "idle", "launch"}) {
    EXPECT_TRUE(ParseManifest(SetManifest("/startup/0/stage", stage), kFile).ok()) << stage;
  }
  for (const char* bad : {"", "Init", "1init", "init db", "init:db"}) {
    EXPECT_TRUE(ManifestFails(SetManifest("/startup/0/id", bad), ErrorCode::kValidation,
                              "/startup/0/id",
                              {"invalid startup task id '" + std::string(bad) + "'"}))
        << bad;
  }
  for (const char* bad : {"", "Init", "com.wallet.account:", ":login", "account:login",
                          "com.wallet.account:login:x", "com.wallet.account:Login"}) {
    EXPECT_TRUE(ManifestFails(
        SetManifest("/startup/1/after/1", bad), ErrorCode::kValidation, "/startup/1/after/1",
        {"invalid dependency '" + std::string(bad) + "'", "'bundle.name:task'"}))
        << bad;
  }
  for (const char* self : {"warm_cache", "com.wallet.bill:warm_cache"}) {
    EXPECT_TRUE(ManifestFails(SetManifest("/startup/1/after/0", self), ErrorCode::kValidation,
                              "/startup/1/after/0",
                              {"startup task 'warm_cache' cannot run after itself"}))
        << self;
  }
  // The same task id in another bundle is not a self-reference.
  EXPECT_TRUE(
      ParseManifest(SetManifest("/startup/1/after/0", "com.wallet.account:warm_cache"), kFile)
          .ok());
  for (const char* bad : {"", "Main", "io pool", "1io"}) {
    EXPECT_TRUE(ManifestFails(SetManifest("/startup/0/thread", bad), ErrorCode::kValidation,
                              "/startup/0/thread", {"invalid thread '" + std::string(bad) + "'"}))
        << bad;
  }
}

TEST(ManifestTest, MessagesQuoteLongAndControlCharactersSafely) {
  Result<Manifest> r =
      ParseManifest(SetManifest("/name", Str(std::string(500, 'A') + "\n")), kFile);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.error().message.size(), 400u) << r.error().message;
  EXPECT_NE(r.error().message.find("...'"), std::string::npos);
  r = ParseManifest(SetManifest("/name", "bad\x01name"), kFile);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'bad\\x01name'"), std::string::npos) << r.error().message;
}

// ---------------------------------------------------------------------------
// Files.

TEST(ManifestFileTest, LoadsAFile) {
  TempDir dir;
  std::string path = dir.Write("bundle.json", kFullManifest);
  Result<Manifest> r = LoadManifestFile(path);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->name, "com.wallet.bill");
}

TEST(ManifestFileTest, ErrorsNameThePath) {
  TempDir dir;
  std::string path = dir.Write("bundle.json", SetManifest("/requires/0/version", "^1.x.y"));
  EXPECT_TRUE(IsError(LoadManifestFile(path), ErrorCode::kValidation, "/requires/0/version",
                      {"invalid version range '^1.x.y'"}, path));
}

TEST(ManifestFileTest, MissingFileIsAnIoError) {
  TempDir dir;
  std::string path = dir.path() + "/nope/bundle.json";
  EXPECT_TRUE(IsError(LoadManifestFile(path), ErrorCode::kIo, "", {"cannot open"}, path));
  EXPECT_TRUE(IsError(LoadAppDescriptorFile(path), ErrorCode::kIo, "", {"cannot open"}, path));
}

TEST(ManifestFileTest, DirectoryIsAnIoError) {
  TempDir dir;
  EXPECT_TRUE(IsError(LoadManifestFile(dir.path()), ErrorCode::kIo, "", {"cannot"}, dir.path()));
}

TEST(ManifestFileTest, OversizedAndEmptyFiles) {
  TempDir dir;
  std::string big = dir.Write("big.json", std::string(3 << 20, ' '));
  EXPECT_TRUE(IsError(LoadManifestFile(big), ErrorCode::kParse, "", {"1 MiB"}, big));
  std::string empty = dir.Write("empty.json", "");
  EXPECT_TRUE(IsError(LoadManifestFile(empty), ErrorCode::kParse, "", {"empty"}, empty));
}

TEST(ManifestFileTest, ValidSeedCorpusFilesParse) {
  const std::filesystem::path corpus =
      std::filesystem::path(ATRIUM_SOURCE_DIR) / "tests/fuzz/corpus/manifest";
  int bundles = 0;
  int apps = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("valid_bundle", 0) == 0) {
      Result<Manifest> r = LoadManifestFile(entry.path().string());
      EXPECT_TRUE(r.ok()) << r.error().ToString();
      ++bundles;
    } else if (name.rfind("valid_app", 0) == 0) {
      Result<AppDescriptor> r = LoadAppDescriptorFile(entry.path().string());
      EXPECT_TRUE(r.ok()) << r.error().ToString();
      ++apps;
    }
  }
  EXPECT_GT(bundles, 0);
  EXPECT_GT(apps, 0);
}

// ---------------------------------------------------------------------------
// app.json.

TEST(AppDescriptorTest, ParsesEveryField) {
  Result<AppDescriptor> r = ParseAppDescriptor(kApp, kAppFile);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->id, "com.wallet.app");
  EXPECT_EQ(r->version, *Version::Parse("3.0.0"));
  EXPECT_EQ(r->name, "Wallet");
  EXPECT_EQ(r->home, "home");
  EXPECT_EQ(r->baseline,
            (std::vector<std::string>{"bundles/home", "bundles/bill", "bundles/account"}));
  Result<AppDescriptor> minimal = ParseAppDescriptor(
      R"({"id": "com.a.b", "version": "1.0.0", "home": "main", "baseline": ["b"]})", kAppFile);
  ASSERT_TRUE(minimal.ok()) << minimal.error().ToString();
  EXPECT_EQ(minimal->name, "");
}

TEST(AppDescriptorTest, LoadsAFile) {
  TempDir dir;
  std::string path = dir.Write("app.json", kApp);
  Result<AppDescriptor> r = LoadAppDescriptorFile(path);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->home, "home");
  path = dir.Write("bad.json", SetApp("/home", "Home"));
  EXPECT_TRUE(IsError(LoadAppDescriptorFile(path), ErrorCode::kValidation, "/home",
                      {"invalid micro app id 'Home'"}, path));
}

TEST(AppDescriptorTest, MalformedJson) {
  std::string_view full = kApp;
  for (size_t n = 0; n < full.size(); ++n) {
    Result<AppDescriptor> r = ParseAppDescriptor(full.substr(0, n), kAppFile);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, ErrorCode::kParse) << r.error().ToString();
    EXPECT_TRUE(r.error().offset.has_value());
  }
  EXPECT_TRUE(
      AppFails(std::string(kApp) + "}", ErrorCode::kParse, "", {"after the JSON document"}));
  EXPECT_TRUE(AppFails("", ErrorCode::kParse, "", {"empty"}));
  EXPECT_TRUE(AppFails(R"({"id": "com.a.b", "id": "com.a.b"})", ErrorCode::kParse, "/id",
                       {"duplicate key 'id'"}));
  EXPECT_TRUE(AppFails("[\"bundles/home\"]", ErrorCode::kValidation, "",
                       {"expected an object, got an array"}));
  EXPECT_TRUE(AppFails(std::string(1 << 20, ' ') + "{}", ErrorCode::kParse, "", {"1 MiB"}));
}

TEST(AppDescriptorTest, WrongTypesAndUnknownFields) {
  const std::vector<TypeCase> cases = {
      {"/$schema", true, "expected a string, got a boolean"},
      {"/id", 1, "expected a string, got a number"},
      {"/version", 3, "expected a string, got a number"},
      {"/name", json::array{}, "expected a string, got an array"},
      {"/home", nullptr, "expected a string, got null"},
      {"/baseline", "bundles/home", "expected an array, got a string"},
      {"/baseline/1", 1, "expected a string, got a number"},
  };
  for (const TypeCase& c : cases) {
    EXPECT_TRUE(
        AppFails(SetApp(c.pointer, c.value), ErrorCode::kValidation, c.pointer, {c.expected}))
        << c.pointer;
  }
  EXPECT_TRUE(AppFails(SetApp("/bundles", json::array{}), ErrorCode::kValidation, "/bundles",
                       {"unknown field 'bundles'", "allowed: $schema, id, version"}));
}

TEST(AppDescriptorTest, RuleViolations) {
  for (const char* pointer : {"/id", "/version", "/home", "/baseline"}) {
    std::string field = std::string(pointer).substr(1);
    EXPECT_TRUE(AppFails(Remove(kApp, pointer), ErrorCode::kValidation, pointer,
                         {"missing required field '" + field + "'"}))
        << pointer;
  }
  EXPECT_TRUE(AppFails(SetApp("/id", "wallet"), ErrorCode::kValidation, "/id",
                       {"invalid app id 'wallet'", "reverse-DNS"}));
  EXPECT_TRUE(AppFails(SetApp("/version", "3"), ErrorCode::kValidation, "/version",
                       {"invalid version '3': "}));
  EXPECT_TRUE(
      AppFails(SetApp("/home", ""), ErrorCode::kValidation, "/home", {"invalid micro app id ''"}));
  EXPECT_TRUE(AppFails(SetApp("/baseline", json::array{}), ErrorCode::kValidation, "/baseline",
                       {"at least one"}));
  EXPECT_TRUE(AppFails(SetApp("/baseline/2", "bundles/home"), ErrorCode::kValidation, "/baseline/2",
                       {"duplicate baseline directory 'bundles/home'", "first at /baseline/0"}));
  for (const char* bad : {"../bundles/home", "/opt/bundles/home", "", "bundles/", "a\\b"}) {
    EXPECT_TRUE(AppFails(SetApp("/baseline/1", bad), ErrorCode::kValidation, "/baseline/1",
                         {"invalid baseline directory"}))
        << bad;
  }
}

// A section owned by a layer above: unknown until registered, then validated
// by its owner with pointers under "/<name>" and kept as text for it. (The
// launch guard's own section is tested with the guard.)
Status ValidateBannerSection(const json::value& v, std::string_view file,
                             std::string_view pointer) {
  if (v.is_object() && v.as_object().size() == 1 && v.as_object().contains("text")) {
    return Status::Ok();
  }
  return internal::MakeLocated(ErrorCode::kValidation, file, std::string(pointer),
                               "expected {\"text\": ...}");
}

TEST(AppDescriptorTest, RegisteredSectionsAreValidatedByTheirOwner) {
  json::value banner = json::parse(R"({"text": "hi"})");
  EXPECT_TRUE(AppFails(SetApp("/test_banner", banner), ErrorCode::kValidation, "/test_banner",
                       {"unknown field 'test_banner'"}));
  ASSERT_TRUE(internal::RegisterAppSection("test_banner", "the test", ValidateBannerSection).ok());
  auto app = ParseAppDescriptor(SetApp("/test_banner", banner), kAppFile);
  ASSERT_TRUE(app.ok()) << app.error().ToString();
  EXPECT_EQ(app->sections.at("test_banner"), R"({"text":"hi"})");
  EXPECT_TRUE(AppFails(SetApp("/test_banner", json::parse("[1]")), ErrorCode::kValidation,
                       "/test_banner", {"expected {\"text\""}));
  // One owner per name; core fields belong to no layer.
  Status again = internal::RegisterAppSection("test_banner", "another", ValidateBannerSection);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(again.error().message.find("already registered by the test"), std::string::npos);
  EXPECT_EQ(internal::RegisterAppSection("startup", "x", ValidateBannerSection).error().code,
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(internal::RegisterAppSection("", "x", ValidateBannerSection).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(AppDescriptorTest, StartupSection) {
  json::value startup = json::parse(R"({
    "stages": ["boot", "first_frame", "settle"],
    "pools": {"io": {"threads": 6, "priority": "low", "queue_limit": 500},
              "decode": {"threads": 2, "held_until_idle": true}},
    "max_threads": 16, "bundle_task_quota": 3})");
  auto app = ParseAppDescriptor(SetApp("/startup", startup), "app.json");
  ASSERT_TRUE(app.ok()) << app.error().ToString();
  EXPECT_EQ(app->startup.stages, (std::vector<std::string>{"boot", "first_frame", "settle"}));
  ASSERT_EQ(app->startup.pools.size(), 2u);
  EXPECT_EQ(app->startup.pools[0].name, "io");
  EXPECT_EQ(app->startup.pools[0].threads, 6);
  EXPECT_EQ(app->startup.pools[0].priority, "low");
  EXPECT_EQ(app->startup.pools[0].queue_limit, 500u);
  EXPECT_EQ(app->startup.pools[0].held_until_idle, -1);
  EXPECT_EQ(app->startup.pools[1].held_until_idle, 1);
  EXPECT_EQ(app->startup.max_threads, 16);
  EXPECT_EQ(app->startup.bundle_task_quota, 3);

  auto with = [&](std::string_view pointer, json::value v) {
    return Set(SetApp("/startup", startup), "/startup" + std::string(pointer), v);
  };
  EXPECT_TRUE(AppFails(with("/stages/2", "boot"), ErrorCode::kValidation, "/startup/stages/2",
                       {"duplicate stage 'boot'"}));
  EXPECT_TRUE(AppFails(with("/stages", json::array{}), ErrorCode::kValidation, "/startup/stages",
                       {"must not be empty"}));
  EXPECT_TRUE(AppFails(with("/stages/0", "Boot"), ErrorCode::kValidation, "/startup/stages/0",
                       {"invalid stage name 'Boot'"}));
  EXPECT_TRUE(AppFails(with("/pools/io/threads", 0), ErrorCode::kValidation,
                       "/startup/pools/io/threads", {"out of range [1, 256]"}));
  EXPECT_TRUE(AppFails(with("/pools/io/priority", "realtime"), ErrorCode::kValidation,
                       "/startup/pools/io/priority", {"invalid priority 'realtime'"}));
  EXPECT_TRUE(AppFails(with("/pools/io/nice", 3), ErrorCode::kValidation, "/startup/pools/io/nice",
                       {"unknown field 'nice'"}));
  EXPECT_TRUE(AppFails(with("/pools/main", json::object{}), ErrorCode::kValidation,
                       "/startup/pools/main", {"invalid pool name 'main'"}));
  EXPECT_TRUE(AppFails(with("/max_threads", 0), ErrorCode::kValidation, "/startup/max_threads",
                       {"out of range"}));
  EXPECT_TRUE(AppFails(with("/bundle_task_quota", "two"), ErrorCode::kValidation,
                       "/startup/bundle_task_quota", {"expected an integer"}));
  EXPECT_TRUE(AppFails(SetApp("/startup", json::array{}), ErrorCode::kValidation, "/startup",
                       {"expected an object"}));
  // The config round-trips through its text form (what the bundle index stores).
  auto again = ParseStartupConfig(R"({"stages":["a","b"],"max_threads":4})", "index");
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->stages, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(again->max_threads, 4);
}

}  // namespace
}  // namespace atrium
