// `atrium profile` reports (startup_pipeline/profile/profile_report.h): trace
// parsing and its errors, percentiles, the critical path, queue waits,
// budgets and baselines. Text, HTML and the command: profile_output_test.cc.
#include <gtest/gtest.h>

#include "profile_test_util.h"

namespace {

using namespace profile_test;  // NOLINT: the shared traces and builders

// ---------------------------------------------------------------- parsing

TEST(ProfileParse, ReadsTheSampleTraces) {
  auto r = LoadTrace(kData + "/run-0.json");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const RunTrace& run = *r;
  EXPECT_EQ(run.app, "com.example.wallet");
  EXPECT_EQ(run.app_version, "1.4.0");
  EXPECT_EQ(run.result, "ok");
  EXPECT_DOUBLE_EQ(run.launch_ms, 133.4);
  EXPECT_EQ(run.stage_order,
            (std::vector<std::string>{"boot", "framework", "first_frame", "post_frame", "idle"}));
  ASSERT_EQ(run.stages.size(), 5u);
  EXPECT_EQ(run.stages[0].begin_us, 0);  // times are since the launch start
  EXPECT_EQ(run.tasks.size(), 18u);
  EXPECT_EQ(run.loads.size(), 2u);
  // Threads: main first, then by name with numbers compared as numbers.
  std::vector<std::string> threads;
  for (const auto& t : run.threads) threads.push_back(t.name);
  EXPECT_EQ(threads, (std::vector<std::string>{"main", "best-effort-0", "io-0", "io-1", "urgent-0",
                                               "urgent-1"}));
  const TaskRun* render = nullptr;
  for (const auto& t : run.tasks)
    if (t.id == "com.wallet.home:render_home") render = &t;
  ASSERT_NE(render, nullptr);
  EXPECT_EQ(render->bundle, "com.wallet.home");
  EXPECT_EQ(render->stage, "first_frame");
  EXPECT_EQ(render->target, "main");
  EXPECT_EQ(run.Thread(render->tid)->name, "main");
  EXPECT_DOUBLE_EQ(render->budget_ms, 50);
  EXPECT_EQ(render->after,
            (std::vector<std::string>{"com.wallet.home:layout", "com.wallet.home:fetch_balance"}));
  int skipped = 0;
  for (const auto& t : run.tasks) skipped += t.status == TaskStatus::kSkipped;
  EXPECT_EQ(skipped, 1);
}

TEST(ProfileParse, StageInstantsStandInForStageSlices) {
  json::object trace = SmallTrace();
  json::array& events = trace["traceEvents"].as_array();
  events.erase(events.begin() + 2);  // the stage slice
  events.push_back(json::object{{"ph", "i"},
                                {"name", "stage s1 begin"},
                                {"cat", "stage"},
                                {"s", "g"},
                                {"pid", 1},
                                {"tid", 1},
                                {"ts", 90}});
  events.push_back(json::object{{"ph", "i"},
                                {"name", "stage s1 end"},
                                {"cat", "stage"},
                                {"pid", 1},
                                {"tid", 1},
                                {"ts", 260}});
  RunTrace run = MustParse(trace);
  ASSERT_EQ(run.stages.size(), 1u);
  EXPECT_EQ(run.stages[0].end_us, 170);
  EXPECT_EQ(run.tasks[0].start_us, 10);
  // A launch that failed mid-stage recorded only the begin: the stage ends
  // with its last task.
  events.pop_back();
  run = MustParse(trace);
  ASSERT_EQ(run.stages.size(), 1u);
  EXPECT_EQ(run.stages[0].end_us, 60);
}

struct BadTrace {
  const char* what;
  std::string text;
  std::string pointer;
  std::string message;  // substring of the error message
};

TEST(ProfileParse, BadTracesGetPreciseErrors) {
  auto mutate = [](auto&& change) {
    json::object t = SmallTrace();
    change(t);
    return json::serialize(t);
  };
  auto task_args = [](json::object& t) -> json::object& {
    return t["traceEvents"].as_array()[3].as_object()["args"].as_object();
  };
  std::string good = json::serialize(SmallTrace());
  std::vector<BadTrace> cases = {
      {"not JSON", "hello", "", "invalid JSON at line 1, column 1: syntax error at 'h'"},
      {"truncated", good.substr(0, good.size() / 2), "/traceEvents/3",
       "unexpected end of input (truncated document?)"},
      {"trailing garbage", good + "}", "", "unexpected '}' after the JSON document"},
      {"duplicate key", "{\"traceEvents\": [], \"traceEvents\": []}", "/traceEvents",
       "duplicate key"},
      {"array root", "[]", "/", "a trace must be a JSON object, not an array"},
      {"no otherData", mutate([](json::object& t) { t.erase("otherData"); }), "/otherData",
       "missing object field 'otherData'"},
      {"launch_ms number",
       mutate([](json::object& t) { t["otherData"].as_object()["launch_ms"] = 12.5; }),
       "/otherData/launch_ms", "'launch_ms' must be a string, not a number"},
      {"launch_ms text",
       mutate([](json::object& t) { t["otherData"].as_object()["launch_ms"] = "12 ms"; }),
       "/otherData/launch_ms", "'launch_ms' must be a non-negative number in a string"},
      {"stages listed twice",
       mutate([](json::object& t) { t["otherData"].as_object()["stages"] = "s1,s1"; }),
       "/otherData/stages", "stage 's1' is listed twice"},
      {"traceEvents object", mutate([](json::object& t) { t["traceEvents"] = json::object{}; }),
       "/traceEvents", "'traceEvents' must be an array, not an object"},
      {"event not an object", mutate([](json::object& t) { t["traceEvents"].as_array()[1] = 7; }),
       "/traceEvents/1", "event 1 must be an object, not a number"},
      {"task without bundle", mutate([&](json::object& t) { task_args(t).erase("bundle"); }),
       "/traceEvents/3/args/bundle", "event 3 ('a:x'): missing string field 'bundle'"},
      {"ts a string",
       mutate([](json::object& t) { t["traceEvents"].as_array()[3].as_object()["ts"] = "100"; }),
       "/traceEvents/3/ts", "event 3 ('a:x'): 'ts' must be a finite number, not a string"},
      {"negative dur",
       mutate([](json::object& t) { t["traceEvents"].as_array()[3].as_object()["dur"] = -5; }),
       "/traceEvents/3/dur", "'dur' must not be negative"},
      {"status over_budget",
       mutate([&](json::object& t) { task_args(t)["status"] = "over_budget"; }),
       "/traceEvents/3/args/status",
       "'status' must be \"ok\", \"failed\" or \"skipped\", not 'over_budget'"},
      {"over_budget yes", mutate([&](json::object& t) { task_args(t)["over_budget"] = "yes"; }),
       "/traceEvents/3/args/over_budget", "'over_budget' must be \"true\" or \"false\""},
      {"queue wait as text", mutate([&](json::object& t) { task_args(t)["queue_wait_us"] = "12"; }),
       "/traceEvents/3/args/queue_wait_us",
       "'queue_wait_us' must be a finite number, not a string"},
      {"undeclared stage", mutate([&](json::object& t) { task_args(t)["stage"] = "warp"; }),
       "/traceEvents/3/args/stage", "stage 'warp' is not in otherData.stages"},
      {"args missing",
       mutate([](json::object& t) { t["traceEvents"].as_array()[3].as_object().erase("args"); }),
       "/traceEvents/3/args", "missing object field 'args'"},
      {"thread name not a string", mutate([](json::object& t) {
         t["traceEvents"].as_array()[0].as_object()["args"] = json::object{{"name", 3}};
       }),
       "/traceEvents/0/args/name", "'name' must be a string, not a number"},
      {"hostile name, escaped in the message", mutate([&](json::object& t) {
         t["traceEvents"].as_array()[3].as_object()["name"] = "\x1b[2J<x>";
         task_args(t).erase("stage");
       }),
       "/traceEvents/3/args/stage", "event 3 ('\\x1b[2J<x>'): missing string field 'stage'"},
  };
  for (const auto& c : cases) {
    auto r = ParseTrace(c.text, "runs/run-7.json");
    ASSERT_FALSE(r.ok()) << c.what;
    const auto& e = r.error();
    EXPECT_EQ(e.file, "runs/run-7.json") << c.what;
    EXPECT_EQ(e.pointer, c.pointer) << c.what << ": " << e.ToString();
    EXPECT_NE(e.message.find(c.message), std::string::npos) << c.what << ": " << e.ToString();
    EXPECT_EQ(e.ToString().find('\x1b'), std::string::npos) << c.what;
  }
  // Malformed JSON carries a byte offset: where the parser stopped.
  auto r = ParseTrace("{\"traceEvents\": [1, 2,, 3]}", "x.json");
  ASSERT_FALSE(r.ok());
  ASSERT_TRUE(r.error().offset.has_value());
  EXPECT_EQ(*r.error().offset, 22u);
  EXPECT_NE(
      r.error().ToString().find(
          "x.json:/traceEvents/2:@22: invalid JSON at line 1, column 23: syntax error at ','"),
      std::string::npos)
      << r.error().ToString();
  auto missing = LoadTrace("/nonexistent/run-0.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().file, "/nonexistent/run-0.json");
}

TEST(ProfileParse, ToleratesUnknownFieldsPhasesAndCategories) {
  json::object t = SmallTrace();
  t["future"] = json::array{1, 2};
  t["otherData"].as_object()["extra"] = 5;
  auto& events = t["traceEvents"].as_array();
  events[3].as_object()["args"].as_object()["color"] = "red";
  events[3].as_object()["sf"] = 12;
  events.push_back(json::object{{"ph", "C"}, {"name", "heap"}, {"ts", "whenever"}});
  events.push_back(
      json::object{{"ph", "X"}, {"name", "gc"}, {"cat", "vm"}, {"ts", 1}, {"dur", 2}, {"tid", 9}});
  events.push_back(
      json::object{{"ph", "X"}, {"name", "no cat"}, {"ts", 1}, {"dur", 2}, {"tid", 9}});
  RunTrace run = MustParse(t);
  EXPECT_EQ(run.tasks.size(), 1u);
  EXPECT_EQ(run.threads.size(), 2u);  // tid 9 ran nothing we draw
}

// ---------------------------------------------------------------- statistics

TEST(ProfileStats, NearestRankPercentiles) {
  Distribution d = Distribute({10, 1, 9, 2, 8, 3, 7, 4, 6, 5});
  EXPECT_EQ(d.n, 10u);
  EXPECT_EQ(d.p50, 5);
  EXPECT_EQ(d.p90, 9);
  EXPECT_EQ(d.max, 10);
  d = Distribute({40, 10, 30, 20});
  EXPECT_EQ(d.p50, 20);
  EXPECT_EQ(d.p90, 40);
  d = Distribute({7.5});
  EXPECT_EQ(d.p50, 7.5);
  EXPECT_EQ(d.p90, 7.5);
  d = Distribute({});
  EXPECT_EQ(d.n, 0u);
  std::vector<double> v;
  for (int i = 1; i <= 20; ++i) v.push_back(i);
  EXPECT_EQ(NearestRank(v, 90), 18);
  EXPECT_EQ(NearestRank(v, 95), 19);
  EXPECT_EQ(NearestRank(v, 100), 20);
  EXPECT_EQ(NearestRank(v, 1), 1);
}

TEST(ProfileStats, AggregatesTheSampleRuns) {
  auto runs = SampleRuns();
  ASSERT_EQ(runs.size(), 5u);
  auto p = Analyze(runs);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->runs, 5u);
  // launch_ms of runs 0..4: 133.4 127.7 148.0 122.6 146.0
  EXPECT_DOUBLE_EQ(p->launch_ms.p50, 133.4);
  EXPECT_DOUBLE_EQ(p->launch_ms.p90, 148.0);
  EXPECT_DOUBLE_EQ(p->launch_ms.max, 148.0);
  EXPECT_EQ(p->median_run, 0u);
  ASSERT_EQ(p->stages.size(), 5u);
  EXPECT_EQ(p->stages[2].name, "first_frame");
  EXPECT_EQ(p->tasks.size(), 18u);
  // Tasks are ordered by stage, then slowest first.
  EXPECT_EQ(p->tasks.front().stage, "boot");
  EXPECT_EQ(p->tasks.front().id, "com.wallet.core:open_db");
  for (const auto& t : p->tasks) {
    EXPECT_EQ(t.runs, 5u) << t.id;
    if (t.id == "com.wallet.bill:warm_templates") {
      EXPECT_EQ(t.skipped, 5u);
      EXPECT_EQ(t.duration_ms.n, 0u);
    }
    if (t.id == "com.partner.ads:load_banner") {
      EXPECT_EQ(t.over_budget, 5u);  // 35 ms vs a 30 ms budget
    }
  }
  // Stage end p50 is the 3rd smallest of the five ends.
  std::vector<double> ends;
  for (const auto& r : runs) ends.push_back(r.stages[2].end_us / 1000.0);
  std::sort(ends.begin(), ends.end());
  EXPECT_DOUBLE_EQ(p->stages[2].end_ms.p50, ends[2]);
  EXPECT_DOUBLE_EQ(p->stages[2].end_ms.max, ends[4]);
  // The critical path of the sample starts at the launch and ends at it: in
  // post_frame, the last stage before idle (idle-stage work ends later but
  // runs after the launch).
  ASSERT_FALSE(p->critical_path.empty());
  EXPECT_EQ(p->critical_path.front().via, "launch");
  EXPECT_EQ(p->critical_path.back().stage, "post_frame");
  for (const auto& step : p->critical_path) EXPECT_NE(step.stage, "idle") << step.id;
}

TEST(ProfileStats, RefusesRunsOfDifferentApps) {
  RunTrace a = MustParse(SmallTrace(), "a.json");
  RunTrace b = MustParse(MakeTraceJson({}, {{"s1", 0, 10}}, 1.0, "com.other"), "b.json");
  auto p = Analyze({a, b});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().file, "b.json");
  EXPECT_NE(p.error().message.find("com.other"), std::string::npos);
  EXPECT_FALSE(Analyze({}).ok());
}

