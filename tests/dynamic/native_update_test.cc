// Native bundle updates through signed packages: next-launch activation,
// automatic fallback when an update does not start, and live swap (state
// handed over, services switched, old libraries unloaded), including 100
// swaps under a thread that keeps calling the service.
#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "../container/test_app.h"
#include "../fixture_bundles/include/fixtures.h"
#include "atrium/container.h"
#include "testing/package_fixture.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
using testing::IsMapped;
using testing::Keys;
using testing::PackFixture;
using testing::TestApp;

std::unique_ptr<Container> OpenApp(const TestApp& app) {
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  EXPECT_TRUE(c.ok()) << c.error().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

TEST(UpdateTest, AStagedUpdateIsActiveFromTheNextOpen) {
  TestApp app({"greeter"}, "greeter");
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  std::string pkg = PackFixture(app.root(), keys, "greeter", "1.3.0");
  {
    auto c = OpenApp(app);
    auto r = c->InstallPackage(pkg);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->state, ArtifactState::kStaged);
    EXPECT_EQ(c->Bundle("com.test.greeter")->version, "1.2.0");  // not before the next launch
  }
  {
    // Looking does not launch: an inspection leaves the update staged.
    ContainerOptions look{app.app_dir(), app.data_dir()};
    look.inspect = true;
    auto c = Container::Open(look);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ((*c)->Bundle("com.test.greeter")->version, "1.2.0");
    auto history = (*c)->artifacts().History("com.test.greeter");
    ASSERT_TRUE(history.ok());
    EXPECT_EQ(history->back().to, "staged");
  }
  auto c = OpenApp(app);
  EXPECT_EQ(c->Bundle("com.test.greeter")->version, "1.3.0");
  ASSERT_TRUE(c->Load("com.test.greeter").ok());
  auto greeter = c->services().Get<fixtures::Greeter>();
  ASSERT_NE(greeter, nullptr);
  EXPECT_EQ(greeter->Greet("ada"), "hello, ada");
  auto history = c->artifacts().History("com.test.greeter");
  ASSERT_TRUE(history.ok());
  ASSERT_FALSE(history->empty());
  EXPECT_EQ(history->back().to, "active");
  EXPECT_NE(history->back().reason.find("activated at launch"), std::string::npos);
}

TEST(UpdateTest, AnUnsignedOrForeignPackageIsRefused) {
  TestApp app({"greeter"}, "greeter");
  Keys keys, stranger;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  auto c = OpenApp(app);
  auto r =
      c->InstallPackage(PackFixture(app.root(), stranger, "greeter", "6.6.6"), InstallAs::kActive);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("refused"), std::string::npos) << r.error().ToString();
  EXPECT_EQ(c->Bundle("com.test.greeter")->version, "1.2.0");
}

TEST(UpdateTest, AnUpdateThatFailsToStartFallsBackAndIsRecorded) {
  TestApp app({"greeter", "consumer"}, "consumer");
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  const std::string bad = testing::PackFailingGreeter(app.root(), keys, "1.9.0");
  {
    auto c = OpenApp(app);
    ASSERT_TRUE(c->InstallPackage(bad).ok());
  }
  auto c = OpenApp(app);
  EXPECT_EQ(c->Bundle("com.test.greeter")->version, "1.9.0");
  // The lookup loads the update; it fails; the baseline comes back and serves.
  auto greeter = c->services().Get<fixtures::Greeter>();
  ASSERT_NE(greeter, nullptr);
  EXPECT_EQ(greeter->Greet("x"), "hello, x");
  EXPECT_EQ(c->Bundle("com.test.greeter")->version, "1.2.0");
  auto list = c->artifacts().List();
  ASSERT_TRUE(list.ok());
  bool failed = false;
  for (const auto& r : *list) {
    if (r.version == "1.9.0") {
      failed = r.state == ArtifactState::kFailed;
      EXPECT_NE(r.reason.find("activator Start failed"), std::string::npos) << r.reason;
    }
  }
  EXPECT_TRUE(failed);
  // And it stays that way on the next launch.
  c.reset();
  auto again = OpenApp(app);
  EXPECT_EQ(again->Bundle("com.test.greeter")->version, "1.2.0");
}

