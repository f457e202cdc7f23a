// `atrium profile` output and the command: text and HTML reports, then the
// command itself, driving the built CLI with a stand-in for `atrium run`
// that writes the canned traces of tests/tools/data/profile. Parsing and
// statistics: profile_report_test.cc.
#include <gtest/gtest.h>

#include "profile_test_util.h"

namespace {

using namespace profile_test;  // NOLINT: the shared traces and builders

// ---------------------------------------------------------------- output

TEST(ProfileOutput, SummaryTextIsAlignedAndComplete) {
  auto runs = SampleRuns();
  auto p = Analyze(runs);
  ASSERT_TRUE(p.ok());
  std::string text = SummaryText(*p);
  EXPECT_NE(text.find("com.example.wallet 1.4.0: 5 run(s), launch p50 133.4 ms"), std::string::npos)
      << text;
  EXPECT_NE(text.find("median run: run-0.json (launch 133.4 ms)"), std::string::npos) << text;
  EXPECT_NE(text.find("critical path of the median run"), std::string::npos);
  EXPECT_NE(text.find("longest queue waits"), std::string::npos);
  EXPECT_NE(text.find("tasks (ms; 18 slowest by p90 of 18)"), std::string::npos) << text;
  EXPECT_NE(text.find("5 skipped"), std::string::npos);
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) EXPECT_LE(line.size(), 100u) << line;
  EXPECT_NE(SummaryText(*p, 3).find("3 slowest by p90 of 18"), std::string::npos);
  // Columns line up: numbers end where their header ends.
  size_t header = text.find("  stage   ");
  ASSERT_NE(header, std::string::npos);
  size_t header_end = text.find("end p50", header) + 7 - header;
  size_t row = text.find("\n  boot ", header) + 1;
  EXPECT_EQ(text.substr(row, text.find('\n', row) - row).find("22.2") + 4, header_end) << text;
}

TEST(ProfileOutput, HtmlEscapesHostileNames) {
  std::vector<Task> tasks = {
      {"com.evil:<script>alert(1)</script>", "s1", 1, 0, 100},
      {"\"><img src=x onerror=alert(2)>:t", "s1", 2, 0, 100, "com.evil:<script>alert(1)</script>"},
  };
  json::object trace = MakeTraceJson(tasks, {{"s1", 0, 200}}, 1, "<i>app</i> & co");
  trace["traceEvents"].as_array()[0].as_object()["args"] = json::object{{"name", "<b>main"}};
  RunTrace run = MustParse(trace);
  auto p = Analyze({run});
  ASSERT_TRUE(p.ok());
  std::string html = ReportHtml(*p, {run});
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<i>app"), std::string::npos);
  EXPECT_EQ(html.find("<b>main"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("data-bundle=\"&quot;&gt;&lt;img src=x onerror=alert(2)&gt;\""),
            std::string::npos);
  EXPECT_NE(html.find("&lt;i&gt;app&lt;/i&gt; &amp; co"), std::string::npos);
  EXPECT_EQ(HtmlEscape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("bell\x07"), "bell&#xFFFD;");
  std::string text = SummaryText(*p);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

TEST(ProfileOutput, HtmlHasTheTimelineShapes) {
  auto runs = SampleRuns();
  auto p = Analyze(runs);
  ASSERT_TRUE(p.ok());
  std::string html = ReportHtml(*p, runs);
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = html.find(needle); at != std::string::npos; at = html.find(needle, at + 1))
      ++n;
    return n;
  };
  EXPECT_EQ(count("<svg id=\"timeline\""), 1u);
  EXPECT_EQ(count("<rect class=\"task"), 18u);
  EXPECT_EQ(count("<rect class=\"lane "), 6u);
  EXPECT_EQ(count("class=\"stage-marker\""), 5u);
  EXPECT_EQ(count("<rect class=\"load\""), 2u);
  EXPECT_EQ(count("<rect class=\"task critical"), p->critical_path.size());
  EXPECT_EQ(html.find("http://"),
            html.find("http://www.w3.org/2000/svg"));  // the SVG namespace only
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
}

