// The config layer in a real container: signed config_set packages
// installed through Container::InstallPackage, the values and sources
// readers see, key groups and activation, listeners on the main loop, the
// micro-app kill switch, fetch over a loopback HTTP server with throttling
// (injected clock), the offline launch, and hostile packages.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "atrium/container.h"
#include "atrium/dynamic/config.h"
#include "atrium/dynamic/config/testing.h"
#include "container/test_app.h"
#include "testing/package_fixture.h"

namespace atrium::testing {
namespace {

namespace fs = std::filesystem;

// An app with the consumer micro-app, a pinned key and a "config" section.
class ConfigApp {
 public:
  explicit ConfigApp(std::string config_section) : app_({"greeter", "consumer"}) {
    section_ = std::move(config_section);
    Write();
  }
  void Write() {
    std::ofstream(app_.app_dir() + "/app.json")
        << R"({"id": "com.test.app", "version": "1.4.0", "home": "consumer",)"
        << R"( "baseline": ["bundles/greeter", "bundles/consumer"],)"
        << R"( "release_keys": [")" << keys_.pub_hex << R"("], "config": )" << section_ << "}";
  }
  std::unique_ptr<Container> Open() {
    auto c = Container::Open({app_.app_dir(), app_.data_dir(), false});
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().ToString());
    return c.ok() ? std::move(c).value() : nullptr;
  }
  // A signed config_set package of `json` (written as config.json).
  std::string Pack(const std::string& name, const std::string& json) {
    const std::string dir = app_.root() + "/" + name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir + "/config.json") << json;
    return PackDir(dir, keys_, ArtifactKind::kConfigSet);
  }
  // The error packing `json` gives (the package format runs the layer's
  // validator when it packs and when it installs).
  std::string PackError(const std::string& name, const std::string& json) {
    const std::string dir = app_.root() + "/" + name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir + "/config.json") << json;
    PackOptions o;
    o.apps = {"*"};  // any app: this test is not about app scope
    o.kind = ArtifactKind::kConfigSet;
    o.secret_key = keys_.sec;
    auto packed = PackDirectory(dir, o, dir + ".atb");
    return packed.ok() ? "packed" : packed.error().ToString();
  }
  const TestApp& app() const { return app_; }

 private:
  TestApp app_;
  Keys keys_;
  std::string section_;
};

std::string SetJson(const std::string& version, const std::string& promo, int limit) {
  return R"({"id": "com.test.config", "version": ")" + version + R"(",
    "conditions": [{"name": "gold", "expression": "signal.tier == \"gold\""}],
    "parameters": {
      "app": {
        "promo.text": {"type": "string", "default": ")" +
         promo + R"("},
        "micro_app.consumer.enabled": {"type": "bool", "default": true,
          "values": [{"condition": "gold", "value": false}]},
        "micro_app.consumer.fallback_url": {"type": "string", "default": "https://help.example/c"}
      },
      "com.test.consumer": {
        "limit": {"type": "int", "default": )" +
         std::to_string(limit) + R"(,
          "values": [{"condition": "gold", "value": 999}]}
      }
    }})";
}

constexpr const char* kSection =
    R"({"set": "com.test.config", "defaults": {"support": "+1 555", "limit": 1},
        "groups": [{"prefix": "app/promo.", "activation": "immediate"},
                   {"prefix": "com.test.consumer/", "activation": "on_activate"}]})";

