// No bundle code runs under the container's lifecycle lock: a bundle's Start
// and Stop may wait for work that loads other bundles, a lookup that needs a
// bundle another thread is starting waits for it, and two Starts waiting for
// each other's bundles end in an error instead of a deadlock. The bundles are
// real (the gated_* fixtures); what they do and when is planned through a
// fixtures::Gate the test registers, so every interleaving below is forced by
// conditions, not by timing.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../fixture_bundles/include/fixtures.h"
#include "atrium/container.h"
#include "test_app.h"

namespace atrium {
namespace {

using testing::TestApp;

constexpr char kA[] = "com.test.gated_a";
constexpr char kB[] = "com.test.gated_b";

struct Gated {
  explicit Gated(const TestApp& app) {
    auto opened = Container::Open({app.app_dir(), app.data_dir()});
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().ToString());
    if (!opened.ok()) return;
    c = std::move(opened).value();
    EXPECT_TRUE(c->services().Register<fixtures::Gate>(gate).ok());
  }
  std::shared_ptr<fixtures::Gate> gate = std::make_shared<fixtures::Gate>();
  std::unique_ptr<Container> c;
};

// Before: Start ran under the global lifecycle lock; the io task's lookup of
// the lazy greeter blocked on that lock while Start waited for the task, and
// the container hung for ever.
TEST(LifecycleLockTest, AStartWaitingForAPoolTaskThatLoadsALazyBundleCompletes) {
  TestApp app({"greeter", "gated_a", "gated_b"}, "none");
  Gated g(app);
  ASSERT_NE(g.c, nullptr);
  g.gate->Plan(kA, {"pool-get:com.test.greeter.Greeter"});
  g.gate->Plan(std::string(kA) + "#stop", {"pool-get:com.test.gated_b.Service"});
  ASSERT_TRUE(g.c->Load(kA).ok());
  EXPECT_EQ(g.c->Bundle("com.test.greeter")->state, BundleState::kActive);
  // Stop runs unlocked too: its io task loads gated_b.
  ASSERT_TRUE(g.c->Stop(kA).ok());
  EXPECT_EQ(g.gate->reports(), (std::vector<std::string>{
                                   "com.test.gated_a pool-get com.test.greeter.Greeter: ok",
                                   "com.test.gated_a#stop pool-get com.test.gated_b.Service: ok"}));
  EXPECT_EQ(g.c->Bundle(kB)->state, BundleState::kActive);
  EXPECT_EQ(g.c->Bundle(kA)->state, BundleState::kUnloaded);
}

// Four threads look up a service whose bundle is held in its Start: each
// gets the service once the Start ends, and the bundle started once.
TEST(LifecycleLockTest, LookupsOfABundleStartingOnAnotherThreadWaitForIt) {
  TestApp app({"greeter", "gated_a"}, "none");
  Gated g(app);
  ASSERT_NE(g.c, nullptr);
  g.gate->Plan(kA, {"arrive", "get:com.test.greeter.Greeter"});
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto found = g.c->services().Find("com.test.gated_a.Service");
      results[i] =
          found.ok() ? *std::static_pointer_cast<std::string>(*found) : found.error().ToString();
    });
  }
  g.gate->AwaitArrival(kA);
  // Held in its Start: the lock is free for everything else meanwhile.
  EXPECT_EQ(g.c->Bundle(kA)->state, BundleState::kLoading);
  EXPECT_TRUE(g.c->Load("com.test.greeter").ok());
  g.gate->Release(kA);
  for (auto& t : threads) t.join();
  for (const std::string& r : results) EXPECT_EQ(r, kA);
  EXPECT_EQ(g.gate->reports(),
            (std::vector<std::string>{"com.test.gated_a get com.test.greeter.Greeter: ok"}));
}

// A's Start (thread 1) looks up B's service while B's Start (thread 2) looks
// up A's: whichever waits second would close the cycle, so its lookup fails
// with the chain named; the other waits and succeeds; both bundles start.
TEST(LifecycleLockTest, TwoStartsWaitingForEachOtherEndInAnErrorNotADeadlock) {
  TestApp app({"gated_a", "gated_b"}, "none");
  Gated g(app);
  ASSERT_NE(g.c, nullptr);
  g.gate->Plan(kA, {"arrive", "get:com.test.gated_b.Service"});
  g.gate->Plan(kB, {"arrive", "get:com.test.gated_a.Service"});
  Status a, b;
  std::thread ta([&] { a = g.c->Load(kA); });
  g.gate->AwaitArrival(kA);
  std::thread tb([&] { b = g.c->Load(kB); });
  g.gate->AwaitArrival(kB);
  g.gate->Release(kA);
  g.gate->Release(kB);
  ta.join();
  tb.join();
  EXPECT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_TRUE(b.ok()) << b.error().ToString();
  std::vector<std::string> reports = g.gate->reports();
  ASSERT_EQ(reports.size(), 2u);
  const bool a_failed = reports[0].find("would deadlock") != std::string::npos;
  const std::string& failed = a_failed ? reports[0] : reports[1];
  const std::string& waited = a_failed ? reports[1] : reports[0];
  const std::string who = failed.substr(0, failed.find(' '));
  const std::string other = who == kA ? kB : kA;
  EXPECT_EQ(failed, who + " get " + other + ".Service: failed: waiting for bundle " + other +
                        " would deadlock: the thread starting it waits for a bundle this thread "
                        "is starting or stopping (" +
                        other + " -> " + who + "; service " + other + ".Service)");
  EXPECT_EQ(waited, other + " get " + who + ".Service: ok");
  EXPECT_EQ(g.c->Bundle(kA)->state, BundleState::kActive);
  EXPECT_EQ(g.c->Bundle(kB)->state, BundleState::kActive);
}

