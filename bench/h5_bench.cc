// h5_bench: what an offline H5 package buys, measured in real headless
// Chromium, each figure against a baseline taken in the same run.
//
//   h5_bench [--quick] [--json PATH]
//
//  1. Page load: the sample help centre (samples/wallet/h5/help, plus a
//     script that records Navigation Timing's loadEventStart) opened from
//     its installed, signed package through the H5 layer (the loopback
//     server, a page-load session, the bridge script), against the same
//     files from a loopback server that answers each request 100 ms after
//     it arrived: one round trip of a 100 ms network per request
//     (connection setup is not delayed, so the baseline flatters the
//     network). Each run a cold browser (a new headless process and
//     profile), interleaved: about 120 ms of each load is the cold
//     renderer's own, whichever side serves the files. Target: offline /
//     online <= 1/3 (offline at least 3x faster). Reported beside it: when
//     the entry document was fetched (responseEnd), the network's share.
//  2. Bridge round trip from the page: 200 AtriumBridge-style calls of
//     wallet.getBalance (the account bundle's host API) one after the
//     other, p50 and p99 of each call's time measured by the page
//     (reported; no target).
// Needs the built sample wallet and /usr/bin/chromium. Exit 0 unless the
// bench could not run.
#include <curl/curl.h>

#include <algorithm>
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

// The sample's package source with the bench's two scripts added: the load
// time on the entry page, and a page of sequential bridge calls.
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
  WriteAll(dir / "www/bench-rtt.html",
           "<!doctype html><html><head><meta charset=\"utf-8\"><title>rtt</title>"
           "<script src=\"bench-rtt.js\"></script></head><body></body></html>");
  // Synchronous requests, so every call is done before the load event (the
  // DOM is taken then, with real clocks); the same request the bridge
  // script sends.
  WriteAll(dir / "www/bench-rtt.js", R"JS(
(function () {
  var times = [];
  for (var i = 0; i < 200; i++) {
    var t0 = performance.now();
    var xhr = new XMLHttpRequest();
    xhr.open('POST', '/__atrium/call', false);
    xhr.setRequestHeader('Content-Type', 'application/json');
    xhr.setRequestHeader('X-Atrium-Bridge', '1');
    xhr.send(JSON.stringify({api: 'wallet.getBalance', params: {}}));
    if (xhr.status !== 200) { times = null; break; }
    times.push(performance.now() - t0);
  }
  document.documentElement.setAttribute('data-rtt', times ? times.join(',') : 'failed');
})();
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

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
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
  const int runs = quick ? 3 : 12;
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

  std::vector<double> offline_ms;
  std::vector<double> online_ms;
  std::vector<double> offline_doc_ms;  // the entry document fetched (responseEnd)
  std::vector<double> online_doc_ms;
  for (int i = 0; i < runs; ++i) {
    auto page = pages->Open("help", "", {});
    if (!page.ok() || !page->offline) Fail("open help offline");
    const std::string offline_dom = LoadDom(page->url, work / "profile");
    const std::string a = RootAttribute(offline_dom, "data-load-ms");
    const std::string online_dom = LoadDom(online_url, work / "profile");
    const std::string b = RootAttribute(online_dom, "data-load-ms");
    const std::string c = RootAttribute(offline_dom, "data-document-ms");
    const std::string d = RootAttribute(online_dom, "data-document-ms");
    if (a.empty() || b.empty() || c.empty() || d.empty()) Fail("a page did not report its times");
    offline_ms.push_back(std::stod(a));
    online_ms.push_back(std::stod(b));
    offline_doc_ms.push_back(std::stod(c));
    online_doc_ms.push_back(std::stod(d));
    std::printf("run %2d: offline %7.1f ms, 100 ms away %7.1f ms\n", i + 1, offline_ms.back(),
                online_ms.back());

    std::fflush(stdout);
  }

  auto rtt_page = pages->Open("help", "bench-rtt.html", {});
  if (!rtt_page.ok()) Fail("open bench-rtt.html");
  const std::string rtt = RootAttribute(LoadDom(rtt_page->url, work / "profile"), "data-rtt");
  std::vector<double> calls;
  std::stringstream list(rtt);
  for (std::string t; std::getline(list, t, ',');) calls.push_back(std::stod(t));
  if (calls.size() != 200) Fail("the bridge page answered '" + rtt.substr(0, 80) + "'");

  std::vector<Row> rows;
  rows.push_back(RatioRow("h5_page_load", "sample page load (loadEventStart)", "ms",
                          "same files 100 ms away", offline_ms, online_ms, 1.0 / 3.0));
  rows.push_back(RatioRow("h5_page_document", "entry document fetched (responseEnd)", "ms",
                          "same files 100 ms away", offline_doc_ms, online_doc_ms, 0));
  Row p50 = RatioRow("h5_bridge_call_p50", "bridge call round trip p50", "ms", "",
                     {Percentile(calls, 0.50)}, {}, 0);
  p50.on = Row::On::kValue;
  Row p99 = RatioRow("h5_bridge_call_p99", "bridge call round trip p99", "ms", "",
                     {Percentile(calls, 0.99)}, {}, 0);
  p99.on = Row::On::kValue;
  rows.push_back(p50);
  rows.push_back(p99);
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
