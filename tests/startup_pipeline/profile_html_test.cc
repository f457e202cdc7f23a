// The HTML report as a browser sees it: headless Chromium renders a report
// made from the traces in tests/tools/data/profile; the rendered DOM must
// hold one rect.task per task slice of the median run, one lane per thread
// and one marker per stage, hostile names must stay text, and a screenshot
// must show a picture (decoded with zlib when the build found it).
//
// Needs /usr/bin/chromium (`./dev` installs it). Without it the tests fail,
// unless ATRIUM_SKIP_BROWSER_TESTS=1, which skips them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "compare.h"
#include "profile_report.h"
#include "profile_test_util.h"
#include "testing/chromium.h"
#include "testing/png.h"

namespace {

using namespace profile_test;  // NOLINT: the shared trace builders
using namespace atrium::profile;
using namespace atrium::testing;  // NOLINT: the headless Chromium runner

const std::string kData = std::string(ATRIUM_SOURCE_DIR) + "/tests/tools/data/profile";

// Counts <tag ...> elements whose class attribute contains the word `cls`.
size_t CountElements(const std::string& dom, const std::string& tag, const std::string& cls) {
  size_t n = 0;
  const std::string open = "<" + tag + " ";
  for (size_t at = dom.find(open); at != std::string::npos; at = dom.find(open, at + 1)) {
    size_t end = dom.find('>', at);
    std::string element = dom.substr(at, end - at);
    size_t c = element.find(" class=\"");
    if (c == std::string::npos) continue;
    size_t v = c + 8;
    std::istringstream words(element.substr(v, element.find('"', v) - v));
    std::string w;
    while (words >> w)
      if (w == cls) {
        ++n;
        break;
      }
  }
  return n;
}

class ProfileHtmlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (BrowserTestsSkipped()) GTEST_SKIP() << "ATRIUM_SKIP_BROWSER_TESTS=1";
    ASSERT_NO_FATAL_FAILURE(ExpectChromium());
    char tmpl[] = "/tmp/atrium-profile-html-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    if (!dir_.empty() && std::getenv("ATRIUM_KEEP_BROWSER_OUTPUT") == nullptr) fs::remove_all(dir_);
  }

  std::vector<std::string> Chromium(const std::vector<std::string>& args) {
    return HeadlessChromium(dir_ + "/chromium-profile", args);
  }

  // Writes the sample report; returns its file:// URL.
  std::string WriteSampleReport() {
    for (int i = 0; i < 5; ++i) {
      auto r = LoadTrace(kData + "/run-" + std::to_string(i) + ".json");
      EXPECT_TRUE(r.ok()) << r.error().ToString();
      if (r.ok()) runs_.push_back(std::move(*r));
    }
    auto p = Analyze(runs_);
    EXPECT_TRUE(p.ok());
    profile_ = *p;
    std::ofstream(dir_ + "/report.html") << ReportHtml(profile_, runs_);
    return "file://" + dir_ + "/report.html";
  }

  std::string dir_;
  std::vector<RunTrace> runs_;
  Profile profile_;
};

TEST_F(ProfileHtmlTest, RenderedDomHasOneShapePerTaskLaneAndStage) {
  std::string url = WriteSampleReport();
  Child c = RunWithTimeout(Chromium({"--dump-dom", url}), dir_ + "/dom.err");
  ASSERT_FALSE(c.timed_out) << "chromium --dump-dom took over " << kBrowserTimeoutS << " s";
  ASSERT_EQ(c.status, 0) << Tail(dir_ + "/dom.err");
  const std::string& dom = c.out;
  ASSERT_NE(dom.find("id=\"timeline\""), std::string::npos) << dom.substr(0, 2000);
  const RunTrace& median = runs_[profile_.median_run];
  EXPECT_EQ(CountElements(dom, "rect", "task"), median.tasks.size());
  EXPECT_EQ(median.tasks.size(), 18u);
  EXPECT_EQ(CountElements(dom, "rect", "lane"), median.threads.size());
  EXPECT_EQ(median.threads.size(), 6u);
  EXPECT_EQ(CountElements(dom, "line", "stage-marker"), median.stages.size());
  EXPECT_EQ(median.stages.size(), 5u);
  EXPECT_EQ(CountElements(dom, "rect", "load"), median.loads.size());
  EXPECT_EQ(CountElements(dom, "rect", "critical"), profile_.critical_path.size());
  EXPECT_GE(CountElements(dom, "span", "bundle"), 8u);  // the legend
}

