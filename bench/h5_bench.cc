// h5_bench: what an offline H5 package buys, measured in real headless
// Chromium, each figure against a baseline taken in the same run.
//
//   h5_bench [--quick] [--json PATH]
//
//  1. Page load in a warm web view (target): the sample help centre
//     (samples/wallet/h5/help, plus a script that records Navigation
//     Timing's loadEventStart) opened from its installed, signed package
//     through the H5 layer (the loopback server, a page-load session, the
//     bridge script), against the same files from a loopback server that
//     answers each request 100 ms after it arrived: one round trip of a
//     100 ms network per request (connection setup is not delayed, so the
//     baseline flatters the network). A headless Chromium kept running per
//     side, each loading only its own site, as an app keeps the web view it
//     shows an H5 app in (one browser alternating between the two sites
//     starts a new renderer process per load: ~60 ms more a load here),
//     driven over the DevTools protocol; the HTTP cache cleared before
//     every load (each load a first visit); offline and online
//     interleaved. Target: offline / online <= 1/3.
//     Reported beside it: when the entry document was fetched
//     (responseEnd).
//  2. The same in a cold web view (reported, no target): a new browser
//     process and profile per load, whose own start-up (~120 ms of
//     renderer work here) both sides pay.
//  3. Bridge round trip from the page: 200 AtriumBridge.call of
//     wallet.getBalance (the account bundle's host API) one after the
//     other in the warm web view, p50 and p99 of each call's time measured
//     by the page (reported; no target).
//  4. Memory of an open H5 app (reported): the web view's processes' PSS
//     with the sample page open minus the same browser on about:blank
//     (alternated), and the host's heap per page load (a session: malloc's
//     in-use bytes over 200 opens).
// Needs the built sample wallet and /usr/bin/chromium. Exit 0 unless the
// bench could not run.
#include <curl/curl.h>
#include <malloc.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "atrium/container.h"
#include "atrium/dynamic/h5.h"
#include "atrium/dynamic/h5/cdp_browser.h"
#include "atrium/dynamic/http/file_reply.h"
#include "atrium/dynamic/http/http_server.h"
#include "bench_row.h"
#include "bench_util.h"

