// A/B comparison of crafted runs (startup_pipeline/profile/compare.h): the
// verdict knows the critical path, idle-stage work decides only when asked,
// each line carries its interval, and the text, JSON and HTML say so. The
// command and the real sample under a CPU hog: profile_output_test.cc and
// profile_ab_test.cc.
#include <gtest/gtest.h>

#include "compare.h"
#include "profile_test_util.h"

namespace {

using namespace profile_test;  // NOLINT: the shared trace builders

using Change = AbChange;

std::vector<RunTrace> Runs(int n, uint32_t seed, Change change = {}) {
  std::vector<RunTrace> runs;
  int i = 0;
  for (const auto& trace : AbTraceJson(n, seed, change))
    runs.push_back(MustParse(trace, "run-" + std::to_string(i++) + ".json"));
  return runs;
}

const AbLine* Find(const std::vector<AbLine>& lines, const std::string& name) {
  for (const auto& l : lines)
    if (l.name == name) return &l;
  return nullptr;
}

TEST(ProfileCompare, UnchangedRunsAreNoChangeAndEveryLineIsPlaced) {
  auto c = CompareAb(Runs(12, 1), Runs(12, 2));
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->outcome, AbOutcome::kNoChange) << AbSummaryText(*c);
  EXPECT_EQ(c->launch.verdict, ShiftVerdict::kNoChange);
  EXPECT_EQ(c->runs_a, 12u);
  EXPECT_EQ(c->min_change_ms, 5);
  // Stage ends of the launch only: the idle stage is after it.
  ASSERT_EQ(c->stages.size(), 2u);
  EXPECT_EQ(c->stages[0].name, "s1");
  EXPECT_EQ(c->stages[1].name, "s2");
  // The critical path of the launch: a:boot then a:crit (a:late is idle work).
  ASSERT_EQ(c->critical.size(), 2u);
  EXPECT_EQ(c->critical[0].name, "a:boot");
  EXPECT_EQ(c->critical[1].name, "a:crit");
  EXPECT_TRUE(c->critical[1].critical);
  EXPECT_EQ(c->critical[1].stage, "s2");
  ASSERT_EQ(c->tasks.size(), 2u);
  EXPECT_EQ(c->tasks[0].name, "a:side");  // by stage
  EXPECT_EQ(c->tasks[1].name, "a:off");
  EXPECT_FALSE(c->tasks[1].critical);
  ASSERT_EQ(c->idle.size(), 1u);
  EXPECT_EQ(c->idle[0].name, "a:late");
  EXPECT_TRUE(c->Deciding().empty());
  // Each claim is one-sided: the launch's interval is the two-sided 90% one
  // (each end a 95% bound). Stage ends and critical tasks share the 5%
  // (4 lines: each end at 98.75% or more, the interval at 97.5%).
  EXPECT_GE(c->critical[0].shift.confidence, 0.975);
  EXPECT_LT(c->critical[0].shift.confidence, 0.99);
  EXPECT_GE(c->launch.shift.confidence, 0.90);
  EXPECT_LT(c->launch.shift.confidence, 0.95);
  EXPECT_NE(AbSummaryText(*c).find("verdict: no change (the launch "), std::string::npos);
}

