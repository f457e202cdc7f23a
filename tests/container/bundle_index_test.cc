// The bundle index file: round trip, lookups, and every kind of damage
// (flipped bytes, truncation at every length, wrong fingerprint/version)
// rejected with an error naming the file and offset — never a crash.
#include "bundle_index.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

namespace atrium::internal {
namespace {

IndexInput Input(std::string json, bool baseline = true) {
  IndexInput in;
  auto m = ParseManifest(json, "test.json");
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().ToString());
  in.manifest = std::move(m).value();
  in.dir = "/apps/x/" + in.manifest.name;
  in.baseline = baseline;
  return in;
}

AppDescriptor SampleApp() {
  AppDescriptor app;
  app.id = "com.a.app";
  app.version = Version::Parse("3.1.4-rc.1").value();
  app.name = "Sample";
  app.home = "home";
  app.baseline = {"bundles/home", "bundles/account"};
  app.release_keys = {std::string(64, 'a'), std::string(64, 'b')};
  app.sections = {{"config", R"({"fetch_interval_s":3600,"note":"a\u0000b"})"},
                  {"launch_guard", R"({"window_hours":12})"}};
  return app;
}

std::vector<IndexInput> SampleInputs() {
  std::vector<IndexInput> v;
  v.push_back(Input(R"({"name": "com.a.home", "version": "1.0.0", "library": "libhome.so",
      "activation": "eager", "requires": [{"name": "com.a.account", "version": "^1.0.0"}],
      "micro_apps": [{"id": "home", "type": "native", "entry": "Home"}]})"));
  v.push_back(Input(R"({"name": "com.a.account", "version": "1.2.0", "library": "libacc.so",
      "provides": [{"interface": "com.a.Account"}]})"));
  v.push_back(Input(R"({"name": "com.a.account", "version": "1.5.0", "library": "libacc.so",
      "provides": [{"interface": "com.a.Account"}]})",
                    false));
  v.push_back(Input(R"({"name": "com.a.orphan", "version": "1.0.0",
      "requires": [{"name": "com.a.none"}], "provides": [{"interface": "com.a.Orphan"}],
      "micro_apps": [{"id": "orphan", "type": "h5", "entry": "index.html"}]})"));
  IndexInput broken;
  broken.error = "bundle.json:/version: bad";
  broken.fallback_name = "(invalid) /apps/x/broken";
  broken.dir = "/apps/x/broken";
  v.push_back(std::move(broken));
  return v;
}

TEST(BundleIndexTest, RoundTripAndLookups) {
  auto image = BundleIndex::Build(42, SampleApp(), SampleInputs());
  auto idx = BundleIndex::FromImage(image, 42, "index.bin");
  ASSERT_TRUE(idx.ok()) << idx.error().ToString();
  EXPECT_EQ(idx->size(), 5u);
  auto home = idx->FindBundle("com.a.home");
  ASSERT_TRUE(home);
  auto hv = idx->bundle(*home);
  EXPECT_EQ(hv.version, "1.0.0");
  EXPECT_TRUE(hv.eager);
  EXPECT_EQ(hv.library, "libhome.so");
  EXPECT_EQ(hv.resolution, Resolution::kResolved);
  ASSERT_EQ(hv.deps.size(), 1u);
  EXPECT_EQ(idx->bundle(hv.deps[0]).version, "1.5.0");  // the chosen account
  // FindBundle prefers the chosen version over the superseded one.
  EXPECT_EQ(idx->bundle(*idx->FindBundle("com.a.account")).version, "1.5.0");
  EXPECT_EQ(idx->bundle(*idx->FindProvider("com.a.Account")).version, "1.5.0");
  EXPECT_FALSE(idx->FindProvider("com.a.Nope"));
  auto app = idx->FindApp("home");
  ASSERT_TRUE(app);
  EXPECT_EQ(app->type, "native");
  EXPECT_EQ(app->entry, "Home");
  EXPECT_EQ(idx->bundle(app->bundle).name, "com.a.home");
  auto orphan = idx->bundle(*idx->FindBundle("com.a.orphan"));
  EXPECT_EQ(orphan.resolution, Resolution::kUnresolved);
  EXPECT_EQ(orphan.reason, "requires com.a.none *, which is not installed");
  auto broken = idx->bundle(*idx->FindBundle("(invalid) /apps/x/broken"));
  EXPECT_TRUE(broken.broken);
  EXPECT_EQ(broken.reason, "invalid manifest: bundle.json:/version: bad");
  auto app_back = idx->app();
  ASSERT_TRUE(app_back.ok());
  EXPECT_EQ(*app_back, SampleApp());  // every field, so a new field must be stored too
  auto without = idx->app(/*with_baseline=*/false);
  ASSERT_TRUE(without.ok());
  EXPECT_TRUE(without->baseline.empty());
  EXPECT_EQ(without->sections, SampleApp().sections);
  auto baseline = idx->baseline();
  ASSERT_TRUE(baseline.ok());
  EXPECT_EQ(*baseline, SampleApp().baseline);
  ASSERT_EQ(idx->load_order().size(), 2u);
  EXPECT_EQ(idx->bundle(idx->load_order()[0]).name, "com.a.account");
  EXPECT_EQ(idx->bundle(idx->load_order()[1]).name, "com.a.home");
}

