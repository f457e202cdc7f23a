// CdpBrowser: one headless Chromium kept running as a child process and
// driven over the Chrome DevTools Protocol on a pipe
// (--remote-debugging-pipe: the browser reads NUL-terminated JSON messages
// on its fd 3 and writes them on its fd 4). No websocket and no thread:
// every call writes its command and reads the pipe on the caller's thread
// until the reply with its id arrives or its deadline (poll) passes.
//
// How messages are handled:
//  1. Command ids increase from 1; a reply is matched by id. A reply that
//     comes too late (its call already timed out) is dropped.
//  2. Events of the page's session are kept in a bounded queue (oldest
//     dropped first), so Navigate sees a Page.loadEventFired that arrived
//     before the Page.navigate reply. Other events are dropped.
//  3. A message larger than CdpBrowserOptions::max_message_bytes is
//     skipped up to its terminating NUL; the call that was waiting fails.
//  4. Once the browser exits, closes the pipe, crashes its page or detaches
//     it, every later call fails with the same kState error, which carries
//     the tail of Chromium's stderr. Relaunch to recover.
//
// Errors: kInvalidArgument for bad options or arguments; kIo when the
// profile folder cannot be made; kParse for a malformed message from the
// browser; kState for everything else (no such binary, no answer in time,
// a browser that died, a failed navigation, a script that threw). Base has
// no timeout code: timeouts are kState with "within <N> ms" in the message.
// No exception escapes.
//
// Concurrency: not thread-safe: one caller at a time (any thread), the
// destructor included.
#ifndef ATRIUM_DYNAMIC_H5_CDP_BROWSER_H_
#define ATRIUM_DYNAMIC_H5_CDP_BROWSER_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/result.h"

namespace atrium::h5 {

struct CdpBrowserOptions {
  std::string chromium = "/usr/bin/chromium";
  // "" -> a fresh mkdtemp folder under $TMPDIR (or /tmp), removed by the
  // destructor. A folder given here is created if missing and kept.
  // Chromium's stderr goes to chromium-stderr.log inside it.
  std::string profile_dir;
  int width = 1280;
  int height = 800;
  // Bounds the whole start: spawn, first answer, attaching to the page.
  int startup_timeout_ms = 30000;
  // Guards against a runaway message; a screenshot is a few MiB.
  size_t max_message_bytes = size_t{64} << 20;
  std::vector<std::string> extra_args;  // appended to the command line
};

class CdpBrowser {
 public:
  // Starts `chromium --headless ... --remote-debugging-pipe about:blank` in
  // a process group of its own (stdin and stdout /dev/null, stderr to the
  // profile folder, no fd of ours but the pipe ends at 3 and 4), attaches
  // to its page with flatten=true, enables Page and Runtime and makes the
  // page's viewport width x height (headless Chromium lays a whole browser
  // window, toolbar included, into --window-size). kState when the binary
  // is missing, not executable, exits, or does not answer within
  // startup_timeout_ms.
  static Result<std::unique_ptr<CdpBrowser>> Launch(CdpBrowserOptions options);

  // Browser.close, a wait of at most 5 s for the exit (pidfd + poll), then
  // SIGKILL to the process group (helpers that linger); reaps the browser
  // and removes a temporary profile.
  ~CdpBrowser();
  CdpBrowser(const CdpBrowser&) = delete;
  CdpBrowser& operator=(const CdpBrowser&) = delete;

  // Page.navigate to `url`, then waits for the load event of that
  // navigation (the main frame's commit of the navigate reply's loaderId,
  // then Page.loadEventFired). A same-document navigation needs no load.
  // Errors name the URL's origin only (a URL may carry a secret): a reply
  // with errorText ("net::ERR_CONNECTION_REFUSED"), a download, or no load
  // within timeout_ms.
  Status Navigate(const std::string& url, int timeout_ms);

  // Runtime.evaluate {expression, returnByValue, awaitPromise}: the JSON
  // text of the value ("null" for undefined; NaN, Infinity, -0 and BigInts
  // come as their unserializableValue text, e.g. "NaN", "12n"). A throw or
  // a rejected promise is an error with the exception's text and
  // description. The synchronous part gets timeout_ms too (Runtime.evaluate's
  // own timeout: V8 ends an endless loop, which would otherwise wedge the
  // page for every later call); an awaited promise is not cut short, only
  // no longer waited for.
  Result<std::string> Evaluate(const std::string& expression, int timeout_ms);

  // Any command of the page's session ("Network.clearBrowserCache") with
  // `params_json` (an object, "" for none): the JSON text of its result.
  Result<std::string> Command(std::string_view method, std::string_view params_json,
                              int timeout_ms);

  // Page.captureScreenshot as PNG: the decoded bytes.
  Result<std::string> Screenshot(int timeout_ms);

  pid_t pid() const;

 private:
  struct Impl;
  explicit CdpBrowser(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace atrium::h5

#endif  // ATRIUM_DYNAMIC_H5_CDP_BROWSER_H_
