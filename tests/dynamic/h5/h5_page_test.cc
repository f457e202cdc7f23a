// H5 pages end to end: a signed h5_package installed through the container,
// opened through the H5Pages service the layer registers, served by the
// loopback server on the app's own origin, and loaded by real headless
// Chromium, whose page calls host APIs the test registers through the JS
// bridge. The server's refusals (wrong host, origin, session, path) are
// checked with raw requests, byte for byte.
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "../../container/test_app.h"
#include "atrium/container.h"
#include "atrium/dynamic/h5.h"
#include "atrium/dynamic/h5/cdp_browser.h"
#include "atrium/host_api.h"
#include "testing/chromium.h"
#include "testing/package_fixture.h"
#include "testing/raw_http_client.h"

namespace atrium::testing {
namespace {

namespace fs = std::filesystem;

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// The help app's package source at `version`: the page asks for the balance
// (requested and granted) and for a transfer (granted by the host, never
// requested by the package), and shows what each answered.
std::string WriteHelpPackage(const std::string& root, const std::string& version) {
  const std::string dir = root + "/help-" + version;
  WriteFile(dir + "/h5.json", R"({"format": 1, "id": "help", "version": ")" + version + R"(",
  "name": "Help centre", "entry": "index.html", "fallback_url": "https://help.example.com/",
  "jsapis": [{"name": "wallet.getBalance", "reason": "shows your balance"},
             {"name": "wallet.limits", "reason": "shows your limits"}]})");
  WriteFile(dir + "/www/index.html",
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Help</title>"
            // No /favicon.ico request (the browser's, at a time of its own).
            "<link rel=\"icon\" href=\"data:,\">"
            "<script src=\"/__atrium/bridge.js\"></script><script src=\"app.js\"></script>"
            "</head><body><h1>Help centre " +
                version +
                "</h1><p id=\"stored\">-</p><p id=\"balance\">-</p><p id=\"transfer\">-</p><p "
                "id=\"limits\">-</p>"
                "</body></html>");
  WriteFile(dir + "/www/app.js", R"JS(
function show(id, promise, ok) {
  promise.then(function (r) { document.getElementById(id).textContent = ok(r); },
               function (e) { document.getElementById(id).textContent =
                                id + ' refused: ' + e.message + ' [' + e.code + ']'; });
}
document.addEventListener('DOMContentLoaded', function () {
  document.getElementById('stored').textContent =
      'stored before: ' + (localStorage.getItem('secret') || 'nothing');
  localStorage.setItem('secret', 'help-secret');
  show('balance', AtriumBridge.call('wallet.getBalance', {currency: 'EUR'}),
       function (r) { return 'balance: ' + r.amount + ' ' + r.currency; });
  show('transfer', AtriumBridge.call('wallet.transfer', {to: 'x', amount: 5}),
       function () { return 'transfer: done'; });
  show('limits', AtriumBridge.call('wallet.limits'), function () { return 'limits: shown'; });
});
)JS");
  WriteFile(dir + "/www/data/version.txt", version);
  // A page for a sandboxed frame (an opaque origin): it tries the bridge.
  WriteFile(dir + "/www/frame.html",
            "<!doctype html><html><head><script src=\"frame.js\"></script></head></html>");
  WriteFile(dir + "/www/frame.js", R"JS(
fetch('/__atrium/call', {method: 'POST',
  headers: {'Content-Type': 'application/json', 'X-Atrium-Bridge': '1'},
  credentials: 'include', body: JSON.stringify({api: 'wallet.getBalance', params: {}})})
  .then(function (r) { parent.postMessage('answered ' + r.status, '*'); },
        function () { parent.postMessage('blocked', '*'); });
)JS");
  return dir;
}

// Another H5 app, "wiki", whose page tries to reach the help app: its
// storage, and its bridge with a cross-origin call.
std::string WriteWikiPackage(const std::string& root) {
  const std::string dir = root + "/wiki-1.0.0";
  WriteFile(dir + "/h5.json", R"({"format": 1, "id": "wiki", "version": "1.0.0",
  "name": "Wiki", "entry": "index.html", "fallback_url": "https://wiki.example.com/"})");
  WriteFile(dir + "/www/index.html",
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Wiki</title>"
            "<script src=\"/__atrium/bridge.js\"></script><script src=\"wiki.js\"></script>"
            "</head><body><p id=\"storage\">-</p><p id=\"cross\">-</p><p id=\"own\">-</p>"
            "</body></html>");
  WriteFile(dir + "/www/wiki.js", R"JS(
document.addEventListener('DOMContentLoaded', function () {
  function text(id, value) { document.getElementById(id).textContent = value; }
  text('storage', 'storage of help: ' + (localStorage.getItem('secret') || 'nothing'));
  fetch('http://help.localhost:' + location.port + '/__atrium/call', {
    method: 'POST',
    headers: {'Content-Type': 'application/json', 'X-Atrium-Bridge': '1'},
    body: JSON.stringify({api: 'wallet.getBalance', params: {}})
  }).then(function (r) { text('cross', 'cross-origin call answered: HTTP ' + r.status); },
          function () { text('cross', 'cross-origin call blocked'); });
  AtriumBridge.call('wallet.getBalance').then(function () { text('own', 'own call: ok'); },
      function (e) { text('own', 'own call refused: ' + e.message); });
});
)JS");
  return dir;
}