// The crafted DAG (times in ms; tid 1 = main, 2 = pool-0):
//   stage s1 [0, 31]:  A main [0,10]   B pool [0,30]   C main [12,20] after A
//   stage s2 [31, 70]: D main [32,40]  F main [41,50]
//                      E pool [45,60] after D     G pool [60,70] after E,F
//   stage s3 [70, 90]: H pool [70,90] (the idle stage: after the launch)
// Last to end before the idle stage: G. Its dependencies end at 60 (E) and 50 (F): E. E waited for
// D (40) more than for the stage barrier (B, 30). D waited only for the
// barrier, whose last task was B (30, not C at 20). B waited for the launch.
TEST(ProfileStats, CriticalPathOfACraftedDag) {
  std::vector<Task> tasks = {
      {"a:A", "s1", 1, 1000, 10000},
      {"a:B", "s1", 2, 1000, 30000},
      {"a:C", "s1", 1, 13000, 8000, "a:A"},
      {"a:D", "s2", 1, 33000, 8000},
      {"a:F", "s2", 1, 42000, 9000},
      {"a:E", "s2", 2, 46000, 15000, "a:D", 3000},
      {"a:G", "s2", 2, 61000, 10000, "a:E, a:F"},
      {"a:H", "s3", 2, 71000, 20000},
  };
  RunTrace run = MustParse(
      MakeTraceJson(tasks, {{"s1", 1000, 32000}, {"s2", 32000, 71000}, {"s3", 71000, 91000}}, 70));
  auto path = CriticalPath(run);
  ASSERT_EQ(path.size(), 4u);
  EXPECT_EQ(path[0].id, "a:B");
  EXPECT_EQ(path[0].via, "launch");
  EXPECT_DOUBLE_EQ(path[0].gap_ms, 0);
  EXPECT_EQ(path[1].id, "a:D");
  EXPECT_EQ(path[1].via, "stage s1");
  EXPECT_DOUBLE_EQ(path[1].gap_ms, 2);
  EXPECT_EQ(path[1].thread, "main");
  EXPECT_EQ(path[2].id, "a:E");
  EXPECT_EQ(path[2].via, "after a:D");
  EXPECT_DOUBLE_EQ(path[2].gap_ms, 5);
  EXPECT_DOUBLE_EQ(path[2].queue_wait_ms, 3);
  EXPECT_EQ(path[2].thread, "pool-0");
  EXPECT_EQ(path[3].id, "a:G");
  EXPECT_EQ(path[3].via, "after a:E");
  EXPECT_DOUBLE_EQ(path[3].gap_ms, 0);
  EXPECT_DOUBLE_EQ(path[3].start_ms, 60);
  EXPECT_DOUBLE_EQ(path[3].duration_ms, 10);
  auto p = Analyze({run});
  ASSERT_TRUE(p.ok());
  EXPECT_DOUBLE_EQ(p->critical_path_ms, 70);
  // The one wait for a thread on the path: E, ready at 42 ms, queued 3 ms.
  ASSERT_EQ(p->avoidable_waits.size(), 1u);
  EXPECT_EQ(p->avoidable_waits[0].id, "a:E");
  EXPECT_DOUBLE_EQ(p->avoidable_waits[0].wait_ms, 3);
  EXPECT_DOUBLE_EQ(p->avoidable_waits[0].ready_ms, 42);
  EXPECT_EQ(p->avoidable_waits[0].target, "pool");
  EXPECT_TRUE(p->avoidable_waits[0].busy_with.empty());
}