TEST(BundleIndexTest, WrongFingerprintOrVersionIsStaleNotCorrupt) {
  auto image = BundleIndex::Build(42, SampleApp(), SampleInputs());
  auto stale = BundleIndex::FromImage(image, 43, "index.bin");
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kState);
  EXPECT_EQ(stale.error().offset, 16u);
  std::string future = image;
  future[8] = 9;
  auto v = BundleIndex::FromImage(future, 42, "index.bin");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kState);
}

TEST(BundleIndexTest, EveryTruncationIsRejected) {
  auto image = BundleIndex::Build(7, SampleApp(), SampleInputs());
  for (size_t len = 0; len < image.size(); ++len) {
    auto r = BundleIndex::FromImage(image.substr(0, len), 7, "index.bin");
    ASSERT_FALSE(r.ok()) << "truncated to " << len;
    EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
    EXPECT_EQ(r.error().file, "index.bin");
    EXPECT_TRUE(r.error().offset.has_value());
  }
}

TEST(BundleIndexTest, EveryFlippedByteIsRejected) {
  auto image = BundleIndex::Build(7, SampleApp(), SampleInputs());
  for (size_t i = 0; i < image.size(); ++i) {
    std::string bad = image;
    bad[i] ^= 0x20;
    auto r = BundleIndex::FromImage(bad, 7, "index.bin");
    ASSERT_FALSE(r.ok()) << "flipped byte " << i;
  }
}

TEST(BundleIndexTest, HostileOffsetsWithValidChecksumAreRejected) {
  // An attacker (or a bug) that also fixes the checksum must still not make
  // the reader walk out of bounds.
  auto image = BundleIndex::Build(7, SampleApp(), SampleInputs());
  auto reseal = [](std::string s) {
    uint64_t h = IndexChecksum(s);
    std::memcpy(s.data() + 24, &h, 8);
    return s;
  };
  for (size_t field : {32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76, 80, 84}) {
    std::string bad = image;
    uint32_t huge = 0x7fffff00;
    std::memcpy(bad.data() + field, &huge, 4);
    auto r = BundleIndex::FromImage(reseal(bad), 7, "index.bin");
    ASSERT_FALSE(r.ok()) << "header field at " << field;
    EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
  }
  // A string reference inside a record pointing past the pool.
  std::string bad = image;
  uint32_t huge = 0x10000000;
  std::memcpy(bad.data() + 96 + 8 * 2, &huge, 4);
  auto r = BundleIndex::FromImage(reseal(bad), 7, "index.bin");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("record 0"), std::string::npos) << r.error().message;
}

TEST(BundleIndexTest, WriteAndReadFile) {
  char tmpl[] = "/tmp/atrium-index-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string path = dir + "/sub/bundle_index.bin";
  ASSERT_TRUE(BundleIndex::Write(path, 5, SampleApp(), SampleInputs()).ok());
  auto idx = BundleIndex::Read(path, 5);
  ASSERT_TRUE(idx.ok()) << idx.error().ToString();
  EXPECT_EQ(idx->size(), 5u);
  auto missing = BundleIndex::Read(dir + "/none.bin", 5);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace atrium::internal
