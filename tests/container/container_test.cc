// Container end to end with real fixture bundles (dlopen'ed shared
// libraries): laziness seen from /proc/self/maps, lifecycle order, failures
// isolated to their bundle, the router, private storage, install.
#include "atrium/container.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "../fixture_bundles/include/fixtures.h"
#include "atrium/bundle.h"
#include "test_app.h"

namespace atrium {
namespace {

using testing::IsMapped;
using testing::TestApp;

std::unique_ptr<Container> OpenOrDie(const TestApp& app) {
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().ToString());
  return c.ok() ? std::move(c).value() : nullptr;
}

BundleState StateOf(Container& c, std::string_view name) {
  auto s = c.Bundle(name);
  EXPECT_TRUE(s.ok()) << name;
  return s.ok() ? s->state : BundleState::kInstalled;
}

TEST(ContainerTest, LazyBundleIsMappedOnlyAfterServiceLookup) {
  TestApp app({"greeter", "consumer"});
  auto c = OpenOrDie(app);
  ASSERT_TRUE(c);
  const std::string lib = app.bundle_dir("greeter") + "/libfixture_greeter.so";
  EXPECT_FALSE(IsMapped(lib));
  EXPECT_EQ(StateOf(*c, "com.test.greeter"), BundleState::kResolved);

  auto greeter = c->services().Get<fixtures::Greeter>();
  ASSERT_TRUE(greeter);
  EXPECT_EQ(greeter->Greet("ada"), "hello, ada");
  EXPECT_TRUE(IsMapped(lib));
  EXPECT_EQ(StateOf(*c, "com.test.greeter"), BundleState::kActive);
  EXPECT_EQ(c->Bundle("com.test.greeter")->loaded_by, "service com.test.greeter.Greeter");
  // The consumer was not needed by the lookup and stays unmapped.
  EXPECT_FALSE(IsMapped(app.bundle_dir("consumer") + "/libfixture_consumer.so"));
  EXPECT_EQ(StateOf(*c, "com.test.consumer"), BundleState::kResolved);
}

TEST(ContainerTest, StopUnloadsLibraryOnceLastHandleIsReleased) {
  TestApp app({"greeter"});
  auto c = OpenOrDie(app);
  const std::string lib = app.bundle_dir("greeter") + "/libfixture_greeter.so";
  auto greeter = c->services().Get<fixtures::Greeter>();
  ASSERT_TRUE(greeter);
  ASSERT_TRUE(c->Stop("com.test.greeter").ok());
  EXPECT_EQ(StateOf(*c, "com.test.greeter"), BundleState::kUnloaded);
  // Our handle keeps the object and its code alive.
  EXPECT_TRUE(IsMapped(lib));
  EXPECT_EQ(greeter->Greet("still"), "hello, still");
  greeter.reset();
  EXPECT_FALSE(IsMapped(lib));
  // A later lookup loads it again.
  EXPECT_TRUE(c->services().Get<fixtures::Greeter>());
  EXPECT_EQ(StateOf(*c, "com.test.greeter"), BundleState::kActive);
}

TEST(ContainerTest, MicroAppLaunchLoadsDependenciesFirstAndStopsInReverse) {
  TestApp app({"greeter", "consumer"});
  auto c = OpenOrDie(app);
  auto journal = std::make_shared<fixtures::Journal>();
  ASSERT_TRUE(c->services().Register<fixtures::Journal>(journal).ok());
  ASSERT_TRUE(c->router().Launch("consumer", {{"who", "grace"}}).ok());
  ASSERT_TRUE(c->router().OpenUrl("atrium://app/consumer?who=linus%20t").ok());
  c->Shutdown();
  EXPECT_EQ(journal->entries(),
            (std::vector<std::string>{"start:com.test.greeter", "start:com.test.consumer",
                                      "open:consumer:hello, grace", "open:consumer:hello, linus t",
                                      "stop:com.test.consumer", "stop:com.test.greeter"}));
  auto consumer = *c->Bundle("com.test.consumer");
  EXPECT_EQ(consumer.dependencies, std::vector<std::string>{"com.test.greeter"});
  EXPECT_EQ(c->Bundle("com.test.greeter")->loaded_by, "dependency of com.test.consumer");
}

TEST(ContainerTest, StoppingADependencyStopsDependentsFirst) {
  TestApp app({"greeter", "consumer"});
  auto c = OpenOrDie(app);
  auto journal = std::make_shared<fixtures::Journal>();
  ASSERT_TRUE(c->services().Register<fixtures::Journal>(journal).ok());
  ASSERT_TRUE(c->Load("com.test.consumer").ok());
  ASSERT_TRUE(c->Stop("com.test.greeter").ok());
  EXPECT_EQ(journal->entries(),
            (std::vector<std::string>{"start:com.test.greeter", "start:com.test.consumer",
                                      "stop:com.test.consumer", "stop:com.test.greeter"}));
  EXPECT_EQ(StateOf(*c, "com.test.consumer"), BundleState::kUnloaded);
}

TEST(ContainerTest, EagerBundlesStartWithTheirDependencies) {
  TestApp app({"greeter", "eager", "consumer"});
  auto c = OpenOrDie(app);
  ASSERT_TRUE(c->Start().ok());
  EXPECT_EQ(StateOf(*c, "com.test.eager"), BundleState::kActive);
  EXPECT_EQ(StateOf(*c, "com.test.greeter"), BundleState::kActive);
  EXPECT_EQ(StateOf(*c, "com.test.consumer"), BundleState::kResolved);
  EXPECT_LT(c->Bundle("com.test.greeter")->activation_seq,
            c->Bundle("com.test.eager")->activation_seq);
}

TEST(ContainerTest, ThrowingActivatorFailsOnlyItsBundleAndLeavesNoServices) {
  TestApp app({"greeter", "throws"});
  auto c = OpenOrDie(app);
  Status s = c->Load("com.test.throws");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kActivation);
  EXPECT_EQ(s.error().bundle, "com.test.throws");
  EXPECT_NE(s.error().message.find("activator threw: boom in Start"), std::string::npos)
      << s.error().message;
  auto st = *c->Bundle("com.test.throws");
  EXPECT_EQ(st.state, BundleState::kFailed);
  EXPECT_NE(st.reason.find("boom in Start"), std::string::npos);
  // The ranking-100 service it registered before throwing is gone; the real
  // greeter answers.
  auto g = c->services().Get<fixtures::Greeter>();
  ASSERT_TRUE(g);
  EXPECT_EQ(g->Greet("x"), "hello, x");
  EXPECT_FALSE(IsMapped(app.bundle_dir("throws") + "/libfixture_throws.so"));
  // Launching its micro-app reports the failure, not a crash.
  Status launch = c->router().Launch("throws");
  ASSERT_FALSE(launch.ok());
  EXPECT_EQ(launch.error().code, ErrorCode::kActivation);
}