// A critical-path task queued behind two others on its pool: the wait names them.
TEST(ProfileStats, AvoidableWaitsNameWhatHeldThePool) {
  std::vector<Task> tasks = {
      {"a:first", "s1", 1, 0, 5000},
      {"a:busy1", "s1", 2, 0, 20000},
      {"a:busy2", "s1", 3, 1000, 22000},
      {"a:late", "s1", 2, 20000, 10000, "a:first", 15000},
  };
  // tid 2 and 3 are threads of one pool (TaskEvent posts every task off tid 1 to "pool").
  json::object trace = MakeTraceJson(tasks, {{"s1", 0, 30000}, {"s2", 30000, 30000}}, 30);
  auto p = Analyze({MustParse(trace)});
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->avoidable_waits.size(), 1u);
  EXPECT_EQ(p->avoidable_waits[0].id, "a:late");
  EXPECT_DOUBLE_EQ(p->avoidable_waits[0].wait_ms, 15);
  EXPECT_DOUBLE_EQ(p->avoidable_waits[0].ready_ms, 5);
  EXPECT_EQ(p->avoidable_waits[0].busy_with, (std::vector<std::string>{"a:busy1", "a:busy2"}));
  EXPECT_NE(SummaryText(*p).find("15.0       5.0  a:late  pool  a:busy1, a:busy2"),
            std::string::npos)
      << SummaryText(*p);
}

