// The child process and the pipe transport of CdpBrowser (cdp_browser.h):
// spawning headless Chromium with the pipe's ends at its fds 3 and 4, NUL-
// framed JSON both ways over non-blocking ends polled with the caller's
// deadline, and the browser's end (its exit status and the tail of its
// stderr in the error every later call gets; the destructor's close, wait
// and kill). The state's invariants are listed in cdp_browser_impl.h.
//
// Concurrency: one owner thread (see cdp_browser.h).
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "atrium/base/result_macros.h"
#include "cdp_browser_impl.h"

extern char** environ;

namespace atrium::h5 {

using cdp_internal::Errno;
using cdp_internal::NoThrow;

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr int kCloseWaitMs = 5000;
// How long a closed pipe waits for the exit status that explains it.
constexpr int kExitStatusWaitMs = 1000;
constexpr size_t kStderrTailBytes = 2000;
constexpr size_t kReadChunk = 256 * 1024;
// Bytes read per wake-up before polling again.
constexpr size_t kMaxReadPerWake = 4 * 1024 * 1024;
// Framed bytes kept at the front of the inbox before they are erased.
constexpr size_t kCompactBytes = 1024 * 1024;
constexpr int kPipeBytes = 1024 * 1024;
// Chromium's JSON nests deeper than Boost.JSON's default of 32 when a
// script returns a deep value.
constexpr size_t kMaxJsonDepth = 1000;
constexpr char kStderrName[] = "chromium-stderr.log";

int MsLeft(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// The same pipe end at a descriptor above 4, so the child's dup2s onto 3
// and 4 can never overwrite one another's source.
int MoveAbove4(int fd) {
  if (fd < 0 || fd > 4) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 5);
  ::close(fd);
  return moved;
}

// The text with every lone UTF-16 surrogate escape (\ud800 without its
// pair: V8 strings may hold one, and Chromium writes it as it is) replaced
// by \ufffd, which Boost.JSON accepts.
std::string ReplaceLoneSurrogates(std::string_view text) {
  auto unit_at = [&](size_t i) -> int {  // the code unit of the \uXXXX at i, or -1
    if (i + 6 > text.size() || text[i] != '\\' || text[i + 1] != 'u') return -1;
    int unit = 0;
    for (size_t k = i + 2; k < i + 6; ++k) {
      const char c = text[k];
      const int digit = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                        : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                        : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                                    : -1;
      if (digit < 0) return -1;
      unit = unit * 16 + digit;
    }
    return unit;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '\\' || i + 1 >= text.size()) {
      out.push_back(text[i++]);
      continue;
    }
    const int unit = unit_at(i);
    const bool high = unit >= 0xD800 && unit <= 0xDBFF;
    const int next = high ? unit_at(i + 6) : -1;
    if (high && next >= 0xDC00 && next <= 0xDFFF) {
      out.append(text.substr(i, 12));
      i += 12;
    } else if (unit >= 0xD800 && unit <= 0xDFFF) {
      out.append("\\ufffd");
      i += 6;
    } else {
      out.append(text.substr(i, 2));  // any other escape, \\ included
      i += 2;
    }
  }
  return out;
}

