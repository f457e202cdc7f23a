// Tests for hotpatch packages: the strict patch.json parser (every rule, each
// error naming file and JSON pointer), reading a patch directory (bad,
// missing, oversized and escaping files refused naming the file), and
// packing a patch as a signed lua_patch package (the hotpatch layer checks
// patch.json at pack time; a package of another kind, or without its source,
// is no patch). Signatures and tampering are the package format's
// (tests/bundles/package_*_test.cc) and the store's (tests/bundles/artifact_store_test.cc).
#include "patch_package.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/package.h"
#include "atrium/result.h"
#include "testing/package_fixture.h"

namespace atrium::hotpatch::internal {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kFile = "pkg/patch.json";

constexpr std::string_view kFullManifest = R"j({
  "id": "fix-fee-rounding",
  "version": "1.0.1",
  "description": "Rounds fees half-up",
  "targets": {"app": "com.example.wallet", "app_versions": ">=1.0.0 <2.0.0",
              "bundles": [{"name": "com.wallet.transfer", "version": "^1.2.0"}]},
  "points": [
    {"point": "transfer.fee.compute", "mode": "replace", "function": "compute_fee",
     "signature": "int(int,string)", "order": 2},
    {"point": "transfer.fee.compute", "mode": "after", "function": "log_fee",
     "signature": "int(int,string)"},
    {"point": "transfer.receipt", "mode": "before", "function": "Receipt_1",
     "signature": "nil(record:Receipt,double,bool)"}
  ],
  "limits": {"memory_kb": 1024, "instructions": 2000000, "time_ms": 20, "max_faults": 5},
  "source": "fee.lua"
})j";

constexpr std::string_view kMinimalManifest = R"j({
  "id": "p", "version": "0.1.0", "targets": {"app": "com.example.wallet"},
  "points": [{"point": "a.b", "function": "f", "signature": "nil()"}]
})j";

// ---------------------------------------------------------------------------
// ParsePatchManifest: accepted documents.

TEST(ParsePatchManifestTest, ReadsEveryField) {
  Result<PatchManifest> m = ParsePatchManifest(kFullManifest, kFile);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->id, "fix-fee-rounding");
  EXPECT_EQ(m->version.ToString(), "1.0.1");
  EXPECT_EQ(m->description, "Rounds fees half-up");
  EXPECT_EQ(m->app_id, "com.example.wallet");
  EXPECT_EQ(m->app_versions.text(), ">=1.0.0 <2.0.0");
  ASSERT_EQ(m->bundles.size(), 1u);
  EXPECT_EQ(m->bundles[0].name, "com.wallet.transfer");
  EXPECT_TRUE(m->bundles[0].range.Matches(*Version::Parse("1.3.0")));
  EXPECT_FALSE(m->bundles[0].range.Matches(*Version::Parse("2.0.0")));
  ASSERT_EQ(m->points.size(), 3u);
  EXPECT_EQ(m->points[0].point, "transfer.fee.compute");
  EXPECT_EQ(m->points[0].mode, PatchMode::kReplace);
  EXPECT_EQ(m->points[0].function, "compute_fee");
  EXPECT_EQ(m->points[0].signature, "int(int,string)");
  EXPECT_EQ(m->points[0].order, 2);
  EXPECT_EQ(m->points[1].mode, PatchMode::kAfter);
  EXPECT_EQ(m->points[1].order, 0);
  EXPECT_EQ(m->points[2].mode, PatchMode::kBefore);
  EXPECT_EQ(m->points[2].signature, "nil(record:Receipt,double,bool)");
  EXPECT_EQ(m->memory_kb, 1024u);
  EXPECT_EQ(m->instructions, 2000000u);
  EXPECT_EQ(m->time_ms, 20u);
  EXPECT_EQ(m->max_faults, 5u);
  EXPECT_EQ(m->source, "fee.lua");
}

