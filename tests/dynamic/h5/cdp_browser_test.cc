// CdpBrowser against the real headless Chromium of Debian's package: one
// browser shared by the suite for the calls that leave it as it was, and a
// browser of their own for the tests that kill, wedge or cap it. Pages come
// from data: URLs and from a real HTTP server on 127.0.0.1, port 0, run by
// the test on a thread of its own. The launch failures (no binary, a binary
// that exits, one that never answers) need no Chromium and always run.
#include "atrium/dynamic/h5/cdp_browser.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "testing/chromium.h"

namespace atrium::h5 {
namespace {

namespace fs = std::filesystem;
using atrium::testing::BrowserTestsSkipped;
using atrium::testing::ExpectChromium;

constexpr int kCallMs = 30000;

// A fresh folder under the test temp dir, removed with its contents.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = ::testing::TempDir() + "cdp-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A loopback HTTP/1.1 server on port 0. GET <path> answers a page whose
// title is the path and whose #text paragraph names the server; a path
// under /hang is never answered (its connection stays open until the
// server stops). Connections are served on one thread, polled together, so
// an idle preconnect holds up no other request.
//
// Concurrency: port() and requests() from any thread.
class PageServer {
 public:
  PageServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || ::pipe2(stop_, O_CLOEXEC) != 0 ||
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~PageServer() {
    if (thread_.joinable()) {
      const char byte = 0;
      (void)!::write(stop_[1], &byte, 1);
      thread_.join();
    }
    for (int fd : {listen_fd_, stop_[0], stop_[1]}) {
      if (fd >= 0) ::close(fd);
    }
  }
  uint16_t port() const { return port_; }
  int requests() const { return requests_.load(); }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  struct Connection {
    int fd;
    std::string in;
    bool hanging = false;
  };

  void Run() {
    std::vector<Connection> conns;
    while (true) {
      std::vector<pollfd> fds = {{stop_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (const Connection& c : conns) fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[0].revents != 0) break;
      // Only a connection poll found readable is read: an idle one (Chromium
      // opens spare connections) would block the thread.
      std::vector<Connection> open;
      for (size_t i = 0; i < conns.size(); ++i) {
        Connection& c = conns[i];
        if (fds[i + 2].revents != 0 && !Serve(c)) {
          ::close(c.fd);
          continue;
        }
        open.push_back(std::move(c));
      }
      conns = std::move(open);
      if (fds[1].revents != 0) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) conns.push_back({fd, ""});
      }
    }
    for (const Connection& c : conns) ::close(c.fd);
  }