struct BadLibraryCase {
  std::string fixture;
  std::string bundle;
  ErrorCode code;
  std::string needle;
};

class BadLibraryTest : public ::testing::TestWithParam<BadLibraryCase> {};

TEST_P(BadLibraryTest, FailsWithReasonAndOthersStillRun) {
  const auto& p = GetParam();
  TestApp app({"greeter", p.fixture});
  auto c = OpenOrDie(app);
  Status s = c->Load(p.bundle);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, p.code) << s.error().ToString();
  EXPECT_EQ(s.error().bundle, p.bundle);
  EXPECT_NE(s.error().message.find(p.needle), std::string::npos) << s.error().message;
  EXPECT_EQ(StateOf(*c, p.bundle), BundleState::kFailed);
  // A second attempt reports the same failure without retrying.
  Status again = c->Load(p.bundle);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, s.error().message);
  // The rest of the app runs.
  EXPECT_TRUE(c->services().Get<fixtures::Greeter>());
}

INSTANTIATE_TEST_SUITE_P(
    Libraries, BadLibraryTest,
    ::testing::Values(
        BadLibraryCase{"fails", "com.test.fails", ErrorCode::kActivation, "config file missing"},
        BadLibraryCase{"no_entry", "com.test.noentry", ErrorCode::kLoad,
                       "has no 'atrium_bundle_entry' symbol"},
        BadLibraryCase{"wrong_abi", "com.test.wrongabi", ErrorCode::kLoad,
                       "bundle ABI version 99, this container speaks 1"},
        BadLibraryCase{"bad_dlopen", "com.test.baddlopen", ErrorCode::kLoad,
                       "atrium_fixture_symbol_that_does_not_exist"},
        BadLibraryCase{"not_elf", "com.test.notelf", ErrorCode::kLoad, "dlopen failed"}),
    [](const auto& info) { return info.param.fixture; });