TEST(UpdateTest, LiveSwapHandsOverStateAndUnloadsTheOldVersion) {
  TestApp app({"counter"}, "counter");
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  auto c = OpenApp(app);
  ServiceRef<fixtures::Counter> counter(c->services());
  for (int i = 0; i < 5; ++i) counter->Next();
  EXPECT_EQ(counter->Version(), "1.0.0");
  auto swapped = c->SwapLive(PackFixture(app.root(), keys, "counter", "1.1.0"));
  ASSERT_TRUE(swapped.ok()) << swapped.error().ToString();
  EXPECT_EQ(counter->Version(), "1.1.0");
  EXPECT_EQ(counter->Next(), 6);  // the count came along
  EXPECT_EQ(c->Bundle("com.test.counter")->version, "1.1.0");
  EXPECT_EQ(c->Bundle("com.test.counter")->state, BundleState::kActive);
  // The baseline copy (in the app dir) is no longer mapped; the update is.
  EXPECT_FALSE(IsMapped(app.app_dir() + "/bundles/counter/libfixture_counter.so"));
  EXPECT_TRUE(IsMapped(swapped->dir + "/libfixture_counter.so"));
  // A bundle without "live_swap" is refused (it would need the next launch).
  TestApp other({"greeter"}, "greeter");
  other.SetReleaseKey(keys.pub_hex);
  other.WriteAppJson();
  auto c2 = OpenApp(other);
  ASSERT_TRUE(c2->Load("com.test.greeter").ok());
  auto refused = c2->SwapLive(PackFixture(other.root(), keys, "greeter", "1.9.0"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("does not declare \"live_swap\": true"),
            std::string::npos);
}

TEST(UpdateTest, AFailedLiveSwapLeavesTheOldVersionRunning) {
  TestApp app({"counter"}, "counter");
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  auto c = OpenApp(app);
  ServiceRef<fixtures::Counter> counter(c->services());
  counter->Next();
  // The failing fixture, dressed as counter 2.0.0 with live_swap.
  std::string work = app.root() + "/bad-src";
  fs::copy(std::string(ATRIUM_TEST_BUNDLES_DIR) + "/fails", work, fs::copy_options::recursive);
  std::ofstream(work + "/bundle.json") << R"({"name": "com.test.counter", "version": "2.0.0",
      "library": "libfixture_fails.so", "live_swap": true})";
  PackOptions o;
  o.apps = {"*"};  // any app: this test is not about app scope
  o.secret_key = keys.sec;
  ASSERT_TRUE(PackDirectory(work, o, app.root() + "/bad.atb").ok());
  auto r = c->SwapLive(app.root() + "/bad.atb");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(counter->Version(), "1.0.0");
  EXPECT_EQ(counter->Next(), 2);
  EXPECT_EQ(c->Bundle("com.test.counter")->version, "1.0.0");
  EXPECT_EQ(c->Bundle("com.test.counter")->state, BundleState::kActive);
}

TEST(UpdateTest, HundredLiveSwapsUnderLoadLoseNoCall) {
  TestApp app({"counter"}, "counter");
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  std::vector<std::string> packages;
  for (int i = 1; i <= 100; ++i) {
    packages.push_back(PackFixture(app.root(), keys, "counter", "1.0." + std::to_string(i)));
  }
  auto c = OpenApp(app);
  ASSERT_TRUE(c->Load("com.test.counter").ok());
  ServiceRef<fixtures::Counter> counter(c->services());
  std::atomic<bool> stop{false};
  std::atomic<int64_t> calls{0}, lost{0};
  std::set<std::string> versions;
  std::thread caller([&] {
    while (!stop) {
      auto provider = counter.get();
      if (provider == nullptr) {
        ++lost;
        continue;
      }
      int64_t n = provider->Next();
      if (n <= 0) ++lost;
      versions.insert(provider->Version());
      ++calls;
    }
  });
  int swaps = 0;
  for (const auto& p : packages) {
    auto r = c->SwapLive(p);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    ++swaps;
  }
  // Let the caller run on the last version for a moment.
  const int64_t at_end = calls.load();
  while (calls.load() < at_end + 100) std::this_thread::yield();
  stop = true;
  caller.join();
  EXPECT_EQ(swaps, 100);
  EXPECT_EQ(lost.load(), 0);
  EXPECT_GT(calls.load(), 100);
  EXPECT_GE(versions.size(), 2u);
  EXPECT_EQ(counter->Version(), "1.0.100");
  // The count was handed over 100 times: it is at least the calls made since
  // the last swap began... and never reset to zero.
  EXPECT_GT(counter->Next(), 100);
  // The old versions were unloaded: of the 101 copies of the library that
  // ran, the running one is mapped and (nearly) no other. Under TSan the
  // loader has been seen keeping the first two copies mapped (not in the
  // default or ASan builds, where exactly one remains); the bound allows that.
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::set<std::string> mapped;
  while (std::getline(maps, line)) {
    auto pos = line.find("libfixture_counter.so");
    if (pos != std::string::npos) mapped.insert(line.substr(line.find('/')));
  }
  bool running_mapped = false;
  for (const auto& m : mapped)
    running_mapped = running_mapped || m.find("/1.0.100/") != std::string::npos;
  EXPECT_TRUE(running_mapped);
  EXPECT_LE(mapped.size(), 3u) << [&] {
    std::string all;
    for (const auto& m : mapped) all += m + "\n";
    return all;
  }();
  auto current = c->artifacts().Current(ArtifactKind::kNativeBundle, "com.test.counter");
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->version, "1.0.100");
}

}  // namespace
}  // namespace atrium
