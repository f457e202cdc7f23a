// Service registry: ranking, typed lookup, listeners, ownership, the lazy
// hook, and concurrent readers against a writer (run under TSan too).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "service_registry_core.h"

namespace atrium::internal {
namespace {

struct Clock {
  static constexpr std::string_view kInterfaceId = "com.test.Clock";
  explicit Clock(int v) : value(v) {}
  int value;
};

TEST(ServiceRegistryTest, HighestRankingWinsTiesKeepRegistrationOrder) {
  ServiceRegistryCore core;
  RegistryView host(&core, 0, "");
  auto a = host.Register<Clock>(std::make_shared<Clock>(1), {}, 0);
  auto b = host.Register<Clock>(std::make_shared<Clock>(2), {}, 5);
  auto c = host.Register<Clock>(std::make_shared<Clock>(3), {}, 5);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(host.Get<Clock>()->value, 2);
  auto all = host.GetAll(Clock::kInterfaceId);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].info.ranking, 5);
  EXPECT_EQ(std::static_pointer_cast<Clock>(all[1].service)->value, 3);
  EXPECT_EQ(std::static_pointer_cast<Clock>(all[2].service)->value, 1);
  ASSERT_TRUE(host.Unregister(*b).ok());
  EXPECT_EQ(host.Get<Clock>()->value, 3);
  ASSERT_TRUE(host.Unregister(*c).ok());
  ASSERT_TRUE(host.Unregister(*a).ok());
  EXPECT_EQ(host.Get<Clock>(), nullptr);
  auto missing = host.Find(Clock::kInterfaceId);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(ServiceRegistryTest, BadRegistrationsAreErrors) {
  ServiceRegistryCore core;
  RegistryView host(&core, 0, "");
  EXPECT_EQ(host.Register("", std::make_shared<int>(1), {}, 0).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(host.Register("x.y", nullptr, {}, 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(host.Unregister(12345).error().code, ErrorCode::kNotFound);
}

TEST(ServiceRegistryTest, OwnersCannotUnregisterOthersAndOwnerCleanupIsComplete) {
  ServiceRegistryCore core;
  RegistryView host(&core, 0, "");
  RegistryView bundle(&core, 7, "com.test.b");
  auto id = bundle.Register<Clock>(std::make_shared<Clock>(9));
  ASSERT_TRUE(id.ok());
  EXPECT_FALSE(host.Unregister(*id).ok());
  (void)bundle.Register("com.test.Other", std::make_shared<int>(1), {}, 0);
  EXPECT_EQ(core.RegistrationCountForTesting(), 2u);
  auto all = host.GetAll(Clock::kInterfaceId);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].info.bundle, "com.test.b");
  core.UnregisterOwner(7);
  EXPECT_EQ(core.RegistrationCountForTesting(), 0u);
  EXPECT_EQ(host.Get<Clock>(), nullptr);
}

TEST(ServiceRegistryTest, ListenersSeeRegisterAndUnregisterAndMayReenter) {
  ServiceRegistryCore core;
  RegistryView host(&core, 0, "");
  std::vector<std::string> seen;
  uint64_t token = host.AddListener(Clock::kInterfaceId, [&](const ServiceEvent& e) {
    // Re-entrant lookup from inside the listener must not deadlock.
    auto now = host.Get<Clock>();
    seen.push_back(std::string(e.kind == ServiceEvent::Kind::kRegistered ? "+" : "-") +
                   std::to_string(e.info.id) + (now ? "/visible" : "/gone"));
  });
  std::vector<std::string> all;
  host.AddListener("", [&](const ServiceEvent& e) { all.push_back(e.info.interface_id); });
  auto id = host.Register<Clock>(std::make_shared<Clock>(1), {{"zone", "utc"}});
  (void)host.Register("com.test.Other", std::make_shared<int>(1), {}, 0);
  ASSERT_TRUE(host.Unregister(*id).ok());
  host.RemoveListener(token);
  (void)host.Register<Clock>(std::make_shared<Clock>(2));
  EXPECT_EQ(seen, (std::vector<std::string>{"+1/visible", "-1/gone"}));
  EXPECT_EQ(all, (std::vector<std::string>{"com.test.Clock", "com.test.Other", "com.test.Clock",
                                           "com.test.Clock"}));
}

TEST(ServiceRegistryTest, LazyHookIsAskedOnMissAndErrorsPassThrough) {
  ServiceRegistryCore core;
  RegistryView host(&core, 0, "");
  RegistryView provider(&core, 3, "com.test.p");
  int calls = 0;
  core.SetLazyHook([&](std::string_view iface) -> Status {
    ++calls;
    if (iface == Clock::kInterfaceId) {
      (void)provider.Register<Clock>(std::make_shared<Clock>(42));
      return Status::Ok();
    }
    return MakeError(ErrorCode::kUnresolved, "provider of " + std::string(iface) + " unresolved");
  });
  EXPECT_EQ(host.Get<Clock>()->value, 42);
  EXPECT_EQ(host.Get<Clock>()->value, 42);
  EXPECT_EQ(calls, 1);  // second lookup is a plain hit
  auto other = host.Find("com.test.None");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kUnresolved);
}

TEST(ServiceRegistryTest, HandlesOutliveUnregistration) {
  ServiceRegistryCore core;
  RegistryView host(&core, 0, "");
  std::weak_ptr<Clock> weak;
  std::shared_ptr<Clock> handle;
  {
    auto clock = std::make_shared<Clock>(5);
    weak = clock;
    auto id = host.Register<Clock>(clock);
    handle = host.Get<Clock>();
    ASSERT_TRUE(host.Unregister(*id).ok());
  }
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(handle->value, 5);
  handle.reset();
  EXPECT_TRUE(weak.expired()) << "the registry must not keep unregistered services alive";
}

TEST(ServiceRegistryTest, ConcurrentReadersSeeAConsistentServiceWhileWritersChurn) {
  ServiceRegistryCore core;
  RegistryView host(&core, 0, "");
  (void)host.Register<Clock>(std::make_shared<Clock>(0), {}, 0);
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        auto c = host.Get<Clock>();
        ASSERT_TRUE(c);
        ASSERT_GE(c->value, 0);
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  // Let every reader get going before the writes, so they really overlap.
  while (reads.load() < 1000) std::this_thread::yield();
  for (int i = 1; i <= 500; ++i) {
    auto id = host.Register<Clock>(std::make_shared<Clock>(i), {}, i % 3);
    ASSERT_TRUE(id.ok());
    (void)host.Register("com.test.Churn" + std::to_string(i % 50), std::make_shared<int>(i), {}, 0);
    ASSERT_TRUE(host.Unregister(*id).ok());
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(host.Get<Clock>()->value, 0);
}

}  // namespace
}  // namespace atrium::internal