// On its own thread, a Start that needs its own (not yet registered)
// service gets a clear error at once.
TEST(LifecycleLockTest, AStartLookingUpItsOwnServiceFailsAtOnce) {
  TestApp app({"gated_a"}, "none");
  Gated g(app);
  ASSERT_NE(g.c, nullptr);
  g.gate->Plan(kA, {"get:com.test.gated_a.Service"});
  ASSERT_TRUE(g.c->Load(kA).ok());
  EXPECT_EQ(g.gate->reports(),
            (std::vector<std::string>{
                "com.test.gated_a get com.test.gated_a.Service: failed: bundle com.test.gated_a "
                "is loading (a bundle's Start looked up a service of a bundle that is still "
                "starting: service com.test.gated_a.Service)"}));
}

// Shutdown while another thread is in a bundle's Start: it waits for that
// Start, then stops the bundle; nothing loads during the shutdown.
TEST(LifecycleLockTest, AShutdownWaitsForAStartInProgressAndLoadsNothingNew) {
  TestApp app({"greeter", "gated_a"}, "none");
  Gated g(app);
  ASSERT_NE(g.c, nullptr);
  g.gate->Plan(kA, {"arrive"});
  g.gate->Plan(std::string(kA) + "#stop", {"get:com.test.greeter.Greeter"});
  Status loaded;
  std::thread loader([&] { loaded = g.c->Load(kA); });
  g.gate->AwaitArrival(kA);
  std::thread stopper([&] { g.c->Shutdown(); });
  g.gate->Release(kA);
  loader.join();
  stopper.join();
  EXPECT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(g.c->Bundle(kA)->state, BundleState::kUnloaded);
  EXPECT_EQ(g.gate->reports(),
            (std::vector<std::string>{
                "com.test.gated_a#stop get com.test.greeter.Greeter: failed: the container is "
                "shutting down; nothing loads (service com.test.greeter.Greeter)"}));
}

// Before: gated_c's Stop ran unlocked but it stayed in the active list, so a
// Stop of gated_b on another thread found it again and again as a dependent
// to stop, for ever, holding the lock. Now the second Stop waits for the
// dependent being stopped, and gated_b is still up during gated_c's Stop.
TEST(LifecycleLockTest, AStopWaitsForADependentStoppingOnAnotherThread) {
  TestApp app({"gated_b", "gated_c"}, "none");
  Gated g(app);
  ASSERT_NE(g.c, nullptr);
  g.gate->Plan("com.test.gated_c#stop", {"arrive", "get:com.test.gated_b.Service"});
  ASSERT_TRUE(g.c->Load("com.test.gated_c").ok());
  std::thread first([&] { EXPECT_TRUE(g.c->Stop("com.test.gated_c").ok()); });
  g.gate->AwaitArrival("com.test.gated_c");
  Status second;
  std::thread t([&] { second = g.c->Stop(kB); });
  g.gate->Release("com.test.gated_c");
  first.join();
  t.join();
  EXPECT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_EQ(g.gate->reports(),
            (std::vector<std::string>{"com.test.gated_c#stop get com.test.gated_b.Service: ok"}));
  EXPECT_EQ(g.c->Bundle("com.test.gated_c")->state, BundleState::kUnloaded);
  EXPECT_EQ(g.c->Bundle(kB)->state, BundleState::kUnloaded);
}

// Before: a Stop of a bundle another thread was starting returned at once,
// and the bundle was active afterwards. Now the Stop waits for the Start.
TEST(LifecycleLockTest, AStopWaitsForAStartInProgressThenStops) {
  TestApp app({"gated_a"}, "none");
  Gated g(app);
  ASSERT_NE(g.c, nullptr);
  g.gate->Plan(kA, {"arrive"});
  Status loaded, stopped;
  std::thread loader([&] { loaded = g.c->Load(kA); });
  g.gate->AwaitArrival(kA);
  std::thread stopper([&] { stopped = g.c->Stop(kA); });
  g.gate->Release(kA);
  loader.join();
  stopper.join();
  EXPECT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_TRUE(stopped.ok()) << stopped.error().ToString();
  EXPECT_EQ(g.c->Bundle(kA)->state, BundleState::kUnloaded);
}

}  // namespace
}  // namespace atrium
