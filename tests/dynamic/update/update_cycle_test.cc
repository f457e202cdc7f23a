// One update cycle end to end in process: a release repository made with
// ReleaseRepository (real signed packages of fixture bundles and config
// sets), read over file:// by RunUpdateCycle for a real container; what is
// staged, what is skipped and why, deltas and their fallback, withdrawn
// releases, and an attack that leaves everything installed as it was.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "atrium/base/bucket.h"
#include "atrium/container.h"
#include "atrium/dynamic/release_repository.h"
#include "atrium/dynamic/update.h"
#include "container/test_app.h"
#include "testing/package_fixture.h"

namespace atrium::testing {
namespace {

namespace fs = std::filesystem;

class UpdateCycleTest : public ::testing::Test {
 protected:
  UpdateCycleTest() : app_({"greeter", "consumer"}) {}

  void SetUp() override {
    repo_ = app_.root() + "/repo";
    ReleaseOptions o;
    o.now_unix_s = kNow;
    ASSERT_TRUE(ReleaseRepository::Init(repo_, {}, o).ok());
    fs::copy_file(repo_ + "/metadata/1.root.json", app_.app_dir() + "/root.json");
    std::ofstream(app_.app_dir() + "/app.json")
        << R"({"id": "com.test.app", "version": "1.4.0", "home": "consumer",)"
        << R"( "baseline": ["bundles/greeter", "bundles/consumer"],)"
        << R"( "release_keys": [")" << keys_.pub_hex << R"("],)"
        << R"( "updates": {"repository": "file://)" << repo_ << R"(", "root": "root.json"}})";
    // The releases here are greeter 2.x: the consumer accepts any greeter
    // from 1.0.0 on, so they do not break it (InstallPackage would refuse).
    std::ofstream(app_.bundle_dir("consumer") + "/bundle.json")
        << R"({"name": "com.test.consumer", "version": "0.3.0",
              "library": "libfixture_consumer.so",
              "requires": [{"name": "com.test.greeter", "version": ">=1.0.0"}],
              "micro_apps": [{"id": "consumer", "type": "native", "entry": "ConsumerPage"}]})";
  }

  std::unique_ptr<ReleaseRepository> Repo() {
    ReleaseOptions o;
    o.now_unix_s = kNow;
    auto r = ReleaseRepository::Open(repo_, o);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return std::move(r).value();
  }
  // Stages `atb` with `options` (the native-compat fingerprint of this
  // build unless the test sets another) and publishes.
  void Release(const std::string& atb, ReleaseAddOptions options = {}, bool native = true) {
    if (native && options.compat.empty()) options.compat = NativeCompatFingerprint();
    auto repo = Repo();
    auto added = repo->Add(atb, options);
    ASSERT_TRUE(added.ok()) << added.error().ToString();
    auto published = repo->Publish();
    ASSERT_TRUE(published.ok()) << published.error().ToString();
  }
  std::unique_ptr<Container> Open() {
    auto c = Container::Open({app_.app_dir(), app_.data_dir(), false});
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return std::move(c).value();
  }
  UpdateReport Cycle(Container& c, UpdateOptions options = {}) {
    options.now_unix_s = kNow + 60;
    if (options.device_id.empty()) options.device_id = "device-1";
    auto r = RunUpdateCycle(c, options);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? std::move(r).value() : UpdateReport{};
  }
  static const UpdateTargetResult* Find(const UpdateReport& r, const std::string& path) {
    for (const auto& t : r.targets) {
      if (t.path == path) return &t;
    }
    return nullptr;
  }
  std::string Config(const std::string& app_id, const std::string& version) {
    const std::string dir = app_.root() + "/config-" + version;
    fs::create_directories(dir);
    std::ofstream(dir + "/config.json")
        << R"({"id": "com.test.config", "version": ")" << version
        << R"(", "parameters": {"app": {"x": {"type": "int", "default": 1}}}})";
    (void)app_id;
    return PackDir(dir, keys_, ArtifactKind::kConfigSet);
  }
  std::string Bundle(const std::string& version) {
    return PackFixture(app_.root(), keys_, "greeter", version);
  }

  static constexpr int64_t kNow = 1'800'000'000;
  TestApp app_;
  Keys keys_;
  std::string repo_;
};