TEST(ContainerTest, UnresolvedBundlesAreIsolatedWithReasons) {
  TestApp app({"greeter", "consumer"});
  app.AddManifest("needs_missing", R"({"name": "com.test.needsmissing", "version": "1.0.0",
      "requires": [{"name": "com.partner.absent", "version": "^2.0.0"}],
      "micro_apps": [{"id": "missing", "type": "web", "entry": "index.html"}]})");
  app.AddManifest("chain", R"({"name": "com.test.chain", "version": "1.0.0",
      "requires": [{"name": "com.test.needsmissing"}]})");
  app.AddManifest("too_new", R"({"name": "com.test.toonew", "version": "1.0.0",
      "requires": [{"name": "com.test.greeter", "version": "^2.0.0"}]})");
  app.AddManifest("cycle_a", R"({"name": "com.test.cyclea", "version": "1.0.0",
      "requires": [{"name": "com.test.cycleb"}]})");
  app.AddManifest("cycle_b", R"({"name": "com.test.cycleb", "version": "1.0.0",
      "requires": [{"name": "com.test.cyclea"}]})");
  app.AddManifest("broken", R"({"name": "com.test.broken", "version": "1.0"})");
  app.WriteAppJson();
  auto c = OpenOrDie(app);
  ASSERT_TRUE(c);
  auto reason = [&](std::string_view n) { return c->Bundle(n)->reason; };
  EXPECT_EQ(StateOf(*c, "com.test.needsmissing"), BundleState::kUnresolved);
  EXPECT_EQ(reason("com.test.needsmissing"),
            "requires com.partner.absent ^2.0.0, which is not installed");
  EXPECT_EQ(StateOf(*c, "com.test.chain"), BundleState::kUnresolved);
  EXPECT_EQ(reason("com.test.chain"),
            "requires com.test.needsmissing, which is unresolved: requires com.partner.absent "
            "^2.0.0, which is not installed");
  EXPECT_NE(reason("com.test.toonew").find("but installed com.test.greeter is 1.2.0"),
            std::string::npos)
      << reason("com.test.toonew");
  EXPECT_NE(reason("com.test.cyclea")
                .find("dependency cycle: com.test.cyclea -> com.test.cycleb "
                      "-> com.test.cyclea"),
            std::string::npos)
      << reason("com.test.cyclea");
  // The broken manifest is listed under its directory with the parser's error.
  bool found_broken = false;
  for (const auto& b : c->Bundles()) {
    if (b.name.find("broken") != std::string::npos) {
      found_broken = true;
      EXPECT_EQ(b.state, BundleState::kUnresolved);
      EXPECT_NE(b.reason.find("/version"), std::string::npos) << b.reason;
    }
  }
  EXPECT_TRUE(found_broken);
  Status s = c->Load("com.test.chain");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnresolved);
  // The resolved part of the app runs.
  EXPECT_TRUE(c->router().Launch("consumer").ok());
}

// A launcher of a micro-app type a later layer plugs in: records what it
// was asked to open.
struct WebLauncher : MicroAppLauncher {
  std::vector<LaunchRequest> seen;
  Status Launch(const LaunchRequest& r) override {
    seen.push_back(r);
    return Status::Ok();
  }
};

TEST(ContainerTest, RouterErrors) {
  TestApp app({"greeter", "consumer"});
  app.AddManifest("web", R"({"name": "com.test.web", "version": "1.0.0",
      "micro_apps": [{"id": "webby", "type": "web", "entry": "index.html"}]})");
  app.WriteAppJson();
  auto c = OpenOrDie(app);
  Status unknown = c->router().Launch("nope");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  Status no_launcher = c->router().Launch("webby");
  ASSERT_FALSE(no_launcher.ok());
  EXPECT_NE(no_launcher.error().message.find("no launcher for micro-app type 'web'"),
            std::string::npos);
  Status bad_url = c->router().OpenUrl("https://app/consumer");
  ASSERT_FALSE(bad_url.ok());
  EXPECT_EQ(bad_url.error().code, ErrorCode::kParse);

  // A later layer plugs in a type without touching the router.
  auto web = std::make_shared<WebLauncher>();
  ASSERT_TRUE(c->router().RegisterLauncher("web", web).ok());
  Status dup = c->router().RegisterLauncher("web", web);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  ASSERT_TRUE(c->router().OpenUrl("atrium://app/webby?a=1&b=two").ok());
  ASSERT_EQ(web->seen.size(), 1u);
  EXPECT_EQ(web->seen[0].bundle, "com.test.web");
  EXPECT_EQ(web->seen[0].entry, "index.html");
  EXPECT_EQ(web->seen[0].params, (LaunchParams{{"a", "1"}, {"b", "two"}}));
  EXPECT_EQ(StateOf(*c, "com.test.web"), BundleState::kActive);  // resource-only bundle
}