// The last lines of Chromium's stderr, from a line start.
std::string Tail(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff tail = static_cast<std::streamoff>(kStderrTailBytes);
  const std::streamoff from = size > tail ? size - tail : 0;
  in.seekg(from);
  std::string s(static_cast<size_t>(size - from), '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  if (from > 0) {
    const size_t nl = s.find('\n');
    s.erase(0, nl == std::string::npos ? 0 : nl + 1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// Blocks SIGPIPE on this thread around one write to the pipe, so a browser
// that is gone shows as EPIPE, not as the death of the whole process. A
// SIGPIPE the write raised is consumed before the old mask returns; the
// process-wide disposition is never touched.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeBlock() {
    if (raised_ && !was_pending_) {
      const timespec zero{};
      while (sigtimedwait(&set_, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

  void Raised() { raised_ = true; }

 private:
  sigset_t set_;
  sigset_t old_;
  bool was_pending_ = false;
  bool raised_ = false;
};

}  // namespace

CdpBrowser::Impl::~Impl() {
  if (pid > 0) {
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(kCloseWaitMs);
    if (!gone && !eof) {
      const json::object close{{"id", next_id++}, {"method", "Browser.close"}};
      const Result<bool> sent = NoThrow([&] { return Send(close, deadline); });
      if (sent.ok() && *sent) WaitForExit(deadline);
    }
    // Helpers that linger after the browser, or a browser that overran.
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  CloseFd(pidfd);
  CloseFd(to_browser);
  CloseFd(from_browser);
  if (scratch_profile) {
    std::error_code ec;
    fs::remove_all(profile, ec);
  }
}

Status CdpBrowser::Impl::MakeProfile() {
  if (options.profile_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    const std::string base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    std::string tmpl = base + "/atrium-cdp-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return MakeError(ErrorCode::kIo,
                       "cannot make a Chromium profile folder under " + base + ": " + Errno(errno));
    }
    profile = tmpl;
    scratch_profile = true;
  } else {
    profile = options.profile_dir;
    std::error_code ec;
    fs::create_directories(profile, ec);
    if (ec) {
      Error e =
          MakeError(ErrorCode::kIo, "cannot make the Chromium profile folder: " + ec.message());
      e.file = profile;
      return e;
    }
  }
  stderr_path = profile + "/" + kStderrName;
  return Status::Ok();
}

Status CdpBrowser::Impl::Spawn() {
  int in[2] = {-1, -1};   // we write in[1]; the browser reads in[0] as fd 3
  int out[2] = {-1, -1};  // the browser writes out[1] as fd 4; we read out[0]
  auto close_all = [&] {
    for (int* fd : {&in[0], &in[1], &out[0], &out[1]}) CloseFd(*fd);
  };
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    const int err = errno;
    close_all();
    return MakeError(ErrorCode::kState, "cannot make the DevTools pipes: " + Errno(err));
  }
  for (int* fd : {&in[0], &in[1], &out[0], &out[1]}) *fd = MoveAbove4(*fd);
  if (in[0] < 0 || in[1] < 0 || out[0] < 0 || out[1] < 0) {
    const int err = errno;
    close_all();
    return MakeError(ErrorCode::kState, "cannot make the DevTools pipes: " + Errno(err));
  }
  // A screenshot crosses in fewer wake-ups through a bigger pipe; the
  // default size works too.
  ::fcntl(out[0], F_SETPIPE_SZ, kPipeBytes);
  for (int fd : {in[1], out[0]}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  std::vector<std::string> args = {
      options.chromium,
      "--headless",
      "--disable-gpu",
      "--no-first-run",
      "--no-default-browser-check",
      "--hide-scrollbars",
      "--mute-audio",
      "--remote-debugging-pipe",
      "--user-data-dir=" + profile,
      "--window-size=" + std::to_string(options.width) + "," + std::to_string(options.height),
      // Quiet and deterministic: no traffic of its own, no extensions, no
      // throttled timers in a page nobody looks at, one color profile.
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-default-apps",
      "--disable-extensions",
      "--disable-sync",
      "--disable-breakpad",
      "--metrics-recording-only",
      "--password-store=basic",
      "--use-mock-keychain",
      "--disable-background-timer-throttling",
      "--disable-backgrounding-occluded-windows",
      "--disable-renderer-backgrounding",
      "--force-color-profile=srgb",
      "--disable-features=Translate,MediaRouter",
      // A failed load stays failed: no error page reloading behind a call.
      "--disable-auto-reload",
  };
  // The renderer sandbox stays on (fallback pages are web pages from
  // anywhere); Chromium refuses to run as root with it.
  if (::geteuid() == 0) args.push_back("--no-sandbox");
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  args.push_back("about:blank");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, in[0], 3);
  posix_spawn_file_actions_adddup2(&actions, out[1], 4);
  posix_spawn_file_actions_addclosefrom_np(&actions, 5);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group (so the destructor can kill its helpers), no
  // blocked or ignored signal inherited from the host.
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);
  const int spawned = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  CloseFd(in[0]);
  CloseFd(out[1]);
  to_browser = in[1];
  from_browser = out[0];
  if (spawned != 0) {
    pid = -1;
    return MakeError(ErrorCode::kState, "cannot start " + options.chromium + ": " + Errno(spawned));
  }
  // Without a pidfd (a kernel before 5.3) the pipe's end tells of the exit.
  pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  return Status::Ok();
}

Result<CdpBrowser::Impl::Ready> CdpBrowser::Impl::Wait(Clock::time_point deadline,
                                                       bool want_write) {
  while (true) {
    pollfd fds[3] = {{eof ? -1 : from_browser, POLLIN, 0},
                     {pidfd, POLLIN, 0},
                     {want_write ? to_browser : -1, POLLOUT, 0}};
    const int timeout = MsLeft(deadline);
    const int n = ::poll(fds, 3, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorCode::kState, "poll on the DevTools pipe failed: " + Errno(errno));
    }
    if (n == 0) {
      if (timeout == 0 || MsLeft(deadline) == 0) return Ready::kTimeout;
      continue;
    }
    if (fds[0].revents != 0) {
      ATRIUM_RETURN_IF_ERROR(ReadAvailable());
      return Ready::kRead;
    }
    if (fds[2].revents != 0) return Ready::kWrite;  // a closed end shows as EPIPE on the write
    // Exited, and nothing of it is left to read (that is polled first).
    if (fds[1].revents != 0) return Gone("Chromium exited");
  }
}