TEST_F(UpdateCycleTest, StagesWhatIsForThisDeviceAndSaysWhyTheRestIsNot) {
  Release(Bundle("2.0.0"));
  ReleaseAddOptions beta;
  beta.channel = "beta";
  Release(Bundle("3.0.0"), beta);
  ReleaseAddOptions other_app;
  other_app.app_id = "com.other.app";
  Release(Config("com.other.app", "1.0.0"), other_app, false);
  ReleaseAddOptions other_abi;
  other_abi.compat = "riscv64-linux/bundle-abi=9/x/host-api=1";
  auto consumer = PackFixture(app_.root(), keys_, "consumer", "5.0.0");
  Release(consumer, other_abi);
  {
    auto c = Open();
    UpdateReport r = Cycle(*c);
    EXPECT_EQ(r.trusted.targets, 5);
    const auto* staged = Find(r, "native_bundle/com.test.greeter-2.0.0.atb");
    ASSERT_NE(staged, nullptr);
    EXPECT_EQ(staged->action, UpdateAction::kStaged);
    EXPECT_EQ(staged->reason, "full package, targets v5");
    auto history = c->artifacts().History("com.test.greeter");
    ASSERT_TRUE(history.ok());
    EXPECT_EQ(history->back().reason, "staged from file://" + repo_ + " (targets v5)");
    EXPECT_EQ(history->back().from, "staged");
    EXPECT_EQ(history->back().to, "staged");
    const auto* beta_t = Find(r, "native_bundle/com.test.greeter-3.0.0.atb");
    ASSERT_NE(beta_t, nullptr);
    EXPECT_EQ(beta_t->action, UpdateAction::kSkipped);
    EXPECT_EQ(beta_t->reason, "channel beta (this device: stable)");
    const auto* cfg = Find(r, "config_set/com.test.config-1.0.0.atb");
    ASSERT_NE(cfg, nullptr);
    EXPECT_EQ(cfg->reason, "for app com.other.app");
    const auto* abi = Find(r, "native_bundle/com.test.consumer-5.0.0.atb");
    ASSERT_NE(abi, nullptr);
    EXPECT_EQ(abi->reason, "built for riscv64-linux/bundle-abi=9/x/host-api=1, this app is " +
                               NativeCompatFingerprint());
  }
  // The next launch runs the staged version.
  auto c = Open();
  ASSERT_TRUE(c->Start().ok());
  auto status = c->Bundle("com.test.greeter");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->version, "2.0.0");
  // The launch's own sync (app.json names the repository) runs after idle
  // and holds the data directory's update lock while it runs: let it end.
  auto sync = UpdateSync::Of(*c);
  ASSERT_NE(sync, nullptr);
  ASSERT_TRUE(sync->WaitUntilDone(std::chrono::seconds(60)));
  // Nothing new: the root probe and the timestamp only.
  UpdateReport again = Cycle(*c);
  EXPECT_EQ(again.requests, 2u);
  EXPECT_EQ(Find(again, "native_bundle/com.test.greeter-2.0.0.atb")->reason,
            "already installed (active)");
}

TEST_F(UpdateCycleTest, TheRolloutBucketDecides) {
  const std::string seed = "native_bundle/com.test.greeter@2.0.0";
  const uint32_t bucket = internal::MicroPercentile(seed, "device-1");
  ReleaseAddOptions o;
  o.rollout_micro_percent = bucket;  // the device is exactly at the edge: out
  Release(Bundle("2.0.0"), o);
  auto c = Open();
  UpdateReport r = Cycle(*c);
  const auto* t = Find(r, "native_bundle/com.test.greeter-2.0.0.atb");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->action, UpdateAction::kSkipped);
  EXPECT_EQ(t->reason.rfind("outside the rollout of ", 0), 0u) << t->reason;
  // Another device id lands elsewhere; this one gets in once the rollout
  // passes its bucket (a new release of the same bytes is refused, so a
  // new version carries the wider rollout).
  ReleaseAddOptions wider;
  wider.rollout_micro_percent = bucket + 1;
  wider.rollout_seed = seed;
  Release(Bundle("2.0.1"), wider);
  r = Cycle(*c);
  EXPECT_EQ(Find(r, "native_bundle/com.test.greeter-2.0.1.atb")->action, UpdateAction::kStaged);
}

