// The H5 server's native events (AtriumBridge.on: a long poll per page) and
// the expiry of launch codes, with the clock injected and stepped: requests
// go through HandleForTesting, the server's own routing, on the test's
// thread, so when a poll is answered is exact. The browser's side of the
// events is in h5_page_test (real Chromium).
#include "h5_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "atrium/base/clock.h"
#include "atrium/host_api.h"

namespace atrium::h5 {
namespace {

namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;

const std::string kToken(64, 'a');
const std::string kCode(64, 'b');

// Grants nothing; the events need no host API.
class NoHostApis final : public HostApis {
 public:
  void Call(HostApiRequest, std::function<void(Result<std::string>)> done) override {
    done(MakeError(ErrorCode::kPermission, "permission denied"));
  }
  Status Check(std::string_view, std::string_view, const std::vector<std::string>&) const override {
    return MakeError(ErrorCode::kPermission, "permission denied");
  }
  HostApiStats stats() const override { return {}; }
};

// What a handled request answered; nullopt while it is held.
struct Answered {
  std::optional<int> status;
  std::string body;
};

class H5ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atrium-h5-server-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ + "/www");
    std::ofstream(root_ + "/www/index.html") << "<!doctype html><p>help</p>";
    H5ServerOptions options;
    options.host_apis = &apis_;
    options.clock = &clock_;
    options.run_on = [](std::function<void()>) { return true; };  // requests come in directly
    auto started = H5Server::Start(std::move(options));
    ASSERT_TRUE(started.ok()) << started.error().ToString();
    server_ = std::move(*started);
    port_ = std::to_string(server_->port());
  }

  void TearDown() override {
    server_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  PageSession Session(const std::string& app = "help") {
    PageSession s;
    s.app_id = app;
    s.version = "1.0.0";
    s.www_real = fs::canonical(root_ + "/www").string();
    s.entry = "index.html";
    s.csp = "default-src 'self'";
    return s;
  }

  std::string Host(const std::string& app = "help") { return app + ".localhost:" + port_; }

  http::Request Post(const std::string& target, const std::string& body,
                     const std::string& token = kToken, const std::string& app = "help") {
    http::Request req{bhttp::verb::post, target, 11};
    req.set(bhttp::field::host, Host(app));
    req.set(bhttp::field::origin, "http://" + Host(app));
    req.set(bhttp::field::cookie, "atrium_session=" + token);
    req.set("X-Atrium-Bridge", "1");
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    return req;
  }

  // Handles `req`; the result fills in when the server answers.
  std::shared_ptr<Answered> Handle(http::Request req) {
    auto out = std::make_shared<Answered>();
    server_->HandleForTesting(req, [out](http::Reply reply) {
      EXPECT_FALSE(out->status.has_value()) << "answered twice";
      out->status = http::ReplyStatus(reply);
      if (auto* s = std::get_if<bhttp::response<bhttp::string_body>>(&reply)) out->body = s->body();
    });
    return out;
  }
  std::shared_ptr<Answered> Poll(const std::string& body, const std::string& token = kToken) {
    return Handle(Post("/__atrium/events", body, token));
  }

  NoHostApis apis_;
  internal::FakeClock clock_;
  std::string root_;
  std::unique_ptr<H5Server> server_;
  std::string port_;
};

TEST_F(H5ServerTest, AHeldPollIsAnsweredByTheNextEventAndTheCursorCatchesUp) {
  server_->AddSessionForTesting(Session(), kToken, kCode);
  auto first = Poll("{}");
  EXPECT_FALSE(first->status.has_value());  // held: nothing was emitted since the page opened
  auto sent = server_->Emit("help", "wallet.balance", R"({"amount": 12.5})");
  ASSERT_TRUE(sent.ok()) << sent.error().ToString();
  EXPECT_EQ(*sent, 1u);  // one page load of help is open
  ASSERT_TRUE(first->status.has_value());
  EXPECT_EQ(*first->status, 200);
  EXPECT_EQ(first->body,
            R"({"events":[{"event":"wallet.balance","data":{"amount":1.25E1}}],"next":1,)"
            R"("missed":0})");
  // Two events while the page handles the first: its next poll gets both.
  ASSERT_TRUE(server_->Emit("help", "bills", "[1,2]").ok());
  ASSERT_TRUE(server_->Emit("help", "bills", "null").ok());
  auto second = Poll(R"({"after": 1})");
  ASSERT_TRUE(second->status.has_value());
  EXPECT_EQ(second->body,
            R"({"events":[{"event":"bills","data":[1,2]},{"event":"bills","data":null}],)"
            R"("next":3,"missed":0})");
  auto third = Poll(R"({"after": 3})");
  EXPECT_FALSE(third->status.has_value());
  EXPECT_EQ(server_->stats().events, 3u);
  EXPECT_EQ(server_->stats().polls, 2u);
}