TEST(ConfigLayer, DefaultsThenStagedSetActiveAtTheNextLaunch) {
  ConfigApp app(kSection);
  {
    auto c = app.Open();
    ASSERT_NE(c, nullptr);
    auto remote = RemoteConfig::Of(*c);
    ASSERT_NE(remote, nullptr);
    EXPECT_EQ(remote->active_version(), "");
    EXPECT_EQ(remote->host().GetString("app/support", "?"), "+1 555");
    EXPECT_EQ(remote->host().Source("app/support"), "default (app.json)");
    EXPECT_EQ(remote->host().Source("app/nothing"), "static");
    EXPECT_EQ(remote->host().GetInt("app/nothing", 7), 7);
    // A bundle's view: its namespace and app/, never another bundle's.
    auto view = remote->ForBundle("com.test.consumer");
    ASSERT_TRUE(view.ok());
    EXPECT_EQ((*view)->GetInt("app/limit", 0), 1);
    EXPECT_EQ((*view)->GetInt("limit", 5), 5);
    EXPECT_EQ((*view)->Source("com.test.greeter/x"),
              "refused: another bundle's namespace (a bundle reads its own and app/)");

    auto r = c->InstallPackage(app.Pack("v1", SetJson("1.0.0", "winter", 100)), InstallAs::kStaged);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    // The immediate group (app/promo.) took it now; the consumer's keys wait
    // for Activate(), the rest for the next launch.
    EXPECT_EQ(remote->host().GetString("app/promo.text", ""), "winter");
    EXPECT_EQ(remote->host().Source("app/promo.text"), "remote 1.0.0 default");
    EXPECT_EQ((*view)->GetInt("limit", 5), 5);
    auto changes = remote->Activate();
    ASSERT_TRUE(changes.ok());
    ASSERT_EQ(changes->size(), 1u);
    EXPECT_EQ((*changes)[0].key, "com.test.consumer/limit");
    EXPECT_EQ((*changes)[0].new_value, "100");
    EXPECT_EQ((*view)->GetInt("limit", 5), 100);
    // next_launch keys (the kill switch) still read the launch's values.
    EXPECT_EQ(remote->host().Source("app/micro_app.consumer.fallback_url"), "static");
  }
  auto c = app.Open();
  auto remote = RemoteConfig::Of(*c);
  EXPECT_EQ(remote->active_version(), "1.0.0");
  EXPECT_EQ(remote->host().GetString("app/micro_app.consumer.fallback_url", ""),
            "https://help.example/c");
  EXPECT_EQ(remote->host().GetInt("com.test.consumer/limit", 0), 100);
}

TEST(ConfigLayer, ListenersRunOnTheMainLoopInOrder) {
  ConfigApp app(kSection);
  auto c = app.Open();
  auto remote = RemoteConfig::Of(*c);
  std::vector<std::string> seen;
  ASSERT_TRUE(remote->host()
                  .AddListener("app/promo.",
                               [&](const std::vector<ConfigChange>& changes) {
                                 EXPECT_TRUE(c->scheduler().IsMainThread());
                                 for (const auto& ch : changes) {
                                   seen.push_back("a " + ch.key + " '" + ch.old_value + "' -> '" +
                                                  ch.new_value + "' " + ch.source);
                                 }
                               })
                  .ok());
  ASSERT_TRUE(remote->host()
                  .AddListener("",
                               [&](const std::vector<ConfigChange>& changes) {
                                 seen.push_back("b " + std::to_string(changes.size()));
                               })
                  .ok());
  ASSERT_TRUE(c->InstallPackage(app.Pack("v1", SetJson("1.0.0", "one", 1))).ok());
  ASSERT_TRUE(c->InstallPackage(app.Pack("v2", SetJson("2.0.0", "two", 2))).ok());
  EXPECT_TRUE(seen.empty());  // nothing runs off the main loop
  ASSERT_TRUE(
      c->scheduler().RunMainLoopUntil([&] { return seen.size() == 4; }, std::chrono::seconds(30)));
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "a app/promo.text '' -> 'one' remote 1.0.0 default", "b 1",
                      "a app/promo.text 'one' -> 'two' remote 2.0.0 default", "b 1"}));
}

TEST(ConfigLayer, ABundlesListenersGoWhenItStops) {
  ConfigApp app(R"({"set": "com.test.config", "activation": "immediate"})");
  auto c = app.Open();
  auto remote = RemoteConfig::Of(*c);
  ASSERT_TRUE(c->Load("com.test.consumer").ok());
  auto view = remote->ForBundle("com.test.consumer");
  ASSERT_TRUE(view.ok());
  int bundle_calls = 0;
  int host_calls = 0;
  ASSERT_TRUE((*view)->AddListener("limit", [&](const auto&) { ++bundle_calls; }).ok());
  ASSERT_TRUE(c->Stop("com.test.consumer").ok());
  // Added after the bundle's: it would run after the bundle's listener.
  ASSERT_TRUE(remote->host().AddListener("", [&](const auto&) { ++host_calls; }).ok());
  ASSERT_TRUE(c->InstallPackage(app.Pack("v1", SetJson("1.0.0", "x", 7))).ok());
  EXPECT_EQ(remote->host().GetInt("com.test.consumer/limit", 0), 7);
  ASSERT_TRUE(
      c->scheduler().RunMainLoopUntil([&] { return host_calls == 1; }, std::chrono::seconds(30)));
  EXPECT_EQ(bundle_calls, 0);
}