  // false: the connection is done.
  bool Serve(Connection& c) {
    char buf[4096];
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    if (c.hanging) return true;
    c.in.append(buf, static_cast<size_t>(n));
    if (c.in.find("\r\n\r\n") == std::string::npos) return true;
    const size_t sp = c.in.find(' ');
    const size_t sp2 = c.in.find(' ', sp + 1);
    std::string path = c.in.substr(sp + 1, sp2 - sp - 1);
    path = path.substr(0, path.find('?'));
    ++requests_;
    if (path.starts_with("/hang")) {
      c.hanging = true;
      return true;
    }
    const std::string body = "<!doctype html><title>" + path +
                             "</title><p id=text>served by 127.0.0.1:" + std::to_string(port_) +
                             "</p>";
    const std::string response =
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    size_t done = 0;
    while (done < response.size()) {
      const ssize_t w = ::send(c.fd, response.data() + done, response.size() - done, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      done += static_cast<size_t>(w);
    }
    return false;
  }

  int listen_fd_ = -1;
  int stop_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// A TCP port on 127.0.0.1 that refuses connections: bound, never listening,
// so nothing else can take it while the test runs.
class RefusingPort {
 public:
  RefusingPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~RefusingPort() { ::close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_ = 0;
};

uint32_t BigEndian32(const std::string& s, size_t at) {
  return (uint32_t{static_cast<uint8_t>(s[at])} << 24) |
         (uint32_t{static_cast<uint8_t>(s[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(s[at + 2])} << 8) |
         uint32_t{static_cast<uint8_t>(s[at + 3])};
}

// Waits (bounded) for a process we may not reap to exit: its pidfd turns
// readable then.
bool WaitForExit(pid_t pid, int timeout_ms) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return errno == ESRCH;
  pollfd p{pidfd, POLLIN, 0};
  const bool exited = ::poll(&p, 1, timeout_ms) == 1;
  ::close(pidfd);
  return exited;
}

bool ProcessGone(pid_t pid) { return ::kill(pid, 0) == -1 && errno == ESRCH; }

Result<std::unique_ptr<CdpBrowser>> LaunchOwn(CdpBrowserOptions options = {}) {
  return CdpBrowser::Launch(std::move(options));
}

// Tests that need Chromium: skipped on request, failing without it.
class CdpBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (BrowserTestsSkipped()) GTEST_SKIP() << "ATRIUM_SKIP_BROWSER_TESTS=1";
    ExpectChromium();
  }
};

// The suite's shared browser: launched by the first test that asks, closed
// after the suite.
class SharedBrowserTest : public CdpBrowserTest {
 protected:
  static void TearDownTestSuite() { Shared().reset(); }
  void SetUp() override {
    CdpBrowserTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (!Shared()) {
      Result<std::unique_ptr<CdpBrowser>> launched = CdpBrowser::Launch({});
      ASSERT_TRUE(launched.ok()) << launched.error().ToString();
      Shared() = std::move(launched).value();
    }
  }
  static CdpBrowser& browser() { return *Shared(); }

 private:
  static std::unique_ptr<CdpBrowser>& Shared() {
    static auto* shared = new std::unique_ptr<CdpBrowser>();
    return *shared;
  }
};

TEST_F(SharedBrowserTest, EvaluatesAnExpression) {
  Result<std::string> two = browser().Evaluate("1+1", kCallMs);
  ASSERT_TRUE(two.ok()) << two.error().ToString();
  EXPECT_EQ(*two, "2");
  Result<std::string> undefined = browser().Evaluate("undefined", kCallMs);
  ASSERT_TRUE(undefined.ok()) << undefined.error().ToString();
  EXPECT_EQ(*undefined, "null");
  Result<std::string> object = browser().Evaluate("({a: [1, 'b'], c: null})", kCallMs);
  ASSERT_TRUE(object.ok()) << object.error().ToString();
  EXPECT_EQ(*object, R"({"a":[1,"b"],"c":null})");
}

TEST_F(SharedBrowserTest, ALoneSurrogateComesAsAReplacementCharacter) {
  // Chromium writes the lone surrogate as the escape \ud800, which is not JSON.
  Result<std::string> lone = browser().Evaluate("'a\\ud800b' + '\\ud83d\\ude00'", kCallMs);
  ASSERT_TRUE(lone.ok()) << lone.error().ToString();
  EXPECT_EQ(*lone, "\"a\uFFFDb\U0001F600\"");  // U+FFFD, then the pair's emoji
}

TEST_F(SharedBrowserTest, AwaitsAPromise) {
  Result<std::string> ok =
      browser().Evaluate("new Promise(r => setTimeout(() => r('ok'), 10))", kCallMs);
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(*ok, "\"ok\"");
}

TEST_F(SharedBrowserTest, AThrowIsAnErrorWithItsMessage) {
  Result<std::string> thrown = browser().Evaluate("throw new Error('boom-42')", kCallMs);
  ASSERT_FALSE(thrown.ok());
  EXPECT_EQ(thrown.error().code, ErrorCode::kState);
  EXPECT_NE(thrown.error().message.find("boom-42"), std::string::npos) << thrown.error().message;
  Result<std::string> rejected =
      browser().Evaluate("Promise.reject(new TypeError('nope-7'))", kCallMs);
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.error().message.find("TypeError: nope-7"), std::string::npos)
      << rejected.error().message;
  Result<std::string> after = browser().Evaluate("3*3", kCallMs);
  ASSERT_TRUE(after.ok()) << after.error().ToString();
  EXPECT_EQ(*after, "9");
}

TEST_F(SharedBrowserTest, NavigatesToADataUrl) {
  Status loaded = browser().Navigate("data:text/html,<title>T</title><p>hi</p>", kCallMs);
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  Result<std::string> title = browser().Evaluate("document.title", kCallMs);
  ASSERT_TRUE(title.ok()) << title.error().ToString();
  EXPECT_EQ(*title, "\"T\"");
  Result<std::string> text = browser().Evaluate("document.body.textContent", kCallMs);
  ASSERT_TRUE(text.ok()) << text.error().ToString();
  EXPECT_EQ(*text, "\"hi\"");
}

TEST_F(SharedBrowserTest, ReadsTheDomOfAPageFromALoopbackServer) {
  PageServer server;
  ASSERT_NE(server.port(), 0);
  Status loaded = browser().Navigate(server.Url("/greeting"), kCallMs);
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  Result<std::string> text =
      browser().Evaluate("document.getElementById('text').textContent", kCallMs);
  ASSERT_TRUE(text.ok()) << text.error().ToString();
  EXPECT_EQ(*text, "\"served by 127.0.0.1:" + std::to_string(server.port()) + "\"");
  EXPECT_GE(server.requests(), 1);
  // Nothing of this server's origin stays loaded once it stops.
  ASSERT_TRUE(browser().Navigate("about:blank", kCallMs).ok());
}

TEST_F(SharedBrowserTest, TwoNavigationsReuseTheBrowser) {
  PageServer server;
  ASSERT_NE(server.port(), 0);
  const pid_t pid = browser().pid();
  Status first = browser().Navigate(server.Url("/first"), kCallMs);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  Result<std::string> first_title = browser().Evaluate("document.title", kCallMs);
  ASSERT_TRUE(first_title.ok()) << first_title.error().ToString();
  EXPECT_EQ(*first_title, "\"/first\"");
  Status second = browser().Navigate(server.Url("/second?x=1"), kCallMs);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  Result<std::string> second_title = browser().Evaluate("document.title", kCallMs);
  ASSERT_TRUE(second_title.ok()) << second_title.error().ToString();
  EXPECT_EQ(*second_title, "\"/second\"");
  EXPECT_EQ(browser().pid(), pid);
  ASSERT_TRUE(browser().Navigate("about:blank", kCallMs).ok());
}

TEST_F(SharedBrowserTest, ARefusedConnectionIsAnErrorNamingIt) {
  RefusingPort refusing;
  ASSERT_NE(refusing.port(), 0);
  const std::string origin = "http://127.0.0.1:" + std::to_string(refusing.port());
  Status refused = browser().Navigate(origin + "/page?token=s3cret", kCallMs);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kState);
  EXPECT_NE(refused.error().message.find("net::ERR_CONNECTION_REFUSED"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find(origin), std::string::npos) << refused.error().message;
  EXPECT_EQ(refused.error().message.find("s3cret"), std::string::npos) << refused.error().message;
  // The error page's own load events do not answer the next navigation.
  Status next = browser().Navigate("data:text/html,<title>after</title>", kCallMs);
  ASSERT_TRUE(next.ok()) << next.error().ToString();
  Result<std::string> title = browser().Evaluate("document.title", kCallMs);
  ASSERT_TRUE(title.ok()) << title.error().ToString();
  EXPECT_EQ(*title, "\"after\"");
}

TEST_F(SharedBrowserTest, ALoadThatNeverEndsTimesOutNamingTheOriginOnly) {
  PageServer server;
  ASSERT_NE(server.port(), 0);
  Status hung = browser().Navigate(server.Url("/hang/path?token=s3cret"), 1000);
  ASSERT_FALSE(hung.ok());
  EXPECT_EQ(hung.error().code, ErrorCode::kState);
  const std::string& message = hung.error().message;
  EXPECT_NE(message.find(server.Url("")), std::string::npos) << message;
  EXPECT_NE(message.find("within 1000 ms"), std::string::npos) << message;
  EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
  EXPECT_EQ(message.find("/hang"), std::string::npos) << message;
  // The next navigation replaces the hung one (before its server stops).
  Status next = browser().Navigate("data:text/html,<title>next</title>", kCallMs);
  ASSERT_TRUE(next.ok()) << next.error().ToString();
  Result<std::string> title = browser().Evaluate("document.title", kCallMs);
  ASSERT_TRUE(title.ok()) << title.error().ToString();
  EXPECT_EQ(*title, "\"next\"");
}

TEST_F(SharedBrowserTest, AScreenshotIsAPngOfTheWindowSize) {
  Status loaded = browser().Navigate(
      "data:text/html,<body style='background:rgb(10,120,200)'><h1>shot</h1>", kCallMs);
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  Result<std::string> png = browser().Screenshot(kCallMs);
  ASSERT_TRUE(png.ok()) << png.error().ToString();
  ASSERT_GE(png->size(), 24u);
  EXPECT_EQ(png->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png->substr(12, 4), "IHDR");
  EXPECT_EQ(BigEndian32(*png, 16), 1280u);
  EXPECT_EQ(BigEndian32(*png, 20), 800u);
  Result<std::string> viewport = browser().Evaluate("[innerWidth, innerHeight]", kCallMs);
  ASSERT_TRUE(viewport.ok()) << viewport.error().ToString();
  EXPECT_EQ(*viewport, "[1280,800]");
}

TEST_F(SharedBrowserTest, AResultOfMegabytesCrossesThePipe) {
  Result<std::string> big = browser().Evaluate("'x'.repeat(8 * 1024 * 1024)", kCallMs);
  ASSERT_TRUE(big.ok()) << big.error().ToString();
  ASSERT_EQ(big->size(), 8u * 1024 * 1024 + 2);
  EXPECT_EQ(big->front(), '"');
  EXPECT_EQ(big->find_first_not_of('x', 1), big->size() - 1);
}

TEST_F(CdpBrowserTest, AMessageOverTheCapIsDroppedAndTheBrowserStaysUsable) {
  CdpBrowserOptions options;
  options.max_message_bytes = 1024 * 1024;
  Result<std::unique_ptr<CdpBrowser>> launched = LaunchOwn(std::move(options));
  ASSERT_TRUE(launched.ok()) << launched.error().ToString();
  CdpBrowser& browser = **launched;
  Result<std::string> under = browser.Evaluate("'y'.repeat(512 * 1024)", kCallMs);
  ASSERT_TRUE(under.ok()) << under.error().ToString();
  EXPECT_EQ(under->size(), 512u * 1024 + 2);
  Result<std::string> over = browser.Evaluate("'y'.repeat(3 * 1024 * 1024)", kCallMs);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().message.find("over the cap of 1048576 bytes"), std::string::npos)
      << over.error().message;
  Result<std::string> after = browser.Evaluate("1+1", kCallMs);
  ASSERT_TRUE(after.ok()) << after.error().ToString();
  EXPECT_EQ(*after, "2");
}

TEST_F(CdpBrowserTest, AnEvaluationThatOverrunsTimesOutAndThePageStillAnswers) {
  Result<std::unique_ptr<CdpBrowser>> launched = LaunchOwn();
  ASSERT_TRUE(launched.ok()) << launched.error().ToString();
  CdpBrowser& browser = **launched;
  Result<std::string> pending = browser.Evaluate("new Promise(() => {})", 300);
  ASSERT_FALSE(pending.ok());
  EXPECT_NE(pending.error().message.find("within 300 ms"), std::string::npos)
      << pending.error().message;
  Result<std::string> after_pending = browser.Evaluate("1+1", kCallMs);
  ASSERT_TRUE(after_pending.ok()) << after_pending.error().ToString();
  EXPECT_EQ(*after_pending, "2");
  // V8 ends the endless loop at the call's budget, so the page is not wedged.
  Result<std::string> loop = browser.Evaluate("for (;;) {}", 300);
  ASSERT_FALSE(loop.ok());
  Result<std::string> after_loop = browser.Evaluate("2+2", kCallMs);
  ASSERT_TRUE(after_loop.ok()) << after_loop.error().ToString();
  EXPECT_EQ(*after_loop, "4");
}

TEST_F(CdpBrowserTest, ABrowserKilledMidSessionIsAStateError) {
  Result<std::unique_ptr<CdpBrowser>> launched = LaunchOwn();
  ASSERT_TRUE(launched.ok()) << launched.error().ToString();
  std::unique_ptr<CdpBrowser> browser = std::move(launched).value();
  const pid_t pid = browser->pid();
  ASSERT_EQ(::kill(-pid, SIGKILL), 0);
  ASSERT_TRUE(WaitForExit(pid, kCallMs));
  Result<std::string> dead = browser->Evaluate("1+1", kCallMs);
  ASSERT_FALSE(dead.ok());
  EXPECT_EQ(dead.error().code, ErrorCode::kState);
  EXPECT_NE(dead.error().message.find("killed by signal 9"), std::string::npos)
      << dead.error().message;
  // Every later call fails the same way, at once.
  Status again = browser->Navigate("about:blank", kCallMs);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, dead.error().message);
  browser.reset();
  EXPECT_TRUE(ProcessGone(pid));
}

