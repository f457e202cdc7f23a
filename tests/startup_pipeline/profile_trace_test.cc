// The trace contract end to end: what the runtime writes (`atrium run
// --trace` on the built sample wallet: the scheduler's trace, the startup
// pipeline's stage and task events, the container's bundle slices and launch
// metadata, all spelled by atrium/scheduler/trace_schema.h) is what `atrium
// profile` reads (ParseTrace). A writer and a reader that disagree on one
// spelling fail here, not in a release manager's CI.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "atrium/scheduler/trace_schema.h"
#include "profile_report.h"
#include "testing/cli.h"
#include "testing/trace_check.h"

namespace atrium::profile {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using ::atrium::testing::CliOutput;
using ::atrium::testing::RunCli;

class ProfileTraceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atrium-trace-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ProfileTraceTest, WhatTheRuntimeWritesTheProfileReads) {
  const std::string app = std::string(ATRIUM_BINARY_DIR) + "/samples/wallet";
  const std::string trace = dir_ + "/run.json";
  // --open scan loads a lazy bundle after the launch: a load the pipeline
  // did not start.
  CliOutput out = RunCli("run " + app + " --data-dir " + dir_ + "/data --quiet --trace " + trace +
                         " --open scan");
  ASSERT_EQ(out.status, 0) << out.text;
  // A well-formed Chrome trace, every track's slices nested to the
  // microsecond; stage slices and marks on the stage track only.
  std::ifstream in(trace);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(::atrium::testing::CheckTraceEvents(text), "");
  size_t stage_events = 0;
  const boost::json::value parsed = boost::json::parse(text);
  for (const boost::json::value& v : parsed.at("traceEvents").as_array()) {
    const boost::json::object& e = v.as_object();
    if (!e.contains("cat")) continue;
    const bool on_stage_track = e.at("tid").to_number<int64_t>() == trace_schema::kStageTrackTid;
    EXPECT_EQ(e.at("cat").as_string() == trace_schema::kCatStage, on_stage_track)
        << boost::json::serialize(e);
    stage_events += on_stage_track ? 1 : 0;
  }
  auto run = LoadTrace(trace);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(stage_events, 3 * run->stage_order.size());  // a slice, a begin and an end mark
  for (const ThreadInfo& t : run->threads) EXPECT_NE(t.name, trace_schema::kStageTrackName);
  EXPECT_EQ(run->app, "com.example.wallet");
  EXPECT_FALSE(run->app_version.empty());
  EXPECT_EQ(run->result, "ok");
  EXPECT_GT(run->launch_ms, 0);
  // The CPUs it could use, and each task's CPU time: its launch efficiency.
  EXPECT_GE(run->cpus, 1);
  EXPECT_GT(LaunchEfficiency(*run), 0);
  for (const auto& t : run->tasks) {
    if (t.status != TaskStatus::kSkipped) {
      EXPECT_GE(t.cpu_us, 0) << t.id;
    }
  }
  ASSERT_FALSE(run->stage_order.empty());
  EXPECT_EQ(run->stage_order.front(), "boot");
  // Every stage of the launch has its slice, in order.
  ASSERT_EQ(run->stages.size(), run->stage_order.size());
  for (size_t i = 0; i < run->stages.size(); ++i) {
    EXPECT_EQ(run->stages[i].name, run->stage_order[i]);
    EXPECT_LE(run->stages[i].begin_us, run->stages[i].end_us) << run->stages[i].name;
  }
  // Every task: a known stage, a status, the bundle that declared it.
  ASSERT_FALSE(run->tasks.empty());
  const std::set<std::string> stages(run->stage_order.begin(), run->stage_order.end());
  for (const TaskRun& t : run->tasks) {
    EXPECT_TRUE(stages.contains(t.stage)) << t.id;
    EXPECT_EQ(t.status, TaskStatus::kOk) << t.id;
    EXPECT_EQ(t.id.rfind(t.bundle + ":", 0), 0u) << t.id << " of " << t.bundle;
  }
  // Bundle loads, the scan bundle's among them, each with its trigger.
  std::set<std::string> loaded;
  for (const BundleLoad& l : run->loads) {
    loaded.insert(l.bundle);
    EXPECT_FALSE(l.trigger.empty()) << l.bundle;
  }
  EXPECT_TRUE(loaded.contains("com.wallet.scan")) << out.text;
  // The profile of that one run has a critical path ending in the launch.
  auto profile = Analyze({*run});
  ASSERT_TRUE(profile.ok()) << profile.error().ToString();
  EXPECT_FALSE(profile->critical_path.empty());
}

