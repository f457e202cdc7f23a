// `atrium h5 open <app-dir> <appId | atrium://app/...> [--data-dir D]
// [--headless] [--screenshot out.png] [--no-guard]`: runs the app's launch,
// then opens the H5 app through the router (its package, or its fallback
// URL) in Chromium: an app window (the page is served until SIGINT or
// SIGTERM), or headless, printing the text the page rendered (and writing a
// screenshot). Prints which version served the page
// or why the fallback opened. Exit 0 when the page was shown, 1 when the app
// or the page could not open, 2 for bad arguments.
//
// `atrium run --headless` shows H5 pages the same way.
#ifndef ATRIUM_TOOLS_H5_COMMANDS_H_
#define ATRIUM_TOOLS_H5_COMMANDS_H_

#include <memory>
#include <string>

#include "atrium/dynamic/h5.h"

// argv[0] is "h5".
int H5Main(int argc, char** argv);

namespace atrium {
class Container;
}

// A web view that prints each page it shows ("page help 1.0.0 (offline):
// <url>", or the fallback and why) and then shows it with Chromium: a
// window at once, or, headless, queued: the router's open returns as it
// does with a window, and ShowQueued loads the pages in headless Chromium
// with the rendered text printed below (and a PNG written to `screenshot`
// when it is not empty), outside the launch guard's watch of the open (a
// slow page is not a hung open).
class PrintingWebView : public atrium::H5WebView {
 public:
  // Loads the queued pages one by one on a thread of the command while the
  // container's main loop runs (host APIs on the main thread answer);
  // the first failure.
  virtual atrium::Status ShowQueued(atrium::Container& container) = 0;
};
std::shared_ptr<PrintingWebView> MakePrintingWebView(bool headless, std::string screenshot);

#endif  // ATRIUM_TOOLS_H5_COMMANDS_H_
