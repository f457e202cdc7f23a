// `atrium h5` (see h5_commands.h).
#include "h5_commands.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "atrium/container.h"

namespace po = boost::program_options;

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: atrium h5 open <app-dir> <appId | atrium://app/<appId>/path?k=v>\n"
               "                      [--data-dir D] [--headless] [--screenshot out.png]\n"
               "                      [--no-guard]\n"
               "  runs the app's launch, then opens the H5 app in Chromium: an app window,\n"
               "  served until Ctrl-C; --headless: no window, the page's text printed;\n"
               "  --screenshot implies --headless\n");
  return 2;
}

class PrintingView final : public PrintingWebView {
 public:
  PrintingView(bool headless, std::string screenshot) {
    atrium::ChromiumWebViewOptions options;
    options.headless = headless || !screenshot.empty();
    headless_ = options.headless;
    options.screenshot = std::move(screenshot);
    if (options.headless) {
      options.on_dom = [](const std::string& dom) {
        std::istringstream lines(atrium::DomText(dom));
        std::string line;
        while (std::getline(lines, line)) std::printf("  | %s\n", line.c_str());
      };
    }
    screenshot_ = options.screenshot;
    chromium_ = atrium::MakeChromiumWebView(std::move(options));
  }

  atrium::Status Show(const atrium::H5Page& page) override {
    if (page.offline) {
      std::printf("page %s %s (offline, from its package): %s\n", page.app_id.c_str(),
                  page.version.c_str(), page.display_url.c_str());
    } else {
      std::printf("page %s (fallback URL: %s): %s\n", page.app_id.c_str(),
                  page.fallback_reason.c_str(), page.display_url.c_str());
    }
    std::fflush(stdout);
    if (headless_) {
      std::lock_guard<std::mutex> lock(mu_);
      queued_.push_back(page);
      return atrium::Status::Ok();
    }
    return chromium_->Show(page);
  }

  atrium::Status ShowQueued(atrium::Container& container) override {
    std::vector<atrium::H5Page> pages;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pages.swap(queued_);
    }
    for (const atrium::H5Page& page : pages) {
      atrium::Status shown = atrium::Status::Ok();
      std::atomic<bool> done{false};
      std::thread loader([&] {
        shown = chromium_->Show(page);
        done = true;
        (void)container.scheduler().PostMain([] {});  // wakes the loop to see `done`
      });
      container.scheduler().RunMainLoopUntil([&] { return done.load(); }, std::chrono::hours(1));
      loader.join();
      if (!shown.ok()) {
        atrium::Error e = shown.error();
        // Not the URL: it carries the page load's launch code.
        e.message =
            "H5 app '" + page.app_id + "': the web view did not show its page: " + e.message;
        return e;
      }
      if (!screenshot_.empty()) std::printf("screenshot: %s\n", screenshot_.c_str());
    }
    return atrium::Status::Ok();
  }

 private:
  std::shared_ptr<atrium::H5WebView> chromium_;
  std::string screenshot_;
  bool headless_ = false;
  std::mutex mu_;
  std::vector<atrium::H5Page> queued_;  // guarded by mu_
};

}  // namespace

std::shared_ptr<PrintingWebView> MakePrintingWebView(bool headless, std::string screenshot) {
  return std::make_shared<PrintingView>(headless, std::move(screenshot));
}

int H5Main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "open") return Usage();
  std::string app_dir;
  std::string target;
  std::string data_dir;
  std::string screenshot;
  bool headless = false;
  bool no_guard = false;
  po::options_description desc;
  desc.add_options()("app", po::value(&app_dir))("target", po::value(&target))(
      "data-dir", po::value(&data_dir))("screenshot", po::value(&screenshot))(
      "headless", po::bool_switch(&headless))("no-guard", po::bool_switch(&no_guard));
  po::positional_options_description pos;
  pos.add("app", 1).add("target", 1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc - 1, argv + 1).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "atrium: %s\n", e.what());
    return Usage();
  }
  if (app_dir.empty() || target.empty()) return Usage();
  // A window needs the server until the person is done: the command then
  // serves until SIGINT or SIGTERM, taken with sigwait (blocked before any
  // thread starts, so every thread inherits the mask).
  const bool window = !headless && screenshot.empty();
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (window) pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  atrium::ContainerOptions options;
  options.app_dir = app_dir;
  options.data_dir = data_dir;
  options.launch_guard = !no_guard;
  auto container = atrium::Container::Open(std::move(options));
  if (!container.ok()) {
    std::fprintf(stderr, "atrium: cannot open app: %s\n", container.error().ToString().c_str());
    return 1;
  }
  atrium::Container& ct = **container;
  // The launch first: the bundles that provide host APIs start with it.
  if (atrium::Status started = ct.Start(); !started.ok()) {
    std::fprintf(stderr, "atrium: the launch failed: %s\n", started.error().ToString().c_str());
    return 1;
  }
  // The launch's idle-stage work (bundle tasks on the pools) finishes before
  // the container closes, whichever way the command ends: a page load runs
  // the main loop, which lets that stage start, and closing the container
  // under a running bundle task unloads its code beneath it (as `atrium
  // run` does, it waits, at most 60 s).
  struct FinishLaunch {
    atrium::Container& ct;
    ~FinishLaunch() {
      if (ct.pipeline() != nullptr) {
        ct.scheduler().RunMainLoopUntil([&] { return ct.pipeline()->finished(); },
                                        std::chrono::seconds(60));
      }
    }
  } finish_launch{ct};
  std::shared_ptr<PrintingWebView> printing = MakePrintingWebView(headless, screenshot);
  auto view = ct.services().Register<atrium::H5WebView>(printing, {}, /*ranking=*/1000);
  if (!view.ok()) {
    std::fprintf(stderr, "atrium: %s\n", view.error().ToString().c_str());
    return 1;
  }
  const atrium::Status opened = target.starts_with("atrium:") || target.starts_with("ATRIUM:")
                                    ? ct.router().OpenUrl(target)
                                    : ct.router().Launch(target);
  if (!opened.ok()) {
    std::fprintf(stderr, "atrium: cannot open %s: %s\n", target.c_str(),
                 opened.error().ToString().c_str());
    return 1;
  }
  if (atrium::Status shown = printing->ShowQueued(ct); !shown.ok()) {
    std::fprintf(stderr, "atrium: cannot open %s: %s\n", target.c_str(),
                 shown.error().ToString().c_str());
    return 1;
  }
  if (window) {
    std::printf("serving the page until Ctrl-C\n");
    std::fflush(stdout);
    int signal = 0;
    sigwait(&stop_signals, &signal);
  }
  return 0;
}
