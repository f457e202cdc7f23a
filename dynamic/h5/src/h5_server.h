// H5Server: the loopback server behind H5 micro-apps. One HttpServer
// (dynamic/http) bound to 127.0.0.1, running on a runner its owner lends it
// (the H5 layer: one long-running task on the scheduler's "net" pool), that
// answers three kinds of request, each only on the origin of the H5 app it
// is for (Host "<appId>.localhost:<port>"; any other Host: 421):
//  1. the files of a page load: GET/HEAD of a path in the package's www/
//     folder, from the version the page load is pinned to, and of
//     /__shared/<lib>/<path> in the www/ folder of a library package its
//     manifest uses (pinned too; the app's own "__shared" folder is never
//     served). A page load is a
//     session the layer opened (AddSession). Its secret, the session token,
//     only ever leaves the server in a Set-Cookie (HttpOnly, SameSite=Strict,
//     host-only: the app's origin); the entry URL carries a one-time launch
//     code instead, which the first request that presents it trades for
//     that cookie (a URL shows up in process lists and logs: a used code is
//     worth nothing). Every other request needs the cookie (403 without it,
//     or with another app's session). Each file goes out with the app's
//     Content-Security-Policy, nosniff, no referrer, and the cache policy of
//     its manifest; text files (HTML, JS, CSS, JSON, SVG, ...) up to
//     kMaxCompressedFileBytes go out compressed to a client whose
//     Accept-Encoding takes zstd (preferred) or gzip (a representation with
//     its own ETag, Vary: Accept-Encoding; a Range request gets the file as
//     stored);
//  2. /__atrium/bridge.js, the bridge script (AtriumBridge.call, .on);
//  3. POST /__atrium/call, one bridge call: accepted only with the app's own
//     Origin, the session cookie of that app, the header "X-Atrium-Bridge:
//     1" (which a cross-origin page can only send after a CORS preflight,
//     which is refused), and a JSON body {"api": ..., "params": {...}}
//     within kMaxCallBytes; then checked and run by the container's
//     HostApis as caller "h5:<appId>" with the APIs the session's manifest
//     requests. The answer is {"result": ...} or {"error": ..., "code": ...};
//  4. POST /__atrium/events, the page's long poll for native events (Emit),
//     with the same checks as a call and a body {"after": N, "page": id}
//     (N omitted the first time: from the page load's opening; N below
//     that is refused; `id` the document's own random id, [0-9a-z-]{1,40},
//     optional). Events newer than N are answered at once; else the request
//     is held until one is emitted or for kPollHoldMs, then answered
//     {"events": [], "next": N}. A document holds one poll (a new one ends
//     its older one), a page load at most kMaxPollsPerSession (429 beyond).
//     The answer is {"events": [{"event": name, "data": ...}], "next": seq,
//     "missed": k} (k events older than the kMaxRecentEvents kept were not
//     delivered).
// What the server refuses is counted and never reaches a host API.
//
// A launch code is good for kLaunchCodeTtlMs after AddSession (read from
// the injected clock): an entry URL that waited longer (a link copied out
// of a log) opens nothing.
//
// Concurrency: AddSession, Emit, ExpireHeldPolls, port(), stats() are
// thread-safe; Stop and the destructor belong to the owner's thread.
// Requests are handled on the runner; bridge calls finish on the thread
// their API runs on; a held poll is answered on the thread that ends it
// (an Emit, the expiry timer's task, ExpireHeldPolls, or the runner when
// the same document polls again).
#ifndef ATRIUM_DYNAMIC_H5_H5_SERVER_H_
#define ATRIUM_DYNAMIC_H5_H5_SERVER_H_

#include <atomic>
#include <boost/json/value.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "atrium/base/clock.h"
#include "atrium/dynamic/h5.h"
#include "atrium/dynamic/http/http_server.h"
#include "atrium/host_api.h"

namespace atrium::h5 {

inline constexpr size_t kMaxCallBytes = 64 * 1024;
// Text files up to this size go out zstd- or gzip-compressed to clients
// that take it.
inline constexpr uint64_t kMaxCompressedFileBytes = 4 * 1024 * 1024;
inline constexpr size_t kMaxSessions = 256;
inline constexpr std::string_view kLaunchParam = "__atrium_launch";
inline constexpr std::string_view kSessionCookie = "atrium_session";
inline constexpr int64_t kLaunchCodeTtlMs = 60'000;
// Events: a held poll's longest wait (under the HTTP handler timeout), the
// events kept per app for pages polling behind, the documents of one page
// load (frames, a reload) that may hold a poll at once, and the largest
// event's JSON data.
inline constexpr int64_t kPollHoldMs = 25'000;
inline constexpr size_t kMaxRecentEvents = 64;
inline constexpr size_t kMaxPollsPerSession = 8;  // documents of one page load that listen
inline constexpr size_t kMaxEventBytes = 16 * 1024;

// A library package's files as one page load sees them, under
// /__shared/<id>/ on the app's origin (pinned like the app's own).
struct SharedFiles {
  std::string id;
  std::string version;
  std::string www_real;
  int64_t max_age_s = 0;
  std::vector<std::string> immutable;
};

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
  std::vector<SharedFiles> shared;     // the libraries its manifest uses
  uint64_t events_from = 0;            // set by AddSession: the app's last event then
};

