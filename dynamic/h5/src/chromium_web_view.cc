// The Chromium web view (atrium/dynamic/h5.h): Debian's chromium run as a
// child process. A window is spawned in a session of its own and left
// running; a headless load is waited for, its stdout (--dump-dom) read
// through a pipe, and killed with its process group when it overruns.
//
// Concurrency: Show is thread-safe (each call owns its child and pipe).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "atrium/dynamic/h5.h"

extern char** environ;

namespace atrium {
namespace {

namespace fs = std::filesystem;

struct ChildRun {
  bool started = false;
  bool timed_out = false;
  int status = -1;
  std::string out;
};

// Runs argv in a process group of its own with stdout captured (when
// `capture`) and stderr to `err_path`; waits at most `timeout_s` when
// `wait`.
ChildRun Spawn(const std::vector<std::string>& args, const std::string& err_path, bool wait,
               int timeout_s) {
  ChildRun run;
  int fds[2] = {-1, -1};
  if (wait && ::pipe2(fds, O_CLOEXEC) != 0) return run;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (wait) {
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  // Nothing of the host beyond stdio: not the H5 server's listening
  // socket, not the databases.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, wait ? POSIX_SPAWN_SETPGROUP : POSIX_SPAWN_SETSID);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (wait) ::close(fds[1]);
  if (spawned != 0) {
    if (wait) ::close(fds[0]);
    return run;
  }
  run.started = true;
  if (!wait) {
    // A window outlives this call: `setsid --fork` started it in a session
    // of its own and exited; reap that.
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    run.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return run;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[8192];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      run.timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    run.out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (run.timed_out) ::kill(-pid, SIGKILL);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!run.timed_out) {
    // Chromium's helpers may linger after the browser exits.
    ::kill(-pid, SIGKILL);
  }
  run.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return run;
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 1500 ? s.substr(s.size() - 1500) : s;
}

class ChromiumWebView final : public H5WebView {
 public:
  explicit ChromiumWebView(ChromiumWebViewOptions options) : options_(std::move(options)) {}

  Status Show(const H5Page& page) override {
    if (::access(options_.chromium.c_str(), X_OK) != 0) {
      return MakeError(ErrorCode::kState, options_.chromium +
                                              " is missing: install Debian's chromium package, or "
                                              "register an H5WebView of your own");
    }
    return options_.headless ? Headless(page) : Window(page);
  }

 private:
  std::vector<std::string> Base(const std::string& profile) const {
    std::vector<std::string> args = {
        options_.chromium, "--no-first-run", "--no-default-browser-check",
        "--user-data-dir=" + profile,
        "--window-size=" + std::to_string(options_.width) + "," + std::to_string(options_.height)};
    if (::geteuid() == 0) args.push_back("--no-sandbox");  // Chromium refuses root otherwise
    return args;
  }

  Status Window(const H5Page& page) {
    const char* x = std::getenv("DISPLAY");
    const char* wl = std::getenv("WAYLAND_DISPLAY");
    if ((x == nullptr || *x == '\0') && (wl == nullptr || *wl == '\0')) {
      return MakeError(ErrorCode::kState,
                       "no display for a Chromium window ($DISPLAY and $WAYLAND_DISPLAY are "
                       "unset): open it headless, or register an H5WebView of your own");
    }
    std::string profile = options_.profile_dir;
    if (profile.empty()) {
      // The user's own cache folder, not a shared temp path another user
      // could make first.
      const char* cache = std::getenv("XDG_CACHE_HOME");
      const char* home = std::getenv("HOME");
      if ((cache == nullptr || *cache == '\0') && (home == nullptr || *home == '\0')) {
        return MakeError(ErrorCode::kState, "no $XDG_CACHE_HOME or $HOME for a Chromium profile");
      }
      profile = (cache != nullptr && *cache != '\0' ? fs::path(cache) : fs::path(home) / ".cache") /
                "atrium" / "h5-window";
    }
    std::error_code ec;
    fs::create_directories(profile, ec);
    fs::permissions(profile, fs::perms::owner_all, ec);
    std::vector<std::string> args = {"/usr/bin/setsid", "--fork"};
    for (std::string& a : Base(profile)) args.push_back(std::move(a));
    args.push_back("--app=" + page.url);
    ChildRun run = Spawn(args, "/dev/null", /*wait=*/false, 0);
    if (!run.started || run.status != 0) {
      return MakeError(ErrorCode::kState, "cannot start " + options_.chromium);
    }
    return Status::Ok();
  }

  Status Headless(const H5Page& page) {
    std::string profile = options_.profile_dir;
    bool scratch = false;
    if (profile.empty()) {
      std::string tmpl = (fs::temp_directory_path() / "atrium-h5-XXXXXX").string();
      if (::mkdtemp(tmpl.data()) == nullptr) {
        return MakeError(ErrorCode::kIo, "cannot make a Chromium profile folder");
      }
      profile = tmpl;
      scratch = true;
    }
    std::error_code ec;
    fs::create_directories(profile, ec);
    const std::string err = profile + "/chromium.log";
    Status result = Status::Ok();
    auto load = [&](std::vector<std::string> extra, std::string* out) {
      std::vector<std::string> args = Base(profile);
      args.insert(args.end(), {"--headless", "--disable-gpu", "--hide-scrollbars"});
      if (options_.virtual_time_budget_ms > 0) {
        args.push_back("--virtual-time-budget=" + std::to_string(options_.virtual_time_budget_ms));
      }
      args.insert(args.end(), extra.begin(), extra.end());
      args.push_back(page.url);
      ChildRun run = Spawn(args, err, /*wait=*/true, options_.timeout_s);
      if (!run.started) return Status(MakeError(ErrorCode::kState, "cannot start Chromium"));
      if (run.timed_out) {
        return Status(MakeError(ErrorCode::kState, "Chromium did not finish loading " + page.url +
                                                       " within " +
                                                       std::to_string(options_.timeout_s) + " s"));
      }
      if (run.status != 0) {
        return Status(
            MakeError(ErrorCode::kState,
                      "Chromium exited with " + std::to_string(run.status) + ": " + Tail(err)));
      }
      if (out != nullptr) *out = std::move(run.out);
      return Status::Ok();
    };
    if (options_.on_dom) {
      std::string dom;
      result = load({"--dump-dom"}, &dom);
      if (result.ok()) options_.on_dom(dom);
    }
    if (result.ok() && !options_.screenshot.empty()) {
      result = load({"--screenshot=" + options_.screenshot}, nullptr);
      if (result.ok() && !fs::exists(options_.screenshot)) {
        result = MakeError(ErrorCode::kState, "Chromium wrote no screenshot: " + Tail(err));
      }
    }
    if (scratch) fs::remove_all(profile, ec);
    return result;
  }

  const ChromiumWebViewOptions options_;
};

// &amp; and the other entities --dump-dom writes.
std::string DecodeEntities(std::string_view s) {
  static const std::pair<std::string_view, std::string_view> kEntities[] = {
      {"&amp;", "&"},   {"&lt;", "<"},  {"&gt;", ">"},
      {"&quot;", "\""}, {"&#39;", "'"}, {"&nbsp;", " "}};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    bool matched = false;
    if (s[i] == '&') {
      for (const auto& [from, to] : kEntities) {
        if (s.substr(i).starts_with(from)) {
          out += to;
          i += from.size();
          matched = true;
          break;
        }
      }
    }
    if (!matched) out += s[i++];
  }
  return out;
}

bool IsBlock(std::string_view tag) {
  static const std::string_view kBlocks[] = {
      "p",  "div",     "h1",     "h2",     "h3", "h4", "h5",    "h6",    "li",  "tr",
      "br", "section", "header", "footer", "ul", "ol", "table", "title", "main"};
  for (std::string_view b : kBlocks) {
    if (tag == b) return true;
  }
  return false;
}

}  // namespace

std::shared_ptr<H5WebView> MakeChromiumWebView(ChromiumWebViewOptions options) {
  return std::make_shared<ChromiumWebView>(std::move(options));
}

std::string DomText(std::string_view html) {
  std::string text;
  std::string line;
  auto flush = [&] {
    std::string decoded = DecodeEntities(line);
    size_t b = decoded.find_first_not_of(" \t\r\n");
    size_t e = decoded.find_last_not_of(" \t\r\n");
    if (b != std::string::npos) text += decoded.substr(b, e - b + 1) + "\n";
    line.clear();
  };
  for (size_t i = 0; i < html.size();) {
    if (html[i] != '<') {
      const char c = html[i++];
      line += (c == '\n' || c == '\t' || c == '\r') ? ' ' : c;
      continue;
    }
    const size_t close = html.find('>', i);
    if (close == std::string_view::npos) break;
    std::string_view tag = html.substr(i + 1, close - i - 1);
    const bool end_tag = !tag.empty() && tag[0] == '/';
    if (end_tag) tag.remove_prefix(1);
    std::string name;
    for (char c : tag) {
      if (!std::isalnum(static_cast<unsigned char>(c))) break;
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    i = close + 1;
    if (!end_tag && (name == "script" || name == "style" || name == "title")) {
      const size_t skip = html.find("</" + name, i);
      i = skip == std::string_view::npos ? html.size() : skip;
      continue;
    }
    if (IsBlock(name)) {
      flush();
    } else if ((name == "td" || name == "th") && !line.empty() && line.back() != ' ') {
      line += ' ';
    }
  }
  flush();
  return text;
}

}  // namespace atrium
