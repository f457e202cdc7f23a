// Service listeners follow their bundle's life and cannot break the
// registry: a bundle's listeners end when it stops or fails to start (and
// its unloaded library is never called), a throwing listener is contained,
// and RemoveListener returns only when no call of the listener runs.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../fixture_bundles/include/fixtures.h"
#include "atrium/container.h"
#include "service_registry_core.h"
#include "test_app.h"

namespace atrium {
namespace {

using internal::RegistryView;
using internal::ServiceRegistryCore;
using testing::IsMapped;
using testing::ScopedEnv;
using testing::TestApp;

std::unique_ptr<Container> OpenWithJournal(const TestApp& app,
                                           std::shared_ptr<fixtures::Journal> journal) {
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().ToString());
  if (!c.ok()) return nullptr;
  EXPECT_TRUE((*c)->services().Register<fixtures::Journal>(std::move(journal)).ok());
  return std::move(c).value();
}

Status Ping(Container& c) {
  auto id = c.services().Register("com.test.Ping", std::make_shared<int>(1), {}, 0);
  return id.ok() ? Status::Ok() : Status(id.error());
}

TEST(ServiceListenerTest, ABundlesListenersEndWhenItStops) {
  TestApp app({"listens"}, "none");
  auto journal = std::make_shared<fixtures::Journal>();
  auto c = OpenWithJournal(app, journal);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Load("com.test.listens").ok());
  ASSERT_TRUE(Ping(*c).ok());
  EXPECT_EQ(journal->entries(), (std::vector<std::string>{"heard com.test.Ping"}));
  ASSERT_TRUE(c->Stop("com.test.listens").ok());
  EXPECT_FALSE(IsMapped("libfixture_listens.so"));
  // Before: the next event called into the unloaded library (SIGSEGV).
  ASSERT_TRUE(Ping(*c).ok());
  EXPECT_EQ(journal->entries().size(), 1u);
}

TEST(ServiceListenerTest, ABundleThatFailsToStartLeavesNoListener) {
  ScopedEnv env("ATRIUM_TEST_LISTEN_THEN_THROW", "1");
  TestApp app({"listens"}, "none");
  auto journal = std::make_shared<fixtures::Journal>();
  auto c = OpenWithJournal(app, journal);
  ASSERT_NE(c, nullptr);
  Status s = c->Load("com.test.listens");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("boom after listening"), std::string::npos) << s.error().message;
  ASSERT_TRUE(Ping(*c).ok());
  EXPECT_TRUE(journal->entries().empty());
}

TEST(ServiceListenerTest, AThrowingListenerIsContained) {
  ServiceRegistryCore core;
  RegistryView host(&core, 0, "");
  int later = 0;
  host.AddListener("com.test.Ping", [](const ServiceEvent&) { throw std::runtime_error("no"); });
  host.AddListener("com.test.Ping", [&](const ServiceEvent&) { ++later; });
  auto id = host.Register("com.test.Ping", std::make_shared<int>(7), {}, 0);
  ASSERT_TRUE(id.ok());  // before: Register threw and the caller lost the id
  EXPECT_EQ(later, 1);
  EXPECT_NE(host.Get("com.test.Ping"), nullptr);
  EXPECT_TRUE(host.Unregister(*id).ok());
  EXPECT_EQ(later, 2);
}

TEST(ServiceListenerTest, RemoveListenerWaitsForACallInProgress) {
  ServiceRegistryCore core;
  RegistryView host(&core, 0, "");
  std::atomic<bool> in_call{false};
  std::atomic<bool> removing{false};
  std::atomic<bool> call_done{false};
  std::atomic<int> calls{0};
  const uint64_t token = host.AddListener("com.test.Ping", [&](const ServiceEvent&) {
    ++calls;
    in_call = true;
    while (!removing.load()) std::this_thread::yield();
    call_done = true;
  });
  std::thread writer(
      [&] { (void)host.Register("com.test.Ping", std::make_shared<int>(1), {}, 0); });
  while (!in_call.load()) std::this_thread::yield();
  removing = true;
  host.RemoveListener(token);
  // Returned only once the call on the writer's thread had finished.
  EXPECT_TRUE(call_done.load());
  writer.join();
  (void)host.Register("com.test.Ping", std::make_shared<int>(2), {}, 0);
  EXPECT_EQ(calls.load(), 1);
}

TEST(ServiceListenerTest, AListenerMayRemoveItselfFromItsOwnCall) {
  ServiceRegistryCore core;
  RegistryView host(&core, 0, "");
  int calls = 0;
  uint64_t token = 0;
  token = host.AddListener("com.test.Ping", [&](const ServiceEvent&) {
    ++calls;
    host.RemoveListener(token);  // must not wait for itself
  });
  (void)host.Register("com.test.Ping", std::make_shared<int>(1), {}, 0);
  (void)host.Register("com.test.Ping", std::make_shared<int>(2), {}, 0);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace atrium