// A layer declares micro-apps no bundle names (an H5 app is declared by its
// package): the router finds them in its sources, after the bundles, with
// no bundle to load, the URL's path handed to the launcher, filters applied.
TEST(ContainerTest, RouterOpensMicroAppsASourceDeclares) {
  TestApp app({"greeter", "consumer"});
  app.AddManifest("web", R"({"name": "com.test.web", "version": "1.0.0",
      "micro_apps": [{"id": "webby", "type": "web", "entry": "index.html"}]})");
  app.WriteAppJson();
  auto c = OpenOrDie(app);
  struct Source : MicroAppSource {
    std::vector<std::string> asked;
    std::optional<DeclaredMicroApp> Find(std::string_view id) override {
      asked.emplace_back(id);
      if (id != "help" && id != "webby") return std::nullopt;
      return DeclaredMicroApp{std::string(id), "web", "start.html", "test source"};
    }
    std::vector<DeclaredMicroApp> List() override {
      return {{"help", "web", "start.html", "test source"}};
    }
  };
  auto source = std::make_shared<Source>();
  auto web = std::make_shared<WebLauncher>();
  ASSERT_TRUE(c->router().RegisterLauncher("web", web).ok());
  const uint64_t id = c->router().AddMicroAppSource(source);
  ASSERT_TRUE(c->router().OpenUrl("atrium://app/help/bills/2026.html?m=11").ok());
  ASSERT_EQ(web->seen.size(), 1u);
  EXPECT_EQ(web->seen[0].app_id, "help");
  EXPECT_EQ(web->seen[0].bundle, "");
  EXPECT_EQ(web->seen[0].entry, "start.html");
  EXPECT_EQ(web->seen[0].path, "bills/2026.html");
  EXPECT_EQ(web->seen[0].params, (LaunchParams{{"m", "11"}}));
  // A bundle's micro-app wins: the source is not asked for it.
  ASSERT_TRUE(c->router().Launch("webby").ok());
  EXPECT_EQ(web->seen[1].bundle, "com.test.web");
  EXPECT_EQ(source->asked, std::vector<std::string>{"help"});
  // Filters apply to sourced micro-apps too.
  const uint64_t filter = c->router().AddLaunchFilter([](const LaunchRequest& r) -> Status {
    if (r.app_id == "help") return MakeError(ErrorCode::kState, "help is switched off");
    return Status::Ok();
  });
  EXPECT_EQ(c->router().Launch("help").error().message, "help is switched off");
  c->router().RemoveLaunchFilter(filter);
  ASSERT_EQ(c->router().SourcedMicroApps().size(), 1u);
  EXPECT_EQ(c->router().SourcedMicroApps()[0].from, "test source");
  c->router().RemoveMicroAppSource(id);
  EXPECT_EQ(c->router().Launch("help").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(c->router().SourcedMicroApps().empty());
}

TEST(ContainerTest, IndexIsReusedRebuiltWhenCorruptAndRebuiltOnAppChange) {
  TestApp app({"greeter"});
  const std::string index = app.data_dir() + "/bundle_index.bin";
  { ASSERT_TRUE(OpenOrDie(app)); }
  ASSERT_TRUE(std::filesystem::exists(index));
  auto mtime = std::filesystem::last_write_time(index);
  {
    auto c = OpenOrDie(app);
    ASSERT_TRUE(c);
    // The descriptor came from the index: every field, baseline included.
    EXPECT_EQ(c->app().id, "com.test.app");
    EXPECT_EQ(c->app().home, "consumer");
    EXPECT_EQ(c->app().baseline, std::vector<std::string>{"bundles/greeter"});
  }
  EXPECT_EQ(std::filesystem::last_write_time(index), mtime) << "index should be reused";
  // Flip a byte in the middle: the open rebuilds rather than trusting it.
  {
    std::fstream f(index, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(120);
    f.put('\x7f');
  }
  {
    auto c = OpenOrDie(app);
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->services().Get<fixtures::Greeter>());
  }
  // Truncate it.
  std::filesystem::resize_file(index, 40);
  { EXPECT_TRUE(OpenOrDie(app)->services().Get<fixtures::Greeter>()); }
  // A new bundle in app.json is picked up.
  app.AddFixture("consumer");
  app.WriteAppJson();
  { EXPECT_EQ(StateOf(*OpenOrDie(app), "com.test.consumer"), BundleState::kResolved); }
}