Status CdpBrowser::Impl::ReadAvailable() {
  size_t total = 0;
  while (total < kMaxReadPerWake) {
    const size_t old = inbox.size();
    inbox.resize(old + kReadChunk);
    const ssize_t n = ::read(from_browser, inbox.data() + old, kReadChunk);
    const int err = errno;
    inbox.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0) {
      total += static_cast<size_t>(n);
    } else if (n == 0) {
      eof = true;
      return Status::Ok();
    } else if (err == EAGAIN || err == EWOULDBLOCK) {
      return Status::Ok();
    } else if (err != EINTR) {
      return Gone("reading the DevTools pipe failed: " + Errno(err));
    }
  }
  return Status::Ok();
}

std::optional<std::string_view> CdpBrowser::Impl::Frame(bool* dropped) {
  if (inbox_begin == inbox.size()) {
    inbox.clear();
    inbox_begin = scanned = 0;
  } else if (inbox_begin >= kCompactBytes) {
    inbox.erase(0, inbox_begin);
    scanned -= inbox_begin;
    inbox_begin = 0;
  }
  while (true) {
    const size_t nul = inbox.find('\0', scanned);
    if (nul == std::string::npos) {
      scanned = inbox.size();
      if (skipping || inbox.size() - inbox_begin > options.max_message_bytes) {
        *dropped = *dropped || !skipping;
        skipping = true;
        inbox.clear();
        inbox_begin = scanned = 0;
      }
      return std::nullopt;
    }
    const size_t begin = inbox_begin;
    inbox_begin = scanned = nul + 1;
    if (skipping) {
      skipping = false;
      continue;
    }
    if (nul - begin > options.max_message_bytes) {
      *dropped = true;
      continue;
    }
    return std::string_view(inbox.data() + begin, nul - begin);
  }
}