TEST_F(CdpBrowserTest, DestructionEndsTheProcessAndRemovesTheTemporaryProfile) {
  ScratchDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("TMPDIR", tmp.path().c_str(), 1);
  Result<std::unique_ptr<CdpBrowser>> launched = LaunchOwn();
  if (old != nullptr) {
    ::setenv("TMPDIR", saved.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  ASSERT_TRUE(launched.ok()) << launched.error().ToString();
  std::unique_ptr<CdpBrowser> browser = std::move(launched).value();
  auto profiles = [&] {
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(tmp.path())) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("atrium-cdp-")) found.push_back(name);
    }
    return found;
  };
  ASSERT_EQ(profiles().size(), 1u);
  EXPECT_TRUE(fs::exists(tmp.path() + "/" + profiles()[0] + "/chromium-stderr.log"));
  const pid_t pid = browser->pid();
  ASSERT_GT(pid, 0);
  browser.reset();
  EXPECT_TRUE(ProcessGone(pid));
  EXPECT_TRUE(profiles().empty());
}

TEST_F(CdpBrowserTest, AProfileFolderOfTheCallerIsKept) {
  ScratchDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  CdpBrowserOptions options;
  options.profile_dir = tmp.path() + "/profile";
  Result<std::unique_ptr<CdpBrowser>> launched = LaunchOwn(options);
  ASSERT_TRUE(launched.ok()) << launched.error().ToString();
  launched->reset();
  EXPECT_TRUE(fs::exists(options.profile_dir + "/chromium-stderr.log"));
}

