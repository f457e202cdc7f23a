// `atrium profile` output and the command: text and HTML reports, then the
// command itself, driving the built CLI with a stand-in for `atrium run`
// that writes the canned traces of tests/tools/data/profile. Parsing and
// statistics: profile_report_test.cc.
#include <gtest/gtest.h>

#include <map>

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
    // Also stands in for `atrium install <app> <pkg> --data-dir D` (logged;
    // FAIL_INSTALL=1 fails it). An app dir holding a file `traces` names the
    // folder its traces come from (run-<n mod TRACES>.json), for A/B runs.
    // Each run logs whether D held `marker` and `installed`, and leaves `ran`.
    std::ofstream(runner_)
        << "#!/bin/sh\n"
           "if [ \"$1\" = install ]; then\n"
           "  echo \"install $2 $3 $4 $5\" >> \"$FAKE_LOG\"\n"
           "  [ -z \"$FAIL_INSTALL\" ] || { echo 'bad package' >&2; exit 3; }\n"
           "  mkdir -p \"$5\" && touch \"$5/installed\"; exit 0\n"
           "fi\n"
           "[ \"$1\" = run ] || exit 64\n"
           "app=$2; data=$4; trace=$6\n"
           "[ \"$3\" = --data-dir ] && [ \"$5\" = --trace ] && "
           "[ \"$7\" = --quiet ] || exit 65\n"
           "n=$(basename \"$trace\" .json); n=${n#run-}\n"
           "case \"$n\" in *[!0-9]*) n=0;; esac\n"
           "if [ -d \"$data\" ]; then state=warm; else state=fresh; fi\n"
           "extra=\"\"; [ -e \"$data/marker\" ] && extra=\"$extra marker\"\n"
           "[ -e \"$data/installed\" ] && extra=\"$extra installed\"\n"
           "echo \"$n $state $data $app$extra\" >> \"$FAKE_LOG\"\n"
           "echo \"$trace\" >> \"$FAKE_LOG.traces\"\n"
           "mkdir -p \"$data\" && touch \"$data/ran\"\n"
           "if [ \"$n\" = \"$FAIL_RUN\" ]; then\n"
           "  echo 'noise'; echo 'atrium: cannot open app: boom' >&2; exit 1\n"
           "fi\n"
           "src=$FAKE_TRACES; count=5\n"
           "if [ -f \"$app/traces\" ]; then src=$(cat \"$app/traces\"); count=$TRACES; fi\n"
           "cp \"$src/run-$((n % count)).json\" \"$trace\"\n";
    ::chmod(runner_.c_str(), 0755);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CliOutput Profile(const std::string& args, const std::string& env = "") {
    return Run(dir_ + "/app " + args, env);
  }
  CliOutput Run(const std::string& args, const std::string& env = "") {
    std::string cmd = "ATRIUM_PROFILE_RUNNER_FOR_TESTING=" + runner_ + " FAKE_LOG=" + dir_ +
                      "/log FAKE_TRACES=" + kData + " TRACES=12 " + env + " " +
                      std::string(ATRIUM_BINARY_DIR) + "/bin/atrium profile " + args + " 2>&1";
    return ::atrium::testing::RunShell(cmd);
  }
  // An app dir whose runs write AbTraceJson(12, seed, change).
  std::string AbApp(const std::string& name, uint32_t seed, AbChange change = {}) {
    std::string app = dir_ + "/" + name;
    fs::create_directories(app + "/traces.d");
    fs::copy_file(dir_ + "/app/app.json", app + "/app.json");
    int i = 0;
    for (const auto& t : AbTraceJson(12, seed, change))
      std::ofstream(app + "/traces.d/run-" + std::to_string(i++) + ".json") << json::serialize(t);
    std::ofstream(app + "/traces") << app + "/traces.d";
    return app;
  }
  std::vector<std::string> LogLines(const std::string& suffix = "") {
    std::istringstream in(ReadAll(dir_ + "/log" + suffix));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
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
  // And one of another version of the app, unless asked.
  base.as_object()["app"] = "com.example.wallet";
  base.as_object()["app_version"] = "1.3.9";
  std::ofstream(dir_ + "/old.json") << json::serialize(base);
  out = Profile("--runs 2 --baseline " + dir_ + "/old.json");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find(dir_ +
                          "/old.json:/app_version: a baseline of com.example.wallet "
                          "1.3.9, not 1.4.0 (" +
                          dir_ + "/app/app.json); save a new baseline, or pass --any-version"),
            std::string::npos)
      << out.text;
  EXPECT_FALSE(fs::exists(dir_ + "/log"));
  out = Profile("--runs 2 --out " + out_dir + " --baseline " + dir_ + "/old.json --any-version");
  EXPECT_NE(out.text.find("baseline ("), std::string::npos) << out.text;
  EXPECT_TRUE(fs::exists(dir_ + "/log"));
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

