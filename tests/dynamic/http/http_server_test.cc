// The HTTP server core (dynamic/http) with a handler of the test's own on
// port 0 and raw clients: answers given later from another thread, a
// handler that never answers (500), one that is too slow (503), request
// bodies within and over the limit, runners lent by the owner, an answer
// given after Stop. What serving files adds is tested through `atrium
// serve` (static_server_test) and the H5 layer.
#include "atrium/dynamic/http/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "atrium/dynamic/http/file_request.h"
#include "testing/raw_http_client.h"

namespace atrium::testing {
namespace {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;

std::string Body(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

std::unique_ptr<http::HttpServer> StartServer(http::HttpServerOptions options) {
  auto server = http::HttpServer::Start(std::move(options));
  EXPECT_TRUE(server.ok()) << server.error().ToString();
  return server.ok() ? std::move(*server) : nullptr;
}

// A handler that keeps the answer of the last request unanswered until the
// test takes it.
class HeldAnswer {
 public:
  http::Handler Handler() {
    return [this](http::Request&, http::Answer answer) {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = std::move(answer);
      cv_.notify_all();
    };
  }
  http::Answer Take() {
    std::unique_lock<std::mutex> lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, kRawClientBound, [&] { return held_ != nullptr; }));
    return std::move(held_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  http::Answer held_;
};

TEST(HttpServerTest, HandlerAnswersNowOrLaterFromAnotherThread) {
  std::vector<std::thread> late;
  std::mutex mu;
  http::HttpServerOptions options;
  options.handler = [&](http::Request& req, http::Answer answer) {
    if (req.target() == "/now") {
      answer(http::TextReply(bhttp::status::ok, req, "now", "text/plain"));
      answer(http::TextReply(bhttp::status::ok, req, "twice", "text/plain"));  // ignored
      return;
    }
    std::lock_guard<std::mutex> lock(mu);
    late.emplace_back([answer = std::move(answer), version = req.version()] {
      http::Request copy;
      copy.version(version);
      answer(http::TextReply(bhttp::status::accepted, copy, "later", "text/plain"));
    });
  };
  auto server = StartServer(std::move(options));
  ASSERT_NE(server, nullptr);
  const std::string now = Exchange(server->port(), "GET", "/now");
  EXPECT_EQ(StatusOf(now), 200);
  EXPECT_EQ(Body(now), "now");
  const std::string later = Exchange(server->port(), "GET", "/later");
  EXPECT_EQ(StatusOf(later), 202);
  EXPECT_EQ(Body(later), "later");
  ASSERT_TRUE(server->WaitForRequests(2, kRawClientBound));
  for (std::thread& t : late) t.join();
  const auto log = server->TakeLog();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].host, "test");
  EXPECT_EQ(log[1].status, 202);
  EXPECT_EQ(log[1].body_bytes, 5u);
}

// A HEAD answer carries the GET answer's header and no body, so the next
// response on the connection is read as a response.
TEST(HttpServerTest, HeadAnswersHaveNoBody) {
  http::HttpServerOptions options;
  options.handler = [](http::Request& req, http::Answer answer) {
    answer(http::TextReply(bhttp::status::ok, req, "hello", "text/plain"));
  };
  auto server = StartServer(std::move(options));
  ASSERT_NE(server, nullptr);
  RawClient client(server->port());
  client.Send(
      "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\nConnection: "
      "close\r\n\r\n");
  const std::string both = client.ReadToClose();
  const size_t second = both.find("HTTP/1.1 200", 1);
  ASSERT_NE(second, std::string::npos) << both;
  const std::string head = both.substr(0, second);
  EXPECT_NE(head.find("Content-Length: 5\r\n"), std::string::npos) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;
  EXPECT_EQ(Body(both.substr(second)), "hello");
}

TEST(HttpServerTest, UnansweredIs500AndThrowingIs500) {
  http::HttpServerOptions options;
  options.handler = [](http::Request& req, http::Answer) {
    if (req.target() == "/throw") throw std::runtime_error("handler bug");
  };
  auto server = StartServer(std::move(options));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(StatusOf(Exchange(server->port(), "GET", "/drop")), 500);
  EXPECT_EQ(StatusOf(Exchange(server->port(), "GET", "/throw")), 500);
  // The server goes on.
  EXPECT_EQ(server->stats().responses_5xx, 2u);
}

TEST(HttpServerTest, SlowHandlerGets503AndItsLateAnswerIsDropped) {
  HeldAnswer held;
  http::HttpServerOptions options;
  options.handler_timeout_ms = 50;
  options.handler = held.Handler();
  auto server = StartServer(std::move(options));
  ASSERT_NE(server, nullptr);
  RawClient client(server->port());
  client.Send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
  bool timed_out = false;
  const std::string response = client.ReadToClose(&timed_out);  // 503 closes the connection
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(StatusOf(response), 503);
  http::Answer late = held.Take();
  ASSERT_NE(late, nullptr);
  http::Request req;
  late(http::TextReply(bhttp::status::ok, req, "too late", "text/plain"));
  EXPECT_EQ(server->stats().requests, 1u);
}

TEST(HttpServerTest, BodiesUpToTheLimitReachTheHandler) {
  http::HttpServerOptions options;
  options.body_limit = 10;
  options.handler = [](http::Request& req, http::Answer answer) {
    answer(http::TextReply(bhttp::status::ok, req, "got " + req.body(), "text/plain"));
  };
  auto server = StartServer(std::move(options));
  ASSERT_NE(server, nullptr);
  const std::string ok =
      Exchange(server->port(), "POST", "/b", "Content-Length: 10\r\n\r\n0123456789");
  EXPECT_EQ(Body(ok), "got 0123456789");
  EXPECT_EQ(
      StatusOf(Exchange(server->port(), "POST", "/b", "Content-Length: 11\r\n\r\n0123456789a")),
      413);
  EXPECT_EQ(StatusOf(Exchange(server->port(), "POST", "/b",
                              "Transfer-Encoding: chunked\r\n\r\nb\r\n0123456789a\r\n0\r\n\r\n")),
            413);
  const std::string big_header = "X-Big: " + std::string(9000, 'x') + "\r\n";
  EXPECT_EQ(StatusOf(Exchange(server->port(), "GET", "/b", big_header)), 431);
}

TEST(HttpServerTest, RunsOnRunnersItsOwnerLends) {
  std::vector<std::thread> lent;
  http::HttpServerOptions options;
  options.threads = 3;
  options.run_on = [&](std::function<void()> run) {
    lent.emplace_back(std::move(run));
    return true;
  };
  std::atomic<int> answered{0};
  options.handler = [&](http::Request& req, http::Answer answer) {
    ++answered;
    answer(http::EmptyReply(bhttp::status::no_content, req));
  };
  auto server = StartServer(std::move(options));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(lent.size(), 3u);
  EXPECT_EQ(StatusOf(Exchange(server->port(), "GET", "/x")), 204);
  server->Stop();  // returns once every lent runner has returned
  for (std::thread& t : lent) t.join();
  EXPECT_EQ(answered.load(), 1);
}

TEST(HttpServerTest, OwnerThatCannotRunARunnerFailsStart) {
  std::vector<std::thread> lent;
  http::HttpServerOptions options;
  options.name = "h5 server";
  options.threads = 2;
  options.run_on = [&](std::function<void()> run) {
    if (!lent.empty()) return false;
    lent.emplace_back(std::move(run));
    return true;
  };
  options.handler = [](http::Request&, http::Answer) {};
  auto server = http::HttpServer::Start(std::move(options));
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().message, "h5 server: its owner could not run runner 2 of 2");
  for (std::thread& t : lent) t.join();  // the runner that started was stopped
}

