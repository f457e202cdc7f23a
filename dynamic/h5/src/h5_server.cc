#include "h5_server.h"

#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cstdint>
#include <optional>
#include <utility>

#include "atrium/dynamic/http/file_reply.h"
#include "atrium/dynamic/http/file_request.h"
#include "h5_encoding.h"
#include "h5_replies.h"

namespace atrium::h5 {
namespace {

namespace bhttp = boost::beast::http;
namespace json = boost::json;

// The page's side of the bridge. The session is the page's HttpOnly
// cookie, which no script reads; the script removes the one-time launch
// code from the address bar (a reload then goes by the cookie) and marks
// its calls with X-Atrium-Bridge, a header another origin can only send
// after a CORS preflight, which the server refuses.
constexpr std::string_view kBridgeJs = R"JS(// atrium-bridge.js: the Atrium H5 bridge (docs/h5.md).
(function () {
  'use strict';
  try {
    var query = new URLSearchParams(location.search);
    if (query.has('__atrium_launch')) {
      query.delete('__atrium_launch');
      var rest = query.toString();
      history.replaceState(history.state, '',
                           location.pathname + (rest ? '?' + rest : '') + location.hash);
    }
  } catch (e) {}
  var inFlight = 0;
  function post(path, body) {
    return fetch(path, {
      method: 'POST',
      headers: {'Content-Type': 'application/json', 'X-Atrium-Bridge': '1'},
      body: JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store'
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (response.ok) return answer;
        var error = new Error(answer.error || ('bridge call failed: HTTP ' + response.status));
        error.code = answer.code || 'http_' + response.status;
        error.status = response.status;
        throw error;
      });
    });
  }
  function call(api, params) {
    inFlight++;
    var done = function () { inFlight--; };
    return post('/__atrium/call', {api: String(api), params: params === undefined ? {} : params})
        .then(function (answer) { done(); return answer.result; },
              function (error) { done(); throw error; });
  }
  // Native events: one long poll per page while anything listens.
  var listeners = Object.create(null);
  var cursor = null;
  // This document's own id: the server holds one poll per document.
  var page = Array.prototype.map.call(crypto.getRandomValues(new Uint8Array(8)), function (b) {
    return ('0' + b.toString(16)).slice(-2);
  }).join('');
  var polling = false;
  var backoff = 0;
  function deliver(event) {
    (listeners[event.event] || []).slice().forEach(function (fn) {
      try { fn(event.data, event.event); } catch (e) { setTimeout(function () { throw e; }); }
    });
  }
  function poll() {
    var body = cursor === null ? {page: page} : {after: cursor, page: page};
    post('/__atrium/events', body).then(function (answer) {
      backoff = 0;
      cursor = answer.next;
      answer.events.forEach(deliver);
      poll();
    }, function (error) {
      if (error.status === 403 || error.status === 400) { polling = false; return; }
      backoff = Math.min(backoff ? backoff * 2 : 500, 30000);
      setTimeout(poll, backoff);
    });
  }
  function on(event, fn) {
    if (typeof fn !== 'function') throw new TypeError('AtriumBridge.on(event, fn): fn is a function');
    event = String(event);
    (listeners[event] = listeners[event] || []).push(fn);
    if (!polling) { polling = true; poll(); }
    return function off() {
      var list = listeners[event] || [];
      var at = list.indexOf(fn);
      if (at >= 0) list.splice(at, 1);
    };
  }
  var bridge = {call: call, on: on, version: 2};
  // Bridge calls not yet answered (what a test harness waits on).
  Object.defineProperty(bridge, 'callsInFlight', {get: function () { return inFlight; }});
  Object.defineProperty(window, 'AtriumBridge', {
    value: Object.freeze(bridge),
    writable: false,
    configurable: false
  });
})();
)JS";

