// Tests for atrium/dynamic/tuf/canonical_json.h: the exact bytes of the OLPC
// dialect TUF signs (members sorted by the bytes of their names, no
// whitespace, only '\' and '"' escaped, everything else raw), the refusal of
// floating-point numbers and of nesting past 64 levels, and a cross-check
// against Python's json module (an independent implementation) and hashlib
// for a TUF key id. The Python checks are skipped when python3 is missing.
//
// Concurrency: single-threaded.
#include "atrium/dynamic/tuf/canonical_json.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "atrium/base/hex.h"
#include "atrium/dynamic/tuf/metadata.h"
#include "atrium/dynamic/tuf/signing.h"
#include "testing/cli.h"

namespace atrium::tuf {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::string_literals;

std::string Canonical(const json::value& v) {
  Result<std::string> c = CanonicalJson(v);
  EXPECT_TRUE(c.ok()) << c.error().ToString();
  return c.ok() ? *c : std::string();
}

std::string CanonicalOf(std::string_view json_text) { return Canonical(json::parse(json_text)); }

void ExpectRefused(const json::value& v, const std::string& pointer, const std::string& message) {
  Result<std::string> c = CanonicalJson(v);
  ASSERT_FALSE(c.ok()) << "accepted: " << *c;
  EXPECT_EQ(c.error().code, ErrorCode::kValidation);
  EXPECT_EQ(c.error().pointer, pointer);
  EXPECT_EQ(c.error().message, message);
}

const std::string kFloat =
    "a floating-point number or an integer beyond 64 bits (canonical JSON allows only 64-bit "
    "integers)";
const std::string kTooDeep = "nested deeper than 64 levels (the canonical JSON limit)";

// `n` arrays (or objects with the member "k") around `inner`.
json::value Nest(int n, json::value inner, bool objects = false) {
  for (int i = 0; i < n; ++i) {
    if (objects) {
      json::object o;
      o["k"] = std::move(inner);
      inner = std::move(o);
    } else {
      json::array a;
      a.push_back(std::move(inner));
      inner = std::move(a);
    }
  }
  return inner;
}

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(CanonicalJsonTest, MembersAreSortedByTheBytesOfTheirNames) {
  EXPECT_EQ(CanonicalOf(R"({"b":1,"a":2,"B":3,"_":4,"0":5})"),
            R"({"0":5,"B":3,"_":4,"a":2,"b":1})");
  // A name sorts before every longer name it is a prefix of; "" first.
  EXPECT_EQ(CanonicalOf(R"({"abc":1,"ab":2,"a":3,"":4,"abd":5})"),
            R"({"":4,"a":3,"ab":2,"abc":1,"abd":5})");
  // UTF-8 bytes compare unsigned: U+00E9 (C3 A9), U+FFFF (EF BF BF) and
  // U+1F600 (F0 9F 98 80) sort after every ASCII name, in code point order.
  EXPECT_EQ(CanonicalOf(R"({"\ud83d\ude00":1,"\uffff":2,"\u00e9a":3,"\u00e9":4,"z":5})"),
            "{\"z\":5,\"\xC3\xA9\":4,\"\xC3\xA9"
            "a\":3,\"\xEF\xBF\xBF\":2,\"\xF0\x9F\x98\x80\":1}");
  // A control character in a name is raw and sorts by its byte.
  json::object o;
  o["ab"] = 1;
  o[std::string("a\0", 2)] = 2;
  o["a"] = 3;
  o["a\x7f"] = 4;
  EXPECT_EQ(Canonical(o), "{\"a\":3,\"a\0\":2,\"ab\":1,\"a\x7f\":4}"s);
}

TEST(CanonicalJsonTest, NoWhitespaceAndNestingKeepsArrayOrder) {
  EXPECT_EQ(CanonicalOf(" { \"z\" : [ 3 , 1 , 2 ] ,\n\t\"a\" : { \"y\" : { } , \"x\" : [ ] } } "),
            R"({"a":{"x":[],"y":{}},"z":[3,1,2]})");
  EXPECT_EQ(CanonicalOf(R"([[{"b":[{"d":1,"c":2}],"a":null}],[]])"),
            R"([[{"a":null,"b":[{"c":2,"d":1}]}],[]])");
  // The order members were inserted in does not matter.
  json::object x, y;
  x["one"] = 1;
  x["two"] = 2;
  y["two"] = 2;
  y["one"] = 1;
  EXPECT_EQ(Canonical(x), Canonical(y));
}

TEST(CanonicalJsonTest, IntegersBooleansAndNull) {
  EXPECT_EQ(CanonicalOf("0"), "0");
  EXPECT_EQ(CanonicalOf("-0"), "0");
  EXPECT_EQ(CanonicalOf("-1"), "-1");
  EXPECT_EQ(CanonicalOf("[9223372036854775807,-9223372036854775808]"),
            "[9223372036854775807,-9223372036854775808]");
  EXPECT_EQ(Canonical(json::value(std::numeric_limits<int64_t>::max())), "9223372036854775807");
  EXPECT_EQ(Canonical(json::value(std::numeric_limits<uint64_t>::max())), "18446744073709551615");
  EXPECT_EQ(CanonicalOf("9223372036854775808"), "9223372036854775808");  // parsed as uint64
  EXPECT_EQ(CanonicalOf("[true,false,null]"), "[true,false,null]");
}

TEST(CanonicalJsonTest, OnlyBackslashAndQuoteAreEscaped) {
  EXPECT_EQ(CanonicalOf(R"("a\"b\\c")"), R"("a\"b\\c")");
  EXPECT_EQ(CanonicalOf(R"("\/")"), R"("/")");
  // Control characters, newlines, tabs, DEL and UTF-8 stay raw bytes.
  EXPECT_EQ(CanonicalOf(R"("\n\t\r\b\f\u0001\u001f\u007f")"), "\"\n\t\r\b\f\x01\x1f\x7f\""s);
  EXPECT_EQ(CanonicalOf(R"("\u0000")"), "\"\0\""s);
  EXPECT_EQ(CanonicalOf(R"("\u00e9\u2028\ud83d\ude00")"),
            "\"\xC3\xA9\xE2\x80\xA8\xF0\x9F\x98\x80\"");
  EXPECT_EQ(CanonicalOf(R"({"k\"\\":"\"\\\n"})"), "{\"k\\\"\\\\\":\"\\\"\\\\\n\"}");
}

TEST(CanonicalJsonTest, EmptyValues) {
  EXPECT_EQ(CanonicalOf("{}"), "{}");
  EXPECT_EQ(CanonicalOf("[]"), "[]");
  EXPECT_EQ(CanonicalOf(R"("")"), R"("")");
  EXPECT_EQ(CanonicalOf(R"({"":""})"), R"({"":""})");
  EXPECT_EQ(CanonicalOf(R"([{},[],""])"), R"([{},[],""])");
}

TEST(CanonicalJsonTest, FloatsAreRefusedNamingTheirPointer) {
  ExpectRefused(json::parse(R"({"a":[1,2.5]})"), "/a/1", kFloat);
  ExpectRefused(json::parse("1.5"), "", kFloat);
  ExpectRefused(json::parse("1.0"), "", kFloat);
  ExpectRefused(json::parse("[1e3]"), "/0", kFloat);
  ExpectRefused(json::parse("[0, -0.0]"), "/1", kFloat);
  // Beyond uint64 Boost.JSON keeps a double: refused like a float.
  ExpectRefused(json::parse(R"({"n":18446744073709551616})"), "/n", kFloat);
  ExpectRefused(json::parse(R"({"n":-9223372036854775809})"), "/n", kFloat);
  // RFC 6901 escapes in the pointer.
  ExpectRefused(json::parse(R"({"a/b":{"c~d":0.5}})"), "/a~1b/c~0d", kFloat);
  // The first one in canonical order is named.
  ExpectRefused(json::parse(R"({"z":0.1,"a":{"y":0.2,"x":[3,0.3]}})"), "/a/x/1", kFloat);
}

TEST(CanonicalJsonTest, NestingIsLimitedTo64Levels) {
  EXPECT_EQ(Canonical(Nest(64, 1)), Repeat("[", 64) + "1" + Repeat("]", 64));
  EXPECT_EQ(Canonical(Nest(63, json::array())), Repeat("[", 63) + "[]" + Repeat("]", 63));
  EXPECT_EQ(Canonical(Nest(63, json::object())), Repeat("[", 63) + "{}" + Repeat("]", 63));
  EXPECT_EQ(Canonical(Nest(64, "x", true)), Repeat(R"({"k":)", 64) + R"("x")" + Repeat("}", 64));
  // The 65th array or object is refused, empty or not.
  ExpectRefused(Nest(64, json::array()), Repeat("/0", 64), kTooDeep);
  ExpectRefused(Nest(65, 1), Repeat("/0", 64), kTooDeep);
  ExpectRefused(Nest(64, json::object(), true), Repeat("/k", 64), kTooDeep);
  ExpectRefused(Nest(1000, nullptr), Repeat("/0", 64), kTooDeep);
}

// --- Python cross-checks -------------------------------------------------

bool HavePython() { return std::system("python3 -c 'import json, hashlib' >/dev/null 2>&1") == 0; }

class PythonCrossCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HavePython()) GTEST_SKIP() << "python3 is not available";
    dir_ = fs::path(::testing::TempDir()) /
           ("atrium_canonical_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Runs the Python `script` (no single quotes) on a file holding `input`;
  // its standard output.
  std::string RunPython(const std::string& script, const std::string& input) {
    const fs::path file = dir_ / ("input" + std::to_string(runs_++));
    std::ofstream(file, std::ios::binary) << input;
    const std::string command = "python3 -c '" + script + "' '" + file.string() + "'";
    const ::atrium::testing::CliOutput out = ::atrium::testing::RunShell(command);
    EXPECT_EQ(out.status, 0) << command;
    return out.text;
  }

  fs::path dir_;
  int runs_ = 0;
};

// No control characters: json.dumps escapes those (OLPC does not).
TEST_F(PythonCrossCheckTest, CanonicalBytesMatchJsonDumpsSortedCompact) {
  const std::string script =
      "import json, sys; d = json.load(open(sys.argv[1], encoding=\"utf-8\")); "
      "sys.stdout.buffer.write(json.dumps(d, sort_keys=True, separators=(\",\", \":\"), "
      "ensure_ascii=False).encode(\"utf-8\"))";
  const std::vector<std::string> docs = {
      R"({"b":1,"a":[true,false,null],"aa":{"z":"","y":[]},"A":-5,"_":{}})",
      R"({"\ud83d\ude00":"x","\uffff":1,"\u00e9a":0,"\u00e9":"\u00fc","z":"\u4e2d\u6587"})",
      R"({"abc":1,"ab":2,"a":3,"":4,"abd":[{"b":2,"a":1}]})",
      R"({"n":[-9223372036854775808,0,-0,-1,9223372036854775807,18446744073709551615]})",
      R"({"s":"quote \" backslash \\ slash \/ del \u007f line sep \u2028 end"})",
      R"([[[[{"k":[{}]}]]],[],{},"",[""]])",
      R"({"signed":{"_type":"targets","version":3,"targets":{"a/b.txt":{"length":5,
         "hashes":{"sha256":"ab"},"custom":{"kind":"lua_patch","cohort":[1,2]}}}},
         "signatures":[{"sig":"00","keyid":"11"}]})",
  };
  for (const std::string& doc : docs) {
    SCOPED_TRACE(doc);
    const std::string ours = CanonicalOf(doc);
    EXPECT_EQ(ours, RunPython(script, doc));
  }
}