namespace {

namespace fs = std::filesystem;
using namespace atrium;
using namespace atrium::bench;

constexpr auto kNetworkRoundTrip = std::chrono::milliseconds(100);

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// The sample's package source with the bench's script added: the load
// times on the entry page.
void WriteBenchPackage(const fs::path& src, const fs::path& dir) {
  fs::copy(src, dir, fs::copy_options::recursive);
  std::string index = ReadAll(dir / "www/index.html");
  const size_t head = index.find("</head>");
  if (head == std::string::npos) Fail("the sample page has no </head>");
  index.insert(head, "  <script src=\"bench-load.js\"></script>\n");
  WriteAll(dir / "www/index.html", index);
  WriteAll(dir / "www/bench-load.js", R"JS(
window.addEventListener('load', function () {
  var t = performance.getEntriesByType('navigation')[0];
  document.documentElement.setAttribute('data-load-ms', String(t.loadEventStart));
  document.documentElement.setAttribute('data-document-ms', String(t.responseEnd));
});
)JS");
}

// The value of attribute `name` on the DOM's root element.
std::string RootAttribute(const std::string& dom, const std::string& name) {
  const std::regex re(name + "=\"([^\"]*)\"");
  std::smatch m;
  return std::regex_search(dom, m, re) ? m[1].str() : "";
}

// One headless load without virtual time: the DOM at the load event.
std::string LoadDom(const std::string& url, const fs::path& profile) {
  std::string dom;
  ChromiumWebViewOptions o;
  o.headless = true;
  o.settle_ms = 0;
  o.profile_dir = profile.string();
  o.on_dom = [&](const std::string& d) { dom = d; };
  H5Page page;
  page.url = url;
  const Status shown = MakeChromiumWebView(o)->Show(page);
  if (!shown.ok()) Fail("chromium: " + shown.error().ToString());
  fs::remove_all(profile);
  return dom;
}

// The proportional set size of every process in process group `pgid`
// (a browser and its helpers), in KiB.
double ProcessGroupPssKb(pid_t pgid) {
  double total = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const std::string stat = ReadAll(entry.path() / "stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string state;
    long ppid = 0, group = 0;
    fields >> state >> ppid >> group;
    if (group != pgid) continue;
    std::istringstream rollup(ReadAll(entry.path() / "smaps_rollup"));
    for (std::string line; std::getline(rollup, line);) {
      if (line.starts_with("Pss:")) total += std::stod(line.substr(4));
    }
  }
  return total;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// One load in a kept browser with its HTTP cache cleared (a first visit):
// the page's {loadEventStart, responseEnd} in ms.
std::pair<double, double> WarmLoad(h5::CdpBrowser& browser, const std::string& url) {
  if (auto cleared = browser.Command("Network.clearBrowserCache", "", 10000); !cleared.ok()) {
    Fail("clear the cache: " + cleared.error().ToString());
  }
  if (Status s = browser.Navigate(url, 30000); !s.ok()) Fail("load: " + s.error().ToString());
  auto times = browser.Evaluate(
      "(function () { var t = performance.getEntriesByType('navigation')[0];"
      "  return [t.loadEventStart, t.responseEnd]; })()",
      10000);
  if (!times.ok()) Fail("read the page's times: " + times.error().ToString());
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(*times, ec);
  const boost::json::array* a = ec ? nullptr : v.if_array();
  if (a == nullptr || a->size() != 2 || !(*a)[0].is_number() || !(*a)[1].is_number()) {
    Fail("the page reported " + *times);
  }
  return {(*a)[0].to_number<double>(), (*a)[1].to_number<double>()};
}

}  // namespace

int main(int argc, char** argv) {
  BenchName() = "h5_bench";
  bool quick = false;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    if (TakeCommonArg(argc, argv, &i, &quick, &json_path) != CommonArg::kTaken) {
      std::fprintf(stderr, "usage: h5_bench [--quick] [--json PATH]\n");
      return 2;
    }
  }
  PrintMachine();
  const fs::path wallet = fs::path(ATRIUM_BINARY_DIR) / "samples/wallet";
  const fs::path key = fs::path(ATRIUM_BINARY_DIR) / "samples/wallet-release.key";
  if (!fs::exists(wallet / "app.json") || !fs::exists(key)) {
    Fail("the sample wallet is not built (cmake --build build --target sample_wallet)");
  }
  char tmpl[] = "/tmp/atrium-h5-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) Fail("mkdtemp");
  const fs::path work = tmpl;
  const fs::path src = work / "help";
  WriteBenchPackage(fs::path(ATRIUM_SOURCE_DIR) / "samples/wallet/h5/help", src);
  const std::string pack = std::string(ATRIUM_BINARY_DIR) + "/bin/atrium pack " + src.string() +
                           " --kind h5_package --key " + key.string() +
                           " --app com.example.wallet -o " + (work / "help.atb").string() +
                           " > /dev/null";
  if (std::system(pack.c_str()) != 0) Fail("atrium pack failed: " + pack);

  // The app, with the bench's package installed and its launch run (the
  // account bundle registers the host APIs).
  ContainerOptions options;
  options.app_dir = wallet.string();
  options.data_dir = (work / "data").string();
  options.launch_guard = false;
  auto container = Container::Open(options);
  if (!container.ok()) Fail("open the sample: " + container.error().ToString());
  auto installed = (*container)->InstallPackage((work / "help.atb").string(), InstallAs::kActive);
  if (!installed.ok()) Fail("install: " + installed.error().ToString());
  MustOk((*container)->Start(), "the sample's launch");
  auto pages = (*container)->services().Get<H5Pages>();
  if (pages == nullptr) Fail("no H5Pages service");