// The value of `key` in a query ("a=1&key=v"), undecoded; "" when absent.
std::string_view QueryValue(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (pair.size() > key.size() && pair.starts_with(key) && pair[key.size()] == '=') {
      return pair.substr(key.size() + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

// The value of cookie `name` in a Cookie header; "" when absent.
std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return {};
}

bool IsToken(std::string_view token) {
  if (token.size() != 64) return false;
  for (char c : token) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A host label of an H5 app: [a-z0-9-], 1..63.
bool IsLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  for (char c : label) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace

H5Server::H5Server(H5ServerOptions options) : options_(std::move(options)) {}

H5Server::~H5Server() { Stop(); }

Result<std::unique_ptr<H5Server>> H5Server::Start(H5ServerOptions options) {
  if (options.host_apis == nullptr || !options.run_on) {
    return MakeError(ErrorCode::kInvalidArgument, "h5 server: needs host APIs and a runner");
  }
  if (sodium_init() < 0) return MakeError(ErrorCode::kInternal, "h5 server: libsodium init");
  std::unique_ptr<H5Server> server(new H5Server(std::move(options)));
  server->events_->clock = server->options_.clock;
  server->events_->post_delayed = server->options_.post_delayed;
  http::HttpServerOptions o;
  o.name = "h5 server";
  o.host = "127.0.0.1";
  o.threads = 1;
  o.max_connections = server->options_.max_connections;
  o.idle_timeout_ms = server->options_.idle_timeout_ms;
  o.body_limit = kMaxCallBytes;
  o.handler_timeout_ms = static_cast<int>(kPollHoldMs) + 5000;  // a held poll answers first
  o.log_capacity = 0;
  o.run_on = server->options_.run_on;
  H5Server* self = server.get();  // the HttpServer stops before *self goes
  o.on_bound = [self](uint16_t port) { self->host_suffix_ = ".localhost:" + std::to_string(port); };
  o.handler = [self](http::Request& req, http::Answer answer) {
    self->Handle(req, std::move(answer));
  };
  auto http = http::HttpServer::Start(std::move(o));
  if (!http.ok()) return http.error();
  server->http_ = std::move(*http);
  return server;
}

void H5Server::Stop() {
  if (http_ != nullptr) http_->Stop();
  std::vector<HeldPoll> held;  // their answers go nowhere now: the server stopped
  std::lock_guard<std::mutex> lock(events_->mu);
  events_->stopped = true;
  for (auto& [app, ev] : events_->apps) {
    for (HeldPoll& h : ev.held) held.push_back(std::move(h));
    ev.held.clear();
  }
}

uint16_t H5Server::port() const { return http_->port(); }

std::string H5Server::Origin(std::string_view app_id) const {
  return "http://" + std::string(app_id) + host_suffix_;
}

std::string H5Server::AddSession(PageSession session) {
  auto random_hex = [] {
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    return std::string(hex);
  };
  const std::string token = random_hex();
  const std::string code = random_hex();
  AddSessionForTesting(std::move(session), token, code);
  return code;
}

void H5Server::AddSessionForTesting(PageSession session, const std::string& token,
                                    const std::string& launch_code) {
  {
    std::lock_guard<std::mutex> lock(events_->mu);
    session.events_from = events_->apps[session.app_id].last;
  }
  auto shared = std::make_shared<const PageSession>(std::move(session));
  const int64_t now = options_.clock->SteadyNs();
  std::lock_guard<std::mutex> lock(mu_);
  if (session_order_.size() >= kMaxSessions) {
    const std::string& oldest = session_order_.front();
    std::erase_if(launch_codes_, [&](const auto& c) { return c.second.token == oldest; });
    sessions_.erase(oldest);
    session_order_.pop_front();
  }
  if (!sessions_.insert_or_assign(token, std::move(shared)).second) {
    std::erase(session_order_, token);
  }
  session_order_.push_back(token);
  launch_codes_.insert_or_assign(launch_code, LaunchCode{token, now});
  counters_->sessions.fetch_add(1);
}

std::string H5Server::RedeemLaunchCode(std::string_view code, std::string_view app, bool& expired) {
  expired = false;
  if (!IsToken(code)) return {};
  const int64_t now = options_.clock->SteadyNs();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = launch_codes_.find(std::string(code));
  if (it == launch_codes_.end()) return {};
  auto session = sessions_.find(it->second.token);
  if (session == sessions_.end() || session->second->app_id != app) return {};
  if (now - it->second.issued_ns > kLaunchCodeTtlMs * 1'000'000) {
    expired = true;
    launch_codes_.erase(it);
    return {};
  }
  std::string token = std::move(it->second.token);
  launch_codes_.erase(it);  // one use
  return token;
}

std::shared_ptr<const PageSession> H5Server::FindSession(std::string_view token,
                                                         std::string_view app) const {
  if (!IsToken(token)) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(std::string(token));
  if (it == sessions_.end() || it->second->app_id != app) return nullptr;
  return it->second;
}

H5ServerStats H5Server::stats() const {
  H5ServerStats s;
  s.running = http_ != nullptr;
  if (http_ != nullptr) {
    s.port = http_->port();
    s.requests = http_->stats().requests;
  }
  s.files_served = counters_->files.load();
  s.refused = counters_->refused.load();
  s.bridge_calls = counters_->bridge_calls.load();
  s.bridge_refused = counters_->bridge_refused.load();
  s.sessions = counters_->sessions.load();
  s.events = counters_->events.load();
  s.polls = counters_->polls.load();
  return s;
}

void H5Server::Handle(http::Request& req, http::Answer answer) {
  std::string host(req[bhttp::field::host]);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string app = host.size() > host_suffix_.size() && host.ends_with(host_suffix_)
                              ? host.substr(0, host.size() - host_suffix_.size())
                              : std::string();
  if (!IsLabel(app)) {
    counters_->refused.fetch_add(1);
    return answer(http::EmptyReply(bhttp::status::misdirected_request, req));
  }
  const std::string_view target = req.target();
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  if (path == "/__atrium/call") return Bridge(req, app, answer);
  if (path == "/__atrium/events") return Poll(req, app, answer);
  if (path == "/__atrium/bridge.js") {
    if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
      counters_->refused.fetch_add(1);
      http::Reply res = http::EmptyReply(bhttp::status::method_not_allowed, req);
      http::SetReplyHeader(res, bhttp::field::allow, "GET, HEAD");
      return answer(std::move(res));
    }
    http::Reply res = http::TextReply(bhttp::status::ok, req, std::string(kBridgeJs),
                                      "text/javascript; charset=utf-8");
    http::SetReplyHeader(res, bhttp::field::cache_control, "no-cache");
    http::SetReplyHeader(res, "X-Content-Type-Options", "nosniff");
    return answer(std::move(res));
  }
  ServeFiles(req, app, query, answer);
}

void H5Server::ServeFiles(http::Request& req, const std::string& app, std::string_view query,
                          http::Answer& answer) {
  auto refuse = [&](bhttp::status status, std::string why) {
    counters_->refused.fetch_add(1);
    http::Reply res = http::TextReply(status, req, std::move(why), "text/plain; charset=utf-8");
    http::SetReplyHeader(res, bhttp::field::cache_control, "no-store");
    answer(std::move(res));
  };
  // The launch code first (a new page load); a used one falls back to the
  // cookie (a reload of the entry URL).
  bool expired = false;
  std::string token = RedeemLaunchCode(QueryValue(query, kLaunchParam), app, expired);
  const bool redeemed = !token.empty();
  if (!redeemed) token = std::string(CookieValue(req[bhttp::field::cookie], kSessionCookie));
  std::shared_ptr<const PageSession> session = FindSession(token, app);
  if (session == nullptr) {
    return refuse(
        bhttp::status::forbidden,
        expired ? "the launch code of this page of h5 app '" + app +
                      "' expired: open the page through Atrium again"
                : "no page-load session of h5 app '" + app + "': open its pages through Atrium");
  }
  std::string relative;
  const std::string_view target = req.target();
  if (target == "/" || target.starts_with("/?")) {
    relative = session->entry;
  } else {
    http::TargetPath parsed = http::ParseTarget(target);
    if (parsed.status != 0) {
      counters_->refused.fetch_add(1);
      return answer(http::EmptyReply(static_cast<bhttp::status>(parsed.status), req));
    }
    relative = std::move(parsed.relative);
  }
  // A library's file: its own root and cache policy.
  const std::string* root = &session->www_real;
  int64_t max_age_s = session->max_age_s;
  const std::vector<std::string>* immutable_prefixes = &session->immutable;
  constexpr std::string_view kShared = "__shared/";
  if (relative.starts_with(kShared)) {
    const size_t slash = relative.find('/', kShared.size());
    const std::string_view id = std::string_view(relative).substr(
        kShared.size(), slash == std::string::npos ? std::string::npos : slash - kShared.size());
    const SharedFiles* lib = nullptr;
    for (const SharedFiles& s : session->shared) lib = s.id == id ? &s : lib;
    if (lib == nullptr || slash == std::string::npos) {
      return refuse(bhttp::status::not_found,
                    "h5 app '" + app + "' uses no library '" + std::string(id) + "'");
    }
    root = &lib->www_real;
    max_age_s = lib->max_age_s;
    immutable_prefixes = &lib->immutable;
    relative = relative.substr(slash + 1);
  }
  // Text goes out compressed to a client that takes zstd or gzip (not a
  // range: that is of the file as stored).
  http::Reply res;
  const std::string_view coding = PickCoding(req[bhttp::field::accept_encoding]);
  const bool packed = (req.method() == bhttp::verb::get || req.method() == bhttp::verb::head) &&
                      req.find(bhttp::field::range) == req.end() && Compressible(relative) &&
                      !coding.empty() && ServeCompressed(req, coding, *root, relative, res);
  if (!packed) res = http::ServeFile(req, *root, relative);
  const int status = http::ReplyStatus(res);
  (status >= 400 ? counters_->refused : counters_->files).fetch_add(1);
  // Whichever representation went out, a cache keys it by the encoding.
  if (Compressible(relative)) http::SetReplyHeader(res, bhttp::field::vary, "Accept-Encoding");
  http::SetReplyHeader(res, "Content-Security-Policy", session->csp);
  http::SetReplyHeader(res, "X-Content-Type-Options", "nosniff");
  http::SetReplyHeader(res, "Referrer-Policy", "no-referrer");
  // A prefix ending in '/' is a folder; any other names one file.
  bool immutable = false;
  for (const std::string& prefix : *immutable_prefixes) {
    immutable =
        immutable || relative == prefix || (prefix.ends_with('/') && relative.starts_with(prefix));
  }
  const bool file = status == 200 || status == 206 || status == 304;
  http::SetReplyHeader(res, bhttp::field::cache_control,
                       !file           ? std::string("no-store")
                       : immutable     ? "max-age=31536000, immutable"
                       : max_age_s > 0 ? "max-age=" + std::to_string(max_age_s)
                                       : std::string("no-cache"));
  if (redeemed) {
    http::SetReplyHeader(
        res, bhttp::field::set_cookie,
        std::string(kSessionCookie) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict");
  }
  answer(std::move(res));
}

std::shared_ptr<const PageSession> H5Server::CheckBridgeRequest(http::Request& req,
                                                                const std::string& app,
                                                                http::Answer& answer,
                                                                json::value& body) {
  auto refuse = [&](ErrorCode code, const std::string& why) {
    counters_->bridge_refused.fetch_add(1);
    answer(JsonError(req, code, why));
    return nullptr;
  };
  const std::string caller = "h5:" + app;
  if (req.method() == bhttp::verb::options) {
    // A cross-origin preflight: no CORS headers, so the browser never sends
    // the call.
    return refuse(ErrorCode::kPermission,
                  "permission denied: bridge calls come from the page's own origin");
  }
  if (req.method() != bhttp::verb::post) {
    counters_->bridge_refused.fetch_add(1);
    http::Reply res = JsonError(req, ErrorCode::kInvalidArgument, "bridge calls are POST requests");
    http::SetReplyHeader(res, bhttp::field::allow, "POST");
    std::visit([](auto& r) { r.result(bhttp::status::method_not_allowed); }, res);
    answer(std::move(res));
    return nullptr;
  }
  if (req[bhttp::field::origin] != Origin(app)) {
    return refuse(ErrorCode::kPermission,
                  "permission denied: the call does not come from the origin of " + caller);
  }
  if (req["X-Atrium-Bridge"] != "1") {
    return refuse(ErrorCode::kPermission,
                  "permission denied: a bridge call carries X-Atrium-Bridge: 1");
  }
  std::shared_ptr<const PageSession> session =
      FindSession(CookieValue(req[bhttp::field::cookie], kSessionCookie), app);
  if (session == nullptr) {
    return refuse(ErrorCode::kPermission,
                  "permission denied: no live page-load session of " + caller);
  }
  if (!req[bhttp::field::content_type].starts_with("application/json")) {
    return refuse(ErrorCode::kInvalidArgument, "a bridge call's body is application/json");
  }
  boost::system::error_code ec;
  body = json::parse(req.body(), ec);
  if (ec || !body.is_object()) {
    return refuse(ErrorCode::kInvalidArgument, "a bridge request's body is a JSON object");
  }
  return session;
}

void H5Server::Bridge(http::Request& req, const std::string& app, http::Answer& answer) {
  json::value body;
  std::shared_ptr<const PageSession> session = CheckBridgeRequest(req, app, answer, body);
  if (session == nullptr) return;
  const std::string caller = "h5:" + app;
  auto refuse = [&](ErrorCode code, const std::string& why) {
    counters_->bridge_refused.fetch_add(1);
    answer(JsonError(req, code, why));
  };
  const json::object* o = body.if_object();
  const json::value* api = o->if_contains("api");
  const json::value* params = o->if_contains("params");
  if (api == nullptr || !api->is_string() || (params != nullptr && !params->is_object()) ||
      o->size() != (params != nullptr ? 2u : 1u)) {
    return refuse(ErrorCode::kInvalidArgument,
                  "a bridge call is {\"api\": \"name\", \"params\": {...}}");
  }
  HostApiRequest call;
  call.caller = caller;
  call.api = std::string(api->get_string());
  call.params = params != nullptr ? json::serialize(*params) : "{}";
  call.requested = session->jsapis;
  if (Status s = options_.host_apis->Check(call.caller, call.api, call.requested); !s.ok()) {
    return refuse(s.error().code, s.error().message);
  }
  const unsigned version = req.version();
  options_.host_apis->Call(std::move(call), [answer = std::move(answer), version,
                                             counters = counters_](Result<std::string> result) {
    counters->bridge_calls.fetch_add(1);
    if (!result.ok()) {
      http::Request shape;
      shape.version(version);
      return answer(JsonError(shape, result.error().code, result.error().message));
    }
    answer(JsonReply(version, "{\"result\":" + *result + "}"));
  });
}

}  // namespace atrium::h5