TEST(ConfigLayer, KillSwitchRefusesTheMicroAppWithItsFallback) {
  ConfigApp app(kSection);
  {
    auto c = app.Open();
    auto remote = RemoteConfig::Of(*c);
    ASSERT_TRUE(remote->SetSignal("tier", "gold").ok());
    ASSERT_TRUE(c->InstallPackage(app.Pack("v1", SetJson("1.0.0", "x", 1))).ok());
    EXPECT_TRUE(c->router().Launch("consumer").ok());  // next_launch: not yet
  }
  auto c = app.Open();
  Status s = c->router().Launch("consumer");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kState);
  EXPECT_EQ(s.error().message,
            "micro-app 'consumer' is switched off by remote config "
            "(app/micro_app.consumer.enabled = false, remote 1.0.0 condition \"gold\"); its "
            "fallback: https://help.example/c");
  // Its bundle was not loaded for it.
  EXPECT_EQ(c->Bundle("com.test.consumer")->state, BundleState::kResolved);
}

TEST(ConfigLayer, HostileSetsAreRefusedAndTheActiveSetStays) {
  ConfigApp app(kSection);
  {
    auto c = app.Open();
    ASSERT_TRUE(c->InstallPackage(app.Pack("v1", SetJson("1.0.0", "good", 1))).ok());
  }
  auto c = app.Open();
  auto remote = RemoteConfig::Of(*c);
  // A set whose condition does not parse: refused with file, pointer and column.
  std::string bad = SetJson("2.0.0", "bad", 2);
  bad.replace(bad.find("signal.tier =="), 14, "signal.tier ~~");
  std::string error = app.PackError("bad", bad);
  EXPECT_NE(error.find("config.json:/conditions/0/expression"), std::string::npos) << error;
  EXPECT_NE(error.find("condition \"gold\": column 13"), std::string::npos) << error;
  // Tampered bytes: the signature check refuses it.
  const std::string pkg = app.Pack("v3", SetJson("3.0.0", "evil", 3));
  {
    std::fstream f(pkg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-5, std::ios::end);
    f.put('X');
  }
  EXPECT_FALSE(c->InstallPackage(pkg).ok());
  // A wrong type for a parameter.
  std::string typed = SetJson("4.0.0", "x", 4);
  typed.replace(typed.find("\"default\": 4"), 12, "\"default\": \"4\"");
  error = app.PackError("typed", typed);
  EXPECT_NE(error.find("config.json:/parameters/com.test.consumer/limit/default: expected an "
                       "integer (the parameter's type), got a string"),
            std::string::npos)
      << error;
  // Not a package at all.
  std::ofstream(app.app().root() + "/junk.atb") << "not a package";
  EXPECT_FALSE(c->InstallPackage(app.app().root() + "/junk.atb").ok());
  EXPECT_EQ(remote->host().GetString("app/promo.text", ""), "good");
  EXPECT_EQ(remote->active_version(), "1.0.0");
}