// An event kept for the polls of an app's pages.
struct H5ServerEvent {
  uint64_t seq = 0;
  std::string json;  // {"event": name, "data": ...}
};

// The event's JSON text {"event": name, "data": ...}, or why it cannot be
// sent (kInvalidArgument; see H5Server::Emit).
Result<std::string> CheckEvent(std::string_view name, std::string_view data);

struct H5ServerOptions {
  HostApis* host_apis = nullptr;  // outlives the server
  // Lends the server its runner (http::HttpServerOptions::run_on).
  std::function<bool(std::function<void()>)> run_on;
  // Schedules `run` after `delay_ms`, false when it cannot: the one timer
  // that expires held polls (never more than one pending). Empty, or when
  // it fails: held polls end by an event, ExpireHeldPolls, Stop, or the
  // HTTP handler timeout (503, which the page's bridge backs off from).
  std::function<bool(std::function<void()> run, int64_t delay_ms)> post_delayed;
  internal::Clock* clock = &internal::RealClock();  // outlives the server
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
  // Sends event `name` with JSON `data` to the page loads of `app_id`;
  // returns how many sessions of the app the server has. kInvalidArgument
  // for a name outside [A-Za-z0-9_.:-]{1,64}, data that is not JSON, or
  // more than kMaxEventBytes of it.
  Result<size_t> Emit(std::string_view app_id, std::string_view name, std::string_view data);
  // Answers the held polls whose kPollHoldMs have passed (by the clock).
  void ExpireHeldPolls();
  uint16_t port() const;
  // "http://<appId>.localhost:<port>"
  std::string Origin(std::string_view app_id) const;
  H5ServerStats stats() const;
  void Stop();

 private:
  struct HeldPoll {
    std::shared_ptr<const PageSession> session;
    std::string document;  // the page's own id for its document ("" if none)
    uint64_t after = 0;
    int64_t deadline_ns = 0;
    unsigned version = 11;
    http::Answer answer;
  };
  // One app's events and held polls; guarded by Events::mu.
  struct AppEvents {
    uint64_t last = 0;
    std::deque<H5ServerEvent> recent;
    std::vector<HeldPoll> held;
  };
  struct Events {
    internal::Clock* clock = nullptr;
    std::function<bool(std::function<void()>, int64_t)> post_delayed;
    std::mutex mu;
    bool timer_armed = false;                         // guarded by mu
    bool stopped = false;                             // guarded by mu
    std::unordered_map<std::string, AppEvents> apps;  // guarded by mu; apps with a session
  };
  struct Counters {
    std::atomic<uint64_t> files{0};
    std::atomic<uint64_t> refused{0};
    std::atomic<uint64_t> bridge_calls{0};
    std::atomic<uint64_t> bridge_refused{0};
    std::atomic<uint64_t> sessions{0};
    std::atomic<uint64_t> events{0};
    std::atomic<uint64_t> polls{0};
  };

  explicit H5Server(H5ServerOptions options);
  void Handle(http::Request& req, http::Answer answer);
  void ServeFiles(http::Request& req, const std::string& app, std::string_view query,
                  http::Answer& answer);
  void Bridge(http::Request& req, const std::string& app, http::Answer& answer);
  void Poll(http::Request& req, const std::string& app, http::Answer& answer);
  // The checks a bridge call and an event poll share (method, origin,
  // header, session, JSON body); answers the refusal and returns nullptr.
  std::shared_ptr<const PageSession> CheckBridgeRequest(http::Request& req, const std::string& app,
                                                        http::Answer& answer,
                                                        boost::json::value& body);
  // Answers the held polls due by `slack_ns` from now; `timer`: called by
  // the expiry timer, which it re-arms for the next deadline.
  static void ExpireHeld(const std::shared_ptr<Events>& events,
                         const std::shared_ptr<Counters>& counters, int64_t slack_ns, bool timer);
  // Arms the expiry timer for the earliest held poll unless it is armed.
  static void ArmTimer(const std::shared_ptr<Events>& events,
                       const std::shared_ptr<Counters>& counters);
  std::shared_ptr<const PageSession> FindSession(std::string_view token,
                                                 std::string_view app) const;
  // Trades a launch code of `app` for its session's token ("" when the code
  // is unknown, used, expired or another app's; `expired` says which).
  std::string RedeemLaunchCode(std::string_view code, std::string_view app, bool& expired);

  H5ServerOptions options_;
  std::unique_ptr<http::HttpServer> http_;
  std::string host_suffix_;  // ".localhost:<port>", set before the runner starts
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const PageSession>> sessions_;  // guarded by mu_
  std::deque<std::string> session_order_;                                         // guarded by mu_
  struct LaunchCode {
    std::string token;
    int64_t issued_ns = 0;
  };
  // Unused launch codes -> their session's token; guarded by mu_.
  std::unordered_map<std::string, LaunchCode> launch_codes_;
  std::shared_ptr<Events> events_ = std::make_shared<Events>();
};

}  // namespace atrium::h5

#endif  // ATRIUM_DYNAMIC_H5_H5_SERVER_H_
