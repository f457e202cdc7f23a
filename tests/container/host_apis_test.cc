// Host APIs through a real container: the app.json "host_apis" grants and
// their located errors, the deny-by-default check (requested AND granted),
// and calls run where the registration says (a pool, the main loop), with
// every failure an error value: no such API, bad params, an unknown
// thread, an API that throws or answers something that is not JSON.
#include <gtest/gtest.h>
#include <pthread.h>

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>

#include "atrium/container.h"
#include "atrium/host_api.h"
#include "test_app.h"

namespace atrium::testing {
namespace {

using namespace std::chrono_literals;

// An API that records the thread it ran on and answers with `fn`.
class Api final : public HostApi {
 public:
  explicit Api(std::function<Result<std::string>(const HostApiCall&)> fn) : fn_(std::move(fn)) {}
  Result<std::string> Call(const HostApiCall& call) override {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof name);
    thread = name;
    return fn_(call);
  }
  std::string thread;

 private:
  std::function<Result<std::string>(const HostApiCall&)> fn_;
};

class HostApisTest : public ::testing::Test {
 protected:
  void Open(const std::string& grants =
                R"(, "host_apis": {"grants": {"h5:help": ["wallet.getBalance", "wallet.io",)"
                R"( "wallet.main", "wallet.boom", "wallet.text", "wallet.gpu", "wallet.none"]}})") {
    app_.SetExtraJson(grants);
    ContainerOptions options;
    options.app_dir = app_.app_dir();
    options.data_dir = app_.data_dir();
    auto c = Container::Open(options);
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    container_ = std::move(*c);
  }

  std::shared_ptr<Api> Register(const std::string& name, ServiceProperties props,
                                std::function<Result<std::string>(const HostApiCall&)> fn) {
    auto api = std::make_shared<Api>(std::move(fn));
    props["name"] = name;
    EXPECT_TRUE(container_->services().Register<HostApi>(api, std::move(props)).ok());
    return api;
  }

  // One call as caller h5:help with everything it asks for requested.
  Result<std::string> Call(const std::string& api, const std::string& params = "{}",
                           bool run_main_loop = false) {
    HostApiRequest request{"h5:help", api, params, {api}};
    auto promise = std::make_shared<std::promise<Result<std::string>>>();
    auto future = promise->get_future();
    container_->host_apis().Call(
        std::move(request), [promise](Result<std::string> r) { promise->set_value(std::move(r)); });
    if (run_main_loop) {
      container_->scheduler().RunMainLoopUntil(
          [&] { return future.wait_for(0s) == std::future_status::ready; }, 20s);
    }
    EXPECT_EQ(future.wait_for(20s), std::future_status::ready);
    return future.get();
  }