TEST(ParsePatchManifestTest, AppliesDefaults) {
  Result<PatchManifest> m = ParsePatchManifest(kMinimalManifest, kFile);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->description, "");
  EXPECT_TRUE(m->app_versions.Matches(*Version::Parse("7.0.0")));
  EXPECT_TRUE(m->bundles.empty());
  EXPECT_EQ(m->points[0].mode, PatchMode::kReplace);
  EXPECT_EQ(m->memory_kb, 512u);
  EXPECT_EQ(m->instructions, 1000000u);
  EXPECT_EQ(m->time_ms, 50u);
  EXPECT_EQ(m->max_faults, 3u);
  EXPECT_EQ(m->source, "patch.lua");
}

TEST(ParsePatchManifestTest, CanonicalizesSignatureSpacing) {
  std::string json(kMinimalManifest);
  json.replace(json.find("nil()"), 5, " int ( int , record:Fee,string ) ");
  Result<PatchManifest> m = ParsePatchManifest(json, kFile);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->points[0].signature, "int(int,record:Fee,string)");
}

TEST(ParsePatchManifestTest, AcceptsLimitBoundsAndUtf8Bom) {
  std::string json = "\xEF\xBB\xBF" + std::string(kMinimalManifest);
  json.insert(json.rfind('}'), R"j(, "limits": {"memory_kb": 16, "instructions": 1000000000,
      "time_ms": 10000, "max_faults": 1})j");
  Result<PatchManifest> m = ParsePatchManifest(json, kFile);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->memory_kb, 16u);
  EXPECT_EQ(m->instructions, 1000000000u);
}

TEST(PatchModeNameTest, NamesEveryMode) {
  EXPECT_STREQ(PatchModeName(PatchMode::kReplace), "replace");
  EXPECT_STREQ(PatchModeName(PatchMode::kBefore), "before");
  EXPECT_STREQ(PatchModeName(PatchMode::kAfter), "after");
}

// ---------------------------------------------------------------------------
// ParsePatchManifest: rejected documents.

struct BadCase {
  const char* name;
  // kMinimalManifest with `find` replaced by `replace` ("" find: whole text).
  std::string find;
  std::string replace;
  ErrorCode code;
  std::string pointer;
  std::string message_part;
};

std::string ApplyCase(const BadCase& c) {
  std::string json(kMinimalManifest);
  if (c.find.empty()) return c.replace;
  size_t at = json.find(c.find);
  if (at == std::string::npos) {
    ADD_FAILURE() << c.name << ": '" << c.find << "' is not in the base manifest";
    return json;
  }
  json.replace(at, c.find.size(), c.replace);
  return json;
}

const std::string kPoint = R"j({"point": "a.b", "function": "f", "signature": "nil()"})j";
std::string PointWith(const std::string& extra) {
  return R"j({"point": "a.b", "function": "f", "signature": "nil()", )j" + extra + "}";
}
std::string WithLimits(const std::string& limits) {
  return R"j("targets": {"app": "com.example.wallet"}, "limits": )j" + limits;
}
std::string WithSignature(const std::string& sig) { return R"j("signature": ")j" + sig + "\""; }