TEST(ProfileStats, CriticalPathSurvivesCyclicDependencies) {
  std::vector<Task> tasks = {
      {"a:X", "s1", 1, 100, 0, "a:Y"},
      {"a:Y", "s1", 2, 100, 0, "a:X"},
  };
  RunTrace run = MustParse(MakeTraceJson(tasks, {{"s1", 100, 200}}, 1));
  auto path = CriticalPath(run);
  EXPECT_GE(path.size(), 1u);
  EXPECT_LE(path.size(), 2u);
  EXPECT_TRUE(CriticalPath(RunTrace{}).empty());
}

// Launch efficiency: launch / max(durations along the critical path, CPU
// time of the launch's tasks / CPUs).
TEST(ProfileStats, LaunchEfficiency) {
  // s1: a:A main [0,10] (8 ms CPU), a:B pool [0,10] (10 ms CPU); s2: a:C main
  // [15,25] after a:A (10 ms CPU); idle: a:D (ignored). Launch 30 ms.
  std::vector<Task> tasks = {
      {"a:A", "s1", 1, 0, 10000},
      {"a:B", "s1", 2, 0, 10000},
      {"a:C", "s2", 1, 15000, 10000, "a:A"},
      {"a:D", "idle", 2, 30000, 50000},
  };
  json::object trace =
      MakeTraceJson(tasks, {{"s1", 0, 10000}, {"s2", 10000, 25000}, {"idle", 30000, 80000}}, 30);
  const double cpu[] = {8000, 10000, 10000, 50000};
  int i = 0;
  for (auto& e : trace["traceEvents"].as_array())
    if (const json::value* cat = e.as_object().if_contains("cat"); cat && *cat == "task")
      e.as_object()["args"].as_object()["cpu_us"] = cpu[i++];
  // Without the CPU count there is no figure.
  EXPECT_EQ(LaunchEfficiency(MustParse(trace)), 0);
  // 2 CPUs: path 10 + 10 = 20 ms, CPU 28 / 2 = 14 ms: 30 / 20.
  trace["otherData"].as_object()["cpus"] = "2";
  RunTrace run = MustParse(trace);
  EXPECT_EQ(run.cpus, 2);
  EXPECT_EQ(run.tasks[0].cpu_us, 8000);
  EXPECT_DOUBLE_EQ(LaunchEfficiency(run), 1.5);
  // 1 CPU: 28 ms of CPU bound it: 30 / 28.
  trace["otherData"].as_object()["cpus"] = "1";
  EXPECT_DOUBLE_EQ(LaunchEfficiency(MustParse(trace)), 30.0 / 28.0);
  auto p = Analyze({MustParse(trace)});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->efficiency.n, 1u);
  EXPECT_NE(SummaryText(*p).find("launch efficiency p50 1.07, max 1.07"), std::string::npos);
  // Bad values are located errors.
  trace["otherData"].as_object()["cpus"] = "0";
  auto bad = ParseTrace(json::serialize(trace), "t.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().pointer, "/otherData/cpus") << bad.error().ToString();
  trace["otherData"].as_object()["cpus"] = "2";
  trace["traceEvents"].as_array()[5].as_object()["args"].as_object()["cpu_us"] = -1;
  bad = ParseTrace(json::serialize(trace), "t.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().pointer, "/traceEvents/5/args/cpu_us") << bad.error().ToString();
}

TEST(ProfileStats, LongestQueueWaits) {
  // Waits in ms over three runs: slow {9, 1, 2} p50 2; slower {5, 5, 6} p50 5;
  // tie {2, 2, 8} p50 2 max 8 (ranks before slow, max 9? no: p50 ties, max 8 < 9);
  // never waits: not listed.
  auto make = [](double slow, double slower, double tie) {
    std::vector<Task> tasks = {
        {"a:slow", "s1", 2, 0, 100, "", slow * 1000},
        {"a:slower", "s1", 2, 100, 100, "", slower * 1000},
        {"a:tie", "s1", 2, 200, 100, "", tie * 1000},
        {"a:never", "s1", 1, 0, 100},
    };
    return MustParse(MakeTraceJson(tasks, {{"s1", 0, 400}}, 1));
  };
  auto p = Analyze({make(9, 5, 2), make(1, 5, 2), make(2, 6, 8)});
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->longest_waits.size(), 3u);
  EXPECT_EQ(p->longest_waits[0].id, "a:slower");
  EXPECT_DOUBLE_EQ(p->longest_waits[0].wait_ms.p50, 5);
  EXPECT_EQ(p->longest_waits[1].id, "a:slow");  // p50 2, max 9
  EXPECT_DOUBLE_EQ(p->longest_waits[1].wait_ms.max, 9);
  EXPECT_EQ(p->longest_waits[2].id, "a:tie");  // p50 2, max 8
  EXPECT_EQ(p->longest_waits[0].target, "pool");
  AnalyzeOptions top1;
  top1.top_waits = 1;
  auto q = Analyze({make(9, 5, 2)}, top1);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->longest_waits.size(), 1u);
  EXPECT_EQ(q->longest_waits[0].id, "a:slow");
}