TEST(ProfileOutput, NestedSlicesAreDrawnOneStepLower) {
  std::vector<Task> tasks = {
      {"a:outer", "s1", 1, 0, 1000},
      {"a:inner", "s1", 1, 100, 200},
      {"a:after", "s1", 1, 1000, 100},
  };
  RunTrace run = MustParse(MakeTraceJson(tasks, {{"s1", 0, 1100}}, 1));
  auto p = Analyze({run});
  ASSERT_TRUE(p.ok());
  std::string html = ReportHtml(*p, {run});
  auto y_of = [&](const std::string& id) {
    size_t at = html.rfind("<rect", html.find("data-task=\"" + id + "\""));
    size_t y = html.find(" y=\"", at) + 4;
    return std::stod(html.substr(y, html.find('"', y) - y));
  };
  EXPECT_GT(y_of("a:inner"), y_of("a:outer"));
  EXPECT_EQ(y_of("a:after"), y_of("a:outer"));
}

// ---------------------------------------------------------------- the command

using ::atrium::testing::CliOutput;

class ProfileCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atrium-profile-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    fs::create_directories(dir_ + "/app");
    // The app of the canned traces (a baseline of another app is refused).
    std::ofstream(dir_ + "/app/app.json")
        << R"({"id": "com.example.wallet", "version": "1.4.0", "name": "Wallet", "home": "home",
               "baseline": ["bundles/home"]})";
    fs::create_directories(dir_ + "/app/bundles/home");
    std::ofstream(dir_ + "/app/bundles/home/bundle.json")
        << R"({"name": "com.wallet.home", "version": "1.4.0", "activation": "eager",
               "startup": [{"id": "render_home", "stage": "first_frame"}]})";
    // Stands in for `atrium run <app> --data-dir D --trace F --quiet`: logs
    // its arguments and whether D existed, creates D, copies the canned
    // trace of run <n mod 5>; FAIL_RUN=<n> makes run n fail.
    runner_ = dir_ + "/fake-atrium";
    std::ofstream(runner_) << "#!/bin/sh\n"
                              "[ \"$1\" = run ] || exit 64\n"
                              "app=$2; data=$4; trace=$6\n"
                              "[ \"$3\" = --data-dir ] && [ \"$5\" = --trace ] && "
                              "[ \"$7\" = --quiet ] || exit 65\n"
                              "n=$(basename \"$trace\" .json); n=${n#run-}\n"
                              "if [ -d \"$data\" ]; then state=warm; else state=fresh; fi\n"
                              "echo \"$n $state $data $app\" >> \"$FAKE_LOG\"\n"
                              "mkdir -p \"$data\"\n"
                              "if [ \"$n\" = \"$FAIL_RUN\" ]; then\n"
                              "  echo 'noise'; echo 'atrium: cannot open app: boom' >&2; exit 1\n"
                              "fi\n"
                              "cp \"$FAKE_TRACES/run-$((n % 5)).json\" \"$trace\"\n";
    ::chmod(runner_.c_str(), 0755);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CliOutput Profile(const std::string& args, const std::string& env = "") {
    std::string cmd = "ATRIUM_PROFILE_RUNNER_FOR_TESTING=" + runner_ + " FAKE_LOG=" + dir_ +
                      "/log FAKE_TRACES=" + kData + " " + env + " " +
                      std::string(ATRIUM_BINARY_DIR) + "/bin/atrium profile " + dir_ + "/app " +
                      args + " 2>&1";
    return ::atrium::testing::RunShell(cmd);
  }

  std::string dir_;
  std::string runner_;
};

