// Packages name the apps they are for (docs/package.md "Apps"): the app
// pattern grammar, the signed apps section of a format-2 .atb (written,
// read, tampered, hostile), format-1 packages, and the artifact store's
// refusal of a package for another app, with real files, real Ed25519 keys
// and a real SQLite store.
#include <gtest/gtest.h>
#include <sodium.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "atrium/artifact_store.h"
#include "package_test_util.h"

namespace atrium::package_test {
namespace {

// A raw apps section: count, reserved, then (length, bytes) records as given.
std::string Section(uint16_t count, const std::vector<std::string>& records,
                    uint16_t reserved = 0) {
  std::string s(4, '\0');
  internal::StoreU16(reinterpret_cast<uint8_t*>(s.data()), count);
  internal::StoreU16(reinterpret_cast<uint8_t*>(s.data()) + 2, reserved);
  for (const std::string& r : records) {
    s += static_cast<char>(r.size());
    s += r;
  }
  return s;
}

class PackageAppsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    crypto_sign_keypair(pk_.data(), sk_.data());
    char tmpl[] = "/tmp/atrium-apps-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(root_); }

  // A small native bundle for `apps` (format 2) or for none (format 1).
  RawPackageForTesting Spec(std::vector<std::string> apps, uint16_t format = 2) {
    RawPackageForTesting spec;
    spec.format_version = format;
    spec.apps = std::move(apps);
    spec.id = "com.test.small";
    spec.version = "1.0.0";
    spec.manifest = R"({"name": "com.test.small", "version": "1.0.0"})";
    spec.manifest_entry = 0;
    RawEntryForTesting e;
    e.path = "bundle.json";
    e.data = spec.manifest;
    spec.entries = {e};
    spec.key = sk_;
    return spec;
  }

  // A bundle directory packed by the real writer for `apps`.
  Result<PackStats> PackFor(std::vector<std::string> apps, const std::string& out) {
    const std::string dir = root_ + "/src";
    WriteFile(dir + "/bundle.json", R"({"name": "com.test.small", "version": "1.0.0"})");
    PackOptions o;
    o.secret_key = sk_;
    o.apps = std::move(apps);
    return PackDirectory(dir, o, out);
  }

  PublicKey pk_;
  SecretKey sk_;
  std::string root_;
};

TEST(AppPatternTest, GrammarAndMatching) {
  for (const char* ok : {"*", "com.wallet.app", "com.wallet.*", "com.*", "a1.b-c.d_e"}) {
    EXPECT_EQ(AppPatternProblem(ok), "") << ok;
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "empty"},
      {"Com.Wallet.App", "not an app id"},
      {"wallet", "not an app id"},
      {"com..app", "not an app id"},
      {"com.wallet.", "not an app id"},
      {".*", "'*' stands alone"},
      {"**", "'*' stands alone"},
      {"com.*.app", "'*' stands alone"},
      {"com.wallet*", "'*' stands alone"},
      {"COM.*", "family pattern"},
      {std::string(129, 'a'), "at most 128 bytes"},
  };
  for (const auto& [pattern, says] : bad) {
    const std::string problem = AppPatternProblem(pattern);
    EXPECT_NE(problem.find(says), std::string::npos) << pattern << ": " << problem;
  }
  EXPECT_TRUE(AppPatternMatches("*", "com.any.app"));
  EXPECT_TRUE(AppPatternMatches("com.wallet.app", "com.wallet.app"));
  EXPECT_FALSE(AppPatternMatches("com.wallet.app", "com.wallet.app2"));
  EXPECT_TRUE(AppPatternMatches("com.wallet.*", "com.wallet.app"));
  EXPECT_TRUE(AppPatternMatches("com.wallet.*", "com.wallet.app.pro"));
  EXPECT_FALSE(AppPatternMatches("com.wallet.*", "com.wallet"));
  EXPECT_FALSE(AppPatternMatches("com.wallet.*", "com.walletx.app"));
  EXPECT_EQ(AppListText({}), "no app");
  EXPECT_EQ(AppListText({"com.a.app", "com.b.*"}), "com.a.app, com.b.*");
}