std::vector<BadCase> BadCases() {
  const ErrorCode kV = ErrorCode::kValidation;
  const std::string kTargets = R"j("targets": {"app": "com.example.wallet"})j";
  const std::string kSig = R"j("signature": "nil()")j";
  std::string kDeepPointer;
  for (int i = 0; i < 16; ++i) kDeepPointer += "/0";
  std::vector<BadCase> cases = {
      // Structure and types.
      {"root_not_object", "", "[1]", kV, "", "expected an object"},
      {"unknown_root_field", R"j("id": "p")j", R"j("id": "p", "extra": 1)j", kV, "/extra",
       "unknown field 'extra'"},
      {"unknown_target_field", kTargets,
       R"j("targets": {"app": "com.example.wallet", "apps": []})j", kV, "/targets/apps",
       "unknown field"},
      {"unknown_point_field", kSig, R"j("signature": "nil()", "priority": 1)j", kV,
       "/points/0/priority", "unknown field 'priority'"},
      {"unknown_limit_field", kTargets, WithLimits(R"j({"stack_kb": 1})j"), kV, "/limits/stack_kb",
       "unknown field"},
      {"unknown_bundle_field", kTargets,
       R"j("targets": {"app": "com.example.wallet", "bundles": [{"name": "a.b",
          "version": "1.0.0", "optional": true}]})j",
       kV, "/targets/bundles/0/optional", "unknown field"},
      {"missing_id", R"j("id": "p", )j", "", kV, "/id", "missing required field 'id'"},
      {"id_not_string", R"j("id": "p")j", R"j("id": 7)j", kV, "/id",
       "expected a string, got a number"},
      {"missing_targets", kTargets + ",", "", kV, "/targets", "missing required field"},
      {"missing_app", kTargets, R"j("targets": {})j", kV, "/targets/app", "missing required field"},
      {"points_not_array", R"j("points": [)j" + kPoint + "]", R"j("points": {})j", kV, "/points",
       "expected an array, got an object"},
      // Ids, versions, ranges, names.
      {"id_uppercase", R"j("id": "p")j", R"j("id": "Fix")j", kV, "/id", "invalid patch id 'Fix'"},
      {"id_leading_digit", R"j("id": "p")j", R"j("id": "1fix")j", kV, "/id", "invalid patch id"},
      {"id_slash", R"j("id": "p")j", R"j("id": "a/b")j", kV, "/id", "invalid patch id"},
      {"id_too_long", R"j("id": "p")j", R"j("id": ")j" + std::string(65, 'a') + "\"", kV, "/id",
       "at most 64"},
      {"version_two_parts", R"j("version": "0.1.0")j", R"j("version": "1.0")j", kV, "/version",
       "invalid version '1.0'"},
      {"version_v_prefix", R"j("version": "0.1.0")j", R"j("version": "v1.0.0")j", kV, "/version",
       "invalid version"},
      {"version_leading_zero", R"j("version": "0.1.0")j", R"j("version": "01.0.0")j", kV,
       "/version", "invalid version"},
      {"bad_app_id", kTargets, R"j("targets": {"app": "wallet"})j", kV, "/targets/app",
       "invalid app id 'wallet'"},
      {"bad_app_range", kTargets,
       R"j("targets": {"app": "com.example.wallet", "app_versions": ">=1.0.0 <"})j", kV,
       "/targets/app_versions", "invalid version range"},
      {"bad_bundle_name", kTargets,
       R"j("targets": {"app": "com.example.wallet", "bundles": [{"name": "Transfer",
          "version": "1.0.0"}]})j",
       kV, "/targets/bundles/0/name", "invalid bundle name"},
      {"bad_bundle_range", kTargets,
       R"j("targets": {"app": "com.example.wallet", "bundles": [{"name": "a.b",
          "version": "^^1"}]})j",
       kV, "/targets/bundles/0/version", "invalid version range"},
      {"missing_bundle_range", kTargets,
       R"j("targets": {"app": "com.example.wallet", "bundles": [{"name": "a.b"}]})j", kV,
       "/targets/bundles/0/version", "missing required field"},
      {"duplicate_bundle", kTargets,
       R"j("targets": {"app": "com.example.wallet", "bundles": [{"name": "a.b",
          "version": "1.0.0"}, {"name": "a.b", "version": "2.0.0"}]})j",
       kV, "/targets/bundles/1/name",
       "duplicate bundle target 'a.b' (first at /targets/bundles/0)"},
      // Points.
      {"no_points", R"j("points": [)j" + kPoint + "]", R"j("points": [])j", kV, "/points",
       "at least one point"},
      {"point_single_label", R"j("point": "a.b")j", R"j("point": "transfer")j", kV,
       "/points/0/point", "invalid point id 'transfer'"},
      {"point_uppercase", R"j("point": "a.b")j", R"j("point": "Transfer.fee")j", kV,
       "/points/0/point", "invalid point id"},
      {"point_empty_label", R"j("point": "a.b")j", R"j("point": "a..b")j", kV, "/points/0/point",
       "invalid point id"},
      {"point_trailing_dot", R"j("point": "a.b")j", R"j("point": "a.b.")j", kV, "/points/0/point",
       "invalid point id"},
      {"point_dash", R"j("point": "a.b")j", R"j("point": "a.b-c")j", kV, "/points/0/point",
       "invalid point id"},
      {"bad_mode", kSig, R"j("signature": "nil()", "mode": "around")j", kV, "/points/0/mode",
       "invalid mode 'around': expected 'replace', 'before' or 'after'"},
      {"mode_wrong_case", kSig, R"j("signature": "nil()", "mode": "Replace")j", kV,
       "/points/0/mode", "invalid mode"},
      {"function_leading_digit", R"j("function": "f")j", R"j("function": "1f")j", kV,
       "/points/0/function", "invalid function name '1f'"},
      {"function_dash", R"j("function": "f")j", R"j("function": "compute-fee")j", kV,
       "/points/0/function", "invalid function name"},
      {"function_dotted", R"j("function": "f")j", R"j("function": "m.f")j", kV,
       "/points/0/function", "invalid function name"},
      {"missing_function", R"j("function": "f", )j", "", kV, "/points/0/function",
       "missing required field"},
      {"missing_signature", R"j(, "signature": "nil()")j", "", kV, "/points/0/signature",
       "missing required field"},
      {"order_fraction", kSig, R"j("signature": "nil()", "order": 1.5)j", kV, "/points/0/order",
       "expected an integer"},
      {"order_huge", kSig, R"j("signature": "nil()", "order": 10000000)j", kV, "/points/0/order",
       "out of range"},
      {"order_string", kSig, R"j("signature": "nil()", "order": "1")j", kV, "/points/0/order",
       "expected an integer"},
      {"duplicate_point_function", R"j("points": [)j" + kPoint,
       R"j("points": [)j" + kPoint + ", " + PointWith(R"j("mode": "after")j"), kV, "/points/1",
       "point 'a.b' is already patched by function 'f' (first at /points/0)"},
      // Limits.
      {"memory_too_small", kTargets, WithLimits(R"j({"memory_kb": 15})j"), kV, "/limits/memory_kb",
       "15 is out of range: expected an integer in [16, 65536]"},
      {"memory_too_large", kTargets, WithLimits(R"j({"memory_kb": 65537})j"), kV,
       "/limits/memory_kb", "out of range"},
      {"memory_negative", kTargets, WithLimits(R"j({"memory_kb": -1})j"), kV, "/limits/memory_kb",
       "out of range"},
      {"memory_fraction", kTargets, WithLimits(R"j({"memory_kb": 512.5})j"), kV,
       "/limits/memory_kb", "expected an integer"},
      {"memory_string", kTargets, WithLimits(R"j({"memory_kb": "512"})j"), kV, "/limits/memory_kb",
       "got a string"},
      {"instructions_too_few", kTargets, WithLimits(R"j({"instructions": 999})j"), kV,
       "/limits/instructions", "out of range"},
      {"instructions_too_many", kTargets, WithLimits(R"j({"instructions": 1000000001})j"), kV,
       "/limits/instructions", "out of range"},
      {"instructions_uint64", kTargets, WithLimits(R"j({"instructions": 18446744073709551615})j"),
       kV, "/limits/instructions", "out of range"},
      {"time_zero", kTargets, WithLimits(R"j({"time_ms": 0})j"), kV, "/limits/time_ms",
       "out of range"},
      {"time_too_long", kTargets, WithLimits(R"j({"time_ms": 10001})j"), kV, "/limits/time_ms",
       "out of range"},
      {"faults_zero", kTargets, WithLimits(R"j({"max_faults": 0})j"), kV, "/limits/max_faults",
       "out of range"},
      {"faults_too_many", kTargets, WithLimits(R"j({"max_faults": 1001})j"), kV,
       "/limits/max_faults", "out of range"},
      {"limits_not_object", kTargets, WithLimits("[]"), kV, "/limits", "expected an object"},
      // Source file name.
      {"source_with_slash", kTargets, kTargets + R"j(, "source": "lib/patch.lua")j", kV, "/source",
       "plain file name"},
      {"source_parent", kTargets, kTargets + R"j(, "source": "../patch.lua")j", kV, "/source",
       "invalid source file name"},
      {"source_dotdot", kTargets, kTargets + R"j(, "source": "..")j", kV, "/source",
       "not '.' or '..'"},
      {"source_absolute", kTargets, kTargets + R"j(, "source": "/etc/passwd")j", kV, "/source",
       "plain file name"},
      {"source_backslash", kTargets, kTargets + R"j(, "source": "a\\b.lua")j", kV, "/source",
       "plain file name"},
      {"source_empty", kTargets, kTargets + R"j(, "source": "")j", kV, "/source",
       "must not be empty"},
      {"source_is_manifest", kTargets, kTargets + R"j(, "source": "patch.json")j", kV, "/source",
       "must not be patch.json"},
      {"source_control", kTargets, kTargets + R"j(, "source": "a\u0001.lua")j", kV, "/source",
       "control characters"},
      // Syntax.
      {"trailing_comma", R"j("p", )j", R"j("p",, )j", ErrorCode::kParse, "",
       "invalid JSON at line 2"},
      {"duplicate_key", R"j("id": "p", )j", R"j("id": "p", "id": "q", )j", ErrorCode::kParse, "/id",
       "duplicate key 'id'"},
      {"truncated", "", R"j({"id": "p", "points": [{"point": )j", ErrorCode::kParse,
       "/points/0/point", "unexpected end of input"},
      {"empty", "", "  \n", ErrorCode::kParse, "", "manifest is empty"},
      {"garbage_after", "", std::string(kMinimalManifest) + " x", ErrorCode::kParse, "",
       "after the JSON document"},
      {"too_deep", "", std::string(40, '[') + std::string(40, ']'), ErrorCode::kParse, kDeepPointer,
       "nesting deeper than 16 levels"},
      {"invalid_utf8", R"j("id": "p")j", "\"id\": \"p\xff\"", ErrorCode::kParse, "/id",
       "invalid JSON"},
      {"too_large", "", std::string(64 * 1024 + 1, ' '), ErrorCode::kParse, "",
       "the limit is 65536"},
  };
  // Signatures.
  const std::vector<std::pair<std::string, std::string>> signatures = {
      {"", "expected a result type"},
      {"int", "expected '(' after the result type, found the end"},
      {"void()", "expected a result type"},
      {"int(", "expected a parameter type"},
      {"int(nil)", "nil is only allowed as the result type"},
      {"int(int,)", "expected a parameter type"},
      {"int(,int)", "expected a parameter type"},
      {"int(int", "expected ',' or ')'"},
      {"int(int)x", "expected end of the signature"},
      {"int(int)(int)", "expected end of the signature"},
      {"int(long)", "expected a parameter type"},
      {"record()", "expected ':' and a record name"},
      {"record:()", "expected a record name"},
      {"record:1Fee()", "expected a record name"},
      {"int(record: Fee)", "expected a record name"},
      {"Int(int)", "expected a result type"},
      {"int(int;string)", "expected ',' or ')'"},
      {"int(int,int,int,int,int,int,int,int,int,int,int,int,int,int,int,int,int)",
       "more than 16 parameters"},
  };
  for (const auto& [sig, part] : signatures) {
    cases.push_back({"signature", kSig, WithSignature(sig), kV, "/points/0/signature",
                     "invalid signature '" + sig.substr(0, 80) + (sig.size() > 80 ? "..." : "") +
                         "': " + part});
  }
  return cases;
}