TEST_F(ProfileCommandTest, RunsWritesReportsAndSharesOneWarmDataDir) {
  std::string out_dir = dir_ + "/out";
  // A stale trace from an earlier, longer profile must not survive.
  fs::create_directories(out_dir);
  std::ofstream(out_dir + "/run-9.json") << "stale";
  auto out = Profile("--runs 5 --out " + out_dir);
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("run 1/5: launch 133.4 ms"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("5 run(s): 5 ok, 0 failed"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("launch p50 133.4 ms"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("report: " + out_dir + "/report.html"), std::string::npos);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(fs::exists(out_dir + "/run-" + std::to_string(i) + ".json"));
  EXPECT_FALSE(fs::exists(out_dir + "/run-9.json"));
  EXPECT_NE(ReadAll(out_dir + "/summary.txt").find("critical path"), std::string::npos);
  EXPECT_NE(ReadAll(out_dir + "/report.html").find("<svg id=\"timeline\""), std::string::npos);

  // Run 0 starts from a fresh data dir, the others reuse it; it is removed after.
  std::istringstream log(ReadAll(dir_ + "/log"));
  std::string n, state, data, app, first_data;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(log >> n >> state >> data >> app);
    EXPECT_EQ(n, std::to_string(i));
    EXPECT_EQ(state, i == 0 ? "fresh" : "warm");
    if (i == 0) first_data = data;
    EXPECT_EQ(data, first_data);
    EXPECT_EQ(app, dir_ + "/app");
  }
  EXPECT_FALSE(fs::exists(first_data));
}

TEST_F(ProfileCommandTest, AFailedRunIsReportedAndFailsTheCommand) {
  auto out = Profile("--runs 4 --out " + dir_ + "/out --keep-data", "FAIL_RUN=2");
  EXPECT_EQ(out.status, 1) << out.text;
  EXPECT_NE(out.text.find("run 3/4 failed: exit status 1"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("    | atrium: cannot open app: boom"), std::string::npos) << out.text;
  EXPECT_EQ(out.text.find("noise"), std::string::npos);  // its stdout is not ours
  EXPECT_NE(out.text.find("4 run(s): 3 ok, 1 failed"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("3 run(s), launch p50"), std::string::npos) << out.text;
  EXPECT_TRUE(fs::exists(dir_ + "/out/report.html"));
  auto kept = out.text.find("data dir kept: ");
  ASSERT_NE(kept, std::string::npos);
  std::string data = out.text.substr(kept + 15, out.text.find('\n', kept) - kept - 15);
  EXPECT_TRUE(fs::is_directory(data)) << data;
  fs::remove_all(fs::path(data).parent_path());
}

TEST_F(ProfileCommandTest, BudgetsAndBaselinesSetTheExitStatus) {
  std::string out_dir = dir_ + "/out";
  std::ofstream(dir_ + "/tight.json") << R"({"launch_ms": 100, "stages": {"first_frame": 500}})";
  std::ofstream(dir_ + "/loose.json") << R"({"metric": "max", "launch_ms": 500})";
  auto out = Profile("--runs 5 --out " + out_dir + " --budget " + dir_ + "/tight.json");
  EXPECT_EQ(out.status, 3) << out.text;
  EXPECT_NE(out.text.find("1 violation(s)"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("launch p90 148.0 ms > 100.0 ms allowed"), std::string::npos);
  EXPECT_NE(ReadAll(out_dir + "/report.html").find("id=\"violations\""), std::string::npos);
  out = Profile("--runs 5 --out " + out_dir + " --budget " + dir_ + "/loose.json" +
                " --save-baseline " + dir_ + "/base.json");
  EXPECT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("baseline saved: " + dir_ + "/base.json"), std::string::npos);
  // The same traces against their own baseline: no regression.
  out = Profile("--runs 5 --out " + out_dir + " --baseline " + dir_ + "/base.json");
  EXPECT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("+10% +2 ms): ok"), std::string::npos) << out.text;
  // A baseline whose launch was 100 ms: 133.4 > 100 * 1.25 + 2 is a regression.
  json::value base = json::parse(ReadAll(dir_ + "/base.json"));
  base.as_object()["launch_ms"].as_object()["p50"] = 100.0;
  std::ofstream(dir_ + "/faster.json") << json::serialize(base);
  out =
      Profile("--runs 5 --out " + out_dir + " --tolerance 25 --baseline " + dir_ + "/faster.json");
  EXPECT_EQ(out.status, 3) << out.text;
  EXPECT_NE(out.text.find("+25% +2 ms): 1 regression(s)"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("launch p50 133.4 ms > 127.0 ms allowed (baseline 100.0 ms +25% +2 ms)"),
            std::string::npos)
      << out.text;
  // Bad inputs fail before anything runs.
  fs::remove(dir_ + "/log");
  std::ofstream(dir_ + "/bad.json") << R"({"stages": {"first_frame": "fast"}})";
  out = Profile("--runs 2 --budget " + dir_ + "/bad.json");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find(dir_ + "/bad.json:/stages/first_frame: "), std::string::npos) << out.text;
  EXPECT_FALSE(fs::exists(dir_ + "/log"));
  // So do budgets naming a stage or a task the app does not have.
  std::ofstream(dir_ + "/stage.json") << R"({"stages": {"frist_frame": 100}})";
  out = Profile("--runs 2 --budget " + dir_ + "/stage.json");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find(dir_ + "/stage.json:/stages/frist_frame: the app has no stage "
                                 "'frist_frame' (its stages: boot, framework, first_frame, "
                                 "post_frame, idle)"),
            std::string::npos)
      << out.text;
  std::ofstream(dir_ + "/task.json") << R"({"tasks": {"com.wallet.home:render": 5}})";
  out = Profile("--runs 2 --budget " + dir_ + "/task.json");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find(dir_ + "/task.json:/tasks/com.wallet.home:render: no baseline bundle "
                                 "declares startup task 'com.wallet.home:render' (the app's "
                                 "tasks: com.wallet.home:@load, com.wallet.home:render_home)"),
            std::string::npos)
      << out.text;
  EXPECT_FALSE(fs::exists(dir_ + "/log"));
  // An eager bundle's load is a task of the launch: a budget may name it.
  std::ofstream(dir_ + "/load.json") << R"({"tasks": {"com.wallet.home:@load": 1000}})";
  out = Profile("--runs 2 --out " + out_dir + " --budget " + dir_ + "/load.json");
  EXPECT_EQ(out.text.find("no baseline bundle declares"), std::string::npos) << out.text;
  EXPECT_TRUE(fs::exists(dir_ + "/log"));  // the runs ran
  fs::remove(dir_ + "/log");
  // So does a baseline saved for another app.
  base.as_object()["app"] = "com.example.other";
  std::ofstream(dir_ + "/other.json") << json::serialize(base);
  out = Profile("--runs 2 --baseline " + dir_ + "/other.json");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find(dir_ + "/other.json:/app: a baseline of app 'com.example.other', not '"),
            std::string::npos)
      << out.text;
  EXPECT_EQ(out.text.find("run 1/2"), std::string::npos) << out.text;
  EXPECT_FALSE(fs::exists(dir_ + "/log"));
}

TEST_F(ProfileCommandTest, Usage) {
  EXPECT_EQ(Profile("--runs 0").status, 2);
  EXPECT_EQ(Profile("--runs 2 --bogus").status, 2);
  auto out = Profile("--help");
  EXPECT_EQ(out.status, 0);
  EXPECT_NE(out.text.find("--save-baseline F"), std::string::npos);
  EXPECT_NE(out.text.find("--runs N            launches to measure, 1..10000"), std::string::npos);
  EXPECT_NE(out.text.find("--tolerance P       allowed regression in percent, 0..1000"),
            std::string::npos);
  EXPECT_EQ(Profile("--runs 10001").status, 2);
  EXPECT_EQ(Profile("--runs 2 --tolerance 1001").status, 2);
}

}  // namespace