// ---------------------------------------------------------------- budgets

TEST(ProfileBudget, ParsesAndRejectsWithJsonPointers) {
  auto b = ParseBudget(
      R"({"metric": "p50", "launch_ms": 800, "stages": {"first_frame": 300},
          "tasks": {"com.wallet.home:render_home": 50, "a/b~c:x": 1.5}})",
      "b.json");
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  EXPECT_EQ(b->metric, Metric::kP50);
  EXPECT_EQ(*b->launch_ms, 800);
  ASSERT_EQ(b->stages.size(), 1u);
  EXPECT_EQ(b->stages[0].first, "first_frame");
  ASSERT_EQ(b->tasks.size(), 2u);
  EXPECT_EQ(ParseBudget("{}", "b.json")->metric, Metric::kP90);  // the default

  struct Bad {
    std::string text, pointer, message;
  };
  std::vector<Bad> bad = {
      {R"({"launch": 800})", "/launch", "unknown key 'launch'"},
      {R"({"metric": "p95"})", "/metric", "'metric' must be \"p50\", \"p90\" or \"max\""},
      {R"({"metric": 90})", "/metric", "'metric' must be a string, not a number"},
      {R"({"launch_ms": "800"})", "/launch_ms", "must be a finite number, not a string"},
      {R"({"launch_ms": 0})", "/launch_ms", "must be a positive number"},
      {R"({"stages": []})", "/stages", "'stages' must be an object, not an array"},
      {R"({"stages": {"first_frame": "300"}})", "/stages/first_frame", "not a string"},
      {R"({"tasks": {"a/b~c:x": -1}})", "/tasks/a~1b~0c:x", "must be a positive number"},
      {R"([1])", "/", "a budgets file must be a JSON object"},
      {R"({"stages": {)", "/stages", "unexpected end of input"},
      {R"({"launch_ms": 800, "launch_ms": 900})", "/launch_ms", "duplicate key"},
  };
  for (const auto& c : bad) {
    auto r = ParseBudget(c.text, "budgets.json");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().file, "budgets.json");
    EXPECT_EQ(r.error().pointer, c.pointer) << c.text << ": " << r.error().ToString();
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().ToString();
  }
}

