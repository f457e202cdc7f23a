// H5 offline packages end to end with real processes: a copy of the sample
// wallet whose help app falls back to a second `atrium serve` standing in for
// the online site; `atrium h5 open --headless` (real headless Chromium) shows
// that site until the help package arrives through a signed release
// repository (`atrium release`, `atrium serve`, `atrium update`), then the
// package offline, and its 1.0.1 after the next update (a delta). Damaged
// packages (truncated, a flipped byte, a damaged signature, another key) are
// refused by `atrium install` with errors that name the place, and the
// installed version stays active and opens offline.
//
// Each test owns a temp folder, its child processes and their ports; tests
// may run in parallel processes.
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "dynamic/update/child_process.h"
#include "gtest/gtest.h"
#include "testing/chromium.h"
#include "testing/png.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::BrowserTestsSkipped;
using testing::ExpectChromium;
using testing::Ran;
using testing::ReadFile;
using testing::RunProcess;
using testing::Server;

constexpr const char* kOnlineText = "Online help centre (the web site)";
constexpr const char* kBalance = "  | Balance: 12500.00 EUR (Ada Lovelace)\n";
constexpr const char* kHeading101 = "Help centre 1.0.1: fees explained";

// Where `atrium inspect` says a package's parts are.
struct Layout {
  struct Section {
    std::string name;
    uint64_t offset = 0, size = 0;
  };
  struct Entry {
    std::string path;
    uint64_t compressed = 0;
  };
  std::vector<Section> sections;  // in file order, the header first
  std::vector<Entry> entries;     // in index order, which is the data section's order
  std::string key_id;             // the key the package claims to be signed by
  const Section* Find(const std::string& name) const {
    for (const Section& s : sections) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
};

Layout ParseInspect(const std::string& out) {
  Layout layout;
  std::smatch m;
  const std::regex sections_line(R"(\nsections +([^\n]*))");
  if (std::regex_search(out, m, sections_line)) {
    const std::string list = m[1];
    const std::regex section(R"(([a-z]+) (\d+)\+(\d+))");
    for (auto it = std::sregex_iterator(list.begin(), list.end(), section);
         it != std::sregex_iterator(); ++it) {
      layout.sections.push_back({(*it)[1], std::stoull((*it)[2]), std::stoull((*it)[3])});
    }
  }
  const std::regex entry(R"(\n  [0-7]{4} +\d+ +(\d+) +[0-9a-f]+ +(\S+))");
  const size_t table = out.find("\nentries:");
  if (table != std::string::npos) {
    for (auto it = std::sregex_iterator(out.begin() + static_cast<long>(table), out.end(), entry);
         it != std::sregex_iterator(); ++it) {
      layout.entries.push_back({(*it)[2], std::stoull((*it)[1])});
    }
  }
  if (std::regex_search(out, m, std::regex(R"(signed by +key ([0-9a-f]+))"))) {
    layout.key_id = m[1];
  }
  return layout;
}

class H5ReleaseE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atrium-h5-release-e2e-XXXXXX";
    dir_ = mkdtemp(tmpl);
    app_ = dir_ + "/app";
    data_ = dir_ + "/data";
    // The online site: one page, served from loopback.
    fs::create_directories(dir_ + "/online");
    std::ofstream(dir_ + "/online/index.html")
        << "<!doctype html><html><head><meta charset=\"utf-8\"><title>Help</title></head>"
        << "<body><h1>" << kOnlineText << "</h1></body></html>\n";
    const std::string first = online_.StartReadingFirstLine(
        {ATRIUM_CLI, "serve", dir_ + "/online", "--port", "0"}, dir_ + "/online.log");
    const size_t at = first.find("http://127.0.0.1:");
    ASSERT_NE(at, std::string::npos) << first;
    fallback_url_ = first.substr(at) + "index.html";
    // The sample app, its help app falling back to that site.
    fs::copy(samples_ + "/wallet", app_, fs::copy_options::recursive);
    json::value doc = json::parse(ReadFile(app_ + "/app.json"));
    doc.at("h5").at("apps").at("help").as_object()["fallback_url"] = fallback_url_;
    app_id_ = json::value_to<std::string>(doc.at("id"));
    // The guard ends an open blocked longer than this. A headless page load
    // (a cold Chromium: 1.5-5 s here) happens after the router's open, not
    // in it, so even a 1 s limit never ends one as a hang.
    doc.as_object()["launch_guard"] = {{"watchdog", {{"main_loop_blocked_ms", 1000}}}};
    WriteJson(app_ + "/app.json", doc);
  }
  void TearDown() override {
    repo_server_.Stop();
    online_.Stop();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  static void WriteJson(const std::string& path, const json::value& doc) {
    std::ofstream(path, std::ios::trunc) << json::serialize(doc);
  }

  Ran Atrium(std::vector<std::string> args, int expect_code) {
    return testing::RunCli(ATRIUM_CLI, std::move(args), dir_, expect_code);
  }
  Ran OpenHelp() {
    return Atrium({"h5", "open", app_, "help", "--headless", "--data-dir", data_}, 0);
  }
  // What `atrium bundles` says of the help app ("h5 package help 1.0.0 (active)").
  std::string HelpState() {
    const Ran r = Atrium({"bundles", app_, "--data-dir", data_}, 0);
    std::smatch m;
    if (std::regex_search(r.out, m, std::regex(R"(\n  help +h5 +([^\n]*))"))) return m[1];
    return "(no help line in)\n" + r.out;
  }
  // The sample's help source at 1.0.1 with another heading, packed for this
  // app and signed with `key`.
  std::string PackHelp101(const std::string& name, const std::string& key) {
    const std::string src = dir_ + "/" + name;
    fs::copy(std::string(ATRIUM_SOURCE_DIR) + "/samples/wallet/h5/help", src,
             fs::copy_options::recursive);
    json::value manifest = json::parse(ReadFile(src + "/h5.json"));
    manifest.as_object()["version"] = "1.0.1";
    WriteJson(src + "/h5.json", manifest);
    std::string page = ReadFile(src + "/www/index.html");
    const std::string heading = "<h1>Wallet help centre</h1>";
    const size_t at = page.find(heading);
    EXPECT_NE(at, std::string::npos) << page;
    if (at != std::string::npos) {
      page.replace(at, heading.size(), std::string("<h1>") + kHeading101 + "</h1>");
    }
    std::ofstream(src + "/www/index.html", std::ios::trunc) << page;
    const std::string out = dir_ + "/" + name + ".atb";
    Atrium({"pack", src, "--kind", "h5_package", "--key", key, "--app", app_id_, "-o", out}, 0);
    return out;
  }
  // `atrium install` of a package that must be refused; returns its stderr.
  // Nothing of 1.0.1 reaches the store and 1.0.0 stays there.
  std::string Refused(const std::string& package) {
    const Ran r = RunProcess({ATRIUM_CLI, "install", app_, package, "--data-dir", data_}, dir_);
    EXPECT_NE(r.code, 0) << r.out << r.err;
    EXPECT_LT(r.code, 128) << "killed by a signal\n" << r.err;
    EXPECT_EQ(r.out.find("installed"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(data_ + "/artifacts/h5_package/help/1.0.1")) << package;
    EXPECT_TRUE(fs::exists(data_ + "/artifacts/h5_package/help/1.0.0/www/index.html")) << package;
    return r.err;
  }
  std::string WriteVariant(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return path;
  }

  const std::string samples_ = ATRIUM_SAMPLES_DIR;
  std::string dir_, app_, data_, app_id_, fallback_url_;
  Server online_, repo_server_;
};

// The page opened from the installed package: offline, `version`, with the
// balance the sample's account bundle answers through the bridge.
void ExpectOffline(const Ran& open, const std::string& version) {
  EXPECT_NE(open.out.find("page help " + version +
                          " (offline, from its package): "
                          "http://help.localhost:"),
            std::string::npos)
      << open.out << open.err;
  EXPECT_NE(open.out.find(kBalance), std::string::npos) << open.out;
  EXPECT_EQ(open.out.find(kOnlineText), std::string::npos) << open.out;
}

// The sample page's screenshot, decoded: the window's size, mostly the
// page's background (#f5f7fb, samples/wallet/h5/help/www/assets/help.css),
// and the exact colours of its heading (#0b5cad), its balance (#0a7d35,
// shown only once the bridge answered) and the refused transfer
// (#b3261e) in the cores of their glyphs (here: 2,019, 1,682 and 696
// pixels; the bounds are a quarter of that).
void ExpectSamplePicture(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "no screenshot at " << path;
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  atrium::testing::Png png;
  std::string why;
  ASSERT_TRUE(atrium::testing::ReadPng(bytes, &png, &why)) << why;
  EXPECT_EQ(png.width, 1280u);
  EXPECT_EQ(png.height, 800u);
  std::vector<uint32_t> pixels;
  ASSERT_TRUE(atrium::testing::DecodePixels(png, &pixels, &why)) << why;
  std::map<uint32_t, size_t> count;
  for (uint32_t px : pixels) ++count[px];
  EXPECT_GT(count[0xf5f7fb], pixels.size() * 8 / 10);
  EXPECT_GE(count[0x0b5cad], 400u) << "heading";
  EXPECT_GE(count[0x0a7d35], 400u) << "balance";
  EXPECT_GE(count[0xb3261e], 150u) << "refused transfer";
}

TEST_F(H5ReleaseE2eTest, PackageArrivesThroughTheReleaseRepositoryAndItsUpdate) {
  if (BrowserTestsSkipped()) GTEST_SKIP() << "ATRIUM_SKIP_BROWSER_TESTS=1";
  ASSERT_NO_FATAL_FAILURE(ExpectChromium());
  // No package yet: the online site.
  const Ran online = OpenHelp();
  EXPECT_NE(online.out.find("page help (fallback URL: no package is installed): " + fallback_url_),
            std::string::npos)
      << online.out << online.err;
  EXPECT_NE(online.out.find(std::string("  | ") + kOnlineText + "\n"), std::string::npos)
      << online.out;
  EXPECT_NE(online.err.find("help opens its fallback URL: no package is installed"),
            std::string::npos)
      << online.err;

  // The release platform publishes the sample's help package 1.0.0.
  const std::string repo = dir_ + "/repo";
  Atrium({"release", "init", repo}, 0);
  Atrium({"release", "add", repo, samples_ + "/wallet-h5-help.atb"}, 0);
  Atrium({"release", "publish", repo}, 0);
  const std::string first = repo_server_.StartReadingFirstLine(
      {ATRIUM_CLI, "serve", repo, "--port", "0"}, dir_ + "/repo.log");
  const size_t at = first.find("http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << first;
  std::string url = first.substr(at);
  while (!url.empty() && url.back() == '/') url.pop_back();

  // The app learns the repository and pins its root (app.json "updates").
  // Written only now: a launch of an app with a repository syncs in the
  // background when its last cycle is older than interval_s (6 h by default);
  // `atrium update` is the cycle here, so the opens below run none.
  fs::copy_file(repo + "/metadata/1.root.json", app_ + "/root.json");
  json::value doc = json::parse(ReadFile(app_ + "/app.json"));
  doc.as_object()["updates"] = {{"repository", url}, {"root", "root.json"}};
  WriteJson(app_ + "/app.json", doc);
  const Ran u1 = Atrium({"update", app_, "--data-dir", data_}, 0);
  EXPECT_NE(u1.out.find("update of " + app_id_ + " from " + url), std::string::npos) << u1.out;
  EXPECT_NE(u1.out.find("staged    h5_package/help-1.0.0.atb: full package, targets v2"),
            std::string::npos)
      << u1.out;
  EXPECT_EQ(HelpState(), "h5 package help 1.0.0 (staged)");
  // Activated by the next open, from the package.
  // Opened with a screenshot: the picture is the sample's page as styled.
  const std::string shot = dir_ + "/help-1.0.0.png";
  const Ran pictured =
      Atrium({"h5", "open", app_, "help", "--screenshot", shot, "--data-dir", data_}, 0);
  ExpectOffline(pictured, "1.0.0");
  EXPECT_NE(pictured.out.find("screenshot: " + shot), std::string::npos) << pictured.out;
  ExpectSamplePicture(shot);
  EXPECT_EQ(HelpState(), "h5 package help 1.0.0 (active)");

  // 1.0.1, released beside 1.0.0 (with a delta from it).
  const std::string help101 = PackHelp101("help-1.0.1", samples_ + "/wallet-release.key");
  const Ran add = Atrium({"release", "add", repo, help101}, 0);
  EXPECT_NE(add.out.find("delta from 1.0.0"), std::string::npos) << add.out;
  Atrium({"release", "publish", repo}, 0);
  const Ran u2 = Atrium({"update", app_, "--data-dir", data_}, 0);
  EXPECT_NE(u2.out.find("skipped   h5_package/help-1.0.0.atb: already installed (active)"),
            std::string::npos)
      << u2.out;
  EXPECT_NE(u2.out.find("staged    h5_package/help-1.0.1.atb: delta from an installed version, "
                        "targets v3"),
            std::string::npos)
      << u2.out;
  // Staged: the version in use stays 1.0.0 until the next open.
  EXPECT_EQ(HelpState(), "h5 package help 1.0.0 (active)");
  const Ran v101 = OpenHelp();
  ExpectOffline(v101, "1.0.1");
  EXPECT_NE(v101.out.find(std::string("  | ") + kHeading101 + "\n"), std::string::npos) << v101.out;
  EXPECT_EQ(v101.out.find("  | Wallet help centre\n"), std::string::npos) << v101.out;
  EXPECT_EQ(HelpState(), "h5 package help 1.0.1 (active)");
  const Ran history = Atrium({"artifacts", app_, "--data-dir", data_, "--history"}, 0);
  EXPECT_NE(history.out.find("staged from " + url + " (targets v3, delta)"), std::string::npos)
      << history.out;

  // Over the wire: the full 1.0.0, then only the delta; the online site saw
  // one page load, the first open's.
  repo_server_.Stop();
  online_.Stop();
  const std::string repo_log = ReadFile(dir_ + "/repo.log");
  EXPECT_NE(repo_log.find(".help-1.0.0.atb 200"), std::string::npos) << repo_log;
  EXPECT_NE(repo_log.find(".help-1.0.0-to-1.0.1.atd 200"), std::string::npos) << repo_log;
  EXPECT_EQ(repo_log.find(".help-1.0.1.atb"), std::string::npos) << repo_log;
  const std::string online_log = ReadFile(dir_ + "/online.log");
  const std::regex page_load("GET /index.html 200");
  EXPECT_EQ(std::distance(std::sregex_iterator(online_log.begin(), online_log.end(), page_load),
                          std::sregex_iterator()),
            1)
      << online_log;
}

TEST_F(H5ReleaseE2eTest, DamagedPackagesAreRefusedAndTheInstalledOneKept) {
  const bool browser = !BrowserTestsSkipped();
  if (browser) {
    ASSERT_NO_FATAL_FAILURE(ExpectChromium());
  }
  const Ran installed =
      Atrium({"install", app_, samples_ + "/wallet-h5-help.atb", "--data-dir", data_}, 0);
  EXPECT_NE(installed.out.find("installed h5_package help 1.0.0 (staged)"), std::string::npos)
      << installed.out;
  if (browser) ExpectOffline(OpenHelp(), "1.0.0");
  const std::string state =
      browser ? "h5 package help 1.0.0 (active)" : "h5 package help 1.0.0 (staged)";
  EXPECT_EQ(HelpState(), state);

  // A good 1.0.1 verifies with the app's release key: what is refused below
  // is refused for the damage alone.
  const std::string good = PackHelp101("help-1.0.1", samples_ + "/wallet-release.key");
  Atrium({"verify", good, "--pubkey", samples_ + "/wallet-release.pub"}, 0);
  const Layout layout = ParseInspect(Atrium({"inspect", good}, 0).out);
  const Layout::Section* header = layout.Find("header");
  const Layout::Section* data = layout.Find("data");
  ASSERT_TRUE(header != nullptr && data != nullptr && !layout.entries.empty() &&
              !layout.key_id.empty())
      << "unexpected `atrium inspect` output";
  const std::string bytes = ReadFile(good);
  ASSERT_EQ(bytes.size(), layout.sections.back().offset + layout.sections.back().size);

  // (a) Truncated: the first section that no longer fits is named, with its
  // place; a file shorter than the header says so.
  for (const size_t size : {bytes.size() / 2, bytes.size() - 1, size_t{100}}) {
    SCOPED_TRACE("truncated to " + std::to_string(size) + " bytes");
    const std::string path =
        WriteVariant("truncated-" + std::to_string(size) + ".atb", bytes.substr(0, size));
    std::string expected;
    if (size < header->size) {
      expected = path + ":@" + std::to_string(size) + ": truncated: the file is " +
                 std::to_string(size) + " bytes, shorter than the " + std::to_string(header->size) +
                 "-byte header";
    } else {
      for (const Layout::Section& s : layout.sections) {
        if (s.offset + s.size <= size) continue;
        expected = "the " + (s.name == "signature" ? std::string("signature block") : s.name) +
                   " section (" + std::to_string(s.size) + " bytes at offset " +
                   std::to_string(s.offset) + ") extends past the end of the " +
                   std::to_string(size) + "-byte file (truncated or damaged)";
        break;
      }
    }
    const std::string err = Refused(path);
    EXPECT_NE(err.find(path + ":@"), std::string::npos) << err;
    EXPECT_NE(err.find(expected), std::string::npos) << "expected: " << expected << "\n" << err;
  }

  // (b) One byte flipped in the middle of the payload: the entry whose
  // compressed frame holds it, at the frame's offset.
  {
    const uint64_t flip = data->offset + data->size / 2;
    uint64_t frame = data->offset;
    size_t index = 0;
    while (index < layout.entries.size() && frame + layout.entries[index].compressed <= flip) {
      frame += layout.entries[index++].compressed;
    }
    ASSERT_LT(index, layout.entries.size());
    std::string flipped = bytes;
    flipped[flip] = static_cast<char>(flipped[flip] ^ 0x5a);
    const std::string path = WriteVariant("flipped.atb", flipped);
    const std::string expected = path + ":@" + std::to_string(frame) + ": entry '" +
                                 layout.entries[index].path + "' (#" + std::to_string(index) +
                                 "): its " + std::to_string(layout.entries[index].compressed) +
                                 "-byte compressed frame does not match the index (damaged or "
                                 "modified)";
    const std::string err = Refused(path);
    EXPECT_NE(err.find(expected), std::string::npos) << "expected: " << expected << "\n" << err;
  }

  // (c) A damaged signature (its last byte): the signature over the header,
  // index and manifest does not verify.
  {
    std::string damaged = bytes;
    damaged.back() = static_cast<char>(damaged.back() ^ 0x01);
    const std::string path = WriteVariant("bad-signature.atb", damaged);
    const std::string expected = "refused: the Ed25519 signature of key " + layout.key_id +
                                 " does not verify over bytes [0, " + std::to_string(data->offset) +
                                 ")";
    const std::string err = Refused(path);
    EXPECT_NE(err.find(path + ":@"), std::string::npos) << err;
    EXPECT_NE(err.find(expected), std::string::npos) << "expected: " << expected << "\n" << err;
  }

  // (d) Well formed and signed, by a key the app does not trust.
  {
    Atrium({"keygen", "--out", dir_ + "/other"}, 0);
    const std::string other = PackHelp101("help-1.0.1-other-key", dir_ + "/other.key");
    const Layout other_layout = ParseInspect(Atrium({"inspect", other}, 0).out);
    ASSERT_FALSE(other_layout.key_id.empty());
    ASSERT_NE(other_layout.key_id, layout.key_id);
    const std::string expected = "refused: signed by key " + other_layout.key_id +
                                 ", which is not among the 1 trusted key(s)";
    const std::string err = Refused(other);
    EXPECT_NE(err.find(other + ":@"), std::string::npos) << err;
    EXPECT_NE(err.find(expected), std::string::npos) << "expected: " << expected << "\n" << err;
  }

  // Nothing installed was lost: 1.0.0 is still the help app's version, the
  // only one in state.db, and opens offline.
  EXPECT_EQ(HelpState(), state);
  const Ran artifacts = Atrium({"artifacts", app_, "--data-dir", data_}, 0);
  EXPECT_FALSE(std::regex_search(artifacts.out, std::regex(R"(\n\S+ +help +1\.0\.1 )")))
      << artifacts.out;
  EXPECT_TRUE(std::regex_search(artifacts.out, std::regex(R"(\nh5_package +help +1\.0\.0 )")))
      << artifacts.out;
  if (!browser) GTEST_SKIP() << "ATRIUM_SKIP_BROWSER_TESTS=1: the pages were not opened";
  ExpectOffline(OpenHelp(), "1.0.0");
  online_.Stop();
  EXPECT_EQ(ReadFile(dir_ + "/online.log").find("GET /index.html"), std::string::npos);
}

}  // namespace
}  // namespace atrium