TEST(ProfileCompare, ACriticalTaskFifteenMsSlowerIsARegressionNamingIt) {
  auto c = CompareAb(Runs(12, 1), Runs(12, 2, {.crit_ms = 15}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->outcome, AbOutcome::kRegression);
  EXPECT_NEAR(c->launch.shift.estimate, 15, 1);
  EXPECT_GT(c->launch.shift.low, 5);
  std::vector<std::string> deciding;
  for (const AbLine* l : c->Deciding()) deciding.push_back(l->name);
  EXPECT_EQ(deciding, (std::vector<std::string>{"launch", "s2", "a:crit"}));
  const AbLine* crit = Find(c->critical, "a:crit");
  ASSERT_NE(crit, nullptr);
  EXPECT_EQ(crit->verdict, ShiftVerdict::kRegression);
  EXPECT_NEAR(crit->b_median_ms - crit->a_median_ms, 15, 1.2);
  std::string text = AbSummaryText(*c);
  EXPECT_NE(text.find("verdict: REGRESSION:\n  the launch +1"), std::string::npos) << text;
  EXPECT_NE(text.find("  a:crit (s2, on the critical path) +1"), std::string::npos) << text;
}

TEST(ProfileCompare, AnOffPathTaskThreeMsSlowerIsListedButDoesNotMoveTheLaunch) {
  auto c = CompareAb(Runs(12, 1), Runs(12, 2, {.off_ms = 3}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->outcome, AbOutcome::kTasksSlower) << AbSummaryText(*c);
  EXPECT_EQ(c->launch.verdict, ShiftVerdict::kNoChange);
  ASSERT_EQ(c->Deciding().size(), 1u);
  EXPECT_EQ(c->Deciding()[0]->name, "a:off");
  EXPECT_EQ(c->Deciding()[0]->min_change_ms, 1);  // the smaller smallest change of tasks
  std::string text = AbSummaryText(*c);
  EXPECT_NE(text.find("tasks off the critical path: 1 of 2 changed"), std::string::npos) << text;
  EXPECT_NE(text.find("verdict: no change to the launch ("), std::string::npos) << text;
  EXPECT_NE(text.find("  a:off (s2, off the critical path) +3"), std::string::npos) << text;
  // Asked for a larger smallest task change, it is not listed.
  AbOptions wide;
  wide.min_task_change_ms = 4;
  c = CompareAb(Runs(12, 1), Runs(12, 2, {.off_ms = 3}), wide);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->outcome, AbOutcome::kNoChange);
}

TEST(ProfileCompare, IdleStageWorkDecidesOnlyWhenAsked) {
  auto a = Runs(12, 1);
  auto b = Runs(12, 2, {.idle_ms = 20});
  auto c = CompareAb(a, b);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->outcome, AbOutcome::kNoChange);
  EXPECT_EQ(c->idle[0].verdict, ShiftVerdict::kRegression);  // listed as slower
  EXPECT_NE(AbSummaryText(*c).find("they do not decide the verdict): 1 of 1 changed"),
            std::string::npos);
  AbOptions options;
  options.idle_decides = true;
  c = CompareAb(a, b, options);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->outcome, AbOutcome::kRegression);
  ASSERT_EQ(c->Deciding().size(), 1u);
  EXPECT_EQ(c->Deciding()[0]->name, "a:late");
}

TEST(ProfileCompare, FewRunsAreNotEnoughAndFasterIsAnImprovement) {
  auto c = CompareAb(Runs(2, 1), Runs(2, 2));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->outcome, AbOutcome::kNotEnoughRuns);
  EXPECT_FALSE(c->launch.shift.enough);
  EXPECT_NE(AbSummaryText(*c).find("too few runs for an interval"), std::string::npos);
  c = CompareAb(Runs(12, 1, {.crit_ms = 15}), Runs(12, 2));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->outcome, AbOutcome::kImprovement);
  EXPECT_LT(c->launch.shift.high, -5);
}

TEST(ProfileCompare, MinChangeInPercentOfALaunch) {
  // A launch of about 30 ms: 3% is 0.9 ms, so +2 ms is a regression.
  AbOptions pct;
  pct.min_change_pct = 3;
  auto c = CompareAb(Runs(15, 1), Runs(15, 2, {.crit_ms = 2}), pct);
  ASSERT_TRUE(c.ok());
  EXPECT_NEAR(c->min_change_ms, c->launch.a_median_ms * 0.03, 1e-9);
  EXPECT_EQ(c->outcome, AbOutcome::kRegression) << AbSummaryText(*c);
  // At 5 ms the launch did not move; the critical task is listed as slower
  // (beyond the 1 ms smallest task change), not as a regression.
  c = CompareAb(Runs(15, 1), Runs(15, 2, {.crit_ms = 2}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->outcome, AbOutcome::kTasksSlower) << AbSummaryText(*c);
  EXPECT_EQ(c->launch.verdict, ShiftVerdict::kNoChange);
  ASSERT_EQ(c->Deciding().size(), 1u);
  EXPECT_EQ(c->Deciding()[0]->name, "a:crit");
  EXPECT_EQ(c->Deciding()[0]->verdict, ShiftVerdict::kNoChange);
  EXPECT_EQ(c->Deciding()[0]->task_verdict, ShiftVerdict::kRegression);
  EXPECT_NE(AbSummaryText(*c).find("  a:crit (s2, on the critical path) +2"), std::string::npos);
}

TEST(ProfileCompare, RefusesWhatCannotBeCompared) {
  auto a = Runs(5, 1);
  auto c = CompareAb(a, {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "no successful run of B to compare");
  auto other = MustParse(
      MakeTraceJson({{"a:x", "t1", 1, 0, 10}}, {{"t1", 0, 10}, {"t2", 10, 10}}, 1.0), "other.json");
  c = CompareAb(a, {other});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("A and B launch through different stages (s1,s2,idle / t1,t2)"),
            std::string::npos)
      << c.error().message;
}

TEST(ProfileCompare, TasksOfOneSideAreListed) {
  auto a = Runs(6, 1);
  auto b = Runs(6, 2);
  for (auto& r : b) {
    TaskRun extra = r.tasks[1];
    extra.id = "a:new";
    r.tasks.push_back(extra);
  }
  auto c = CompareAb(a, b);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->unmatched, (std::vector<std::string>{"a:new (B only)"}));
  EXPECT_NE(AbSummaryText(*c).find("recorded on one side only: a:new (B only)"), std::string::npos);
}

