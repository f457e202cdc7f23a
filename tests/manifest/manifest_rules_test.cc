// Tests for the rules of every bundle.json field, manifest files on disk and
// the app.json parser (atrium/manifest.h). Each failure case checks the
// error code, the file, the JSON pointer and the message; bad variants are
// made by editing a good document, so each case changes exactly one thing.
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
}  // namespace atrium::manifest_test
