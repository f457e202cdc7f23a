// H5 micro-apps: web pages a release platform ships as offline packages
// (h5_package artifacts, docs/h5.md), served to the web view from the
// device by a loopback server, each H5 app on its own browser origin
// (http://<appId>.localhost:<port>/), with a JS bridge to the host APIs
// (atrium/host_api.h) that denies by default.
//
// The H5 layer registers an H5Pages service with the container's service
// registry when it attaches; a host (or the "h5" micro-app launcher) opens a
// page through it:
//
//   auto pages = container->services().Get<atrium::H5Pages>();
//   auto page = pages->Open("help", "bills.html", {{"month", "2026-11"}});
//   if (page.ok()) web_view.Load(page->url);   // page->offline: from the package
//
// Concurrency: H5Pages methods are thread-safe.
#ifndef ATRIUM_DYNAMIC_H5_H_
#define ATRIUM_DYNAMIC_H5_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "atrium/export.h"
#include "atrium/micro_app.h"
#include "atrium/result.h"

namespace atrium {

// One page load, pinned to one package version: every file of it comes
// from that version, whatever is activated while it loads.
struct H5Page {
  std::string app_id;
  // What the web view loads: the package's page on the app's origin with
  // the page load's one-time launch code (trade it once; keep it out of
  // logs until then), or the app's fallback URL.
  std::string url;
  // The page without the launch code, to show to people.
  std::string display_url;
  bool offline = false;         // true: from the package; false: the fallback URL
  std::string version;          // the package version (offline only)
  std::string fallback_reason;  // why the fallback was opened (not offline)
};

struct H5ServerStats {
  bool running = false;
  uint16_t port = 0;
  uint64_t requests = 0;
  uint64_t files_served = 0;
  uint64_t refused = 0;         // 4xx answers: bad host, origin, path, session
  uint64_t bridge_calls = 0;    // answered by a host API
  uint64_t bridge_refused = 0;  // refused by the grant check or the bridge's own checks
  uint64_t sessions = 0;        // page loads opened
  uint64_t events = 0;          // events emitted to open page loads (Emit)
  uint64_t polls = 0;           // event polls answered
};

class H5Pages {
 public:
  static constexpr std::string_view kInterfaceId = "atrium.H5Pages";
  virtual ~H5Pages() = default;
  // Opens `path` ("" for the entry page; "bills.html") of H5 app `app_id`
  // with `params` as its query. A staged package version of the app becomes
  // active first (the H5 layer's activation point: the next open). Without
  // a usable package (none installed, disabled, its manifest or files
  // unreadable) the app's fallback URL is returned with the reason.
  // kNotFound when neither a package nor app.json's "h5" section knows the
  // app; kInvalidArgument for a path outside the package.
  virtual Result<H5Page> Open(std::string_view app_id, std::string_view path,
                              const LaunchParams& params) = 0;
  // Sends native event `event` with JSON `data` to the open pages of H5
  // app `app_id` that listen (AtriumBridge.on(event, fn) calls fn(data,
  // event)); a page opened later does not see it. Returns how many page
  // loads of the app the server knows (opened and not yet pushed out by
  // newer ones: a page closed since still counts). kInvalidArgument for an
  // event name outside [A-Za-z0-9_.:-]{1,64}, data that is not JSON or
  // over 16 KiB.
  virtual Result<size_t> Emit(std::string_view app_id, std::string_view event,
                              std::string_view data) = 0;
  virtual H5ServerStats stats() const = 0;
};

// The host's web view for H5 pages. The "h5" micro-app launcher (an H5 app
// opened through the router: Launch("help"), atrium://app/help/faq.html)
// opens the page with H5Pages::Open and hands it to the best-ranked
// H5WebView service; with none registered, to a Chromium app window
// (MakeChromiumWebView with default options), which needs a display.
//
// Concurrency: Show runs on the launching thread; an implementation that
// keeps state across calls makes it thread-safe.
class H5WebView {
 public:
  static constexpr std::string_view kInterfaceId = "atrium.H5WebView";
  virtual ~H5WebView() = default;
  virtual Status Show(const H5Page& page) = 0;
};

struct ChromiumWebViewOptions {
  std::string chromium = "/usr/bin/chromium";  // Debian's chromium package
  // Its profile folder; "" makes a fresh one under $TMPDIR for the web
  // view's life (headless; a window uses ~/.cache/atrium/h5-window).
  std::string profile_dir;
  // false: an app window (--app=URL) that Show starts and leaves running.
  // true: one headless browser kept for the web view's life (as an app
  // keeps its web view warm); each Show loads its page in it and waits (at
  // most timeout_s) for the load event and the page to settle; the
  // rendered DOM goes to on_dom, a PNG of the viewport to `screenshot`
  // when named. A page that fails to load (a refused connection, an error
  // status page is not one) is an error naming the URL's origin.
  bool headless = false;
  std::function<void(const std::string& dom)> on_dom;
  std::string screenshot;
  int width = 1280;
  int height = 800;
  int timeout_s = 60;
  // Headless: how long after the load event the page may run before the
  // DOM is taken: until the document is complete and no bridge call is in
  // flight (AtriumBridge.callsInFlight) on two checks 50 ms apart, or this
  // many ms. 0 takes the DOM at the load event (what a timing needs). Work
  // a page starts on timers or with fetches of its own is not waited for.
  int settle_ms = 10000;
};

// A web view that runs Chromium as a separate process (no thread of the
// host). Show fails with kState when Chromium is missing, when a window
// has no display ($DISPLAY / $WAYLAND_DISPLAY), or when a headless load
// fails or times out (with what Chromium said); after a failed headless
// Show the next one starts a new browser.
ATRIUM_EXPORT std::shared_ptr<H5WebView> MakeChromiumWebView(ChromiumWebViewOptions options);

// The text a person reads in a rendered DOM (HTML as Chromium serializes it): element
// text with scripts, styles and the title left out, one line per block element (p,
// div, h1-h6, li, tr, br, ...), table cells apart by a space, entities
// decoded (&amp; &lt; &gt; &quot; &#39; &nbsp;). Other tags join their
// text as written.
ATRIUM_EXPORT std::string DomText(std::string_view html);

}  // namespace atrium

#endif  // ATRIUM_DYNAMIC_H5_H_