TEST_F(H5ServerTest, AHeldPollEndsEmptyWhenTheClockPassesItsHold) {
  server_->AddSessionForTesting(Session(), kToken, kCode);
  auto poll = Poll("{}");
  clock_.AdvanceMs(kPollHoldMs - 1);
  server_->ExpireHeldPolls();
  EXPECT_FALSE(poll->status.has_value());
  clock_.AdvanceMs(1);
  server_->ExpireHeldPolls();
  ASSERT_TRUE(poll->status.has_value());
  EXPECT_EQ(*poll->status, 200);
  EXPECT_EQ(poll->body, R"({"events":[],"next":0,"missed":0})");
}

TEST_F(H5ServerTest, APageFarBehindGetsTheKeptEventsAndHowManyItMissed) {
  server_->AddSessionForTesting(Session(), kToken, kCode);
  for (int i = 1; i <= 70; ++i) {
    ASSERT_TRUE(server_->Emit("help", "tick", std::to_string(i)).ok());
  }
  auto poll = Poll(R"({"after": 0})");
  ASSERT_TRUE(poll->status.has_value());
  std::string expected = R"({"events":[)";
  for (int i = 7; i <= 70; ++i) {
    expected +=
        std::string(i > 7 ? "," : "") + R"({"event":"tick","data":)" + std::to_string(i) + "}";
  }
  expected += R"(],"next":70,"missed":6})";
  EXPECT_EQ(poll->body, expected);
}

TEST_F(H5ServerTest, APageOpenedAfterAnEventDoesNotGetIt) {
  server_->AddSessionForTesting(Session(), kToken, kCode);
  ASSERT_TRUE(server_->Emit("help", "old", "1").ok());
  const std::string later(64, 'c');
  server_->AddSessionForTesting(Session(), later, std::string(64, 'd'));
  // Nor by asking for it: a cursor before the page load opened is refused.
  auto replay = Poll(R"({"after": 0})", later);
  ASSERT_TRUE(replay->status.has_value());
  EXPECT_EQ(*replay->status, 400);
  EXPECT_EQ(replay->body,
            R"x({"error":"event cursor 0 is before this page load opened (event 1)",)x"
            R"x("code":"invalid_argument"})x");
  auto poll = Poll("{}", later);
  EXPECT_FALSE(poll->status.has_value());
  ASSERT_TRUE(server_->Emit("help", "new", "2").ok());
  ASSERT_TRUE(poll->status.has_value());
  EXPECT_EQ(poll->body, R"({"events":[{"event":"new","data":2}],"next":2,"missed":0})");
}

// A document holds one poll: polling again (after its connection was lost)
// ends the older one. Other documents of the page load (frames) hold their
// own, up to kMaxPollsPerSession; one more is refused with 429 (and held
// nowhere), so no document's poll pushes another's out.
TEST_F(H5ServerTest, EachDocumentHoldsOnePollAndAPageLoadAtMostEight) {
  server_->AddSessionForTesting(Session(), kToken, kCode);
  auto first = Poll(R"({"page": "doc-0"})");
  auto again = Poll(R"({"page": "doc-0"})");
  ASSERT_TRUE(first->status.has_value());
  EXPECT_EQ(first->body, R"({"events":[],"next":0,"missed":0})");
  EXPECT_FALSE(again->status.has_value());
  std::vector<std::shared_ptr<Answered>> frames;
  for (size_t i = 1; i < kMaxPollsPerSession; ++i) {
    frames.push_back(Poll(R"({"page": "doc-)" + std::to_string(i) + R"("})"));
    EXPECT_FALSE(frames.back()->status.has_value()) << i;
  }
  EXPECT_FALSE(again->status.has_value());
  auto extra = Poll(R"({"page": "doc-extra"})");
  ASSERT_TRUE(extra->status.has_value());
  EXPECT_EQ(*extra->status, 429);
  EXPECT_EQ(extra->body,
            R"x({"error":"too many documents of this page load listen for events (8)",)x"
            R"x("code":"unavailable"})x");
  // One event answers every held document.
  ASSERT_TRUE(server_->Emit("help", "e", "1").ok());
  EXPECT_TRUE(again->status.has_value());
  for (const auto& f : frames) EXPECT_TRUE(f->status.has_value());
}