// A loopback HTTP server answering every GET with the next canned response.
class CannedServer {
 public:
  CannedServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~CannedServer() { Close(); }
  int port() const { return port_; }
  // Serves one request with `status` and `body` on a thread; Join waits.
  void ServeOne(int status, std::string body) {
    thread_ = std::thread([this, status, body = std::move(body)] {
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      char buf[4096];
      std::string request;
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(client, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      const std::string head = "HTTP/1.1 " + std::to_string(status) +
                               " X\r\nContent-Length: " + std::to_string(body.size()) +
                               "\r\nConnection: close\r\n\r\n";
      (void)!::write(client, head.data(), head.size());
      (void)!::write(client, body.data(), body.size());
      ::close(client);
    });
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  void Close() {
    Join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(ConfigLayer, FetchThrottlesAndTheLaunchWorksOffline) {
  CannedServer server;
  const std::string section = R"({"set": "com.test.config", "min_fetch_interval_s": 3600,
      "fetch_url": "http://127.0.0.1:)" +
                              std::to_string(server.port()) + R"(/config.atb"})";
  ConfigApp app(section);
  internal::FakeClock clock(1'800'000'000'000);
  config::SetConfigClockForTesting(&clock);
  {
    auto c = app.Open();
    auto remote = RemoteConfig::Of(*c);
    server.ServeOne(200, ReadAll(app.Pack("v1", SetJson("1.0.0", "fetched", 1))));
    auto fetched = remote->Fetch();
    server.Join();
    ASSERT_TRUE(fetched.ok()) << fetched.error().ToString();
    EXPECT_TRUE(fetched->staged);
    EXPECT_EQ(fetched->version, "1.0.0");
    // Within the interval: refused, saying when the next may go.
    auto again = remote->Fetch();
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().message,
              "config fetch throttled: the minimum interval (app.json "
              "/config/min_fetch_interval_s = 3600) has not passed; the next fetch may go at "
              "unix ms 1800003600000 (in 3600 s)");
    EXPECT_EQ(remote->next_fetch_allowed_ms(), 1'800'003'600'000);
    // After it, a throttling answer starts a back-off.
    clock.AdvanceMs(3'600'000);
    server.ServeOne(429, "slow down");
    auto throttled = remote->Fetch();
    server.Join();
    ASSERT_FALSE(throttled.ok());
    EXPECT_EQ(throttled.error().code, ErrorCode::kState);
    EXPECT_EQ(
        throttled.error().message.rfind("config fetch throttled: the server answered HTTP 429", 0),
        0u)
        << throttled.error().message;
    const int64_t until = remote->next_fetch_allowed_ms();
    EXPECT_GE(until, clock.NowUnixMs() + 60'000);  // [d/2, 1.5d) of d = 2 min
    EXPECT_LT(until, clock.NowUnixMs() + 180'000);
    clock.AdvanceMs(30'000);
    auto during = remote->Fetch();
    ASSERT_FALSE(during.ok());
    EXPECT_NE(during.error().message.find("the server asked to back off after 1 throttled"),
              std::string::npos)
        << during.error().message;
  }
  server.Close();  // the server is gone
  auto c = app.Open();
  auto remote = RemoteConfig::Of(*c);
  EXPECT_EQ(remote->active_version(), "1.0.0");
  EXPECT_EQ(remote->host().GetString("app/promo.text", ""), "fetched");
  config::SetConfigClockForTesting(nullptr);
}

// SIGKILL while sets are being installed and activated: afterwards exactly
// one set is active, and every value comes whole from it.
TEST(ConfigLayer, AKillDuringActivationLeavesExactlyOneSet) {
  ConfigApp app(R"({"set": "com.test.config", "activation": "immediate"})");
  std::vector<std::string> packages;
  for (int v = 1; v <= 40; ++v) {
    packages.push_back(app.Pack("v" + std::to_string(v),
                                SetJson(std::to_string(v) + ".0.0", "p" + std::to_string(v), v)));
  }
  { ASSERT_NE(app.Open(), nullptr); }
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    auto c = Container::Open({app.app().app_dir(), app.app().data_dir(), false});
    if (!c.ok()) ::_exit(90);
    for (size_t i = 0; i < packages.size(); ++i) {
      if (!(*c)->InstallPackage(packages[i], InstallAs::kActive).ok()) ::_exit(91);
      if (i == 0) (void)!::write(pipe_fds[1], "x", 1);  // the parent kills from now on
    }
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  char byte = 0;
  ASSERT_EQ(::read(pipe_fds[0], &byte, 1), 1);
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ::close(pipe_fds[0]);

  auto c = app.Open();
  ASSERT_NE(c, nullptr);
  auto remote = RemoteConfig::Of(*c);
  const std::string version = remote->active_version();
  ASSERT_FALSE(version.empty());
  const std::string n = version.substr(0, version.find('.'));
  EXPECT_EQ(remote->host().GetString("app/promo.text", ""), "p" + n);
  EXPECT_EQ(remote->host().Source("app/promo.text"), "remote " + version + " default");
  EXPECT_EQ(remote->host().GetInt("com.test.consumer/limit", 0), std::stoi(n));
  EXPECT_EQ(remote->host().Source("com.test.consumer/limit"), "remote " + version + " default");
  int active = 0;
  auto records = c->artifacts().List();
  ASSERT_TRUE(records.ok());
  for (const ArtifactRecord& r : *records) {
    active += r.kind == ArtifactKind::kConfigSet && r.state == ArtifactState::kActive;
  }
  EXPECT_EQ(active, 1);
}

}  // namespace
}  // namespace atrium::testing