TEST(HttpServerTest, AnswerAfterStopTouchesNothing) {
  HeldAnswer held;
  http::HttpServerOptions options;
  options.handler = held.Handler();
  auto server = StartServer(std::move(options));
  ASSERT_NE(server, nullptr);
  RawClient client(server->port());
  client.Send("GET /held HTTP/1.1\r\nHost: a\r\n\r\n");
  http::Answer answer = held.Take();
  ASSERT_NE(answer, nullptr);
  server.reset();
  http::Request req;
  answer(http::EmptyReply(bhttp::status::ok, req));
}

TEST(HttpServerTest, StartErrors) {
  http::HttpServerOptions options;
  auto no_handler = http::HttpServer::Start(options);
  ASSERT_FALSE(no_handler.ok());
  EXPECT_EQ(no_handler.error().code, ErrorCode::kInvalidArgument);
  options.handler = [](http::Request&, http::Answer) {};
  options.host = "not a host name";
  auto bad_host = http::HttpServer::Start(options);
  ASSERT_FALSE(bad_host.ok());
  EXPECT_EQ(bad_host.error().code, ErrorCode::kInvalidArgument);
}

// The request rules on their own.
TEST(FileRequestTest, RangesAndValidators) {
  using http::ParseRange;
  using http::RangeRequest;
  EXPECT_EQ(ParseRange("bytes=0-0", 10).length, 1u);
  EXPECT_EQ(ParseRange(" Bytes = 2 - 4 ", 10).kind, RangeRequest::kPart);
  EXPECT_EQ(ParseRange("bytes=0-", 0).kind, RangeRequest::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-5", 0).kind, RangeRequest::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=99999999999999999999999-", 10).kind, RangeRequest::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=1-x", 10).kind, RangeRequest::kWhole);
  EXPECT_EQ(ParseRange("bytes=", 10).kind, RangeRequest::kWhole);
  EXPECT_TRUE(http::IfNoneMatchMatches(" \"a\" ,W/\"b\"", "\"b\""));
  EXPECT_FALSE(http::IfNoneMatchMatches("\"a\", b, \"c\"", "\"c\""));  // malformed from b on
  EXPECT_FALSE(http::IfRangeAllows("Sun, 06 Nov 1994 08:49:37 GMT", "\"a\""));
  EXPECT_EQ(http::ParseTarget("/a/./b//c?x=../y").relative, "a/b/c");
  EXPECT_EQ(http::ContentTypeFor("targets/x.ATD"), "application/octet-stream");
  EXPECT_EQ(http::ContentTypeFor("site/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(http::HttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
}

}  // namespace
}  // namespace atrium::testing