TEST(ProfileCompare, JsonCarriesEveryLine) {
  auto c = CompareAb(Runs(12, 1), Runs(12, 2, {.crit_ms = 15}));
  ASSERT_TRUE(c.ok());
  json::value v = json::parse(AbJson(*c));
  const json::object& o = v.as_object();
  EXPECT_EQ(o.at("format").as_string(), "atrium-profile-compare-v1");
  EXPECT_EQ(o.at("verdict").as_string(), "regression");
  EXPECT_EQ(o.at("deciding").as_array().size(), 3u);
  EXPECT_EQ(o.at("a").at("runs").to_number<uint64_t>(), 12u);
  const json::object& launch = o.at("launch").as_object();
  EXPECT_EQ(launch.at("verdict").as_string(), "regression");
  EXPECT_GT(launch.at("low_ms").as_double(), 5);
  const json::array& crit = o.at("critical_path").as_array();
  ASSERT_EQ(crit.size(), 2u);
  EXPECT_EQ(crit[1].at("name").as_string(), "a:crit");
  EXPECT_TRUE(crit[1].at("critical_path").as_bool());
  EXPECT_EQ(crit[1].at("stage").as_string(), "s2");
  EXPECT_EQ(o.at("tasks").as_array().size(), 2u);
  EXPECT_EQ(o.at("idle").as_array().size(), 1u);
}

TEST(ProfileCompare, HtmlDrawsBothTimelinesOnOneScaleWithChangesMarked) {
  auto a = Runs(12, 1);
  auto b = Runs(12, 2, {.crit_ms = 15, .off_ms = 3});
  for (auto* side : {&a, &b})
    for (auto& r : *side) r.tasks[3].id = "a:<script>x</script>";  // a:off, hostile
  auto c = CompareAb(a, b);
  ASSERT_TRUE(c.ok());
  std::string html = AbReportHtml(*c, a, b);
  EXPECT_NE(html.find("<svg id=\"timeline-a\""), std::string::npos);
  EXPECT_NE(html.find("<svg id=\"timeline-b\""), std::string::npos);
  EXPECT_NE(html.find("data-verdict=\"regression\""), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("a:&lt;script&gt;x&lt;/script&gt;"), std::string::npos);  // kept, as text
  // a:crit is drawn as slower in both timelines.
  size_t n = 0;
  for (size_t at = html.find("task critical changed slower\""); at != std::string::npos;
       at = html.find("task critical changed slower\"", at + 1))
    ++n;
  EXPECT_EQ(n, 2u);
  // One time scale: both axes end at the same tick.
  auto last_tick = [&](const std::string& id) {
    size_t from = html.find("<svg id=\"" + id + "\"");
    size_t end = html.find("</g>", html.find("class=\"axis\"", from));
    size_t t = html.rfind("class=\"tick\"", end);
    return html.substr(t, html.find("</text>", t) - t);
  };
  EXPECT_EQ(last_tick("timeline-a"), last_tick("timeline-b"));
}

}  // namespace