TEST(ProfileTraceSchema, BundleSlicesOtherThanLoadsAreNotLoads) {
  // A bundle waited for and a live swap share the "bundle" category with
  // loads; only "load <bundle>" slices are loads.
  json::object t;
  t["otherData"] = json::object{{"app", "a"}, {"launch_ms", "2"}, {"stages", "boot"}};
  json::array events;
  events.push_back(json::object{
      {"ph", "X"}, {"name", "boot"}, {"cat", "stage"}, {"tid", 1}, {"ts", 0}, {"dur", 2000}});
  events.push_back(json::object{{"ph", "X"},
                                {"name", "wait for com.a.b"},
                                {"cat", "bundle"},
                                {"tid", 1},
                                {"ts", 10},
                                {"dur", 5},
                                {"args", json::object{{"bundle", "com.a.b"}}}});
  events.push_back(json::object{{"ph", "X"},
                                {"name", "live swap com.a.b"},
                                {"cat", "bundle"},
                                {"tid", 1},
                                {"ts", 20},
                                {"dur", 5},
                                {"args", json::object{}}});
  events.push_back(json::object{{"ph", "X"},
                                {"name", "load com.a.b"},
                                {"cat", "bundle"},
                                {"tid", 1},
                                {"ts", 30},
                                {"dur", 5},
                                {"args", json::object{{"bundle", "com.a.b"}, {"trigger", "x"}}}});
  t["traceEvents"] = std::move(events);
  auto run = ParseTrace(json::serialize(t), "t.json");
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  ASSERT_EQ(run->loads.size(), 1u);
  EXPECT_EQ(run->loads[0].bundle, "com.a.b");
  EXPECT_EQ(run->loads[0].start_us, 30);
}

TEST(TraceCheck, FindsASliceStickingOutOfItsParentAndBadFields) {
  auto trace = [](const std::string& events) { return R"({"traceEvents": [)" + events + "]}"; };
  const std::string parent =
      R"({"ph": "X", "name": "p", "pid": 1, "tid": 7, "ts": 100, "dur": 50})";
  // Nested, and touching at the end: fine.
  EXPECT_EQ(
      ::atrium::testing::CheckTraceEvents(trace(
          parent + R"(, {"ph": "X", "name": "c", "pid": 1, "tid": 7, "ts": 120, "dur": 30})")),
      "");
  // One microsecond past the parent's end.
  EXPECT_EQ(
      ::atrium::testing::CheckTraceEvents(trace(
          parent + R"(, {"ph": "X", "name": "c", "pid": 1, "tid": 7, "ts": 120, "dur": 31})")),
      "traceEvents/1 (tid 7) starts inside traceEvents/0 but ends 1.000000 us after it");
  // The same slice on another track overlaps nothing.
  EXPECT_EQ(
      ::atrium::testing::CheckTraceEvents(trace(
          parent + R"(, {"ph": "X", "name": "c", "pid": 1, "tid": 8, "ts": 120, "dur": 31})")),
      "");
  EXPECT_EQ(::atrium::testing::CheckTraceEvents(
                trace(R"({"ph": "X", "name": "x", "pid": 1, "tid": 1, "ts": 5})")),
            "traceEvents/0: \"dur\" must be a number >= 0");
  EXPECT_EQ(::atrium::testing::CheckTraceEvents(trace(R"({"ph": "Q", "name": "x"})")),
            "traceEvents/0: unknown phase 'Q'");
  EXPECT_EQ(::atrium::testing::CheckTraceEvents(
                trace(R"({"ph": "i", "name": "x", "pid": 1, "tid": 1, "ts": 5, "s": "z"})")),
            "traceEvents/0: an instant's \"s\" must be \"g\", \"p\" or \"t\"");
  EXPECT_EQ(::atrium::testing::CheckTraceEvents(
                trace(R"({"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {}})")),
            "traceEvents/0: thread_name needs args.name, a string");
  EXPECT_EQ(::atrium::testing::CheckTraceEvents("[]"), "the trace is not a JSON object");
}

}  // namespace
}  // namespace atrium::profile
