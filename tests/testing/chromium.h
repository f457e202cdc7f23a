// Headless Chromium for the tests that need a real browser (HTML reports,
// H5 pages): the binary from Debian's `chromium` package (./dev installs
// it), run as a child with a timeout, its stdout captured (--dump-dom) and
// its stderr in a file. Set ATRIUM_SKIP_BROWSER_TESTS=1 to skip those tests
// on a machine without it.
//
// Concurrency: one child per call; thread-safe.
#ifndef ATRIUM_TESTS_TESTING_CHROMIUM_H_
#define ATRIUM_TESTS_TESTING_CHROMIUM_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace atrium::testing {

inline constexpr const char* kChromium = "/usr/bin/chromium";
inline constexpr int kBrowserTimeoutS = 60;

inline bool BrowserTestsSkipped() {
  const char* skip = std::getenv("ATRIUM_SKIP_BROWSER_TESTS");
  return skip != nullptr && std::string(skip) == "1";
}

// Fails the test when Chromium is missing, saying how to get it.
inline void ExpectChromium() {
  ASSERT_EQ(::access(kChromium, X_OK), 0)
      << kChromium << " is missing: install Chromium (apt-get install chromium; ./dev does, "
      << "and CI runs it) or set ATRIUM_SKIP_BROWSER_TESTS=1 to skip the browser tests";
}

// The argv of a headless Chromium with its own profile folder, then `args`.
inline std::vector<std::string> HeadlessChromium(const std::string& profile_dir,
                                                 const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kChromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--no-first-run",
                                   "--hide-scrollbars",
                                   "--user-data-dir=" + profile_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

struct Child {
  bool timed_out = false;
  int status = -1;
  std::string out;
};

// Runs argv with stdout captured, stderr to `err_path` (Chromium is chatty);
// killed (with its process group) after kBrowserTimeoutS.
inline Child RunWithTimeout(const std::vector<std::string>& args, const std::string& err_path) {
  Child c;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return c;
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // so the timeout can kill Chromium's helper processes too
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in = ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    ::dup2(fds[1], 1);
    ::dup2(err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kBrowserTimeoutS);
  char buf[8192];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    c.out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  // Wait for the exit itself (a pidfd is readable once the child exits),
  // bounded by the same deadline.
  int st = 0;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
  pollfd exited{pidfd, POLLIN, 0};
  if (pidfd >= 0) {
    if (::poll(&exited, 1, static_cast<int>(std::max<long long>(left, 0))) <= 0) {
      c.timed_out = true;
      ::kill(-pid, SIGKILL);
    }
    ::close(pidfd);
  } else if (left <= 0) {  // no pidfd (an old kernel): stdout closed or the deadline passed
    c.timed_out = true;
    ::kill(-pid, SIGKILL);
  }
  ::waitpid(pid, &st, 0);
  c.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return c;
}

inline std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_TESTING_CHROMIUM_H_