TEST(ParsePatchManifestTest, RejectsEachBrokenRuleNamingFileAndPointer) {
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(std::string(c.name) + " / " + c.replace);
    Result<PatchManifest> m = ParsePatchManifest(ApplyCase(c), kFile);
    ASSERT_FALSE(m.ok());
    const Error& e = m.error();
    EXPECT_EQ(e.code, c.code) << e.ToString();
    EXPECT_EQ(e.file, kFile);
    EXPECT_EQ(e.pointer, c.pointer) << e.ToString();
    EXPECT_NE(e.message.find(c.message_part), std::string::npos) << e.ToString();
    if (e.code == ErrorCode::kParse && c.name != std::string("too_large")) {
      EXPECT_TRUE(e.offset.has_value()) << e.ToString();
    }
  }
}

TEST(ParsePatchManifestTest, SyntaxErrorNamesOffset) {
  Result<PatchManifest> m = ParsePatchManifest(R"j({"id": tru})j", kFile);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kParse);
  EXPECT_EQ(m.error().pointer, "/id");
  ASSERT_TRUE(m.error().offset.has_value());
  EXPECT_EQ(*m.error().offset, 7u);  // the start of the broken literal
  EXPECT_EQ(
      m.error().ToString().rfind("pkg/patch.json:/id:@7: invalid JSON at line 1, column 8", 0), 0u)
      << m.error().ToString();
}