TEST_F(ProfileHtmlTest, HostileNamesStayText) {
  // One run whose names try to break out of text, attributes and SVG.
  std::string evil = "<script>alert(1)</script>";
  std::string trace = R"({"traceEvents":[
    {"ph":"M","name":"thread_name","pid":1,"tid":1,"args":{"name":"main</text><img src=x>"}},
    {"ph":"X","name":"s1","cat":"stage","pid":1,"tid":1,"ts":0,"dur":100},
    {"ph":"X","name":"com.x:<script>alert(1)</script>","cat":"task","pid":1,"tid":1,"ts":0,
     "dur":50,"args":{"bundle":"com.x\"><img src=x onerror=alert(2)>","stage":"s1",
     "thread":"main","status":"ok","queue_wait_us":0}}],
    "otherData":{"app":"<svg onload=alert(3)>","launch_ms":"1","stages":"s1"}})";
  auto run = ParseTrace(trace, "evil.json");
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  auto p = Analyze({*run});
  ASSERT_TRUE(p.ok());
  std::ofstream(dir_ + "/evil.html") << ReportHtml(*p, {*run});
  Child c =
      RunWithTimeout(Chromium({"--dump-dom", "file://" + dir_ + "/evil.html"}), dir_ + "/evil.err");
  ASSERT_FALSE(c.timed_out);
  ASSERT_EQ(c.status, 0) << Tail(dir_ + "/evil.err");
  EXPECT_EQ(c.out.find("<script"), std::string::npos);
  EXPECT_EQ(c.out.find("<img"), std::string::npos);
  EXPECT_EQ(c.out.find("<svg onload"), std::string::npos);
  EXPECT_NE(c.out.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(CountElements(c.out, "rect", "task"), 1u);
  EXPECT_EQ(CountElements(c.out, "rect", "lane"), 1u);
  (void)evil;
}

// The A/B report: both median runs' timelines, one shape per task in each,
// the changed task outlined in both, the verdict on the page.
TEST_F(ProfileHtmlTest, AbReportDrawsBothTimelinesWithTheChangeMarked) {
  std::vector<RunTrace> a, b;
  int i = 0;
  for (const auto& t : AbTraceJson(12, 1))
    a.push_back(MustParse(t, "a/run-" + std::to_string(i++)));
  i = 0;
  for (const auto& t : AbTraceJson(12, 2, {.crit_ms = 15}))
    b.push_back(MustParse(t, "b/run-" + std::to_string(i++)));
  auto c = CompareAb(a, b);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  std::ofstream(dir_ + "/compare.html") << AbReportHtml(*c, a, b);
  Child r = RunWithTimeout(Chromium({"--dump-dom", "file://" + dir_ + "/compare.html"}),
                           dir_ + "/ab.err");
  ASSERT_FALSE(r.timed_out) << "chromium --dump-dom took over " << kBrowserTimeoutS << " s";
  ASSERT_EQ(r.status, 0) << Tail(dir_ + "/ab.err");
  const std::string& dom = r.out;
  ASSERT_NE(dom.find("id=\"timeline-a\""), std::string::npos) << dom.substr(0, 2000);
  ASSERT_NE(dom.find("id=\"timeline-b\""), std::string::npos);
  EXPECT_NE(dom.find("data-verdict=\"regression\""), std::string::npos);
  EXPECT_EQ(CountElements(dom, "rect", "task"), 10u);   // 5 tasks in each median run
  EXPECT_EQ(CountElements(dom, "rect", "slower"), 2u);  // a:crit, in both timelines
  EXPECT_EQ(CountElements(dom, "line", "stage-marker"), 6u);
}

TEST_F(ProfileHtmlTest, ScreenshotShowsATimeline) {
  std::string url = WriteSampleReport();
  std::string shot = dir_ + "/report.png";
  Child c = RunWithTimeout(Chromium({"--screenshot=" + shot, "--window-size=1400,900", url}),
                           dir_ + "/shot.err");
  ASSERT_FALSE(c.timed_out) << "chromium --screenshot took over " << kBrowserTimeoutS << " s";
  ASSERT_EQ(c.status, 0) << Tail(dir_ + "/shot.err");
  std::ifstream in(shot, std::ios::binary);
  ASSERT_TRUE(in) << "no screenshot written; chromium said:\n" << Tail(dir_ + "/shot.err");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string bytes = ss.str();
  atrium::testing::Png png;
  std::string why;
  ASSERT_TRUE(atrium::testing::ReadPng(bytes, &png, &why)) << why;
  EXPECT_EQ(png.width, 1400u);
  EXPECT_EQ(png.height, 900u);
  EXPECT_GT(bytes.size(), 20u * 1024) << "a blank page compresses to almost nothing";
  std::vector<uint32_t> pixels;
  ASSERT_TRUE(atrium::testing::DecodePixels(png, &pixels, &why)) << why;
  ASSERT_EQ(pixels.size(), size_t{png.width} * png.height);
  // Not one colour: many distinct colours (bundles, lanes, text) and the
  // most common one (the background) covers well under the whole page.
  std::set<uint32_t> distinct;
  size_t white = 0;
  for (uint32_t px : pixels) {
    distinct.insert(px);
    white += px == 0xffffff;
  }
  EXPECT_GE(distinct.size(), 30u);
  EXPECT_LT(white, pixels.size() * 9 / 10);
  // The timeline band (about 160..400 px down) is where the colour is: sample
  // its rows for the bundle colours, which are neither grey nor white.
  size_t coloured = 0;
  for (uint32_t y = 150; y < 420 && y < png.height; ++y)
    for (uint32_t x = 0; x < png.width; ++x) {
      uint32_t px = pixels[size_t{y} * png.width + x];
      int r = px >> 16, g = (px >> 8) & 0xff, b = px & 0xff;
      coloured += std::max({r, g, b}) - std::min({r, g, b}) > 40;
    }
  EXPECT_GT(coloured, 5000u) << "the timeline should show coloured task slices";
}

}  // namespace
