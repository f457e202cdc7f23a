// Tests for the bundle.json parser (atrium/manifest.h): a full manifest
// read into the model, then the syntax and limits of the document itself.
// Field rules, files and app.json: manifest_rules_test.cc. Each failure case
// checks the error code, the file, the JSON pointer and the message; bad
// variants are made by editing a good document with Boost.JSON, so each case
// changes exactly one thing.
//
// Concurrency: single-threaded tests.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "manifest_test_util.h"

namespace atrium::manifest_test {
namespace {

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

}  // namespace
}  // namespace atrium::manifest_test
