// Child processes, data dirs and files for `atrium profile` (profile_runs.h).
#include "profile_runs.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <thread>

namespace fs = std::filesystem;
namespace prof = atrium::profile;

namespace atrium::profile_cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kStderrTailBytes = 16 * 1024;
constexpr int kStderrTailLines = 12;

struct RunOutcome {
  bool exited = false;
  int exit_status = -1;
  int signal = 0;
  bool timed_out = false;
  std::string error;        // fork / exec / pipe problem
  std::string stderr_tail;  // last kStderrTailBytes of its stderr
};

// Runs `exe` with `args`, stdin/stdout on /dev/null and stderr captured.
RunOutcome RunChild(const std::string& exe, const std::vector<std::string>& args, int timeout_s) {
  RunOutcome out;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    out.error = std::string("pipe: ") + std::strerror(errno);
    return out;
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    out.error = std::string("fork: ") + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return out;
  }
  if (pid == 0) {
    int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
    }
    ::dup2(fds[1], 2);
    ::execv(exe.c_str(), argv.data());
    const char* what = std::strerror(errno);
    (void)!::write(2, "cannot execute ", 15);
    (void)!::write(2, exe.c_str(), exe.size());
    (void)!::write(2, ": ", 2);
    (void)!::write(2, what, std::strlen(what));
    (void)!::write(2, "\n", 1);
    ::_exit(127);
  }
  ::close(fds[1]);
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  auto remaining_ms = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::max<int64_t>(0, left.count()));
  };
  bool open = true;
  char buf[4096];
  while (open && remaining_ms() > 0) {
    pollfd p{fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, std::min(remaining_ms(), 1000));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      open = false;
      break;
    }
    out.stderr_tail.append(buf, static_cast<size_t>(n));
    if (out.stderr_tail.size() > 2 * kStderrTailBytes)
      out.stderr_tail.erase(0, out.stderr_tail.size() - kStderrTailBytes);
  }
  ::close(fds[0]);
  int status = 0;
  while (true) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      out.error = std::string("waitpid: ") + std::strerror(errno);
      return out;
    }
    if (remaining_ms() == 0) {
      out.timed_out = true;
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (out.stderr_tail.size() > kStderrTailBytes)
    out.stderr_tail.erase(0, out.stderr_tail.size() - kStderrTailBytes);
  if (WIFEXITED(status)) {
    out.exited = true;
    out.exit_status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out.signal = WTERMSIG(status);
  }
  return out;
}

// The last lines of a child's stderr, indented, control characters replaced.
std::string Tail(const std::string& text) {
  std::string s = text;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  size_t start = s.size();
  for (int lines = 0; start > 0 && lines < kStderrTailLines;) {
    --start;
    if (s[start] == '\n' && ++lines == kStderrTailLines) {
      ++start;
      break;
    }
  }
  std::string out = "    | ";
  for (size_t i = start; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\n    | ";
    } else if (c == '\t' || c >= 0x20) {
      out += static_cast<char>(c);
    } else {
      out += '?';
    }
  }
  return out + "\n";
}

}  // namespace

// Writes `data` to `path` through a temporary file and a rename.
bool WriteFileAtomic(const std::string& path, const std::string& data, std::string* error) {
  std::string temp = path + ".tmp";
  FILE* f = std::fopen(temp.c_str(), "wb");
  if (f == nullptr) {
    *error = path + ": cannot create: " + std::strerror(errno);
    return false;
  }
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    *error = path + ": cannot write: " + std::strerror(errno);
    std::remove(temp.c_str());
    return false;
  }
  return true;
}

// Removes run-<n>.json files a previous profile left in `dir`.
void RemoveStaleTraces(const fs::path& dir) {
  static const std::regex kTrace(R"(run-[0-9]+\.json(\.tmp)?)");
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (std::regex_match(it->path().filename().string(), kTrace)) fs::remove(it->path(), ec);
  }
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "atrium profile: %s\n", message.c_str());
  return 1;
}

std::string RunnerExe() {
  if (const char* r = std::getenv("ATRIUM_PROFILE_RUNNER_FOR_TESTING"); r != nullptr && *r)
    return r;
  return "/proc/self/exe";
}

fs::path MakeScratchDir(std::string* error) {
  const char* tmp_root = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp_root != nullptr && *tmp_root ? tmp_root : "/tmp") + "/atrium-profile-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    *error = "cannot create a temporary directory in " + fs::path(tmpl).parent_path().string() +
             ": " + std::strerror(errno);
    return {};
  }
  return tmpl;
}

LaunchRun RunLaunch(const std::string& exe, const fs::path& app_dir, const std::string& data_dir,
                    const std::string& trace_path, int timeout_s) {
  LaunchRun run;
  auto t0 = Clock::now();
  RunOutcome r = RunChild(
      exe, {"run", app_dir.string(), "--data-dir", data_dir, "--trace", trace_path, "--quiet"},
      timeout_s);
  run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!r.error.empty()) {
    run.problem = r.error;
  } else if (r.timed_out) {
    run.problem = "killed after " + std::to_string(timeout_s) + " s (--run-timeout)";
  } else if (!r.exited) {
    run.problem = std::string("killed by signal ") + std::to_string(r.signal) + " (" +
                  strsignal(r.signal) + ")";
  } else if (r.exit_status != 0) {
    run.problem = "exit status " + std::to_string(r.exit_status);
  }
  if (run.problem.empty()) {
    auto t = prof::LoadTrace(trace_path);
    if (!t.ok()) {
      run.problem = "no usable trace: " + t.error().ToString();
    } else if (t->result != "ok") {
      run.problem = "the launch reports " + t->result;
    } else {
      run.trace = std::move(*t);
    }
  }
  if (!run.problem.empty() && !r.stderr_tail.empty()) run.stderr_tail = Tail(r.stderr_tail);
  return run;
}

std::string PrepareDataDir(const std::string& exe, const fs::path& app_dir,
                           const std::string& copy_from, const std::string& install,
                           const fs::path& dest, int timeout_s) {
  std::error_code ec;
  if (!copy_from.empty()) {
    if (!fs::is_directory(copy_from, ec)) return copy_from + ": not a directory (data dir)";
    // The team's data dir is never written: the runs use a copy (symbolic
    // links are followed, so nothing in the copy points back into it).
    fs::copy(copy_from, dest, fs::copy_options::recursive, ec);
    if (ec) return copy_from + ": cannot copy to " + dest.string() + ": " + ec.message();
  }
  if (!install.empty()) {
    if (!fs::is_regular_file(install, ec)) return install + ": no such package";
    RunOutcome r = RunChild(exe,
                            {"install", app_dir.string(), fs::absolute(install, ec).string(),
                             "--data-dir", dest.string()},
                            timeout_s);
    if (!r.error.empty()) return "installing " + install + ": " + r.error;
    if (!r.exited || r.exit_status != 0) {
      return "installing " + install + " into the runs' data dir failed (" +
             (r.exited ? "exit status " + std::to_string(r.exit_status) : std::string("killed")) +
             "):\n" + Tail(r.stderr_tail);
    }
  }
  return "";
}

}  // namespace atrium::profile_cli