// However many polls are held, one expiry timer is pending: armed for the
// earliest deadline, re-armed for the next one when it fires.
TEST_F(H5ServerTest, OneTimerExpiresEveryHeldPoll) {
  struct Posted {
    std::function<void()> run;
    int64_t delay_ms;
  };
  std::vector<Posted> posted;
  H5ServerOptions options;
  options.host_apis = &apis_;
  options.clock = &clock_;
  options.run_on = [](std::function<void()>) { return true; };
  options.post_delayed = [&](std::function<void()> run, int64_t delay_ms) {
    posted.push_back({std::move(run), delay_ms});
    return true;
  };
  auto started = H5Server::Start(std::move(options));
  ASSERT_TRUE(started.ok()) << started.error().ToString();
  server_ = std::move(*started);
  port_ = std::to_string(server_->port());
  server_->AddSessionForTesting(Session(), kToken, kCode);
  std::vector<std::shared_ptr<Answered>> early;
  for (int i = 0; i < 3; ++i) early.push_back(Poll(R"({"page": "e)" + std::to_string(i) + R"("})"));
  ASSERT_EQ(posted.size(), 1u);
  EXPECT_EQ(posted[0].delay_ms, kPollHoldMs);
  clock_.AdvanceMs(10'000);
  auto late = Poll(R"({"page": "late"})");
  ASSERT_EQ(posted.size(), 1u);  // armed already
  clock_.AdvanceMs(kPollHoldMs - 10'000);
  posted[0].run();
  for (const auto& e : early) EXPECT_TRUE(e->status.has_value());
  EXPECT_FALSE(late->status.has_value());
  ASSERT_EQ(posted.size(), 2u);  // re-armed for the late one
  EXPECT_EQ(posted[1].delay_ms, 10'000);
  clock_.AdvanceMs(10'000);
  posted[1].run();
  EXPECT_TRUE(late->status.has_value());
  EXPECT_EQ(posted.size(), 2u);  // nothing held: not re-armed
}

TEST_F(H5ServerTest, PollsAreRefusedLikeBridgeCalls) {
  server_->AddSessionForTesting(Session(), kToken, kCode);
  server_->AddSessionForTesting(Session("wiki"), std::string(64, 'e'), std::string(64, 'f'));
  auto expect = [&](http::Request req, int status, const std::string& body) {
    auto got = Handle(std::move(req));
    ASSERT_TRUE(got->status.has_value()) << body;
    EXPECT_EQ(*got->status, status) << got->body;
    EXPECT_EQ(got->body, body);
  };
  auto evil = Post("/__atrium/events", "{}");
  evil.set(bhttp::field::origin, "http://evil.localhost:" + port_);
  expect(evil, 403,
         R"({"error":"permission denied: the call does not come from the origin of h5:help",)"
         R"("code":"permission"})");
  auto bare = Post("/__atrium/events", "{}");
  bare.erase("X-Atrium-Bridge");
  expect(bare, 403,
         R"({"error":"permission denied: a bridge call carries X-Atrium-Bridge: 1",)"
         R"("code":"permission"})");
  expect(Post("/__atrium/events", "{}", std::string(64, '0')), 403,
         R"({"error":"permission denied: no live page-load session of h5:help",)"
         R"("code":"permission"})");
  // wiki's session on help's origin.
  expect(Post("/__atrium/events", "{}", std::string(64, 'e')), 403,
         R"({"error":"permission denied: no live page-load session of h5:help",)"
         R"("code":"permission"})");
  expect(Post("/__atrium/events", "[]"), 400,
         R"({"error":"a bridge request's body is a JSON object","code":"invalid_argument"})");
  const std::string shape =
      R"x({"error":"an event poll is {\"after\": N, \"page\": id} (N the \"next\" of the )x"
      R"x(last answer, omitted the first time; id the document's own, [0-9a-z-]{1,40})",)x"
      R"x("code":"invalid_argument"})x";
  expect(Post("/__atrium/events", R"({"after": -1})"), 400, shape);
  expect(Post("/__atrium/events", R"({"after": "1"})"), 400, shape);
  expect(Post("/__atrium/events", R"({"after": 0, "more": 1})"), 400, shape);
  expect(Post("/__atrium/events", R"({"page": "UPPER"})"), 400, shape);
  expect(Post("/__atrium/events", R"({"page": ""})"), 400, shape);
  expect(Post("/__atrium/events", R"({"page": 7})"), 400, shape);
  expect(Post("/__atrium/events", "{\"page\": \"" + std::string(41, 'a') + "\"}"), 400, shape);
  expect(Post("/__atrium/events", R"({"after": 5})"), 400,
         R"({"error":"event cursor 5 is ahead of the app's last event 0",)"
         R"("code":"invalid_argument"})");
  http::Request get{bhttp::verb::get, "/__atrium/events", 11};
  get.set(bhttp::field::host, Host());
  auto got = Handle(get);
  ASSERT_TRUE(got->status.has_value());
  EXPECT_EQ(*got->status, 405);
  EXPECT_EQ(server_->stats().polls, 0u);
}

TEST_F(H5ServerTest, EmitRefusesBadNamesAndDataAndReachesOnlyOpenedApps) {
  for (const std::string& name : {std::string(), std::string("a b"), std::string(65, 'e'),
                                  std::string("<script>"), std::string("x\n")}) {
    auto r = server_->Emit("help", name, "1");
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("is not [A-Za-z0-9_.:-], 1 to 64 characters"),
              std::string::npos)
        << r.error().message;
  }
  auto bad = server_->Emit("help", "e", "{\"a\":");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind("event e: its data is not JSON: ", 0), 0u)
      << bad.error().message;
  auto big = server_->Emit("help", "e", "\"" + std::string(kMaxEventBytes - 1, 'x') + "\"");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().message,
            "event e: 16385 bytes of data, over the limit of " + std::to_string(kMaxEventBytes));
  EXPECT_TRUE(server_->Emit("help", "e", "\"" + std::string(kMaxEventBytes - 2, 'x') + "\"").ok());
  // An app no page of which was opened: nobody to tell, nothing kept.
  auto none = server_->Emit("help", "e", "1");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
  server_->AddSessionForTesting(Session(), kToken, kCode);
  EXPECT_FALSE(Poll("{}")->status.has_value());
  EXPECT_EQ(server_->stats().events, 0u);
}

TEST_F(H5ServerTest, StopEndsHeldPollsAndLaterPollsAreRefused) {
  server_->AddSessionForTesting(Session(), kToken, kCode);
  auto held = Poll("{}");
  server_->Stop();
  EXPECT_FALSE(held->status.has_value());  // its connection is closed with the server
  auto after = Poll("{}");
  ASSERT_TRUE(after->status.has_value());
  EXPECT_EQ(*after->status, 503);
  auto sent = server_->Emit("help", "e", "1");
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(*sent, 0u);  // no page can get it
}

TEST_F(H5ServerTest, ALaunchCodeIsGoodForItsTtlOnly) {
  auto entry = [&](const std::string& code) {
    http::Request req{bhttp::verb::get, "/index.html?__atrium_launch=" + code, 11};
    req.set(bhttp::field::host, Host());
    return Handle(req);
  };
  server_->AddSessionForTesting(Session(), kToken, kCode);
  clock_.AdvanceMs(kLaunchCodeTtlMs);
  auto in_time = entry(kCode);
  ASSERT_TRUE(in_time->status.has_value());
  EXPECT_EQ(*in_time->status, 200);

  const std::string late(64, 'd');
  server_->AddSessionForTesting(Session(), std::string(64, 'c'), late);
  clock_.AdvanceMs(kLaunchCodeTtlMs + 1);
  auto expired = entry(late);
  ASSERT_TRUE(expired->status.has_value());
  EXPECT_EQ(*expired->status, 403);
  EXPECT_EQ(expired->body,
            "the launch code of this page of h5 app 'help' expired: open the page through "
            "Atrium again");
  // Spent: presenting it again is an unknown code.
  auto again = entry(late);
  ASSERT_TRUE(again->status.has_value());
  EXPECT_EQ(again->body, "no page-load session of h5 app 'help': open its pages through Atrium");
}

}  // namespace
}  // namespace atrium::h5