TEST(ProfileBudget, PassesAndFails) {
  auto runs = SampleRuns();
  auto p = Analyze(runs);
  ASSERT_TRUE(p.ok());
  double ff_p90 = 0;
  for (const auto& s : p->stages)
    if (s.name == "first_frame") ff_p90 = s.end_ms.p90;
  double render_p50 = 0;
  for (const auto& t : p->tasks)
    if (t.id == "com.wallet.home:render_home") render_p50 = t.duration_ms.p50;
  ASSERT_GT(ff_p90, 0);

  Budget generous;
  generous.launch_ms = 1000;
  generous.stages = {{"first_frame", ff_p90}};  // measured == allowed passes
  generous.tasks = {{"com.wallet.home:render_home", 100},
                    {"com.wallet.bill:warm_templates", 1}};  // skipped everywhere
  EXPECT_TRUE(CheckBudget(*p, generous).empty());

  Budget tight;
  tight.launch_ms = 100;
  tight.stages = {{"first_frame", ff_p90 - 0.1}, {"boot", 1000}};
  tight.tasks = {{"com.wallet.home:render_home", 1}, {"com.wallet.gone:task", 5}};
  auto v = CheckBudget(*p, tight);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].subject, "launch");
  EXPECT_EQ(v[0].metric, "p90");
  EXPECT_DOUBLE_EQ(v[0].measured_ms, 148.0);
  EXPECT_DOUBLE_EQ(v[0].allowed_ms, 100);
  EXPECT_EQ(v[1].subject, "stage first_frame end");
  EXPECT_DOUBLE_EQ(v[1].measured_ms, ff_p90);
  EXPECT_EQ(v[2].subject, "task com.wallet.home:render_home");
  EXPECT_TRUE(std::isnan(v[3].measured_ms));
  EXPECT_NE(v[3].ToString().find("not recorded in any run"), std::string::npos);
  EXPECT_NE(v[0].ToString().find("launch p90 148.0 ms > 100.0 ms allowed"), std::string::npos)
      << v[0].ToString();

  tight.metric = Metric::kP50;
  tight.tasks = {{"com.wallet.home:render_home", render_p50}};
  tight.stages.clear();
  tight.launch_ms.reset();
  EXPECT_TRUE(CheckBudget(*p, tight).empty());
}