// ---------------------------------------------------------------------------
// Packages on disk.

void WriteFile(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << path;
}

constexpr std::string_view kSource = "function compute_fee(cents, currency)\n  return cents\nend\n";

class PatchPackageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "atrium_patch_package_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ / "pkg";
    fs::create_directory(dir_);
    WriteFile(dir_ / "patch.json", kPackageManifest);
    WriteFile(dir_ / "patch.lua", kSource);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Reads the directory as its author's copy, expecting failure with `code`
  // naming `file`; returns the error.
  Error ExpectRefused(ErrorCode code, const fs::path& file, bool installed_copy = false) {
    Result<PatchPackage> p = ReadPatchDir(dir_.string(), installed_copy);
    if (p.ok()) {
      ADD_FAILURE() << "patch was accepted";
      return Error();
    }
    EXPECT_EQ(p.error().code, code) << p.error().ToString();
    EXPECT_EQ(p.error().file, file.string()) << p.error().ToString();
    return p.error();
  }

  // Packs dir_ as `kind`; the package path, or the error.
  Result<std::string> Pack(ArtifactKind kind = ArtifactKind::kLuaPatch) {
    PackOptions o;
    o.apps = {"*"};  // any app: this test is not about app scope
    o.kind = kind;
    o.secret_key = keys_.sec;
    const std::string out = (root_ / "patch.atb").string();
    auto packed = PackDirectory(dir_.string(), o, out);
    if (!packed.ok()) return packed.error();
    return out;
  }

  static constexpr std::string_view kPackageManifest = R"j({
  "id": "fix-fee-rounding", "version": "1.0.1", "description": "half-up",
  "targets": {"app": "com.example.wallet"},
  "points": [{"point": "transfer.fee.compute", "function": "compute_fee",
              "signature": "int(int,string)"}]
}
)j";

  fs::path root_;
  fs::path dir_;
  testing::Keys keys_;
};