// RFC 8032, test 1: the public key and its TUF key id.
constexpr std::string_view kRfc8032PublicHex =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr std::string_view kRfc8032KeyCanonical =
    R"({"keytype":"ed25519","keyval":{"public":"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"},"scheme":"ed25519"})";
// hashlib.sha256(kRfc8032KeyCanonical).hexdigest(), computed once by hand.
constexpr std::string_view kRfc8032KeyId =
    "74c181c7ad8a0855d4b55e44d2ba87aabdddb196832571f15f92fece332e4916";

PublicKey Rfc8032PublicKey() {
  PublicKey pk{};
  EXPECT_TRUE(internal::DecodeHex(kRfc8032PublicHex, pk.data(), pk.size()));
  return pk;
}

TEST(CanonicalJsonTest, KeyIdIsTheSha256OfTheCanonicalKeyObject) {
  const PublicKey pk = Rfc8032PublicKey();
  EXPECT_EQ(Canonical(json::value(KeyObject(pk))), kRfc8032KeyCanonical);
  EXPECT_EQ(TufKeyId(pk), kRfc8032KeyId);
  EXPECT_EQ(Sha256Hex(kRfc8032KeyCanonical), kRfc8032KeyId);
  // FIPS 180-2 "abc".
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(PythonCrossCheckTest, KeyIdMatchesHashlib) {
  const std::string script =
      "import hashlib, sys; "
      "sys.stdout.write(hashlib.sha256(open(sys.argv[1], \"rb\").read()).hexdigest())";
  EXPECT_EQ(RunPython(script, std::string(kRfc8032KeyCanonical)), kRfc8032KeyId);
  EXPECT_EQ(TufKeyId(Rfc8032PublicKey()), RunPython(script, std::string(kRfc8032KeyCanonical)));
}

}  // namespace
}  // namespace atrium::tuf