// ---------------------------------------------------------------- A/B

TEST_F(ProfileCommandTest, CompareRunsTheTwoAlternatelyAndFindsARegression) {
  std::string a = AbApp("app-a", 1);
  std::string b = AbApp("app-b", 2, {.crit_ms = 15});
  std::string out_dir = dir_ + "/out";
  auto out = Run("--compare " + a + " " + b + " --runs 6 --out " + out_dir);
  ASSERT_EQ(out.status, 3) << out.text;
  EXPECT_NE(out.text.find("verdict: REGRESSION:"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("  a:crit (s2, on the critical path) +1"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("runs needed: 6 a side (--runs 6, --max-runs 18)"), std::string::npos)
      << out.text;
  EXPECT_NE(out.text.find("A: 6 run(s), 6 ok; B: 6 run(s), 6 ok"), std::string::npos);
  EXPECT_NE(out.text.find("report: " + out_dir + "/compare.html"), std::string::npos);
  EXPECT_NE(ReadAll(out_dir + "/compare.txt").find("verdict: REGRESSION"), std::string::npos);
  EXPECT_NE(ReadAll(out_dir + "/compare.html").find("<svg id=\"timeline-b\""), std::string::npos);
  json::value v = json::parse(ReadAll(out_dir + "/compare.json"));
  EXPECT_EQ(v.at("verdict").as_string(), "regression");
  for (int i = 0; i < 6; ++i) {
    EXPECT_TRUE(fs::exists(out_dir + "/a/run-" + std::to_string(i) + ".json"));
    EXPECT_TRUE(fs::exists(out_dir + "/b/run-" + std::to_string(i) + ".json"));
  }
  // One warm-up a side, then pairs in alternating order: A B, B A, A B, ...
  std::vector<std::string> traces = LogLines(".traces");
  ASSERT_EQ(traces.size(), 14u);
  EXPECT_EQ(fs::path(traces[0]).filename(), "warmup-A.json");
  EXPECT_EQ(fs::path(traces[1]).filename(), "warmup-B.json");
  const std::vector<std::string> order = {"a/run-0", "b/run-0", "b/run-1", "a/run-1",
                                          "a/run-2", "b/run-2", "b/run-3", "a/run-3",
                                          "a/run-4", "b/run-4", "b/run-5", "a/run-5"};
  for (size_t i = 0; i < order.size(); ++i)
    EXPECT_EQ(traces[i + 2], out_dir + "/" + order[i] + ".json") << i;
  // Each side has its own data dir, fresh for its warm-up, warm after; both
  // are removed at the end.
  std::vector<std::string> runs = LogLines();
  ASSERT_EQ(runs.size(), 14u);
  std::map<std::string, std::string> data_of;
  for (size_t i = 0; i < runs.size(); ++i) {
    std::istringstream line(runs[i]);
    std::string n, state, data, app;
    line >> n >> state >> data >> app;
    EXPECT_EQ(state, i < 2 ? "fresh" : "warm") << runs[i];
    if (i < 2) data_of[app] = data;
    EXPECT_EQ(data, data_of[app]) << runs[i];
  }
  EXPECT_NE(data_of[a], data_of[b]);
  EXPECT_FALSE(fs::exists(data_of[a]));
}

TEST_F(ProfileCommandTest, CompareExitStatusesSayWhatMoved) {
  std::string a = AbApp("app-a", 1);
  // Unchanged: no change.
  auto out = Run("--compare " + a + " " + AbApp("same", 2) + " --runs 6 --out " + dir_ + "/o1");
  EXPECT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("verdict: no change (the launch "), std::string::npos) << out.text;
  // A task off the critical path 3 ms slower: the launch did not move (4).
  out = Run("--compare " + a + " " + AbApp("off", 3, {.off_ms = 3}) + " --runs 6 --out " + dir_ +
            "/o2");
  EXPECT_EQ(out.status, 4) << out.text;
  EXPECT_NE(out.text.find("verdict: no change to the launch ("), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("  a:off (s2, off the critical path) +2.9 ms [+2.5, +3.5]"),
            std::string::npos)
      << out.text;
  // Faster: an improvement (0).
  out = Run("--compare " + AbApp("slow", 4, {.crit_ms = 15}) + " " + a + " --runs 6 --out " + dir_ +
            "/o3");
  EXPECT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("verdict: improvement:"), std::string::npos) << out.text;
  // Two runs a side give no interval: undecided at --max-runs (5).
  out = Run("--compare " + a + " " + a + " --runs 2 --max-runs 2 --warmup 0 --out " + dir_ + "/o4");
  EXPECT_EQ(out.status, 5) << out.text;
  EXPECT_NE(out.text.find("verdict: not enough runs"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("undecided after 2 runs a side (--max-runs 2)"), std::string::npos);
  // Undecided after --runs, more runs decide: 2, then 4 a side.
  out = Run("--compare " + a + " " + AbApp("b15", 5, {.crit_ms = 15}) +
            " --runs 2 --max-runs 10 --out " + dir_ + "/o5");
  EXPECT_EQ(out.status, 3) << out.text;
  EXPECT_NE(out.text.find("after 2 run(s) a side: the launch"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("runs needed: 4 a side (--runs 2, --max-runs 10)"), std::string::npos)
      << out.text;
  // A failed run fails the comparison (1) after reporting it.
  out = Run("--compare " + a + " " + a + " --runs 6 --out " + dir_ + "/o6", "FAIL_RUN=3");
  EXPECT_EQ(out.status, 1) << out.text;
  EXPECT_NE(out.text.find("run A 4 failed: exit status 1"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("2 run(s) failed and are left out"), std::string::npos) << out.text;
}

TEST_F(ProfileCommandTest, ProfilesACopyOfATeamsDataDirWithAnUpdateInstalled) {
  std::string team = dir_ + "/team-data";
  fs::create_directories(team);
  std::ofstream(team + "/marker") << "x";
  std::ofstream(dir_ + "/update.atb") << "package";
  auto out = Profile("--runs 2 --out " + dir_ + "/out --data-dir " + team + " --install " + dir_ +
                     "/update.atb");
  ASSERT_EQ(out.status, 0) << out.text;
  std::vector<std::string> log = LogLines();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].rfind("install " + dir_ + "/app " + dir_ + "/update.atb --data-dir /", 0), 0u)
      << log[0];
  EXPECT_NE(log[1].find(" warm "), std::string::npos) << log[1];  // a copy: warm from run 0
  EXPECT_NE(log[1].find(" marker installed"), std::string::npos) << log[1];
  EXPECT_FALSE(fs::exists(team + "/ran"));  // the team's data dir is not written
  EXPECT_FALSE(fs::exists(team + "/installed"));

  // A/B: B is A's data dir with the update.
  fs::remove(dir_ + "/log");
  std::string a = AbApp("app-a", 1);
  out = Run("--compare " + a + " " + a + " --runs 2 --max-runs 2 --out " + dir_ +
            "/o2 --data-dir-a " + team + " --data-dir-b " + team + " --install-b " + dir_ +
            "/update.atb");
  EXPECT_EQ(out.status, 5) << out.text;
  log = LogLines();
  ASSERT_EQ(log.size(), 7u);
  EXPECT_EQ(log[0].rfind("install " + a + " " + dir_ + "/update.atb", 0), 0u) << log[0];
  for (size_t i = 1; i < log.size(); ++i) {
    bool side_b = (log[i].find("/b-data ") != std::string::npos);
    EXPECT_NE(log[i].find(" marker"), std::string::npos) << log[i];
    EXPECT_EQ(log[i].find(" installed") != std::string::npos, side_b) << log[i];
  }
  // A failed install stops before any run, with the installer's words.
  fs::remove(dir_ + "/log");
  out = Run("--compare " + a + " " + a + " --runs 2 --out " + dir_ + "/o3 --install-b " + dir_ +
                "/update.atb",
            "FAIL_INSTALL=1");
  EXPECT_EQ(out.status, 1) << out.text;
  EXPECT_NE(out.text.find("atrium profile: B: installing " + dir_ +
                          "/update.atb into the runs' data dir failed (exit status 3):\n"
                          "    | bad package"),
            std::string::npos)
      << out.text;
  EXPECT_EQ(LogLines().size(), 1u);  // the install only
}

TEST_F(ProfileCommandTest, CompareUsageAndBadInputs) {
  std::string a = AbApp("app-a", 1);
  auto usage = [&](const std::string& args, const std::string& message) {
    auto out = Run(args);
    EXPECT_EQ(out.status, 2) << args << "\n" << out.text;
    EXPECT_NE(out.text.find("atrium profile: " + message), std::string::npos) << args << "\n"
                                                                              << out.text;
  };
  usage("--compare " + a, "--compare takes two app dirs: --compare <app-A> <app-B>");
  usage(a + " --compare " + a + " " + a, "give the apps to --compare, not before it");
  usage("--compare " + a + " " + a + " --budget x.json", "--budget, --baseline, --tolerance");
  usage("--compare " + a + " " + a + " --any-version", "--budget, --baseline, --tolerance");
  usage("--compare " + a + " " + a + " --data-dir x",
        "with --compare, give --data-dir-a/--data-dir-b");
  usage("--compare " + a + " " + a + " --runs 1", "--runs must be between 2 and 10000");
  usage("--compare " + a + " " + a + " --runs 5 --max-runs 4",
        "--max-runs must be between --runs and 10000");
  usage("--compare " + a + " " + a + " --min-change 5xs", "--min-change must be a number of ms");
  usage("--compare " + a + " " + a + " --min-change 10001", "--min-change must be a number of ms");
  usage("--compare " + a + " " + a + " --min-change 0", "--min-change must be a number of ms");
  usage("--compare " + a + " " + a + " --min-task-change 0",
        "--min-task-change must be a number of ms above 0");
  usage("--compare " + a + " " + a + " --max-runs 0",
        "--max-runs must be between --runs and 10000");
  usage("--compare " + a + " " + a + " --runs 2000000000", "--runs must be between 2 and 10000");
  usage("--compare " + a + " " + a + " --min-task-change 3%",
        "--min-task-change must be a number of ms");
  usage("--compare " + a + " " + a + " --confidence 40",
        "--confidence must be above 50 and at most 99.9 (%)");
  usage("--compare " + a + " " + a + " --confidence 50",
        "--confidence must be above 50 and at most 99.9 (%)");
  usage("--compare " + a + " " + a + " --warmup 101", "--warmup must be 0..100");
  usage(a + " --max-runs 5", "that option is for --compare");
  usage(a + " --include-idle", "that option is for --compare");
  auto out = Run("--help");
  EXPECT_NE(out.text.find("--min-change X      smallest launch change that matters"),
            std::string::npos);
  EXPECT_NE(out.text.find("4 A/B: the launch did not move"), std::string::npos);
  // Accepted spellings of the smallest change.
  for (const char* change : {"5", "5ms", "2.5 ms", "3%"}) {
    out = Run("--compare " + a + " " + a + " --runs 2 --max-runs 2 --warmup 0 --out " + dir_ +
              "/o --min-change '" + change + "'");
    EXPECT_EQ(out.status, 5) << change << "\n" << out.text;
  }
  // Inputs that do not exist fail before any run, naming the side.
  fs::remove(dir_ + "/log");
  out = Run("--compare " + a + " " + dir_ + "/nowhere --runs 2");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find(dir_ + "/nowhere/app.json: no app here (B: cannot find app.json)"),
            std::string::npos)
      << out.text;
  out = Run("--compare " + a + " " + a + " --runs 2 --data-dir-a " + dir_ + "/none");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find(dir_ + "/none: not a directory (data dir)"), std::string::npos);
  out = Run("--compare " + a + " " + a + " --runs 2 --install-b " + dir_ + "/none.atb");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.text.find(dir_ + "/none.atb: no such package"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ + "/log"));
  // Runs of apps that launch through different stages cannot be compared.
  std::string other = dir_ + "/other";
  fs::create_directories(other);
  fs::copy_file(dir_ + "/app/app.json", other + "/app.json");
  fs::remove(dir_ + "/log");
  std::ofstream(dir_ + "/o7/compare.json") << "{}";  // from an earlier comparison
  out = Run("--compare " + a + " " + other + " --runs 2 --out " + dir_ + "/o7");
  EXPECT_EQ(out.status, 1) << out.text;
  EXPECT_NE(out.text.find("A and B launch through different stages"), std::string::npos)
      << out.text;
  EXPECT_EQ(LogLines().size(), 6u);  // warm-ups and --runs: more runs would not help
  EXPECT_FALSE(fs::exists(dir_ + "/o7/compare.json"));  // no stale verdict left behind
}

}  // namespace
