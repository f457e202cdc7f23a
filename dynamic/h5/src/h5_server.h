// H5Server: the loopback server behind H5 micro-apps. One HttpServer
// (dynamic/http) bound to 127.0.0.1, running on a runner its owner lends it
// (the H5 layer: one long-running task on the scheduler's "net" pool), that
// answers three kinds of request, each only on the origin of the H5 app it
// is for (Host "<appId>.localhost:<port>"; any other Host: 421):
//  1. the files of a page load: GET/HEAD of a path in the package's www/
//     folder, from the version the page load is pinned to. A page load is a
//     session the layer opened (AddSession). Its secret, the session token,
//     only ever leaves the server in a Set-Cookie (HttpOnly, SameSite=Strict,
//     host-only: the app's origin); the entry URL carries a one-time launch
//     code instead, which the first request that presents it trades for
//     that cookie (a URL shows up in process lists and logs: a used code is
//     worth nothing). Every other request needs the cookie (403 without it,
//     or with another app's session). Each file goes out with the app's
//     Content-Security-Policy, nosniff, no referrer, and the cache policy of
//     its manifest; text files (HTML, JS, CSS, JSON, SVG, ...) up to
//     kMaxCompressedFileBytes go out zstd-compressed to a client whose
//     Accept-Encoding takes zstd (a representation with its own ETag, Vary:
//     Accept-Encoding; a Range request gets the file as stored);
//  2. /__atrium/bridge.js, the bridge script (AtriumBridge.call);
//  3. POST /__atrium/call, one bridge call: accepted only with the app's own
//     Origin, the session cookie of that app, the header "X-Atrium-Bridge:
//     1" (which a cross-origin page can only send after a CORS preflight,
//     which is refused), and a JSON body {"api": ..., "params": {...}}
//     within kMaxCallBytes; then checked and run by the container's
//     HostApis as caller "h5:<appId>" with the APIs the session's manifest
//     requests. The answer is {"result": ...} or {"error": ..., "code": ...}.
// What the server refuses is counted and never reaches a host API.
//
// Concurrency: AddSession, port(), stats() are thread-safe; Stop and the
// destructor belong to the owner's thread. Requests are handled on the
// runner; bridge calls finish on the thread their API runs on.
#ifndef ATRIUM_DYNAMIC_H5_H5_SERVER_H_
#define ATRIUM_DYNAMIC_H5_H5_SERVER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "atrium/dynamic/h5.h"
#include "atrium/dynamic/http/http_server.h"
#include "atrium/host_api.h"

namespace atrium::h5 {

inline constexpr size_t kMaxCallBytes = 64 * 1024;
// Text files up to this size go out zstd-compressed to clients that take it.
inline constexpr uint64_t kMaxCompressedFileBytes = 4 * 1024 * 1024;
inline constexpr size_t kMaxSessions = 256;
inline constexpr std::string_view kLaunchParam = "__atrium_launch";
inline constexpr std::string_view kSessionCookie = "atrium_session";

// What one page load is pinned to.
struct PageSession {
  std::string app_id;
  std::string version;
  std::string www_real;  // realpath of the version's www/ folder
  std::string entry;     // served for "/"
  std::string csp;
  int64_t max_age_s = 0;
  std::vector<std::string> immutable;  // path prefixes
  std::vector<std::string> jsapis;     // the APIs its manifest requests
};

struct H5ServerOptions {
  HostApis* host_apis = nullptr;  // outlives the server
  // Lends the server its runner (http::HttpServerOptions::run_on).
  std::function<bool(std::function<void()>)> run_on;
  int idle_timeout_ms = 15000;
  size_t max_connections = 128;
};

class H5Server {
 public:
  static Result<std::unique_ptr<H5Server>> Start(H5ServerOptions options);
  ~H5Server();

  // Opens a page load; returns its one-time launch code (64 hex digits) for
  // the entry URL's kLaunchParam. The oldest session (and its unused code)
  // goes when there are kMaxSessions.
  std::string AddSession(PageSession session);
  // Tests: a session whose token and launch code (64 hex digits each) the
  // test chooses, and one request handled on the calling thread as the
  // runner would.
  void AddSessionForTesting(PageSession session, const std::string& token,
                            const std::string& launch_code);
  void HandleForTesting(http::Request& req, http::Answer answer) { Handle(req, std::move(answer)); }
  uint16_t port() const;
  // "http://<appId>.localhost:<port>"
  std::string Origin(std::string_view app_id) const;
  H5ServerStats stats() const;
  void Stop();

 private:
  struct Counters {
    std::atomic<uint64_t> files{0};
    std::atomic<uint64_t> refused{0};
    std::atomic<uint64_t> bridge_calls{0};
    std::atomic<uint64_t> bridge_refused{0};
    std::atomic<uint64_t> sessions{0};
  };

  explicit H5Server(H5ServerOptions options);
  void Handle(http::Request& req, http::Answer answer);
  void ServeFiles(http::Request& req, const std::string& app, std::string_view query,
                  http::Answer& answer);
  void Bridge(http::Request& req, const std::string& app, http::Answer& answer);
  std::shared_ptr<const PageSession> FindSession(std::string_view token,
                                                 std::string_view app) const;
  // Trades a launch code of `app` for its session's token ("" when the code
  // is unknown, used or another app's).
  std::string RedeemLaunchCode(std::string_view code, std::string_view app);

  H5ServerOptions options_;
  std::unique_ptr<http::HttpServer> http_;
  std::string host_suffix_;  // ".localhost:<port>", set before the runner starts
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const PageSession>> sessions_;  // guarded by mu_
  std::deque<std::string> session_order_;                                         // guarded by mu_
  // Unused launch codes -> their session's token; guarded by mu_.
  std::unordered_map<std::string, std::string> launch_codes_;
};

}  // namespace atrium::h5

#endif  // ATRIUM_DYNAMIC_H5_H5_SERVER_H_
