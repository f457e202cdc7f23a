// CdpBrowser (cdp_browser.h): starting the browser (the checks of its
// options, attaching to its page) and the few DevTools commands the H5
// layer needs, each a call matched to its reply by id, over the pipe
// transport of cdp_pipe.cc.
//
// Concurrency: one owner thread (see cdp_browser.h).
#include "atrium/dynamic/h5/cdp_browser.h"

#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "atrium/base/result_macros.h"
#include "cdp_browser_impl.h"

namespace atrium::h5 {

using cdp_internal::Errno;
using cdp_internal::NoThrow;

namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxQueuedEvents = 1024;

std::string_view Text(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  const json::string* s = v != nullptr ? v->if_string() : nullptr;
  return s != nullptr ? std::string_view(*s) : std::string_view();
}

const json::object* ObjectAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}

// "scheme://host:port" of an absolute URL, or "scheme:" (data:, about:):
// what errors may show of a URL whose path or query may hold a secret.
std::string Origin(std::string_view url) {
  const size_t colon = url.find(':');
  std::string scheme(url.substr(0, colon == std::string_view::npos ? 0 : colon));
  const bool valid = !scheme.empty() && std::all_of(scheme.begin(), scheme.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
  if (!valid) return "(a URL without a scheme)";
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view rest = url.substr(colon + 1);
  if (!rest.starts_with("//")) return scheme + ":";
  rest.remove_prefix(2);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#\\"));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  return scheme + "://" + std::string(authority);
}

// Standard base64 with optional '=' padding, as Page.captureScreenshot
// sends it.
Result<std::string> DecodeBase64(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    const char c = in[i];
    uint32_t v = 0;
    if (c >= 'A' && c <= 'Z') {
      v = static_cast<uint32_t>(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      v = static_cast<uint32_t>(c - 'a' + 26);
    } else if (c >= '0' && c <= '9') {
      v = static_cast<uint32_t>(c - '0' + 52);
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      Error e = MakeError(ErrorCode::kParse, "screenshot data is not base64");
      e.offset = i;
      return e;
    }
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  for (; i < in.size(); ++i) {
    if (in[i] != '=') {
      Error e = MakeError(ErrorCode::kParse, "screenshot data has bytes after its padding");
      e.offset = i;
      return e;
    }
  }
  return out;
}

Error Timeout(const std::string& what, int timeout_ms) {
  return MakeError(ErrorCode::kState, what + " within " + std::to_string(timeout_ms) + " ms");
}

Status CheckTimeout(int timeout_ms) {
  if (timeout_ms <= 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "timeout_ms must be positive, not " + std::to_string(timeout_ms));
  }
  return Status::Ok();
}

// "JavaScript exception: Uncaught: Error: boom\n    at ...": the
// exceptionDetails text and, unless the text already has it, the thrown
// value's description (or its value, for a thrown non-object).
std::string ExceptionMessage(const json::object& details) {
  std::string message = "JavaScript exception: " + std::string(Text(details, "text"));
  std::string thrown;
  if (const json::object* exception = ObjectAt(details, "exception")) {
    if (std::string_view d = Text(*exception, "description"); !d.empty()) {
      thrown = d;
    } else if (const json::value* v = exception->if_contains("value")) {
      thrown = json::serialize(*v);
    }
  }
  const std::string first_line = thrown.substr(0, thrown.find('\n'));
  if (!thrown.empty() && message.find(first_line) == std::string::npos) message += ": " + thrown;
  return message;
}

}  // namespace

Status CdpBrowser::Impl::Start() {
  if (options.width <= 0 || options.height <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "the window size must be positive, not " +
                                                      std::to_string(options.width) + "x" +
                                                      std::to_string(options.height));
  }
  if (options.startup_timeout_ms <= 0 || options.max_message_bytes == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "startup_timeout_ms and max_message_bytes must be positive");
  }
  if (::access(options.chromium.c_str(), X_OK) != 0) {
    return MakeError(ErrorCode::kState, options.chromium + " is missing or not executable (" +
                                            Errno(errno) + "): install Debian's chromium package");
  }
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(options.startup_timeout_ms);
  ATRIUM_RETURN_IF_ERROR(MakeProfile());
  ATRIUM_RETURN_IF_ERROR(Spawn());
  return Attach(deadline);
}