// ---------------------------------------------------------------- baselines

TEST(ProfileBaseline, RoundTripsAndDetectsRegressions) {
  auto p = Analyze(SampleRuns());
  ASSERT_TRUE(p.ok());
  auto base = ParseBaseline(BaselineJson(*p), "base.json");
  ASSERT_TRUE(base.ok()) << base.error().ToString();
  EXPECT_EQ(base->app, "com.example.wallet");
  EXPECT_EQ(base->stages.size(), 5u);
  EXPECT_EQ(base->tasks.size(), 17u);  // warm_templates is skipped in every run
  EXPECT_DOUBLE_EQ(base->launch_ms.p50, p->launch_ms.p50);
  EXPECT_TRUE(CompareToBaseline(*p, *base, {}).empty());

  // A crafted baseline: 30 ms task now 36 ms (+20%), 2 ms task now 3 ms
  // (+50%, but within the 2 ms slack), launch 100 -> 108 (+8%).
  auto profile_of = [](double big, double tiny, double launch) {
    Profile q;
    q.app = "x";
    q.runs = 1;
    q.launch_ms = Distribute({launch});
    TaskStats a;
    a.id = "x:big";
    a.duration_ms = Distribute({big});
    TaskStats b;
    b.id = "x:tiny";
    b.duration_ms = Distribute({tiny});
    q.tasks = {a, b};
    return q;
  };
  auto old = ParseBaseline(BaselineJson(profile_of(30, 2, 100)), "old.json");
  ASSERT_TRUE(old.ok());
  Profile now = profile_of(36, 3, 108);
  auto v = CompareToBaseline(now, *old, {});
  ASSERT_EQ(v.size(), 2u);  // p50 and p90 of x:big; 36 > 30 * 1.1 + 2 = 35
  EXPECT_EQ(v[0].subject, "task x:big");
  EXPECT_EQ(v[0].metric, "p50");
  EXPECT_DOUBLE_EQ(v[0].measured_ms, 36);
  EXPECT_DOUBLE_EQ(v[0].allowed_ms, 35);
  EXPECT_EQ(v[1].metric, "p90");
  EXPECT_NE(v[0].ToString().find("baseline 30.0 ms +10% +2 ms"), std::string::npos)
      << v[0].ToString();
  CompareOptions lenient;
  lenient.tolerance_pct = 15;  // 30 * 1.15 + 2 = 36.5
  EXPECT_TRUE(CompareToBaseline(now, *old, lenient).empty());
  CompareOptions strict;
  strict.tolerance_pct = 0;
  strict.slack_ms = 0;
  EXPECT_EQ(CompareToBaseline(now, *old, strict).size(), 6u);  // launch, big, tiny x p50/p90

  // Tasks only one side has are notes, not regressions.
  Profile renamed = profile_of(30, 2, 100);
  renamed.tasks[1].id = "x:tiny2";
  std::vector<std::string> notes;
  EXPECT_TRUE(CompareToBaseline(renamed, *old, {}, &notes).empty());
  EXPECT_EQ(notes, (std::vector<std::string>{"task x:tiny2: new (not in the baseline)",
                                             "task x:tiny: in the baseline, not recorded now"}));
}

