// The Chromium web view (atrium/dynamic/h5.h): Debian's chromium run as a
// child process. A window is spawned in a session of its own and left
// running; headless, one browser is kept for the web view's life and
// driven over the DevTools protocol (CdpBrowser): each Show navigates its
// page, waits for the page to settle, and takes the DOM and a screenshot.
//
// Concurrency: Show is thread-safe (headless Shows take turns on the one
// browser).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "atrium/base/result_macros.h"
#include "atrium/dynamic/h5.h"
#include "atrium/dynamic/h5/cdp_browser.h"

extern char** environ;

namespace atrium {
namespace {

namespace fs = std::filesystem;

// Starts argv in a session of its own (a window that outlives the call:
// `setsid --fork` forks it and exits) with stdio on /dev/null and no other
// fd of the host (not the H5 server's listening socket, not the databases);
// true when setsid started it.
bool SpawnDetached(const std::vector<std::string>& args) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (spawned != 0) return false;
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// Resolves once the document is complete and no bridge call is in flight
// on two checks 50 ms apart, or when `budget_ms` has passed.
std::string SettleScript(int budget_ms) {
  return "new Promise(function (resolve) {"
         "  var end = Date.now() + " +
         std::to_string(budget_ms) +
         ", quiet = 0;"
         "  (function check() {"
         "    var busy = document.readyState !== 'complete' ||"
         "        (window.AtriumBridge && AtriumBridge.callsInFlight > 0);"
         "    quiet = busy ? 0 : quiet + 1;"
         "    if (quiet >= 2 || Date.now() >= end) return resolve(quiet >= 2);"
         "    setTimeout(check, 50);"
         "  })();"
         "})";
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
    if (!SpawnDetached(args))
      return MakeError(ErrorCode::kState, "cannot start " + options_.chromium);
    return Status::Ok();
  }

  Status Headless(const H5Page& page) {
    std::lock_guard<std::mutex> lock(mu_);
    const int timeout_ms = std::max(1, options_.timeout_s) * 1000;
    if (browser_ == nullptr) {
      h5::CdpBrowserOptions o;
      o.chromium = options_.chromium;
      o.profile_dir = options_.profile_dir;
      o.width = options_.width;
      o.height = options_.height;
      o.startup_timeout_ms = timeout_ms;
      auto launched = h5::CdpBrowser::Launch(std::move(o));
      if (!launched.ok()) return launched.error();
      browser_ = std::move(*launched);
    }
    Status shown = ShowLocked(page, timeout_ms);
    // A browser that failed a page may be gone: the next Show starts anew.
    if (!shown.ok()) browser_.reset();
    return shown;
  }

  Status ShowLocked(const H5Page& page, int timeout_ms) {
    ATRIUM_RETURN_IF_ERROR(browser_->Navigate(page.url, timeout_ms));
    if (options_.settle_ms > 0) {
      auto settled =
          browser_->Evaluate(SettleScript(options_.settle_ms), options_.settle_ms + 5000);
      if (!settled.ok()) return settled.error();
    }
    if (options_.on_dom) {
      auto html =
          browser_->Evaluate("'<!DOCTYPE html>' + document.documentElement.outerHTML", timeout_ms);
      if (!html.ok()) return html.error();
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(*html, ec);
      if (ec || !v.is_string()) {
        return MakeError(ErrorCode::kParse, "the page's DOM did not come as a string");
      }
      options_.on_dom(std::string(v.get_string()));
    }
    if (!options_.screenshot.empty()) {
      auto png = browser_->Screenshot(timeout_ms);
      if (!png.ok()) return png.error();
      std::ofstream out(options_.screenshot, std::ios::binary | std::ios::trunc);
      out << *png;
      out.close();
      if (!out) return MakeError(ErrorCode::kIo, "cannot write " + options_.screenshot);
    }
    return Status::Ok();
  }

  const ChromiumWebViewOptions options_;
  std::mutex mu_;
  std::unique_ptr<h5::CdpBrowser> browser_;  // guarded by mu_; headless, made by the first Show
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