TEST_F(UpdateCycleTest, ADeltaFromTheInstalledVersionIsUsedAndFallsBackWhenBroken) {
  Release(Bundle("2.0.0"));
  {
    auto c = Open();
    Cycle(*c);
  }
  Release(Bundle("2.1.0"));
  auto c = Open();  // 2.0.0 active now
  UpdateReport r = Cycle(*c);
  const auto* t = Find(r, "native_bundle/com.test.greeter-2.1.0.atb");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->action, UpdateAction::kStaged) << t->reason;
  EXPECT_TRUE(t->via_delta);
  EXPECT_EQ(t->reason, "delta from an installed version, targets v3");
  const uint64_t full = fs::file_size(Bundle("2.1.0"));
  EXPECT_LT(t->bytes, full);

  // Broken deltas on the server (from 2.1.0 and from 2.0.0): the full
  // package instead.
  Release(Bundle("2.2.0"));
  for (const auto& e : fs::recursive_directory_iterator(repo_ + "/targets")) {
    if (e.path().string().find("-to-2.2.0.atd") != std::string::npos) {
      std::ofstream(e.path(), std::ios::binary | std::ios::in) << "XXXX";
    }
  }
  auto c2 = Open();  // 2.1.0 active
  r = Cycle(*c2);
  t = Find(r, "native_bundle/com.test.greeter-2.2.0.atb");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->action, UpdateAction::kStaged) << t->reason;
  EXPECT_FALSE(t->via_delta);
}

TEST_F(UpdateCycleTest, AWithdrawnReleaseIsDisabledWithItsReason) {
  Release(Bundle("2.0.0"));
  {
    auto c = Open();
    Cycle(*c);
  }
  auto repo = Repo();
  ASSERT_TRUE(repo->Remove("native_bundle", "com.test.greeter", "2.0.0", "crashes on login").ok());
  ASSERT_TRUE(repo->Publish().ok());
  repo.reset();
  auto c = Open();  // 2.0.0 active
  UpdateReport r = Cycle(*c);
  const auto* t = Find(r, "native_bundle/com.test.greeter-2.0.0.atb");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->action, UpdateAction::kWithdrawn) << t->reason;
  EXPECT_EQ(t->reason, "withdrawn: crashes on login");
  auto current = c->artifacts().Current(ArtifactKind::kNativeBundle, "com.test.greeter");
  ASSERT_TRUE(current.ok());
  auto history = c->artifacts().History("com.test.greeter");
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->back().reason, "withdrawn by the release: crashes on login");
  // Next cycle: nothing more to do, said so.
  r = Cycle(*c);
  EXPECT_EQ(Find(r, "native_bundle/com.test.greeter-2.0.0.atb")->action, UpdateAction::kSkipped);
}

TEST_F(UpdateCycleTest, ARefusedRefreshChangesNothingInstalled) {
  Release(Bundle("2.0.0"));
  // The timestamp of version 1 replayed after the device saw version 2.
  auto c = Open();
  const std::string old_ts = repo_ + "/metadata/1.timestamp.json";
  ASSERT_TRUE(fs::exists(old_ts));
  Cycle(*c);
  auto before = c->artifacts().List();
  ASSERT_TRUE(before.ok());
  Release(Bundle("3.0.0"));
  fs::copy_file(old_ts, repo_ + "/metadata/timestamp.json", fs::copy_options::overwrite_existing);
  UpdateOptions o;
  o.now_unix_s = kNow + 60;
  o.device_id = "device-1";
  auto r = RunUpdateCycle(*c, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "version 1 < trusted 2: rollback refused");
  auto after = c->artifacts().List();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), before->size());
}

TEST_F(UpdateCycleTest, TheDeviceIdIsMadeOncePerDataDirectory) {
  auto id = DeviceIdOf(app_.data_dir());
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->size(), 32u);
  EXPECT_EQ(*DeviceIdOf(app_.data_dir()), *id);
  std::ofstream(app_.data_dir() + "/device_id") << "not hex";
  auto bad = DeviceIdOf(app_.data_dir());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace atrium::testing
