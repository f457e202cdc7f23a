// What the profile report tests share (profile_report_test.cc: parsing,
// statistics, budgets, baselines; profile_output_test.cc: text, HTML and
// the command): the canned traces of tests/tools/data/profile and builders
// of small traces with chosen tasks and stages.
#ifndef ATRIUM_TESTS_STARTUP_PIPELINE_PROFILE_TEST_UTIL_H_
#define ATRIUM_TESTS_STARTUP_PIPELINE_PROFILE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "profile_report.h"
#include "testing/cli.h"

namespace profile_test {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace atrium::profile;  // NOLINT: the tests name the report's types unqualified

inline const std::string kData = std::string(ATRIUM_SOURCE_DIR) + "/tests/tools/data/profile";

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<RunTrace> SampleRuns() {
  std::vector<RunTrace> runs;
  for (int i = 0; i < 5; ++i) {
    auto r = LoadTrace(kData + "/run-" + std::to_string(i) + ".json");
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    if (r.ok()) runs.push_back(std::move(*r));
  }
  return runs;
}

// A crafted task for the trace builder; times in microseconds since Trace::Start.
struct Task {
  std::string id;
  std::string stage;
  uint32_t tid;
  int64_t ts;
  int64_t dur;
  std::string after = "";
  double wait_us = 0;
  std::string status = "ok";
};

struct Stage {
  std::string name;
  int64_t begin;
  int64_t end;
};

inline json::object TaskEvent(const Task& t) {
  std::string bundle = t.id.substr(0, t.id.find(':'));
  return json::object{{"ph", "X"},
                      {"name", t.id},
                      {"cat", "task"},
                      {"pid", 1},
                      {"tid", t.tid},
                      {"ts", t.ts},
                      {"dur", t.dur},
                      {"args", json::object{{"bundle", bundle},
                                            {"stage", t.stage},
                                            {"thread", t.tid == 1 ? "main" : "pool"},
                                            {"status", t.status},
                                            {"over_budget", "false"},
                                            {"optional", "false"},
                                            {"after", t.after},
                                            {"queue_wait_us", t.wait_us},
                                            {"budget_ms", 0.0},
                                            {"weight", 1.0}}}};
}

inline json::object MakeTraceJson(const std::vector<Task>& tasks, const std::vector<Stage>& stages,
                                  double launch_ms, const std::string& app = "com.test.app") {
  json::array events;
  events.push_back(json::object{
      {"ph", "M"}, {"name", "thread_name"}, {"pid", 1}, {"tid", 1}, {"args", {{"name", "main"}}}});
  events.push_back(json::object{{"ph", "M"},
                                {"name", "thread_name"},
                                {"pid", 1},
                                {"tid", 2},
                                {"args", {{"name", "pool-0"}}}});
  std::string names;
  for (const auto& s : stages) {
    names += (names.empty() ? "" : ",") + s.name;
    events.push_back(json::object{{"ph", "X"},
                                  {"name", s.name},
                                  {"cat", "stage"},
                                  {"pid", 1},
                                  {"tid", 1},
                                  {"ts", s.begin},
                                  {"dur", s.end - s.begin}});
  }
  for (const auto& t : tasks) events.push_back(TaskEvent(t));
  char launch[32];
  std::snprintf(launch, sizeof launch, "%.1f", launch_ms);
  return json::object{{"traceEvents", std::move(events)},
                      {"otherData", json::object{{"app", app},
                                                 {"app_version", "1.0.0"},
                                                 {"launch_ms", launch},
                                                 {"result", "ok"},
                                                 {"stages", names}}}};
}

inline RunTrace MustParse(const json::object& trace, const std::string& file = "t.json") {
  auto r = ParseTrace(json::serialize(trace), file);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return r.ok() ? *r : RunTrace{};
}

// A small valid trace whose event 3 is a task, for the error cases.
inline json::object SmallTrace() {
  return MakeTraceJson({{"a:x", "s1", 1, 100, 50}}, {{"s1", 100, 200}}, 1.0);
}

// Extra milliseconds for one side's tasks in AbTraceJson.
struct AbChange {
  double crit_ms = 0;  // a:crit, on the critical path (s2, main)
  double off_ms = 0;   // a:off, beside it on the pool (s2), well shorter
  double idle_ms = 0;  // a:late, in the idle stage
};

// `n` traces of a small app for A/B tests: stage s1 (a:boot on main, a:side
// on the pool), s2 (a:crit on main after a:boot, a:off on the pool), idle
// (a:late). Each duration gets up to ±0.5 ms of deterministic noise from
// `seed`.
inline std::vector<json::object> AbTraceJson(int n, uint32_t seed, AbChange change = {}) {
  std::vector<json::object> runs;
  uint32_t x = seed * 2654435761u + 1;
  auto noise = [&] {
    x = x * 1664525u + 1013904223u;
    return static_cast<int64_t>(x >> 8) % 1001 - 500;  // µs
  };
  auto us = [](double ms) { return static_cast<int64_t>(ms * 1000); };
  for (int i = 0; i < n; ++i) {
    int64_t boot = 10000 + noise(), side = 5000 + noise();
    int64_t s1_end = std::max(boot, side);
    int64_t crit = 20000 + noise() + us(change.crit_ms);
    int64_t off = 5000 + noise() + us(change.off_ms);
    int64_t s2_end = s1_end + std::max(crit, off);
    int64_t late = 8000 + noise() + us(change.idle_ms);
    std::vector<Task> tasks = {
        {"a:boot", "s1", 1, 0, boot},
        {"a:side", "s1", 2, 0, side},
        {"a:crit", "s2", 1, s1_end, crit, "a:boot"},
        {"a:off", "s2", 2, s1_end, off},
        {"a:late", "idle", 2, s2_end, late},
    };
    runs.push_back(
        MakeTraceJson(tasks, {{"s1", 0, s1_end}, {"s2", s1_end, s2_end}, {"idle", s2_end, s2_end}},
                      static_cast<double>(s2_end) / 1000.0));
  }
  return runs;
}

}  // namespace profile_test

#endif  // ATRIUM_TESTS_STARTUP_PIPELINE_PROFILE_TEST_UTIL_H_