  TestApp app_{{"greeter"}, "greeter"};
  std::unique_ptr<Container> container_;
};

TEST_F(HostApisTest, GrantsAreValidatedWithTheirPointer) {
  struct Case {
    std::string section;
    std::string error;
  };
  const std::vector<Case> cases = {
      {R"({"grants": {"help": ["a.b"]}})",
       "/host_apis/grants/help: caller 'help' must be \"<layer>:<id>\" (\"h5:help\", "
       "\"hcf:bill-card\")"},
      {R"({"grants": {"h5:help": ["wallet"]}})",
       "/host_apis/grants/h5:help/0: host API name 'wallet' must be dot-separated identifiers "
       "(\"wallet.getBalance\")"},
      {R"({"grants": {"h5:help": ["a.b", "a.b"]}})",
       "/host_apis/grants/h5:help/1: host API 'a.b' is granted twice"},
      {R"({"grants": {"h5:help": "a.b"}})", "/host_apis/grants/h5:help: expected an array"},
      {R"({"grant": {}})", "/host_apis/grant: unknown field 'grant' (allowed: grants)"},
  };
  for (const Case& c : cases) {
    app_.SetExtraJson(", \"host_apis\": " + c.section);
    ContainerOptions options;
    options.app_dir = app_.app_dir();
    options.data_dir = app_.data_dir();
    auto opened = Container::Open(options);
    ASSERT_FALSE(opened.ok()) << c.section;
    EXPECT_NE(opened.error().ToString().find(c.error), std::string::npos)
        << opened.error().ToString();
  }
}

TEST_F(HostApisTest, DenyByDefaultNeedsTheRequestAndTheGrant) {
  ASSERT_NO_FATAL_FAILURE(Open());
  HostApis& apis = container_->host_apis();
  EXPECT_TRUE(apis.Check("h5:help", "wallet.getBalance", {"wallet.getBalance"}).ok());
  const Status not_requested = apis.Check("h5:help", "wallet.getBalance", {"wallet.other"});
  EXPECT_EQ(not_requested.error().code, ErrorCode::kPermission);
  EXPECT_EQ(not_requested.error().message,
            "permission denied: wallet.getBalance is not granted to h5:help (its manifest does "
            "not request it)");
  EXPECT_EQ(apis.Check("h5:wiki", "wallet.getBalance", {"wallet.getBalance"}).error().message,
            "permission denied: wallet.getBalance is not granted to h5:wiki (app.json "
            "\"host_apis\" does not grant it)");
  EXPECT_EQ(apis.Check("h5:help", "wallet.transfer", {"wallet.transfer"}).error().message,
            "permission denied: wallet.transfer is not granted to h5:help (app.json "
            "\"host_apis\" does not grant it)");
  auto promise = std::make_shared<std::promise<Result<std::string>>>();
  apis.Call({"h5:help", "wallet.transfer", "{}", {"wallet.transfer"}},
            [promise](Result<std::string> r) { promise->set_value(std::move(r)); });
  EXPECT_EQ(promise->get_future().get().error().code, ErrorCode::kPermission);
  EXPECT_EQ(apis.stats().refused, 1u);
  EXPECT_EQ(apis.stats().calls, 0u);
}

TEST_F(HostApisTest, CallsRunOnTheThreadTheirRegistrationNames) {
  ASSERT_NO_FATAL_FAILURE(Open());
  auto normal = Register("wallet.getBalance", {}, [](const HostApiCall& call) {
    EXPECT_EQ(call.params, R"({"currency":"EUR"})");
    return Result<std::string>(std::string(R"({"amount":1})"));
  });
  auto io = Register("wallet.io", {{"may_block", "true"}},
                     [](const HostApiCall&) { return Result<std::string>(std::string("1")); });
  auto main = Register("wallet.main", {{"thread", "main"}},
                       [](const HostApiCall&) { return Result<std::string>(std::string("2")); });
  auto r = Call("wallet.getBalance", R"({"currency":"EUR"})");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(*r, R"({"amount":1})");
  EXPECT_TRUE(normal->thread.starts_with("normal-")) << normal->thread;
  ASSERT_TRUE(Call("wallet.io").ok());
  EXPECT_TRUE(io->thread.starts_with("io-")) << io->thread;
  ASSERT_TRUE(Call("wallet.main", "{}", /*run_main_loop=*/true).ok());
  EXPECT_FALSE(main->thread.starts_with("normal-")) << main->thread;  // the loop's thread
  EXPECT_EQ(container_->host_apis().stats().calls, 3u);
}

TEST_F(HostApisTest, EveryFailureIsAnErrorValue) {
  ASSERT_NO_FATAL_FAILURE(Open());
  Register("wallet.boom", {},
           [](const HostApiCall&) -> Result<std::string> { throw std::runtime_error("kaboom"); });
  Register("wallet.text", {},
           [](const HostApiCall&) { return Result<std::string>(std::string("not json")); });
  Register("wallet.gpu", {{"thread", "gpu"}},
           [](const HostApiCall&) { return Result<std::string>(std::string("{}")); });
  Register("wallet.getBalance", {}, [](const HostApiCall&) -> Result<std::string> {
    return MakeError(ErrorCode::kState, "account locked");
  });
  auto expect = [&](const std::string& api, const std::string& params, ErrorCode code,
                    const std::string& message) {
    auto r = Call(api, params);
    ASSERT_FALSE(r.ok()) << api;
    EXPECT_EQ(r.error().code, code) << api;
    EXPECT_EQ(r.error().message, message);
  };
  expect("wallet.boom", "{}", ErrorCode::kInternal, "wallet.boom: threw: kaboom");
  expect("wallet.text", "{}", ErrorCode::kInternal, "wallet.text: answered text that is not JSON");
  expect("wallet.gpu", "{}", ErrorCode::kState,
         "wallet.gpu: its thread 'gpu': no pool 'gpu' (pools: main, urgent, normal, io, net, "
         "background)");
  expect("wallet.none", "{}", ErrorCode::kNotFound,
         "wallet.none: no bundle provides this host API");
  expect("wallet.getBalance", "[1]", ErrorCode::kInvalidArgument,
         "wallet.getBalance: params must be a JSON object");
  expect("wallet.getBalance", "{}", ErrorCode::kState, "wallet.getBalance: account locked");
  const HostApiStats stats = container_->host_apis().stats();
  EXPECT_EQ(stats.calls, 1u);  // the API's own error is an answer
  EXPECT_EQ(stats.failed, 5u);
}

TEST(HostApiNameTest, Grammar) {
  EXPECT_TRUE(IsHostApiName("wallet.getBalance"));
  EXPECT_TRUE(IsHostApiName("a.b_2.c"));
  EXPECT_FALSE(IsHostApiName("wallet"));
  EXPECT_FALSE(IsHostApiName("wallet."));
  EXPECT_FALSE(IsHostApiName(".wallet.x"));
  EXPECT_FALSE(IsHostApiName("Wallet.x"));
  EXPECT_FALSE(IsHostApiName("wallet.2x"));
  EXPECT_FALSE(IsHostApiName("wallet.get-balance"));
  EXPECT_FALSE(IsHostApiName("a." + std::string(127, 'b')));
}

}  // namespace
}  // namespace atrium::testing
