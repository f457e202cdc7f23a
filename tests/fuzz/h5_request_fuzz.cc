// Fuzz target: one HTTP request, as bytes, through the H5 server's request
// handling: Beast's parser with the server's limits, then the server's
// routing (host, session, files, the bridge script, bridge calls) on a real
// H5Server over a temporary www/ folder with a session of app "help" whose
// token is 64 'a's and launch code 64 'b's, and host APIs that answer at
// once. The seeds use port 1
// in Host and Origin; it is rewritten to the server's port, so mutations
// reach the routing behind the host check.
//
// Invariants: the request is answered exactly once, on the spot (an event
// poll the server holds: when the injected clock passes its hold); the status
// is one the server documents; a file (200/206/304; the bridge script
// apart) is only ever served within a live session of the app the Host
// names; a bridge call reaches a
// host API only with the session cookie and the bridge header.
#include <stdlib.h>
#include <unistd.h>

#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include "atrium/base/clock.h"
#include "atrium/host_api.h"
#include "h5_server.h"

namespace {

namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;
using atrium::h5::H5Server;

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "h5_request_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

// Grants h5:help wallet.getBalance only; every call answers {}.
class FakeHostApis final : public atrium::HostApis {
 public:
  void Call(atrium::HostApiRequest request,
            std::function<void(atrium::Result<std::string>)> done) override {
    atrium::Status s = Check(request.caller, request.api, request.requested);
    if (!s.ok()) return done(s.error());
    ++calls;
    done(std::string("{}"));
  }
  atrium::Status Check(std::string_view caller, std::string_view api,
                       const std::vector<std::string>& requested) const override {
    bool asked = false;
    for (const auto& r : requested) asked = asked || r == api;
    if (asked && caller == "h5:help" && api == "wallet.getBalance") return atrium::Status::Ok();
    return atrium::MakeError(atrium::ErrorCode::kPermission, "permission denied");
  }
  atrium::HostApiStats stats() const override { return {}; }
  int calls = 0;
};

struct Fixture {
  FakeHostApis apis;
  atrium::internal::FakeClock clock;
  std::unique_ptr<H5Server> server;
  std::string root;
  std::string port;

  Fixture() {
    char tmpl[] = "/tmp/atrium-h5-fuzz-XXXXXX";
    Require(::mkdtemp(tmpl) != nullptr, "temp dir");
    root = tmpl;
    fs::create_directories(root + "/www/a");
    std::ofstream(root + "/www/index.html") << "<!doctype html><p>help</p>";
    std::ofstream(root + "/www/a/b.txt") << "b";
    std::ofstream(root + "/secret.txt") << "secret";
    fs::create_symlink(root + "/secret.txt", root + "/www/escape.txt");
    atrium::h5::H5ServerOptions options;
    options.host_apis = &apis;
    options.clock = &clock;
    options.run_on = [](std::function<void()>) { return true; };  // requests come in directly
    auto started = H5Server::Start(std::move(options));
    Require(started.ok(), "server starts");
    server = std::move(*started);
    port = std::to_string(server->port());
    atrium::h5::PageSession session;
    session.app_id = "help";
    session.version = "1.0.0";
    session.www_real = fs::canonical(root + "/www").string();
    session.entry = "index.html";
    session.csp = "default-src 'self'";
    session.jsapis = {"wallet.getBalance", "wallet.transfer"};
    session_ = session;
  }
  // The session of app help: token 64 'a's, launch code 64 'b's (again for
  // every input: a code works once).
  void ResetSession() {
    server->AddSessionForTesting(session_, std::string(64, 'a'), std::string(64, 'b'));
  }
  atrium::h5::PageSession session_;
  ~Fixture() {
    server.reset();
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

// ":1" at the end of a host becomes the server's port.
std::string WithPort(std::string value, const std::string& port) {
  if (value.size() >= 2 && value.ends_with(":1")) value.replace(value.size() - 1, 1, port);
  return value;
}

bool help_host_of(std::string host, const std::string& port) {
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host == "help.localhost:" + port;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture();  // lives for the process
  fixture->ResetSession();
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(atrium::h5::kMaxCallBytes);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = 0;
  while (used < size && !parser.is_done()) {
    const size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec == bhttp::error::need_more) {
      ec = {};
      break;
    }
    if (ec) return 0;  // the session answers 400/413/431 before any routing
    if (n == 0) break;
    used += n;
  }
  if (!parser.is_done()) {
    if (!parser.got_some()) return 0;  // nothing of a request: the connection just closes
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
  }
  atrium::http::Request req = parser.release();
  const std::string host = WithPort(std::string(req[bhttp::field::host]), fixture->port);
  if (req.find(bhttp::field::host) != req.end()) req.set(bhttp::field::host, host);
  if (req.find(bhttp::field::origin) != req.end()) {
    req.set(bhttp::field::origin, WithPort(std::string(req[bhttp::field::origin]), fixture->port));
  }
  const int calls_before = fixture->apis.calls;
  int answers = 0;
  int status = 0;
  fixture->server->HandleForTesting(req, [&](atrium::http::Reply reply) {
    ++answers;
    status = atrium::http::ReplyStatus(reply);
  });
  if (answers == 0 && req.target().starts_with("/__atrium/events")) {
    Require(help_host_of(host, fixture->port), "only a poll of the session's app is held");
    fixture->clock.AdvanceMs(atrium::h5::kPollHoldMs);
    fixture->server->ExpireHeldPolls();
  }
  Require(answers == 1, "answered exactly once, on the spot");
  static const std::set<int> kStatuses = {200, 206, 304, 400, 403, 404,
                                          405, 415, 416, 421, 500, 503};
  Require(kStatuses.contains(status), "a documented status");
  std::string lower = host;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool help_host = lower == "help.localhost:" + fixture->port;
  const bool bridge_js = req.target() == "/__atrium/bridge.js";  // on every app origin
  if ((status == 200 || status == 206 || status == 304) && !bridge_js) {
    Require(help_host, "files and calls only on the origin of the session's app");
  }
  if (fixture->apis.calls != calls_before) {
    Require(help_host && req.method() == bhttp::verb::post,
            "a host API only by POST on its origin");
    Require(req[bhttp::field::cookie].find("atrium_session=" + std::string(64, 'a')) !=
                    std::string_view::npos &&
                req["X-Atrium-Bridge"] == "1",
            "a host API only with the session cookie and the bridge header");
  }
  return 0;
}