Status CdpBrowser::Impl::Attach(Clock::time_point deadline) {
  auto call = [&](std::string_view method, json::object params) -> Result<json::object> {
    ATRIUM_ASSIGN_OR_RETURN(std::optional<json::object> reply,
                            Call(method, std::move(params), deadline));
    if (!reply) {
      return Gone("Chromium did not answer " + std::string(method) +
                  " on the DevTools pipe within " + std::to_string(options.startup_timeout_ms) +
                  " ms of its start");
    }
    return std::move(*reply);
  };
  ATRIUM_ASSIGN_OR_RETURN(json::object targets, call("Target.getTargets", {}));
  std::string target;
  if (const json::value* infos = targets.if_contains("targetInfos"); infos && infos->is_array()) {
    for (const json::value& info : infos->get_array()) {
      const json::object* o = info.if_object();
      if (o != nullptr && Text(*o, "type") == "page") {
        target = Text(*o, "targetId");
        break;
      }
    }
  }
  if (target.empty()) {
    ATRIUM_ASSIGN_OR_RETURN(json::object created,
                            call("Target.createTarget", {{"url", "about:blank"}}));
    target = Text(created, "targetId");
  }
  if (target.empty()) return MakeError(ErrorCode::kParse, "Chromium named no page target");
  ATRIUM_ASSIGN_OR_RETURN(json::object attached,
                          call("Target.attachToTarget", {{"targetId", target}, {"flatten", true}}));
  session = Text(attached, "sessionId");
  if (session.empty()) {
    return MakeError(ErrorCode::kParse, "Target.attachToTarget answered without a sessionId");
  }
  for (std::string_view method : {"Page.enable", "Runtime.enable"}) {
    ATRIUM_ASSIGN_OR_RETURN(const json::object unused, call(method, {}));
    (void)unused;
  }
  // Headless Chromium lays out a whole browser window (tab strip, toolbar)
  // in --window-size, so its page gets less; the page itself is made the
  // window size.
  json::object viewport{{"width", options.width},
                        {"height", options.height},
                        {"deviceScaleFactor", 1},
                        {"mobile", false}};
  ATRIUM_ASSIGN_OR_RETURN(const json::object unused,
                          call("Emulation.setDeviceMetricsOverride", std::move(viewport)));
  (void)unused;
  return Status::Ok();
}

Result<std::optional<json::object>> CdpBrowser::Impl::Call(std::string_view method,
                                                           json::object params,
                                                           Clock::time_point deadline) {
  if (gone) return *gone;
  const int64_t id = next_id++;
  json::object message{{"id", id}, {"method", method}};
  if (!params.empty()) message["params"] = std::move(params);
  if (!session.empty()) message["sessionId"] = session;
  ATRIUM_ASSIGN_OR_RETURN(const bool sent, Send(message, deadline));
  if (!sent) return std::optional<json::object>();
  while (true) {
    ATRIUM_ASSIGN_OR_RETURN(std::optional<json::object> m, Next(deadline));
    if (!m) return std::optional<json::object>();
    if (const json::value* got = m->if_contains("id")) {
      const int64_t* n = got->if_int64();
      if (n == nullptr || *n != id) continue;  // the reply to a call that timed out
      if (const json::object* error = ObjectAt(*m, "error")) {
        return MakeError(ErrorCode::kState,
                         std::string(method) + " failed: " + std::string(Text(*error, "message")));
      }
      const json::object* result = ObjectAt(*m, "result");
      return std::optional<json::object>(result != nullptr ? *result : json::object());
    }
    ATRIUM_RETURN_IF_ERROR(OnEvent(std::move(*m)));
  }
}

Result<bool> CdpBrowser::Impl::ReadOne(Clock::time_point deadline) {
  ATRIUM_ASSIGN_OR_RETURN(std::optional<json::object> m, Next(deadline));
  if (!m) return false;
  if (!m->contains("id")) ATRIUM_RETURN_IF_ERROR(OnEvent(std::move(*m)));
  return true;
}

Status CdpBrowser::Impl::OnEvent(json::object event) {
  const std::string_view method = Text(event, "method");
  if (session.empty()) return Status::Ok();
  if (method == "Target.detachedFromTarget") {
    const json::object* params = ObjectAt(event, "params");
    if (params != nullptr && Text(*params, "sessionId") == session) {
      return Gone("Chromium detached the page");
    }
    return Status::Ok();
  }
  if (Text(event, "sessionId") != session) return Status::Ok();
  if (method == "Inspector.targetCrashed") return Gone("the page crashed");
  if (method == "Inspector.detached") {
    const json::object* params = ObjectAt(event, "params");
    return Gone("the page's DevTools session ended: " +
                std::string(params != nullptr ? Text(*params, "reason") : ""));
  }
  events.push_back(std::move(event));
  if (events.size() > kMaxQueuedEvents) events.pop_front();
  return Status::Ok();
}