class Api final : public HostApi {
 public:
  explicit Api(std::function<Result<std::string>(const HostApiCall&)> fn) : fn_(std::move(fn)) {}
  Result<std::string> Call(const HostApiCall& call) override {
    ++calls;
    return fn_(call);
  }
  std::atomic<int> calls{0};

 private:
  std::function<Result<std::string>(const HostApiCall&)> fn_;
};

class H5PageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app_.SetReleaseKey(keys_.pub_hex);
    // wallet.transfer is granted but the package does not request it;
    // wallet.limits is requested but not granted.
    app_.SetExtraJson(
        R"(, "h5": {"apps": {"help": {"fallback_url": "https://help.example.com/"}}},)"
        R"( "host_apis": {"grants": {"h5:help": ["wallet.getBalance", "wallet.transfer"]}})");
  }

  void OpenContainer() {
    ContainerOptions options;
    options.app_dir = app_.app_dir();
    options.data_dir = app_.data_dir();
    auto c = Container::Open(options);
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    container_ = std::move(*c);
    balance_ = std::make_shared<Api>([](const HostApiCall& call) -> Result<std::string> {
      EXPECT_EQ(call.caller, "h5:help");
      EXPECT_EQ(call.params, R"({"currency":"EUR"})");
      return std::string(R"({"amount":42.5,"currency":"EUR"})");
    });
    transfer_ = std::make_shared<Api>(
        [](const HostApiCall&) -> Result<std::string> { return std::string("{}"); });
    ASSERT_TRUE(
        container_->services().Register<HostApi>(balance_, {{"name", "wallet.getBalance"}}).ok());
    ASSERT_TRUE(
        container_->services().Register<HostApi>(transfer_, {{"name", "wallet.transfer"}}).ok());
    pages_ = container_->services().Get<H5Pages>();
    ASSERT_NE(pages_, nullptr);
  }

  void Install(const std::string& version, InstallAs as) {
    const std::string pkg =
        PackDir(WriteHelpPackage(app_.root(), version), keys_, ArtifactKind::kH5Package);
    auto r = container_->InstallPackage(pkg, as);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
  }

  H5Page Open(const std::string& path = "") {
    auto page = pages_->Open("help", path, {});
    EXPECT_TRUE(page.ok()) << page.error().ToString();
    return page.ok() ? *page : H5Page{};
  }

  // The one-time launch code in a page URL.
  static std::string Code(const H5Page& page) {
    const size_t at = page.url.find("__atrium_launch=");
    return at == std::string::npos ? "" : page.url.substr(at + 16, 64);
  }

  // Loads the page's entry with its launch code, as a browser would, and
  // returns the session cookie the server set ("Cookie: ...\r\n").
  std::string Cookie(const H5Page& page) {
    const std::string entry = Get("/index.html?__atrium_launch=" + Code(page), Host());
    EXPECT_EQ(StatusOf(entry), 200) << entry;
    const std::string prefix = "Set-Cookie: atrium_session=";
    const size_t at = entry.find(prefix);
    if (at == std::string::npos) return "";
    return "Cookie: atrium_session=" + entry.substr(at + prefix.size(), 64) + "\r\n";
  }

  std::string Raw(const std::string& request) {
    RawClient client(pages_->stats().port);
    EXPECT_TRUE(client.connected());
    client.Send(request);
    return client.ReadToClose();
  }
  std::string Host(const std::string& app = "help") {
    return app + ".localhost:" + std::to_string(pages_->stats().port);
  }
  std::string Get(const std::string& target, const std::string& host,
                  const std::string& extra = "") {
    return Raw("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n" +
               extra + "\r\n");
  }
  // The help app 1.0.0 installed and its entry page loaded in a headless
  // Chromium kept for the test, driven over the DevTools protocol.
  void LoadInKeptBrowser(std::unique_ptr<h5::CdpBrowser>& browser) {
    ASSERT_NO_FATAL_FAILURE(ExpectChromium());
    ASSERT_NO_FATAL_FAILURE(OpenContainer());
    ASSERT_NO_FATAL_FAILURE(Install("1.0.0", InstallAs::kActive));
    h5::CdpBrowserOptions options;
    options.profile_dir = app_.root() + "/cdp";
    auto launched = h5::CdpBrowser::Launch(options);
    ASSERT_TRUE(launched.ok()) << launched.error().ToString();
    browser = std::move(*launched);
    const H5Page page = Open();
    const Status loaded = browser->Navigate(page.url, 30000);
    ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  }
  // A bridge call with `cookie` ("Cookie: ...\r\n" or "") and `extra` headers.
  std::string Call(const std::string& host, const std::string& origin, const std::string& cookie,
                   const std::string& body, const std::string& extra = "X-Atrium-Bridge: 1\r\n") {
    return Raw("POST /__atrium/call HTTP/1.1\r\nHost: " + host + "\r\nOrigin: " + origin + "\r\n" +
               cookie + extra +
               "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  Keys keys_;
  TestApp app_{{"greeter"}, "greeter"};
  std::unique_ptr<Container> container_;
  std::shared_ptr<H5Pages> pages_;
  std::shared_ptr<Api> balance_;
  std::shared_ptr<Api> transfer_;
};

std::string BodyOf(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

TEST_F(H5PageTest, WithoutAPackageTheFallbackOpensAndSaysWhy) {
  ASSERT_NO_FATAL_FAILURE(OpenContainer());
  auto page = pages_->Open("help", "faq.html", {{"q", "a b"}});
  ASSERT_TRUE(page.ok()) << page.error().ToString();
  EXPECT_FALSE(page->offline);
  EXPECT_EQ(page->url, "https://help.example.com/faq.html?q=a%20b");
  EXPECT_EQ(page->fallback_reason, "no package is installed");
  EXPECT_FALSE(pages_->stats().running);  // no server for a fallback
  auto unknown = pages_->Open("billing", "", {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(unknown.error().message,
            "H5 app 'billing' cannot open: no package is installed, and app.json \"h5\" names no "
            "fallback_url");
}

TEST_F(H5PageTest, PageFromThePackageCallsGrantedApisAndShowsTheRefusals) {
  if (BrowserTestsSkipped()) GTEST_SKIP() << "ATRIUM_SKIP_BROWSER_TESTS=1";
  ASSERT_NO_FATAL_FAILURE(ExpectChromium());
  ASSERT_NO_FATAL_FAILURE(OpenContainer());
  ASSERT_NO_FATAL_FAILURE(Install("1.0.0", InstallAs::kActive));
  const H5Page page = Open();
  ASSERT_TRUE(page.offline) << page.fallback_reason;
  EXPECT_EQ(page.version, "1.0.0");
  EXPECT_TRUE(page.url.starts_with("http://help.localhost:")) << page.url;
  Child c =
      RunWithTimeout(HeadlessChromium(app_.root() + "/chromium",
                                      {"--virtual-time-budget=10000", "--dump-dom", page.url}),
                     app_.root() + "/chromium.err");
  ASSERT_FALSE(c.timed_out);
  ASSERT_EQ(c.status, 0) << Tail(app_.root() + "/chromium.err");
  EXPECT_NE(c.out.find("Help centre 1.0.0"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("balance: 42.5 EUR"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("transfer refused: permission denied: wallet.transfer is not granted to "
                       "h5:help (its manifest does not request it) [permission]"),
            std::string::npos)
      << c.out;
  EXPECT_NE(c.out.find("limits refused: permission denied: wallet.limits is not granted to "
                       "h5:help (app.json \"host_apis\" does not grant it) [permission]"),
            std::string::npos)
      << c.out;
  EXPECT_EQ(balance_->calls.load(), 1);
  EXPECT_EQ(transfer_->calls.load(), 0);
  const H5ServerStats stats = pages_->stats();
  EXPECT_EQ(stats.bridge_calls, 1u);
  EXPECT_EQ(stats.bridge_refused, 2u);
  EXPECT_EQ(stats.files_served, 2u);  // index.html, app.js (the bridge script apart)
}

// Native events in a real page: AtriumBridge.on's long poll, driven in a
// kept headless Chromium over the DevTools protocol. An event emitted
// after the page load opened reaches the listener even when the page's
// first poll comes later (the cursor starts at the open); a later event
// comes by the next poll; off() stops a listener.
TEST_F(H5PageTest, EventsReachTheListenersOfAnOpenPage) {
  if (BrowserTestsSkipped()) GTEST_SKIP() << "ATRIUM_SKIP_BROWSER_TESTS=1";
  std::unique_ptr<h5::CdpBrowser> browser;
  ASSERT_NO_FATAL_FAILURE(LoadInKeptBrowser(browser));
  auto listen = browser->Evaluate(
      "window.got = [];"
      "window.offB = AtriumBridge.on('wallet.balanceChanged', function (d, e) {"
      "  got.push(e + ' ' + d.amount); });"
      "AtriumBridge.on('wallet.balanceChanged', function (d) { got.push('second ' + d.amount); });"
      "typeof AtriumBridge.on",
      10000);
  ASSERT_TRUE(listen.ok()) << listen.error().ToString();
  EXPECT_EQ(*listen, "\"function\"");
  auto sent = pages_->Emit("help", "wallet.balanceChanged", R"({"amount": 40})");
  ASSERT_TRUE(sent.ok()) << sent.error().ToString();
  EXPECT_EQ(*sent, 1u);
  // Waits in the page (the browser's own timer) until `count` entries came.
  auto wait_for = [&](int count) {
    return browser->Evaluate(
        "new Promise(function (resolve) { (function check() {"
        "  if (got.length >= " +
            std::to_string(count) +
            ") return resolve(got.join('|'));"
            "  setTimeout(check, 5); })(); })",
        20000);
  };
  auto first = wait_for(2);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(*first, "\"wallet.balanceChanged 40|second 40\"");
  // off() the first listener; the next event reaches the second only.
  ASSERT_TRUE(browser->Evaluate("offB(); 0", 5000).ok());
  ASSERT_TRUE(pages_->Emit("help", "wallet.balanceChanged", R"({"amount": 41.5})").ok());
  ASSERT_TRUE(pages_->Emit("help", "unheard", "{}").ok());
  auto second = wait_for(3);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_EQ(*second, "\"wallet.balanceChanged 40|second 40|second 41.5\"");
  EXPECT_EQ(pages_->stats().events, 3u);
  EXPECT_EQ(*pages_->Emit("wiki", "x", "1"), 0u);  // no page of wiki is open
}

// A frame of another origin inside an app's page cannot reach the app's
// bridge: another app's page is not even let in (the app's CSP:
// frame-src 'self'), and a sandboxed frame of the app's own file (an
// opaque origin, as a third-party widget would get) cannot load the app's
// scripts, let alone call: its requests carry no session cookie
// (SameSite=Strict), so they are refused. No host API runs; the page's
// own call still works.
TEST_F(H5PageTest, AFrameOfAnotherOriginCannotReachTheAppsBridge) {
  if (BrowserTestsSkipped()) GTEST_SKIP() << "ATRIUM_SKIP_BROWSER_TESTS=1";
  std::unique_ptr<h5::CdpBrowser> browser;
  ASSERT_NO_FATAL_FAILURE(LoadInKeptBrowser(browser));
  // The page's own calls on load have finished.
  auto settled = browser->Evaluate(
      "new Promise(function (resolve) { (function check() {"
      "  if (AtriumBridge.callsInFlight === 0 && document.readyState === 'complete')"
      "    return resolve(true);"
      "  setTimeout(check, 5); })(); })",
      20000);
  ASSERT_TRUE(settled.ok()) << settled.error().ToString();
  const int balance_calls = balance_->calls.load();
  const H5ServerStats before = pages_->stats();

  auto other = browser->Evaluate(
      "new Promise(function (resolve) {"
      "  document.addEventListener('securitypolicyviolation', function (e) {"
      "    resolve(e.effectiveDirective + ' ' + new URL(e.blockedURI).host); });"
      "  var frame = document.createElement('iframe');"
      "  frame.src = 'http://wiki.' + location.host.replace(/^help\\./, '') + '/index.html';"
      "  document.body.appendChild(frame); })",
      20000);
  ASSERT_TRUE(other.ok()) << other.error().ToString();
  EXPECT_EQ(*other, "\"frame-src " + Host("wiki") + "\"");

  auto sandboxed = browser->Evaluate(
      "new Promise(function (resolve) {"
      "  var frame = document.createElement('iframe');"
      "  frame.setAttribute('sandbox', 'allow-scripts');"
      "  frame.onload = function () { resolve('loaded'); };"
      "  frame.src = 'frame.html';"
      "  document.body.appendChild(frame); })",
      20000);
  ASSERT_TRUE(sandboxed.ok()) << sandboxed.error().ToString();
  const H5ServerStats after = pages_->stats();
  EXPECT_EQ(after.files_served, before.files_served + 1);  // frame.html (the page asked)
  EXPECT_EQ(after.refused, before.refused + 1);            // frame.js (the frame asked)
  EXPECT_EQ(after.bridge_calls, before.bridge_calls);
  EXPECT_EQ(balance_->calls.load(), balance_calls);

  auto own = browser->Evaluate(
      "AtriumBridge.call('wallet.getBalance', {currency: 'EUR'}).then(function (r) {"
      "  return String(r.amount); })",
      20000);
  ASSERT_TRUE(own.ok()) << own.error().ToString();
  EXPECT_EQ(*own, "\"42.5\"");
  EXPECT_EQ(balance_->calls.load(), balance_calls + 1);
}

// Two H5 apps in one browser profile: each has its own storage, and a page
// of one cannot call the other's bridge (the preflight finds no CORS
// headers; the server counts the refusal and no host API runs).
TEST_F(H5PageTest, AppsAreIsolatedByOrigin) {
  if (BrowserTestsSkipped()) GTEST_SKIP() << "ATRIUM_SKIP_BROWSER_TESTS=1";
  ASSERT_NO_FATAL_FAILURE(ExpectChromium());
  app_.SetExtraJson(
      R"(, "host_apis": {"grants": {"h5:help": ["wallet.getBalance"], "h5:wiki": []}})");
  ASSERT_NO_FATAL_FAILURE(OpenContainer());
  ASSERT_NO_FATAL_FAILURE(Install("1.0.0", InstallAs::kActive));
  auto wiki = container_->InstallPackage(
      PackDir(WriteWikiPackage(app_.root()), keys_, ArtifactKind::kH5Package), InstallAs::kActive);
  ASSERT_TRUE(wiki.ok()) << wiki.error().ToString();
  const std::string profile = app_.root() + "/chromium";
  auto load = [&](const std::string& app) {
    auto page = pages_->Open(app, "", {});
    EXPECT_TRUE(page.ok() && page->offline);
    Child c = RunWithTimeout(
        HeadlessChromium(profile, {"--virtual-time-budget=10000", "--dump-dom", page->url}),
        app_.root() + "/chromium.err");
    EXPECT_FALSE(c.timed_out);
    EXPECT_EQ(c.status, 0) << Tail(app_.root() + "/chromium.err");
    return c.out;
  };
  ASSERT_NE(load("help").find("stored before: nothing"), std::string::npos);
  // The profile keeps help's storage: its second load reads it back.
  ASSERT_NE(load("help").find("stored before: help-secret"), std::string::npos);
  const int balance_calls = balance_->calls.load();
  const std::string dom = load("wiki");
  EXPECT_NE(dom.find("storage of help: nothing"), std::string::npos) << dom;
  EXPECT_NE(dom.find("cross-origin call blocked"), std::string::npos) << dom;
  EXPECT_NE(dom.find("own call refused: permission denied: wallet.getBalance is not granted to "
                     "h5:wiki (its manifest does not request it)"),
            std::string::npos)
      << dom;
  EXPECT_EQ(balance_->calls.load(), balance_calls);
}

TEST_F(H5PageTest, ServerRefusesOtherHostsOriginsSessionsAndPaths) {
  ASSERT_NO_FATAL_FAILURE(OpenContainer());
  ASSERT_NO_FATAL_FAILURE(Install("1.0.0", InstallAs::kActive));
  const H5Page page = Open();
  const std::string code = Code(page);
  ASSERT_EQ(code.size(), 64u);
  EXPECT_EQ(page.url, page.display_url + "?__atrium_launch=" + code);
  const std::string port = std::to_string(pages_->stats().port);

  // The entry with the launch code sets the session cookie (another secret).
  const std::string entry = Get("/index.html?__atrium_launch=" + code, Host());
  EXPECT_EQ(StatusOf(entry), 200);
  const size_t set = entry.find("Set-Cookie: atrium_session=");
  ASSERT_NE(set, std::string::npos) << entry;
  const std::string token = entry.substr(set + 27, 64);
  EXPECT_NE(token, code);
  EXPECT_NE(
      entry.find("Set-Cookie: atrium_session=" + token + "; Path=/; HttpOnly; SameSite=Strict"),
      std::string::npos);
  EXPECT_NE(entry.find("Content-Security-Policy: default-src 'self'"), std::string::npos);
  EXPECT_NE(entry.find("X-Content-Type-Options: nosniff"), std::string::npos);
  EXPECT_NE(entry.find("Cache-Control: no-cache"), std::string::npos);
  // The code works once: seen again (a process list, a log), it opens nothing.
  EXPECT_EQ(StatusOf(Get("/index.html?__atrium_launch=" + code, Host())), 403);
  const std::string cookie = "Cookie: atrium_session=" + token + "\r\n";
  EXPECT_EQ(BodyOf(Get("/data/version.txt", Host(), cookie)), "1.0.0");
  const std::string missing = Get("/data/none.txt", Host(), cookie);
  EXPECT_EQ(StatusOf(missing), 404);
  EXPECT_NE(missing.find("Cache-Control: no-store"), std::string::npos) << missing;
  // A parameter may not pose as the launch code.
  EXPECT_EQ(pages_->Open("help", "", {{"__atrium_launch", "x"}}).error().code,
            ErrorCode::kInvalidArgument);

  // Wrong host: the loopback address itself, another name, a DNS-rebinding name.
  EXPECT_EQ(StatusOf(Get("/index.html", "127.0.0.1:" + port, cookie)), 421);
  EXPECT_EQ(StatusOf(Get("/index.html", "help.localhost", cookie)), 421);
  EXPECT_EQ(StatusOf(Get("/index.html", "help.evil.example:" + port, cookie)), 421);
  // No session, another app's session, a made-up one.
  EXPECT_EQ(StatusOf(Get("/index.html", Host())), 403);
  EXPECT_EQ(StatusOf(Get("/index.html", Host("wiki"), cookie)), 403);
  EXPECT_EQ(StatusOf(Get("/index.html", Host(),
                         "Cookie: atrium_session=" + std::string(64, 'a') + "\r\n")),
            403);
  // Paths outside www/: the manifest, traversal in every spelling.
  EXPECT_EQ(StatusOf(Get("/h5.json", Host(), cookie)), 404);
  EXPECT_EQ(StatusOf(Get("/../h5.json", Host(), cookie)), 404);
  EXPECT_EQ(StatusOf(Get("/%2e%2e/h5.json", Host(), cookie)), 404);
  EXPECT_EQ(StatusOf(Get("/data%5c..%5c..%5ch5.json", Host(), cookie)), 404);
  EXPECT_EQ(StatusOf(Get("/data/%00version.txt", Host(), cookie)), 400);
  EXPECT_EQ(StatusOf(Get("/data/", Host(), cookie)), 404);  // no listing
  // A symlink planted in the extracted files that leads out of www/.
  auto current = container_->artifacts().Current(ArtifactKind::kH5Package, "help");
  ASSERT_TRUE(current.ok() && current->has_value());
  fs::create_symlink(fs::path((*current)->dir) / "h5.json",
                     fs::path((*current)->dir) / "www" / "escape.json");
  EXPECT_EQ(StatusOf(Get("/escape.json", Host(), cookie)), 404);
  EXPECT_EQ(StatusOf(Get("/" + std::string(9000, 'a'), Host(), cookie)), 431);

  // Bridge calls: the app's origin, its session cookie, the bridge header,
  // JSON only.
  const std::string origin = "http://" + Host();
  const std::string balance = R"({"api": "wallet.getBalance", "params": {"currency": "EUR"}})";
  EXPECT_EQ(BodyOf(Call(Host(), origin, cookie, balance)),
            R"({"result":{"amount":42.5,"currency":"EUR"}})");
  const std::string evil = Call(Host(), "http://evil.localhost:" + port, cookie, balance);
  EXPECT_EQ(StatusOf(evil), 403);
  EXPECT_EQ(BodyOf(evil),
            R"({"error":"permission denied: the call does not come from the origin of h5:help",)"
            R"("code":"permission"})");
  EXPECT_EQ(StatusOf(Call(Host(), origin, cookie, balance, /*extra=*/"")), 403);
  EXPECT_EQ(StatusOf(Call(Host(), origin, "", balance)), 403);
  EXPECT_EQ(StatusOf(Call(Host(), origin, "Cookie: atrium_session=" + std::string(64, 'b') + "\r\n",
                          balance)),
            403);
  EXPECT_EQ(StatusOf(Call(Host("wiki"), "http://" + Host("wiki"), cookie, balance)), 403);
  EXPECT_EQ(StatusOf(Call(Host(), origin, cookie, "{\"api\": 7}")), 400);
  EXPECT_EQ(StatusOf(Call(Host(), origin, cookie, "not json")), 400);
  EXPECT_EQ(StatusOf(Call(Host(), origin, cookie, std::string(70000, ' '))), 413);
  EXPECT_EQ(StatusOf(Get("/__atrium/call", Host(), cookie)), 405);
  EXPECT_EQ(balance_->calls.load(), 1);
  // The host still serves.
  EXPECT_EQ(StatusOf(Get("/index.html", Host(), cookie)), 200);
}

// 200 clients at once and a client that sends half a request and stalls:
// each request is served or its connection refused at the limit (128), and
// the host serves the next request.
TEST_F(H5PageTest, ManyClientsAndAStalledOneDoNotStopTheServer) {
  ASSERT_NO_FATAL_FAILURE(OpenContainer());
  ASSERT_NO_FATAL_FAILURE(Install("1.0.0", InstallAs::kActive));
  const H5Page page = Open();
  const std::string cookie = Cookie(page);
  RawClient stalled(pages_->stats().port);
  stalled.Send("GET /index.html HTTP/1.1\r\nHost: " + Host() + "\r\n");  // never finished
  std::atomic<int> served{0};
  std::atomic<int> refused{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 200; ++i) {
    clients.emplace_back([&] {
      const std::string response = Get("/data/version.txt", Host(), cookie);
      if (response.empty()) {
        ++refused;  // closed at accept: the connection limit
      } else if (StatusOf(response) == 200 && BodyOf(response) == "1.0.0") {
        ++served;
      } else {
        ++wrong;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(served.load() + refused.load(), 200);
  EXPECT_GT(served.load(), 0);
  EXPECT_EQ(BodyOf(Get("/data/version.txt", Host(), cookie)), "1.0.0");
}

// Text goes out zstd-compressed to a client that takes it, as a
// representation of its own; everything else as stored.
TEST_F(H5PageTest, TextIsCompressedForClientsThatTakeZstdOrGzip) {
  ASSERT_NO_FATAL_FAILURE(OpenContainer());
  ASSERT_NO_FATAL_FAILURE(Install("1.0.0", InstallAs::kActive));
  const std::string cookie = Cookie(Open());
  auto current = container_->artifacts().Current(ArtifactKind::kH5Package, "help");
  ASSERT_TRUE(current.ok() && current->has_value());
  std::ifstream in(fs::path((*current)->dir) / "www/app.js", std::ios::binary);
  const std::string plain((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string packed = Get("/app.js", Host(), cookie + "Accept-Encoding: gzip, zstd\r\n");
  ASSERT_EQ(StatusOf(packed), 200);
  EXPECT_NE(packed.find("Content-Encoding: zstd\r\n"), std::string::npos) << packed;
  EXPECT_NE(packed.find("Vary: Accept-Encoding\r\n"), std::string::npos);
  const std::string body = BodyOf(packed);
  std::string unpacked(plain.size() + 16, '\0');
  const size_t n = ZSTD_decompress(unpacked.data(), unpacked.size(), body.data(), body.size());
  ASSERT_FALSE(ZSTD_isError(n));
  unpacked.resize(n);
  EXPECT_EQ(unpacked, plain);
  const size_t at = packed.find("ETag: ");
  const std::string etag = packed.substr(at + 6, packed.find("\r\n", at) - at - 6);
  EXPECT_TRUE(etag.ends_with("-zstd\"")) << etag;
  EXPECT_EQ(StatusOf(Get("/app.js", Host(),
                         cookie + "Accept-Encoding: zstd\r\nIf-None-Match: " + etag + "\r\n")),
            304);
  // gzip for a client that takes it and not zstd (zstd refused with q=0).
  for (const std::string& accept : {std::string("gzip"), std::string("zstd;q=0, GZIP;q=0.5")}) {
    const std::string gz = Get("/app.js", Host(), cookie + "Accept-Encoding: " + accept + "\r\n");
    ASSERT_EQ(StatusOf(gz), 200);
    EXPECT_NE(gz.find("Content-Encoding: gzip\r\n"), std::string::npos) << accept << "\n" << gz;
    const size_t gz_at = gz.find("ETag: ");
    EXPECT_EQ(gz.substr(gz_at + 6, gz.find("\r\n", gz_at) - gz_at - 6),
              etag.substr(0, etag.size() - 6) + "-gzip\"");
    const std::string gz_body = BodyOf(gz);
    ASSERT_GE(gz_body.size(), 2u);
    EXPECT_EQ(static_cast<unsigned char>(gz_body[0]), 0x1f);  // the gzip magic
    EXPECT_EQ(static_cast<unsigned char>(gz_body[1]), 0x8b);
    z_stream z{};
    ASSERT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
    std::string out(plain.size() + 16, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz_body.data()));
    z.avail_in = static_cast<uInt>(gz_body.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(z.total_out);
    inflateEnd(&z);
    EXPECT_EQ(out, plain);
  }
  // Not taken, refused with q=0, or a range: the file as stored.
  for (const std::string& extra :
       {std::string(""), std::string("Accept-Encoding: br, identity\r\n"),
        std::string("Accept-Encoding: zstd;q=0, gzip;q=0\r\n")}) {
    const std::string stored = Get("/app.js", Host(), cookie + extra);
    EXPECT_EQ(stored.find("Content-Encoding"), std::string::npos) << extra;
    EXPECT_EQ(BodyOf(stored), plain) << extra;
  }
  const std::string part =
      Get("/app.js", Host(), cookie + "Accept-Encoding: zstd\r\nRange: bytes=0-3\r\n");
  EXPECT_EQ(StatusOf(part), 206);
  EXPECT_EQ(BodyOf(part), plain.substr(0, 4));
}

TEST_F(H5PageTest, APageLoadKeepsItsVersionAndTheNextOpenTakesTheStagedOne) {
  ASSERT_NO_FATAL_FAILURE(OpenContainer());
  ASSERT_NO_FATAL_FAILURE(Install("1.0.0", InstallAs::kActive));
  const H5Page first = Open();
  ASSERT_NO_FATAL_FAILURE(Install("1.1.0", InstallAs::kStaged));
  const std::string first_cookie = Cookie(first);
  EXPECT_EQ(BodyOf(Get("/data/version.txt", Host(), first_cookie)), "1.0.0");
  const H5Page second = Open();  // activates 1.1.0
  EXPECT_EQ(second.version, "1.1.0");
  const std::string second_cookie = Cookie(second);
  EXPECT_EQ(BodyOf(Get("/data/version.txt", Host(), second_cookie)), "1.1.0");
  EXPECT_EQ(BodyOf(Get("/data/version.txt", Host(), first_cookie)), "1.0.0");
}

// A library package "common" at `version` (one script, a data file), and
// an app "help" that uses it in `range`.
std::string WriteCommonLibrary(const std::string& root, const std::string& version) {
  const std::string dir = root + "/common-" + version;
  WriteFile(dir + "/h5.json", R"({"format": 1, "id": "common", "version": ")" + version +
                                  R"(", "kind": "library", "cache": {"immutable": ["v/"]}})");
  WriteFile(dir + "/www/v/lib.js", "window.commonVersion = '" + version + "';");
  WriteFile(dir + "/www/version.txt", version);
  return dir;
}
std::string WriteAppUsing(const std::string& root, const std::string& range) {
  const std::string dir = root + "/help-uses";
  WriteFile(dir + "/h5.json", R"({"format": 1, "id": "help", "version": "3.0.0", "name": "Help",
  "entry": "index.html", "fallback_url": "https://help.example.com/",
  "uses": [{"id": "common", "range": ")" +
                                  range + R"("}]})");
  WriteFile(dir + "/www/index.html",
            "<!doctype html><script src=\"/__shared/common/v/lib.js\"></script>");
  return dir;
}

TEST_F(H5PageTest, LibraryFilesAreServedUnderSharedOnlyToAppsThatUseThemPinnedToAVersion) {
  ASSERT_NO_FATAL_FAILURE(OpenContainer());
  auto install = [&](const std::string& dir, InstallAs as) {
    auto r = container_->InstallPackage(PackDir(dir, keys_, ArtifactKind::kH5Package), as);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
  };
  ASSERT_NO_FATAL_FAILURE(install(WriteAppUsing(app_.root(), "^1.0.0"), InstallAs::kActive));
  // The library is not there yet: the fallback, saying which.
  auto missing = pages_->Open("help", "", {});
  ASSERT_TRUE(missing.ok()) << missing.error().ToString();
  EXPECT_FALSE(missing->offline);
  EXPECT_EQ(missing->fallback_reason, "it uses library 'common' ^1.0.0, which is not installed");

  ASSERT_NO_FATAL_FAILURE(install(WriteCommonLibrary(app_.root(), "1.0.0"), InstallAs::kActive));
  // A library has no pages and is no micro-app.
  auto lib = pages_->Open("common", "", {});
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(container_->router().SourcedMicroApps().empty());
  for (const DeclaredMicroApp& app : container_->router().SourcedMicroApps()) {
    EXPECT_NE(app.app_id, "common");
  }
  const H5Page first = Open();
  ASSERT_TRUE(first.offline) << first.fallback_reason;
  const std::string cookie = Cookie(first);
  const std::string script = Get("/__shared/common/v/lib.js", Host(), cookie);
  EXPECT_EQ(StatusOf(script), 200) << script;
  EXPECT_EQ(BodyOf(script), "window.commonVersion = '1.0.0';");
  // The library's cache policy; the app's CSP.
  EXPECT_NE(script.find("Cache-Control: max-age=31536000, immutable"), std::string::npos);
  EXPECT_NE(script.find("Content-Security-Policy: default-src 'self'"), std::string::npos);
  EXPECT_NE(Get("/__shared/common/version.txt", Host(), cookie).find("Cache-Control: no-cache"),
            std::string::npos);
  // Only what the app uses, only inside the library's www/.
  const std::string other = Get("/__shared/other/x.js", Host(), cookie);
  EXPECT_EQ(StatusOf(other), 404);
  EXPECT_EQ(BodyOf(other), "h5 app 'help' uses no library 'other'");
  EXPECT_EQ(StatusOf(Get("/__shared/common", Host(), cookie)), 404);
  EXPECT_EQ(StatusOf(Get("/__shared/common/", Host(), cookie)), 404);
  EXPECT_EQ(StatusOf(Get("/__shared/common/../../h5.json", Host(), cookie)), 404);
  EXPECT_EQ(StatusOf(Get("/__shared/common/%2e%2e/h5.json", Host(), cookie)), 404);
  EXPECT_EQ(StatusOf(Get("/__shared/common/v/lib.js", Host())), 403);  // a session still needed

  // 2.0.0 staged: outside the app's ^1.0.0, so the next open leaves it
  // staged and keeps 1.0.0; 1.1.0 staged is taken at the next open, while
  // the first page load keeps 1.0.0.
  ASSERT_NO_FATAL_FAILURE(install(WriteCommonLibrary(app_.root(), "2.0.0"), InstallAs::kStaged));
  const H5Page second = Open();
  ASSERT_TRUE(second.offline) << second.fallback_reason;
  EXPECT_EQ(BodyOf(Get("/__shared/common/version.txt", Host(), Cookie(second))), "1.0.0");
  auto current = container_->artifacts().Current(ArtifactKind::kH5Package, "common");
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->version, "1.0.0");
  ASSERT_NO_FATAL_FAILURE(install(WriteCommonLibrary(app_.root(), "1.1.0"), InstallAs::kStaged));
  // Opening the library itself activates nothing (and opens nothing).
  EXPECT_EQ(pages_->Open("common", "", {}).error().code, ErrorCode::kInvalidArgument);
  auto still = container_->artifacts().Current(ArtifactKind::kH5Package, "common");
  ASSERT_TRUE(still.ok() && still->has_value());
  EXPECT_EQ((*still)->version, "1.0.0");
  const H5Page third = Open();
  EXPECT_EQ(BodyOf(Get("/__shared/common/version.txt", Host(), Cookie(third))), "1.1.0");
  EXPECT_EQ(BodyOf(Get("/__shared/common/version.txt", Host(), cookie)), "1.0.0");

  // A new app version that needs a library not installed stays staged: the
  // version in use keeps opening offline.
  const std::string next = app_.root() + "/help-next";
  fs::copy(WriteAppUsing(app_.root(), "^1.0.0"), next, fs::copy_options::recursive);
  {
    std::ifstream in(next + "/h5.json");
    std::string manifest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    manifest.replace(manifest.find("3.0.0"), 5, "3.1.0");
    manifest.replace(manifest.find("\"common\""), 8, "\"charts\"");
    WriteFile(next + "/h5.json", manifest);
  }
  ASSERT_NO_FATAL_FAILURE(install(next, InstallAs::kStaged));
  const H5Page fourth = Open();
  EXPECT_TRUE(fourth.offline) << fourth.fallback_reason;
  EXPECT_EQ(fourth.version, "3.0.0");
  auto help = container_->artifacts().List(ArtifactKind::kH5Package);
  ASSERT_TRUE(help.ok());
  for (const ArtifactRecord& r : *help) {
    if (r.id == "help" && r.version == "3.1.0") {
      EXPECT_EQ(r.state, ArtifactState::kStaged);
    }
  }
}

}  // namespace
}  // namespace atrium::testing