// The launch failures need no Chromium.
TEST(CdpBrowserLaunchTest, AMissingBinaryIsAStateError) {
  CdpBrowserOptions options;
  options.chromium = "/nonexistent";
  Result<std::unique_ptr<CdpBrowser>> launched = CdpBrowser::Launch(options);
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.error().code, ErrorCode::kState);
  EXPECT_NE(launched.error().message.find("/nonexistent"), std::string::npos);
}

TEST(CdpBrowserLaunchTest, ABinaryThatExitsAtOnceIsAStateErrorWithItsStatus) {
  CdpBrowserOptions options;
  options.chromium = "/bin/false";
  Result<std::unique_ptr<CdpBrowser>> launched = CdpBrowser::Launch(options);
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.error().code, ErrorCode::kState);
  EXPECT_NE(launched.error().message.find("exited with status 1"), std::string::npos)
      << launched.error().message;
}

TEST(CdpBrowserLaunchTest, TheChildGetsStdioThePipeEndsAndAGroupOfItsOwn) {
  ScratchDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string fake = tmp.path() + "/inspecting-chromium";
  const std::string report = tmp.path() + "/report";
  // What it reports is read before anything of the script's own redirects.
  std::ofstream(fake) << "#!/bin/sh\n"
                      << "f0=$(readlink /proc/$$/fd/0)\n"
                      << "f1=$(readlink /proc/$$/fd/1)\n"
                      << "f2=$(readlink /proc/$$/fd/2)\n"
                      << "f3=$(readlink /proc/$$/fd/3)\n"
                      << "f4=$(readlink /proc/$$/fd/4)\n"
                      << "if [ -e /proc/$$/fd/37 ]; then f37=leaked; else f37=closed; fi\n"
                      << "group=$(cut -d' ' -f5 /proc/$$/stat)\n"
                      << "printf '%s\\n' \"$f0\" \"$f1\" \"$f2\" \"$f3\" \"$f4\" \"$f37\" "
                      << "\"$group\" \"$$\" > " << report << "\nexit 3\n";
  fs::permissions(fake, fs::perms::owner_all);
  // A descriptor of the host without close-on-exec.
  const int devnull = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(devnull, 0);
  const int leak = ::fcntl(devnull, F_DUPFD, 37);
  ::close(devnull);
  ASSERT_EQ(leak, 37);
  CdpBrowserOptions options;
  options.chromium = fake;
  options.profile_dir = tmp.path() + "/profile";
  Result<std::unique_ptr<CdpBrowser>> launched = CdpBrowser::Launch(options);
  ::close(leak);
  ASSERT_FALSE(launched.ok());
  EXPECT_NE(launched.error().message.find("exited with status 3"), std::string::npos)
      << launched.error().message;
  std::ifstream in(report);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[0], "/dev/null");
  EXPECT_EQ(lines[1], "/dev/null");
  EXPECT_EQ(lines[2], options.profile_dir + "/chromium-stderr.log");
  EXPECT_TRUE(lines[3].starts_with("pipe:[")) << lines[3];
  EXPECT_TRUE(lines[4].starts_with("pipe:[")) << lines[4];
  EXPECT_NE(lines[3], lines[4]);
  EXPECT_EQ(lines[5], "closed");
  EXPECT_EQ(lines[6], lines[7]);  // its process group is its own pid
}