CdpBrowser::CdpBrowser(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CdpBrowser::~CdpBrowser() = default;

Result<std::unique_ptr<CdpBrowser>> CdpBrowser::Launch(CdpBrowserOptions options) {
  return NoThrow([&]() -> Result<std::unique_ptr<CdpBrowser>> {
    auto impl = std::make_unique<Impl>(std::move(options));
    ATRIUM_RETURN_IF_ERROR(impl->Start());
    return std::unique_ptr<CdpBrowser>(new CdpBrowser(std::move(impl)));
  });
}

Status CdpBrowser::Navigate(const std::string& url, int timeout_ms) {
  return NoThrow([&]() -> Status {
    ATRIUM_RETURN_IF_ERROR(CheckTimeout(timeout_ms));
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    const std::string origin = Origin(url);
    const std::string what = "Chromium did not finish loading a page of " + origin;
    impl_->events.clear();
    ATRIUM_ASSIGN_OR_RETURN(std::optional<json::object> reply,
                            impl_->Call("Page.navigate", {{"url", url}}, deadline));
    if (!reply) return Timeout(what, timeout_ms);
    if (const std::string_view failed = Text(*reply, "errorText"); !failed.empty()) {
      return MakeError(ErrorCode::kState,
                       "loading a page of " + origin + " failed: " + std::string(failed));
    }
    if (const json::value* download = reply->if_contains("isDownload");
        download != nullptr && download->is_bool() && download->get_bool()) {
      return MakeError(ErrorCode::kState, "a page of " + origin + " is a download");
    }
    const std::string loader(Text(*reply, "loaderId"));
    if (loader.empty()) return Status::Ok();  // same-document: no new load
    // The load event that counts follows the main frame's commit of this
    // navigation's loader; one of an earlier (error) page does not.
    bool committed = false;
    while (true) {
      while (!impl_->events.empty()) {
        const json::object event = std::move(impl_->events.front());
        impl_->events.pop_front();
        const std::string_view method = Text(event, "method");
        if (method == "Page.frameNavigated") {
          const json::object* params = ObjectAt(event, "params");
          const json::object* frame = params != nullptr ? ObjectAt(*params, "frame") : nullptr;
          if (frame != nullptr && !frame->contains("parentId") &&
              Text(*frame, "loaderId") == loader) {
            committed = true;
          }
        } else if (method == "Page.loadEventFired" && committed) {
          return Status::Ok();
        }
      }
      ATRIUM_ASSIGN_OR_RETURN(const bool read, impl_->ReadOne(deadline));
      if (!read) return Timeout(what, timeout_ms);
    }
  });
}

Result<std::string> CdpBrowser::Evaluate(const std::string& expression, int timeout_ms) {
  return NoThrow([&]() -> Result<std::string> {
    ATRIUM_RETURN_IF_ERROR(CheckTimeout(timeout_ms));
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    // V8 terminates a synchronous part that overruns (an endless loop), so
    // the page answers the next call; an awaited promise is not cut short.
    json::object params{{"expression", expression},
                        {"returnByValue", true},
                        {"awaitPromise", true},
                        {"timeout", timeout_ms}};
    ATRIUM_ASSIGN_OR_RETURN(std::optional<json::object> reply,
                            impl_->Call("Runtime.evaluate", std::move(params), deadline));
    if (!reply) return Timeout("Chromium did not answer Runtime.evaluate", timeout_ms);
    if (const json::object* details = ObjectAt(*reply, "exceptionDetails")) {
      return MakeError(ErrorCode::kState, ExceptionMessage(*details));
    }
    const json::object* result = ObjectAt(*reply, "result");
    if (result == nullptr) {
      return MakeError(ErrorCode::kParse, "Runtime.evaluate answered without a result");
    }
    if (const json::value* value = result->if_contains("value")) return json::serialize(*value);
    if (const std::string_view u = Text(*result, "unserializableValue"); !u.empty()) {
      return std::string(u);
    }
    return std::string("null");
  });
}

Result<std::string> CdpBrowser::Command(std::string_view method, std::string_view params_json,
                                        int timeout_ms) {
  return NoThrow([&]() -> Result<std::string> {
    ATRIUM_RETURN_IF_ERROR(CheckTimeout(timeout_ms));
    json::object params;
    if (!params_json.empty()) {
      boost::system::error_code ec;
      json::value v = json::parse(params_json, ec);
      if (ec || !v.is_object()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         std::string(method) + ": its params are not a JSON object");
      }
      params = std::move(v.get_object());
    }
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    ATRIUM_ASSIGN_OR_RETURN(std::optional<json::object> reply,
                            impl_->Call(method, std::move(params), deadline));
    if (!reply) return Timeout("Chromium did not answer " + std::string(method), timeout_ms);
    return json::serialize(*reply);
  });
}

Result<std::string> CdpBrowser::Screenshot(int timeout_ms) {
  return NoThrow([&]() -> Result<std::string> {
    ATRIUM_RETURN_IF_ERROR(CheckTimeout(timeout_ms));
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    ATRIUM_ASSIGN_OR_RETURN(std::optional<json::object> reply,
                            impl_->Call("Page.captureScreenshot", {{"format", "png"}}, deadline));
    if (!reply) return Timeout("Chromium did not answer Page.captureScreenshot", timeout_ms);
    const std::string_view data = Text(*reply, "data");
    if (data.empty()) {
      return MakeError(ErrorCode::kParse, "Page.captureScreenshot answered without data");
    }
    return DecodeBase64(data);
  });
}

pid_t CdpBrowser::pid() const { return impl_->pid; }

}  // namespace atrium::h5