TEST_F(PackageAppsTest, TheWriterSignsASortedUniqueListAndTheReaderChecksIt) {
  const std::string out = root_ + "/x.atb";
  auto stats = PackFor({"com.wallet.pro", "com.wallet.app", "com.shop.*", "com.wallet.app"}, out);
  ASSERT_TRUE(stats.ok()) << stats.error().ToString();
  const std::vector<std::string> want = {"com.shop.*", "com.wallet.app", "com.wallet.pro"};
  EXPECT_EQ(stats->apps, want);
  auto reader = PackageReader::Open(out);
  ASSERT_TRUE(reader.ok()) << reader.error().ToString();
  const PackageInfo& info = (*reader)->info();
  EXPECT_EQ(info.format_version, 2);
  EXPECT_EQ(info.apps, want);
  EXPECT_EQ(info.apps_offset, internal::kHeaderSize);
  EXPECT_EQ(info.apps_size, 4u + (1 + 10) + (1 + 14) + (1 + 14));
  EXPECT_EQ(info.index_offset, info.apps_offset + info.apps_size);
  ASSERT_TRUE((*reader)->Verify(std::vector<PublicKey>{pk_}).ok());
  EXPECT_TRUE((*reader)->CheckApp("com.wallet.app").ok());
  EXPECT_TRUE((*reader)->CheckApp("com.shop.main").ok());
  Status other = (*reader)->CheckApp("com.wallet.lite");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kValidation);
  EXPECT_EQ(other.error().file, out);
  EXPECT_EQ(other.error().message,
            "refused: the package is for com.shop.*, com.wallet.app, com.wallet.pro, not "
            "com.wallet.lite (the signed app list; `atrium pack --app`)");
  EXPECT_FALSE((*reader)->CheckApp("").ok());
}

TEST_F(PackageAppsTest, TheWriterRefusesAMissingOrBadList) {
  const std::string out = root_ + "/x.atb";
  std::vector<std::string> many;
  for (int i = 0; i < 65; ++i) many.push_back("com.app.n" + std::to_string(i));
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "name the apps the package is for"},
      {{"*", "com.wallet.app"}, "'*' already means any app"},
      {{"com.wallet.app", "Wallet"}, "app 'Wallet': not an app id"},
      {many, "65 apps; a package names at most 64"},
  };
  for (const auto& [apps, says] : cases) {
    auto r = PackFor(apps, out);
    ASSERT_FALSE(r.ok()) << says;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().ToString();
    EXPECT_FALSE(fs::exists(out)) << says;
  }
  many.resize(64);
  EXPECT_TRUE(PackFor(many, out).ok());
}

TEST_F(PackageAppsTest, AFormatOnePackageReadsButNamesNoApp) {
  auto r = OpenPackageBytesForTesting(BuildPackageForTesting(Spec({}, 1)), "old.atb");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ((*r)->info().format_version, 1);
  EXPECT_TRUE((*r)->info().apps.empty());
  EXPECT_EQ((*r)->info().index_offset, internal::kHeaderSize);
  ASSERT_TRUE((*r)->Verify(std::vector<PublicKey>{pk_}).ok());
  Status s = (*r)->CheckApp("com.wallet.app");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message,
            "refused: the package names no app (format 1); pack it again with `atrium pack "
            "--app com.wallet.app`");
}

TEST_F(PackageAppsTest, TheListIsSigned) {
  // Same length, another app: the bytes change under the signature.
  std::string image = BuildPackageForTesting(Spec({"com.test.aaa"}));
  const size_t at = image.find("com.test.aaa");
  ASSERT_EQ(at, internal::kHeaderSize + 5);
  image.replace(at, 12, "com.evil.aaa");
  auto r = OpenPackageBytesForTesting(image, "moved.atb");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ((*r)->info().apps, std::vector<std::string>{"com.evil.aaa"});
  Status v = (*r)->Verify(std::vector<PublicKey>{pk_});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kCorrupt);
}

TEST_F(PackageAppsTest, HostileAppsSectionsAreRefusedAtTheirOffset) {
  const uint64_t h = internal::kHeaderSize;
  struct Case {
    std::string section;
    uint64_t offset;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"", h, "the apps section is 0 bytes, shorter than its 4-byte count"},
      {std::string(3, '\0'), h, "shorter than its 4-byte count"},
      {Section(0, {}), h, "app count 0 is not 1..64"},
      {Section(65, {"com.a.b"}), h, "app count 65 is not 1..64"},
      {Section(1, {"com.a.b"}, 7), h + 2, "reserved field is not zero"},
      {Section(1, {""}), h + 4, "app #0: length 0 is not 1..128"},
      {Section(1, {std::string(129, 'a')}), h + 4, "app #0: length 129 is not 1..128"},
      {Section(2, {"com.a.b"}), h + 12, "app #1: truncated"},
      {Section(1, {"com.a.b"}).substr(0, 9), h + 4, "app #0: 7 bytes run past the section"},
      {Section(1, {"Com.A.B"}), h + 5, "app #0 'Com.A.B': not an app id"},
      {Section(2, {"com.b.b", "com.a.b"}), h + 13, "app #1 'com.a.b' is not sorted"},
      {Section(2, {"com.a.b", "com.a.b"}), h + 13, "app #1 'com.a.b' repeats the one before"},
      {Section(2, {"*", "com.a.b"}), h + 5, "app #0: '*' (any app) stands alone"},
      {Section(1, {"com.a.b"}) + "x", h + 12, "1 bytes after the last app"},
      {std::string(internal::kMaxAppsSectionBytes + 1, '\0'), internal::kHeaderIndexOffset,
       "the apps section before it must take"},
  };
  for (const Case& c : cases) {
    RawPackageForTesting spec = Spec({});
    spec.apps_section = c.section;
    auto r = OpenPackageBytesForTesting(BuildPackageForTesting(spec), "hostile.atb");
    ASSERT_FALSE(r.ok()) << c.says;
    EXPECT_EQ(r.error().file, "hostile.atb") << c.says;
    EXPECT_EQ(r.error().offset, c.offset) << c.says << ": " << r.error().ToString();
    EXPECT_NE(r.error().message.find(c.says), std::string::npos)
        << c.says << ": " << r.error().ToString();
  }
  // An index offset past the end of a short file.
  std::string image = BuildPackageForTesting(Spec({"*"}));
  internal::StoreU64(reinterpret_cast<uint8_t*>(image.data()) + internal::kHeaderIndexOffset,
                     h + 8000);
  auto r = OpenPackageBytesForTesting(image.substr(0, h + 100), "short.atb");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, internal::kHeaderIndexOffset);
  EXPECT_NE(r.error().message.find("extends past the end of the 388-byte file"), std::string::npos)
      << r.error().ToString();
}