TEST(ContainerTest, InstallAndUninstallRebuildTheIndex) {
  TestApp app({"greeter"});
  auto c = OpenOrDie(app);
  EXPECT_FALSE(c->Bundle("com.test.consumer").ok());
  ASSERT_TRUE(c->Install(std::string(ATRIUM_TEST_BUNDLES_DIR) + "/consumer").ok());
  EXPECT_EQ(StateOf(*c, "com.test.consumer"), BundleState::kResolved);
  EXPECT_FALSE(c->Bundle("com.test.consumer")->baseline);
  ASSERT_TRUE(c->router().Launch("consumer").ok());
  Status dup = c->Install(std::string(ATRIUM_TEST_BUNDLES_DIR) + "/consumer");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  Status baseline = c->Uninstall("com.test.greeter");
  ASSERT_FALSE(baseline.ok());
  EXPECT_EQ(baseline.error().code, ErrorCode::kState);
  ASSERT_TRUE(c->Uninstall("com.test.consumer").ok());
  EXPECT_FALSE(c->Bundle("com.test.consumer").ok());
  // Survives reopen.
  c.reset();
  c = OpenOrDie(app);
  EXPECT_FALSE(c->Bundle("com.test.consumer").ok());
  EXPECT_TRUE(c->Bundle("com.test.greeter").ok());
}

TEST(ContainerTest, PrivateStorePersistsAcrossOpens) {
  TestApp app({"greeter"});
  {
    auto c = OpenOrDie(app);
    auto store = c->PrivateStoreOf("com.test.greeter");
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Put("k", "v").ok());
    EXPECT_FALSE(c->PrivateStoreOf("../escape").ok());
  }
  auto c = OpenOrDie(app);
  auto v = (*c->PrivateStoreOf("com.test.greeter"))->Get("k");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value(), std::optional<std::string>("v"));
  EXPECT_TRUE(std::filesystem::exists(app.data_dir() + "/private/com.test.greeter.db"));
}

TEST(ContainerTest, ConcurrentFirstLookupsLoadOnce) {
  TestApp app({"greeter"});
  auto c = OpenOrDie(app);
  auto journal = std::make_shared<fixtures::Journal>();
  ASSERT_TRUE(c->services().Register<fixtures::Journal>(journal).ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 200; ++k) {
        if (auto g = c->services().Get<fixtures::Greeter>()) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8 * 200);
  EXPECT_EQ(journal->entries(), std::vector<std::string>{"start:com.test.greeter"});
}

TEST(ContainerTest, OpenErrorsNameTheFile) {
  auto missing = Container::Open({"/nonexistent/app", "/tmp/x"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kIo);
  EXPECT_EQ(missing.error().file, "/nonexistent/app/app.json");
  TestApp app({"greeter"});
  std::ofstream(app.app_dir() + "/app.json") << R"({"id": "com.test.app", "version": 1})";
  auto bad = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().ToString().find("app.json"), std::string::npos) << bad.error().ToString();
}

}  // namespace
}  // namespace atrium

namespace atrium {
namespace {

// Layers read their app.json sections from app(): the same whether this
// Open built the bundle index or reused the one the last Open wrote.
TEST(ContainerTest, AppSectionsSurviveTheReusedBundleIndex) {
  testing::TestApp app({"greeter", "consumer"});
  std::ofstream(app.app_dir() + "/app.json")
      << R"({"id": "com.test.app", "version": "1.0.0", "home": "consumer",
            "baseline": ["bundles/greeter", "bundles/consumer"],
            "launch_guard": {"window_hours": 12}})";
  std::map<std::string, std::string> first;
  {
    auto c = Container::Open({app.app_dir(), app.data_dir(), false});
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    first = (*c)->app().sections;
  }
  ASSERT_EQ(first.count("launch_guard"), 1u);
  auto c = Container::Open({app.app_dir(), app.data_dir(), false});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->app().sections, first);
}

}  // namespace
}  // namespace atrium