TEST_F(PatchPackageTest, ReadsADirectory) {
  Result<PatchPackage> p = ReadPatchDir(dir_.string(), false);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->manifest.id, "fix-fee-rounding");
  EXPECT_EQ(p->manifest_json, kPackageManifest);
  EXPECT_EQ(p->source, kSource);
  EXPECT_EQ(p->dir, dir_.string());
}

TEST_F(PatchPackageTest, UsesTheSourceTheManifestNames) {
  std::string manifest(kPackageManifest);
  manifest.insert(manifest.rfind('}'), R"j(, "source": "fee.lua")j");
  WriteFile(dir_ / "patch.json", manifest);
  fs::rename(dir_ / "patch.lua", dir_ / "fee.lua");
  Result<PatchPackage> p = ReadPatchDir(dir_.string(), false);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->manifest.source, "fee.lua");
  EXPECT_EQ(p->source, kSource);
  // And from its package.
  Result<std::string> package = Pack();
  ASSERT_TRUE(package.ok()) << package.error().ToString();
  auto reader = PackageReader::Open(*package);
  ASSERT_TRUE(reader.ok());
  Result<PatchPackage> q = ReadPatchPackage(**reader);
  ASSERT_TRUE(q.ok()) << q.error().ToString();
  EXPECT_EQ(q->source, kSource);
}

TEST_F(PatchPackageTest, RefusesAMissingDirectoryOrManifestOrSource) {
  Result<PatchPackage> p = ReadPatchDir((root_ / "nope").string(), false);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kIo);
  EXPECT_EQ(p.error().file, (root_ / "nope").string());

  fs::remove(dir_ / "patch.lua");
  Error e = ExpectRefused(ErrorCode::kIo, dir_ / "patch.lua");
  EXPECT_NE(e.message.find("No such file"), std::string::npos) << e.ToString();
  fs::remove(dir_ / "patch.json");
  ExpectRefused(ErrorCode::kIo, dir_ / "patch.json");
}