class StoreAppScopeTest : public PackageAppsTest {
 protected:
  Result<std::unique_ptr<ArtifactStore>> OpenStore(std::string app_id) {
    return ArtifactStore::Open({root_ + "/data", {pk_}, std::move(app_id)});
  }
  std::string Write(const RawPackageForTesting& spec, const std::string& name) {
    const std::string path = root_ + "/" + name;
    WriteFile(path, BuildPackageForTesting(spec));
    return path;
  }
};

TEST_F(StoreAppScopeTest, InstallTakesOnlyPackagesForThisApp) {
  auto store = OpenStore("com.wallet.app");
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  const std::vector<std::pair<std::string, std::string>> refused = {
      {Write(Spec({"com.shop.app"}), "shop.atb"),
       "refused: the package is for com.shop.app, not com.wallet.app"},
      {Write(Spec({"com.wallet.app.*"}), "family.atb"),
       "refused: the package is for com.wallet.app.*, not com.wallet.app"},
      {Write(Spec({}, 1), "old.atb"), "refused: the package names no app (format 1)"},
  };
  for (const auto& [path, says] : refused) {
    auto r = (*store)->Install(path, InstallAs::kStaged, "test");
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.error().file, path);
    EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().ToString();
  }
  auto listed = (*store)->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty()) << "a refused package leaves nothing behind";
  EXPECT_EQ(fs::directory_iterator(root_ + "/data/artifacts"), fs::directory_iterator())
      << "no files either";

  // The family, an exact id in a list, and '*' all name this app.
  auto first = (*store)->Install(Write(Spec({"com.wallet.*"}), "ok.atb"), InstallAs::kStaged, "t");
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  RawPackageForTesting next = Spec({"com.other.app", "com.wallet.app"});
  next.version = "1.0.1";
  next.manifest = R"({"name": "com.test.small", "version": "1.0.1"})";
  next.entries[0].data = next.manifest;
  ASSERT_TRUE((*store)->Install(Write(next, "ok2.atb"), InstallAs::kActive, "t").ok());
  // A refusal after that keeps what is installed.
  RawPackageForTesting later = next;
  later.apps = {"com.shop.app"};
  later.version = "1.0.2";
  later.manifest = R"({"name": "com.test.small", "version": "1.0.2"})";
  later.entries[0].data = later.manifest;
  EXPECT_FALSE((*store)->Install(Write(later, "shop2.atb"), InstallAs::kActive, "t").ok());
  auto active = (*store)->Current(ArtifactKind::kNativeBundle, "com.test.small");
  ASSERT_TRUE(active.ok());
  ASSERT_TRUE(active->has_value());
  EXPECT_EQ((*active)->version, "1.0.1");
}

TEST_F(StoreAppScopeTest, AStoreThatNamesNoAppInstallsNothing) {
  auto store = OpenStore("");
  ASSERT_TRUE(store.ok());
  auto r = (*store)->Install(Write(Spec({"*"}), "any.atb"), InstallAs::kStaged, "t");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("names no app to check the package against"), std::string::npos)
      << r.error().ToString();
  (*store)->SetAppId("com.wallet.app");
  EXPECT_EQ((*store)->app_id(), "com.wallet.app");
  EXPECT_TRUE((*store)->Install(root_ + "/any.atb", InstallAs::kStaged, "t").ok());
}

}  // namespace
}  // namespace atrium::package_test