Result<std::optional<json::object>> CdpBrowser::Impl::Next(Clock::time_point deadline) {
  while (true) {
    bool dropped = false;
    const std::optional<std::string_view> frame = Frame(&dropped);
    if (dropped) {
      return MakeError(ErrorCode::kState, "Chromium sent a DevTools message over the cap of " +
                                              std::to_string(options.max_message_bytes) +
                                              " bytes; it was dropped");
    }
    if (frame) {
      boost::system::error_code ec;
      json::parse_options parse_options;
      parse_options.max_depth = kMaxJsonDepth;
      json::value v = json::parse(*frame, ec, json::storage_ptr(), parse_options);
      if (ec) {
        ec.clear();
        v = json::parse(ReplaceLoneSurrogates(*frame), ec, json::storage_ptr(), parse_options);
      }
      if (ec || !v.is_object()) {
        Error e = MakeError(ErrorCode::kParse, "Chromium sent a malformed DevTools message (" +
                                                   (ec ? ec.message() : "not an object") +
                                                   "): " + std::string(frame->substr(0, 200)));
        if (ec) e.offset = 0;
        return e;
      }
      return std::optional<json::object>(std::move(v.get_object()));
    }
    if (gone) return *gone;
    if (eof) {
      // The exit status explains a closed pipe best; it follows the close.
      if (pidfd >= 0) {
        pollfd exited{pidfd, POLLIN, 0};
        while (::poll(&exited, 1, kExitStatusWaitMs) < 0 && errno == EINTR) {
        }
      }
      return Gone("Chromium closed the DevTools pipe");
    }
    ATRIUM_ASSIGN_OR_RETURN(const Ready ready, Wait(deadline, /*want_write=*/false));
    if (ready == Ready::kTimeout) return std::optional<json::object>();
  }
}

Result<bool> CdpBrowser::Impl::Send(const json::object& message, Clock::time_point deadline) {
  std::string text = json::serialize(message);
  text.push_back('\0');
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = 0;
    int err = 0;
    {
      SigpipeBlock block;
      n = ::write(to_browser, text.data() + done, text.size() - done);
      err = errno;
      if (n < 0 && err == EPIPE) block.Raised();
    }
    if (n >= 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (err == EINTR) continue;
    if (err == EPIPE) return Gone("Chromium closed its end of the DevTools pipe");
    if (err != EAGAIN && err != EWOULDBLOCK) {
      return Gone("writing the DevTools pipe failed: " + Errno(err));
    }
    ATRIUM_ASSIGN_OR_RETURN(const Ready ready, Wait(deadline, /*want_write=*/true));
    if (ready != Ready::kTimeout) continue;
    // Half a message in the pipe leaves no way to frame the next one.
    if (done > 0) return Gone("Chromium stopped reading the DevTools pipe mid-message");
    return false;
  }
  return true;
}

Error CdpBrowser::Impl::Gone(const std::string& what) {
  if (gone) return *gone;
  std::string message = what;
  if (const std::string exit = ExitText(); !exit.empty()) message += " (" + exit + ")";
  if (const std::string tail = Tail(stderr_path); !tail.empty()) {
    message += "; Chromium's stderr ends with:\n" + tail;
  }
  gone = MakeError(ErrorCode::kState, message);
  return *gone;
}

std::string CdpBrowser::Impl::ExitText() {
  siginfo_t info{};
  if (pid <= 0 ||
      ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
      info.si_pid == 0) {
    return "";
  }
  if (info.si_code == CLD_EXITED) return "it exited with status " + std::to_string(info.si_status);
  return "it was killed by signal " + std::to_string(info.si_status) + " (" +
         strsignal(info.si_status) + ")";
}

// Until the browser exits (its pidfd, or the end of its pipe without one)
// or the deadline passes; what it still writes is read and dropped.
void CdpBrowser::Impl::WaitForExit(Clock::time_point deadline) {
  while (true) {
    pollfd fds[2] = {{eof ? -1 : from_browser, POLLIN, 0}, {pidfd, POLLIN, 0}};
    const int timeout = MsLeft(deadline);
    const int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) return;
    if (n == 0 && timeout == 0) return;
    if (n <= 0) continue;
    if (fds[1].revents != 0) return;
    if (fds[0].revents != 0) {
      if (!ReadAvailable().ok()) return;
      inbox.clear();
      inbox_begin = scanned = 0;
      if (eof && pidfd < 0) return;
    }
  }
}

}  // namespace atrium::h5