TEST_F(PatchPackageTest, RefusesOversizedFiles) {
  WriteFile(dir_ / "patch.lua", std::string(256 * 1024 + 1, '-'));
  Error e = ExpectRefused(ErrorCode::kValidation, dir_ / "patch.lua");
  EXPECT_NE(e.message.find("256 KiB"), std::string::npos);
  WriteFile(dir_ / "patch.lua", std::string(256 * 1024, '-'));  // exactly at the limit
  EXPECT_TRUE(ReadPatchDir(dir_.string(), false).ok());

  WriteFile(dir_ / "patch.json", std::string(64 * 1024 + 1, ' '));
  e = ExpectRefused(ErrorCode::kValidation, dir_ / "patch.json");
  EXPECT_NE(e.message.find("64 KiB"), std::string::npos);
}

TEST_F(PatchPackageTest, NeverOpensASourceOutsideThePackage) {
  WriteFile(root_ / "secret.lua", kSource);
  std::string manifest(kPackageManifest);
  manifest.insert(manifest.rfind('}'), R"j(, "source": "../secret.lua")j");
  WriteFile(dir_ / "patch.json", manifest);
  Error e = ExpectRefused(ErrorCode::kValidation, dir_ / "patch.json");
  EXPECT_EQ(e.pointer, "/source");
  // Packing refuses it too: the hotpatch layer checks patch.json.
  Result<std::string> package = Pack();
  ASSERT_FALSE(package.ok());
  EXPECT_EQ(package.error().pointer, "/source") << package.error().ToString();
}

TEST_F(PatchPackageTest, AnInstalledCopyThatNoLongerParsesIsCorrupt) {
  WriteFile(dir_ / "patch.json", "{\"id\": ");
  ExpectRefused(ErrorCode::kParse, dir_ / "patch.json");
  Error e = ExpectRefused(ErrorCode::kCorrupt, dir_ / "patch.json", /*installed_copy=*/true);
  EXPECT_NE(e.message.find("damaged"), std::string::npos) << e.ToString();
}

TEST_F(PatchPackageTest, PackingChecksTheManifestAsAPatch) {
  std::string manifest(kPackageManifest);
  manifest.replace(manifest.find("fix-fee-rounding"), 16, "Fix-Fee");
  WriteFile(dir_ / "patch.json", manifest);
  Result<std::string> package = Pack();
  ASSERT_FALSE(package.ok());
  EXPECT_EQ(package.error().code, ErrorCode::kValidation);
  EXPECT_EQ(package.error().file, (dir_ / "patch.json").string());
  EXPECT_EQ(package.error().pointer, "/id");
  // Without patch.json it is no patch at all.
  fs::remove(dir_ / "patch.json");
  package = Pack();
  ASSERT_FALSE(package.ok());
  EXPECT_NE(package.error().message.find("a lua_patch package needs 'patch.json'"),
            std::string::npos)
      << package.error().ToString();
}

TEST_F(PatchPackageTest, APackageOfAnotherKindOrWithoutItsSourceIsNoPatch) {
  WriteFile(dir_ / "artifact.json", R"({"id": "fix-fee-rounding", "version": "1.0.1"})");
  Result<std::string> config = Pack(ArtifactKind::kConfigSet);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  auto reader = PackageReader::Open(*config);
  ASSERT_TRUE(reader.ok());
  Result<PatchPackage> p = ReadPatchPackage(**reader);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().file, *config);
  EXPECT_NE(p.error().message.find("not a hotpatch: a package of kind config_set"),
            std::string::npos)
      << p.error().ToString();

  fs::remove(dir_ / "artifact.json");
  fs::remove(dir_ / "patch.lua");
  Result<std::string> no_source = Pack();
  ASSERT_TRUE(no_source.ok()) << no_source.error().ToString();
  reader = PackageReader::Open(*no_source);
  ASSERT_TRUE(reader.ok());
  p = ReadPatchPackage(**reader);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().pointer, "/source");
  EXPECT_NE(p.error().message.find("'patch.lua' is not in the package"), std::string::npos)
      << p.error().ToString();
}

}  // namespace
}  // namespace atrium::hotpatch::internal