TEST(ProfileBaseline, RejectsForeignFiles) {
  auto r = ParseBaseline(R"({"format": "something-else"})", "b.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().pointer, "/format");
  r = ParseBaseline(
      R"({"format": "atrium-profile-baseline-v1", "app": "a", "app_version": "1.0.0", "launch_ms": {"n": 1, "p50": 1,
          "p90": 1, "max": 1}, "stages": {}, "tasks": {"a:b": {"duration_ms": {"n": 1,
          "p50": "fast", "p90": 1, "max": 1}}}})",
      "b.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().pointer, "/tasks/a:b/duration_ms/p50") << r.error().ToString();
  // The app version it was saved for is part of a baseline.
  r = ParseBaseline(R"({"format": "atrium-profile-baseline-v1", "app": "a", "launch_ms": {}})",
                    "b.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ToString(), "b.json:/app_version: missing string field 'app_version'");
  // A task listed twice: which one would count?
  r = ParseBaseline(
      R"({"format": "atrium-profile-baseline-v1", "app": "a", "app_version": "1.0.0", "launch_ms": {"n": 1, "p50": 1,
          "p90": 1, "max": 1}, "stages": {}, "tasks": {"a:b": {}, "a:b": {}}})",
      "b.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().pointer, "/tasks/a:b") << r.error().ToString();
  EXPECT_NE(r.error().message.find("duplicate key"), std::string::npos) << r.error().ToString();
}

}  // namespace