TEST(CdpBrowserLaunchTest, ABinaryThatNeverAnswersTimesOutAndIsKilled) {
  ScratchDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string fake = tmp.path() + "/silent-chromium";
  const std::string pid_file = tmp.path() + "/pid";
  std::ofstream(fake) << "#!/bin/sh\necho $$ > " << pid_file << "\nexec sleep 600\n";
  fs::permissions(fake, fs::perms::owner_all);
  CdpBrowserOptions options;
  options.chromium = fake;
  options.startup_timeout_ms = 500;
  Result<std::unique_ptr<CdpBrowser>> launched = CdpBrowser::Launch(options);
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.error().code, ErrorCode::kState);
  EXPECT_NE(launched.error().message.find("within 500 ms"), std::string::npos)
      << launched.error().message;
  // The fake wrote its pid unless it was killed before its first line
  // (the timeout is 500 times longer than that line takes).
  pid_t pid = 0;
  if (std::ifstream(pid_file) >> pid) {
    EXPECT_TRUE(ProcessGone(pid)) << pid;
  }
}

TEST(CdpBrowserLaunchTest, BadOptionsAreInvalidArguments) {
  CdpBrowserOptions options;
  options.width = 0;
  Result<std::unique_ptr<CdpBrowser>> launched = CdpBrowser::Launch(options);
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace atrium::h5