  // The same files from "the network": each answer 100 ms after its request.
  auto first = pages->Open("help", "", {});
  if (!first.ok()) Fail("open help: " + first.error().ToString());
  // The bridge script as the H5 server serves it, for the online copy.
  {
    CURL* curl = curl_easy_init();
    std::string body;
    curl_slist* host = curl_slist_append(
        nullptr, ("Host: help.localhost:" + std::to_string(pages->stats().port)).c_str());
    curl_easy_setopt(
        curl, CURLOPT_URL,
        ("http://127.0.0.1:" + std::to_string(pages->stats().port) + "/__atrium/bridge.js")
            .c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, host);
    curl_easy_setopt(
        curl, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
          static_cast<std::string*>(u)->append(d, s * n);
          return s * n;
        });
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    if (curl_easy_perform(curl) != CURLE_OK || body.empty()) Fail("fetch bridge.js");
    curl_slist_free_all(host);
    curl_easy_cleanup(curl);
    WriteAll(src / "www/__atrium/bridge.js", body);
  }
  const std::string online_root = fs::canonical(src / "www").string();
  http::HttpServerOptions o;
  o.name = "delayed server";
  o.threads = 8;
  o.handler = [&](http::Request& req, http::Answer answer) {
    std::this_thread::sleep_for(kNetworkRoundTrip);
    answer(http::ServeTarget(req, online_root));
  };
  auto online = http::HttpServer::Start(std::move(o));
  if (!online.ok()) Fail("delayed server: " + online.error().ToString());
  const std::string online_url = (*online)->url() + "/index.html";

  // 1. Warm: a kept browser per side, each loading only its own site (as
  // an app keeps the web view it shows an H5 app in).
  auto launch = [&](const char* profile) {
    h5::CdpBrowserOptions browser_options;
    browser_options.profile_dir = (work / profile).string();
    auto launched = h5::CdpBrowser::Launch(browser_options);
    if (!launched.ok()) Fail("chromium: " + launched.error().ToString());
    return std::move(*launched);
  };
  std::unique_ptr<h5::CdpBrowser> offline_view = launch("offline-view");
  std::unique_ptr<h5::CdpBrowser> online_view = launch("online-view");
  std::vector<double> offline_ms, online_ms, offline_doc_ms, online_doc_ms;
  const int warm_runs = quick ? 5 : 30;
  for (int i = -1; i < warm_runs; ++i) {  // -1: a first pair, not kept
    auto page = pages->Open("help", "", {});
    if (!page.ok() || !page->offline) Fail("open help offline");
    const auto [off, off_doc] = WarmLoad(*offline_view, page->url);
    const auto [on, on_doc] = WarmLoad(*online_view, online_url);
    if (i < 0) continue;
    offline_ms.push_back(off);
    online_ms.push_back(on);
    offline_doc_ms.push_back(off_doc);
    online_doc_ms.push_back(on_doc);
    std::printf("warm run %2d: offline %7.1f ms, 100 ms away %7.1f ms\n", i + 1, off, on);
    std::fflush(stdout);
  }

  // 3. The bridge from the page: the real AtriumBridge.call, one after the
  // other.
  auto rtt_page = pages->Open("help", "", {});
  if (!rtt_page.ok()) Fail("open help");
  if (Status s = offline_view->Navigate(rtt_page->url, 30000); !s.ok()) {
    Fail(s.error().ToString());
  }
  auto rtt = offline_view->Evaluate(
      "(async function () { var times = [];"
      "  for (var i = 0; i < 200; i++) { var t0 = performance.now();"
      "    await AtriumBridge.call('wallet.getBalance', {});"
      "    times.push(performance.now() - t0); }"
      "  return times; })()",
      60000);
  if (!rtt.ok()) Fail("bridge calls: " + rtt.error().ToString());
  std::vector<double> calls;
  {
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(*rtt, ec);
    if (!ec && v.is_array()) {
      for (const auto& t : v.get_array()) calls.push_back(t.to_number<double>());
    }
  }
  if (calls.size() != 200) Fail("the bridge page answered '" + rtt->substr(0, 80) + "'");
  // 4. Memory of an open H5 app: the web view's processes (Chromium's
  // proportional set size, PSS, summed over its process group) with the
  // sample page open against the same browser on about:blank, alternated;
  // and the host's heap per page load (its session) over 200 opens.
  std::vector<double> page_pss_mb, blank_pss_mb;
  auto settle = [&] {
    auto settled = offline_view->Evaluate(
        "new Promise(function (resolve) { (function check() {"
        "  if (document.readyState === 'complete' &&"
        "      !(window.AtriumBridge && AtriumBridge.callsInFlight > 0)) return resolve(true);"
        "  setTimeout(check, 10); })(); })",
        30000);
    if (!settled.ok()) Fail("settle: " + settled.error().ToString());
  };
  for (int i = 0; i < (quick ? 2 : 5); ++i) {
    if (Status s = offline_view->Navigate("about:blank", 30000); !s.ok())
      Fail(s.error().ToString());
    settle();
    blank_pss_mb.push_back(ProcessGroupPssKb(offline_view->pid()) / 1024.0);
    auto page = pages->Open("help", "", {});
    if (!page.ok()) Fail("open help");
    if (Status s = offline_view->Navigate(page->url, 30000); !s.ok()) Fail(s.error().ToString());
    settle();
    page_pss_mb.push_back(ProcessGroupPssKb(offline_view->pid()) / 1024.0);
  }
  // 200: with the bench's earlier opens, still under the server's 256
  // sessions (beyond, the oldest go and the heap stops growing).
  const size_t heap_before = mallinfo2().uordblks;
  for (int i = 0; i < 200; ++i) {
    if (!pages->Open("help", "", {}).ok()) Fail("open help");
  }
  const double session_bytes = static_cast<double>(static_cast<int64_t>(mallinfo2().uordblks) -
                                                   static_cast<int64_t>(heap_before)) /
                               200.0;
  offline_view.reset();
  online_view.reset();

  // 2. Cold: a new browser per load.
  std::vector<double> cold_offline_ms, cold_online_ms;
  const int cold_runs = quick ? 2 : 8;
  for (int i = 0; i < cold_runs; ++i) {
    auto page = pages->Open("help", "", {});
    if (!page.ok() || !page->offline) Fail("open help offline");
    const std::string a = RootAttribute(LoadDom(page->url, work / "profile"), "data-load-ms");
    const std::string b = RootAttribute(LoadDom(online_url, work / "profile"), "data-load-ms");
    if (a.empty() || b.empty()) Fail("a page did not report its times");
    cold_offline_ms.push_back(std::stod(a));
    cold_online_ms.push_back(std::stod(b));
    std::printf("cold run %2d: offline %7.1f ms, 100 ms away %7.1f ms\n", i + 1,
                cold_offline_ms.back(), cold_online_ms.back());
    std::fflush(stdout);
  }

  std::vector<Row> rows;
  rows.push_back(RatioRow("h5_page_load", "sample page load, warm web view (loadEventStart)", "ms",
                          "same files 100 ms away", offline_ms, online_ms, 1.0 / 3.0));
  rows.push_back(RatioRow("h5_page_document", "entry document fetched, warm (responseEnd)", "ms",
                          "same files 100 ms away", offline_doc_ms, online_doc_ms, 0));
  rows.push_back(RatioRow("h5_page_load_cold", "sample page load, cold web view", "ms",
                          "same files 100 ms away", cold_offline_ms, cold_online_ms, 0));
  Row p50 = RatioRow("h5_bridge_call_p50", "bridge call round trip p50", "ms", "",
                     {Percentile(calls, 0.50)}, {}, 0);
  p50.on = Row::On::kValue;
  Row p99 = RatioRow("h5_bridge_call_p99", "bridge call round trip p99", "ms", "",
                     {Percentile(calls, 0.99)}, {}, 0);
  p99.on = Row::On::kValue;
  rows.push_back(p50);
  rows.push_back(p99);
  Row pss = RatioRow("h5_page_memory", "web view PSS added by the open sample page", "MiB",
                     "same browser on about:blank", page_pss_mb, blank_pss_mb, 0);
  pss.on = Row::On::kDifference;
  rows.push_back(pss);
  Row session = RatioRow("h5_session_memory", "host heap per page load (session)", "bytes", "",
                         {session_bytes}, {}, 0);
  session.on = Row::On::kValue;
  rows.push_back(session);
  PrintRows(rows);
  if (!json_path.empty()) {
    WriteJsonFile(json_path,
                  boost::json::object{{"bench", "h5_bench"}, {"metrics", RowsJson(rows)}});
  }
  (*online)->Stop();
  container->reset();
  fs::remove_all(work);
  return 0;
}
