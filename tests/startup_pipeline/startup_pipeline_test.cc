// StartupPipeline on a real Scheduler (ordering, stage barriers, failures,
// wait-for and its deadlock detection, validation) and on a step-driven one
// (testing/manual_scheduler.h: the exact dispatch order and makespan of
// critical-path-first execution).
#include "atrium/startup_pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "atrium/base/clock.h"
#include "atrium/scheduler/test_hooks.h"
#include "atrium/startup_pipeline/test_hooks.h"
#include "atrium/trace.h"
#include "testing/manual_scheduler.h"

namespace atrium {
namespace {

using std::chrono::milliseconds;

StartupTaskSpec T(std::string bundle, std::string id, std::string stage,
                  std::vector<std::string> after = {}, std::string thread = "normal") {
  StartupTaskSpec s;
  s.bundle = std::move(bundle);
  s.decl.id = std::move(id);
  s.decl.stage = std::move(stage);
  s.decl.after = std::move(after);
  s.decl.thread = std::move(thread);
  return s;
}

std::unique_ptr<Scheduler> MakeScheduler(int normal_threads = 2) {
  SchedulerOptions o;
  o.pools = {
      PoolConfig{.name = "normal", .threads = normal_threads},
      PoolConfig{.name = "io", .threads = 2},
      PoolConfig{
          .name = "background", .threads = 1, .cpu = CpuPriority::kIdle, .held_until_idle = true}};
  auto s = Scheduler::Create(std::move(o));
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  return std::move(s).value();
}

const std::vector<std::string> kThreads{"main", "normal", "io", "background"};
// The same pools for the step-driven scheduler: names and sizes only.
const std::vector<std::pair<std::string, int>> kManualPools{
    {"normal", 2}, {"io", 2}, {"background", 1}};

// Records, per task, the logical time it started and ended.
class Recorder {
 public:
  StartupPipeline::Runner Runner(std::map<std::string, std::function<Status()>> special = {}) {
    return [this, special = std::move(special)](const StartupTaskSpec& t) -> Status {
      const std::string id = t.bundle + ":" + t.decl.id;
      {
        std::lock_guard lock(mu_);
        start_[id] = ++clock_;
      }
      Status s = Status::Ok();
      if (auto it = special.find(id); it != special.end()) s = it->second();
      std::lock_guard lock(mu_);
      end_[id] = ++clock_;
      return s;
    };
  }
  int start(const std::string& id) {
    std::lock_guard lock(mu_);
    return start_.count(id) ? start_[id] : -1;
  }
  int end(const std::string& id) {
    std::lock_guard lock(mu_);
    return end_.count(id) ? end_[id] : -1;
  }
  bool ran(const std::string& id) { return start(id) > 0; }

 private:
  std::mutex mu_;
  int clock_ = 0;
  std::map<std::string, int> start_, end_;
};

Status RunLaunch(StartupPipeline& p, Scheduler& s, StartupPipeline::Runner runner) {
  Status st = p.Start(s, std::move(runner));
  if (!st.ok()) return st;
  EXPECT_TRUE(s.RunMainLoopUntil([&] { return p.finished(); }, std::chrono::minutes(2)));
  return p.result();
}

TEST(StartupPipelineTest, DependenciesAndStageBarriersHold) {
  auto sched = MakeScheduler();
  std::vector<StartupTaskSpec> tasks = {
      T("com.a", "init", "boot", {}, "main"),
      T("com.a", "db", "boot", {"init"}, "io"),
      T("com.b", "net", "boot", {}, "normal"),
      T("com.b", "warm", "framework", {"com.a:db"}, "normal"),
      T("com.a", "frame", "first_frame", {"com.b:warm"}, "main"),
      T("com.b", "later", "post_frame", {}, "io"),
      T("com.c", "idle", "idle", {}, "background"),
  };
  auto built = StartupPipeline::Build({}, tasks, kThreads, {"background"});
  ASSERT_TRUE(built.ok()) << built.error().ToString();
  StartupPipeline& p = **built;
  std::vector<std::string> ended;
  for (const auto& st : DefaultStartupStages()) {
    p.OnStageEnd(st, [&ended](std::string_view s) { ended.emplace_back(s); });
  }
  Recorder rec;
  ASSERT_TRUE(RunLaunch(p, *sched, rec.Runner()).ok());
  EXPECT_EQ(ended, DefaultStartupStages());
  EXPECT_TRUE(p.idle_reached());
  // Explicit dependencies.
  EXPECT_LT(rec.end("com.a:init"), rec.start("com.a:db"));
  EXPECT_LT(rec.end("com.a:db"), rec.start("com.b:warm"));
  EXPECT_LT(rec.end("com.b:warm"), rec.start("com.a:frame"));
  // Stage barriers: every boot task ended before any framework task began, etc.
  for (const char* boot : {"com.a:init", "com.a:db", "com.b:net"}) {
    EXPECT_LT(rec.end(boot), rec.start("com.b:warm")) << boot;
  }
  EXPECT_LT(rec.end("com.a:frame"), rec.start("com.b:later"));
  EXPECT_LT(rec.end("com.b:later"), rec.start("com.c:idle"));
  EXPECT_TRUE(sched->startup_idle());
  auto stages = p.Stages();
  for (size_t k = 1; k < stages.size(); ++k) {
    EXPECT_LE(stages[k - 1].end_ms, stages[k].begin_ms) << stages[k].name;
  }
  for (const auto& t : p.Tasks()) EXPECT_EQ(t.state, StartupTaskState::kOk) << t.id;
}

TEST(StartupPipelineTest, MainTasksRunOnTheLoopAndPoolTasksOffIt) {
  auto sched = MakeScheduler();
  auto built = StartupPipeline::Build(
      {}, {T("com.a", "m", "boot", {}, "main"), T("com.a", "p", "boot", {}, "normal")}, kThreads);
  ASSERT_TRUE(built.ok());
  std::atomic<int> on_main{0}, off_main{0};
  Scheduler* s = sched.get();
  auto runner = [&, s](const StartupTaskSpec& t) {
    bool main = s->IsMainThread();
    if (t.decl.id == "m") on_main += main ? 1 : 0;
    if (t.decl.id == "p") off_main += main ? 0 : 1;
    return Status::Ok();
  };
  ASSERT_TRUE(RunLaunch(**built, *sched, runner).ok());
  EXPECT_EQ(on_main.load(), 1);
  EXPECT_EQ(off_main.load(), 1);
}

// Ten short independent tasks declared first, then a chain of six. On two
// threads, FIFO runs the ten first and the chain alone afterwards (11
// rounds); critical-path order starts the chain at once (8 rounds).
std::vector<StartupTaskSpec> ChainDag() {
  std::vector<StartupTaskSpec> tasks;
  for (int i = 0; i < 10; ++i) tasks.push_back(T("com.s", "s" + std::to_string(i), "boot"));
  for (int i = 0; i < 6; ++i) {
    std::vector<std::string> after;
    if (i > 0) after.push_back("c" + std::to_string(i - 1));
    tasks.push_back(T("com.c", "c" + std::to_string(i), "boot", after));
  }
  return tasks;
}

// The dispatch order, exactly, on a step-driven scheduler: the pipeline keeps
// two tasks of the two-thread pool in flight and always posts the ready task
// of highest rank, so the chain head goes first although declared last, and
// each link starts as soon as its predecessor ended, ahead of the short tasks.
TEST(StartupPipelineTest, CriticalPathOrderStartsTheChainFirst) {
  auto built = StartupPipeline::Build({}, ChainDag(), kThreads);
  ASSERT_TRUE(built.ok()) << built.error().ToString();
  EXPECT_EQ((*built)->StaticCriticalPath(),
            (std::vector<std::string>{"com.c:c0", "com.c:c1", "com.c:c2", "com.c:c3", "com.c:c4",
                                      "com.c:c5"}));
  testing::ManualScheduler sched(kManualPools);
  Recorder rec;
  ASSERT_TRUE(RunLaunch(**built, sched, rec.Runner()).ok());
  std::map<std::string, StartupTaskReport> by_id;
  for (auto& t : (*built)->Tasks()) by_id[t.id] = t;
  EXPECT_EQ(by_id["com.c:c0"].rank, 6u);
  EXPECT_EQ(by_id["com.s:s0"].rank, 1u);
  // c0 and s0 fill the two slots; from then on every finished task frees a
  // slot for the best ready one: c<i> starts at 2i+1 until c4 (c5 ties with
  // the short tasks on rank 1 and keeps declaration order behind them).
  for (int i = 0; i < 5; ++i) {
    const auto& link = by_id["com.c:c" + std::to_string(i)];
    EXPECT_EQ(link.start_order, 2u * static_cast<uint32_t>(i) + 1u) << "c" << i;
  }
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(by_id["com.s:s" + std::to_string(i)].start_order, 2u * static_cast<uint32_t>(i) + 2u)
        << "s" << i;
  }
}

// Makespan of the chain DAG on a two-thread pool, in rounds of equal-length
// tasks (the step-driven scheduler runs one round per step), with the short
// tasks weighted `short_weight`: 1 gives critical-path order (the chain
// first), 100 puts the short tasks first, which is what FIFO does here.
size_t ChainDagRounds(uint32_t short_weight) {
  std::vector<StartupTaskSpec> tasks = ChainDag();
  for (int i = 0; i < 10; ++i) tasks[i].decl.weight = short_weight;
  auto built = StartupPipeline::Build({}, tasks, kThreads);
  EXPECT_TRUE(built.ok());
  testing::ManualScheduler sched(kManualPools);
  EXPECT_TRUE((*built)->Start(sched, [](const StartupTaskSpec&) { return Status::Ok(); }).ok());
  size_t rounds = 0;
  while (!(*built)->finished()) {
    if (sched.RunRound() == 0) break;
    ++rounds;
  }
  EXPECT_TRUE((*built)->finished());
  return rounds;
}

// Critical-path order finishes the chain DAG in 8 rounds on two threads,
// FIFO in 11: counted, not timed, so the comparison holds on any machine.
TEST(StartupPipelineTest, CriticalPathBeatsFifoOnTheChainDag) {
  EXPECT_EQ(ChainDagRounds(1), 8u);
  EXPECT_EQ(ChainDagRounds(100), 11u);
}

TEST(StartupPipelineTest, OptionalFailureSkipsDependentsUnlessTheyAllowIt) {
  auto opt = T("com.a", "flaky", "boot");
  opt.decl.optional = true;
  auto skipped = T("com.a", "needs", "framework", {"flaky"});
  skipped.decl.optional = true;
  auto tolerant = T("com.a", "tolerant", "framework", {"flaky"});
  tolerant.decl.run_after_failure = true;
  auto built =
      StartupPipeline::Build({}, {opt, skipped, tolerant, T("com.b", "x", "idle")}, kThreads);
  ASSERT_TRUE(built.ok());
  auto sched = MakeScheduler();
  Recorder rec;
  Status s = RunLaunch(**built, *sched,
                       rec.Runner({{"com.a:flaky", [] {
                                      return Status(MakeError(ErrorCode::kIo, "disk unplugged"));
                                    }}}));
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_FALSE(rec.ran("com.a:needs"));
  EXPECT_TRUE(rec.ran("com.a:tolerant"));
  EXPECT_TRUE(rec.ran("com.b:x"));
  for (const auto& t : (*built)->Tasks()) {
    if (t.id == "com.a:flaky") {
      EXPECT_EQ(t.state, StartupTaskState::kFailed);
      EXPECT_NE(t.error.find("disk unplugged"), std::string::npos);
    }
    if (t.id == "com.a:needs") {
      EXPECT_EQ(t.state, StartupTaskState::kSkipped);
      EXPECT_NE(t.error.find("com.a:flaky"), std::string::npos) << t.error;
    }
  }
}

TEST(StartupPipelineTest, RequiredFailureFailsTheLaunchWithTheReason) {
  auto built =
      StartupPipeline::Build({},
                             {T("com.a", "ok", "boot"), T("com.pay", "keys", "framework"),
                              T("com.a", "after", "first_frame"), T("com.b", "never", "idle")},
                             kThreads);
  ASSERT_TRUE(built.ok());
  auto sched = MakeScheduler();
  Recorder rec;
  Status s = RunLaunch(**built, *sched, rec.Runner({{"com.pay:keys", []() -> Status {
                                                       throw std::runtime_error("keystore locked");
                                                     }}}));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().bundle, "com.pay");
  EXPECT_NE(s.error().message.find("required startup task com.pay:keys (stage framework)"),
            std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("keystore locked"), std::string::npos);
  EXPECT_FALSE(rec.ran("com.a:after"));
  EXPECT_FALSE(rec.ran("com.b:never"));
  for (const auto& t : (*built)->Tasks()) {
    if (t.id == "com.b:never") {
      EXPECT_EQ(t.state, StartupTaskState::kSkipped);
    }
  }
}

TEST(StartupPipelineTest, WaitingOnMainForMainWorkIsReportedNotADeadlock) {
  auto built = StartupPipeline::Build(
      {},
      {T("com.a", "first", "boot", {}, "main"), T("com.a", "paint", "framework", {}, "main"),
       T("com.a", "bg", "framework", {}, "normal")},
      kThreads);
  ASSERT_TRUE(built.ok());
  StartupPipeline* p = built->get();
  auto sched = MakeScheduler();
  Status task_wait = Status::Ok(), stage_wait = Status::Ok();
  Recorder rec;
  Status s = RunLaunch(*p, *sched,
                       rec.Runner({{"com.a:first", [&] {
                                      task_wait = p->WaitForTask("com.a:paint", milliseconds(5000));
                                      stage_wait = p->WaitForStage("framework", milliseconds(5000));
                                      return Status::Ok();
                                    }}}));
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  ASSERT_FALSE(task_wait.ok());
  EXPECT_NE(task_wait.error().message.find("deadlock"), std::string::npos);
  EXPECT_NE(task_wait.error().message.find("com.a:paint"), std::string::npos);
  ASSERT_FALSE(stage_wait.ok());
  EXPECT_NE(stage_wait.error().message.find("main-thread task(s)"), std::string::npos);
  // Off the main thread the same waits simply wait.
  EXPECT_TRUE(p->WaitForTask("com.a:paint", milliseconds(1000)).ok());
  EXPECT_TRUE(p->WaitForStage("framework", milliseconds(1000)).ok());
  EXPECT_EQ(p->WaitForStage("warp", milliseconds(1)).error().code, ErrorCode::kNotFound);
}

TEST(StartupPipelineTest, WaitForFromAnotherThreadAndTimeout) {
  auto built =
      StartupPipeline::Build({}, {T("com.a", "slow", "boot"), T("com.a", "z", "idle")}, kThreads);
  ASSERT_TRUE(built.ok());
  StartupPipeline* p = built->get();
  auto sched = MakeScheduler();
  std::atomic<bool> release{false};
  Status early = Status::Ok(), later = Status::Ok();
  std::thread waiter([&] {
    early = p->WaitForStage("boot", milliseconds(20));  // times out: slow is held
    release = true;
    later = p->WaitForStage("idle", milliseconds(60000));
  });
  Status s = RunLaunch(*p, *sched, [&](const StartupTaskSpec& t) {
    while (t.decl.id == "slow" && !release) std::this_thread::sleep_for(milliseconds(1));
    return Status::Ok();
  });
  waiter.join();
  ASSERT_TRUE(s.ok());
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.error().message.find("timed out"), std::string::npos);
  EXPECT_TRUE(later.ok()) << later.error().ToString();
}

TEST(StartupPipelineTest, BestEffortWorkIsHeldUntilTheIdleStage) {
  auto sched = MakeScheduler();
  auto exec = sched->GetExecutor("normal", "com.host");
  ASSERT_TRUE(exec.ok());
  std::atomic<int> seen_stage_index{-1};
  auto built = StartupPipeline::Build(
      {}, {T("com.a", "a", "boot"), T("com.a", "b", "post_frame"), T("com.a", "c", "idle")},
      kThreads);
  ASSERT_TRUE(built.ok());
  StartupPipeline* p = built->get();
  ASSERT_TRUE((*exec)
                  ->Post(
                      [&] {
                        auto stages = p->Stages();
                        int k = -1;
                        for (size_t i = 0; i < stages.size(); ++i) {
                          if (stages[i].begin_ms >= 0) k = static_cast<int>(i);
                        }
                        seen_stage_index = k;
                      },
                      // Blocks shutdown: the launch may finish before a
                      // worker has picked it up once the fence lifts, and
                      // a skip-on-shutdown task would then be dropped.
                      TaskTraits{}
                          .Priority(TaskPriority::kBestEffort)
                          .Shutdown(ShutdownBehavior::kBlockShutdown))
                  .ok());
  ASSERT_TRUE(RunLaunch(*p, *sched, [](const StartupTaskSpec&) { return Status::Ok(); }).ok());
  sched->Shutdown();  // runs it if no worker has yet
  // It ran, and only once the idle stage (index 4) had begun.
  EXPECT_EQ(seen_stage_index.load(), 4);
}

// Budgets against the injected clock: each task advances it by its run
// time, one task at a time (the step-driven scheduler), so run times are
// exact and a task at its budget is not over it.
TEST(StartupPipelineTest, OverBudgetIsReported) {
  auto slow = T("com.a", "slow", "boot");
  slow.decl.budget_ms = 10;
  auto exact = T("com.a", "exact", "boot");
  exact.decl.budget_ms = 5;
  auto fine = T("com.a", "fine", "boot", {"slow"});
  fine.decl.budget_ms = 1;
  auto built = StartupPipeline::Build({}, {slow, exact, fine}, kThreads);
  ASSERT_TRUE(built.ok());
  internal::FakeClock clock(1'700'000'000'000, /*steady_ns=*/1'000'000'000);
  internal::SetPipelineClockForTesting(**built, clock);
  const std::map<std::string, int> runs_ms = {{"slow", 25}, {"exact", 5}, {"fine", 0}};
  testing::ManualScheduler sched(kManualPools);
  ASSERT_TRUE(RunLaunch(**built, sched, [&](const StartupTaskSpec& t) {
                clock.AdvanceMs(runs_ms.at(t.decl.id));
                return Status::Ok();
              }).ok());
  for (const auto& t : (*built)->Tasks()) {
    const std::string id = t.id.substr(t.id.find(':') + 1);
    EXPECT_DOUBLE_EQ(t.run_ms, runs_ms.at(id)) << t.id;
    EXPECT_EQ(t.over_budget, id == "slow") << t.id;
  }
  // The launch took exactly the tasks' time: 30 ms.
  const auto stages = (*built)->Stages();
  ASSERT_FALSE(stages.empty());
  EXPECT_DOUBLE_EQ(stages.front().begin_ms, 0);
  EXPECT_DOUBLE_EQ(stages.back().begin_ms, 30);
}

TEST(StartupPipelineTest, TraceHasOneSlicePerTaskAndStageMarkers) {
  Trace* trace = Trace::Start();
  auto built = StartupPipeline::Build(
      {}, {T("com.a", "x", "boot", {}, "main"), T("com.a", "y", "framework", {"x"}, "io")},
      kThreads);
  ASSERT_TRUE(built.ok());
  auto sched = MakeScheduler();
  ASSERT_TRUE(RunLaunch(**built, *sched, [](const StartupTaskSpec&) { return Status::Ok(); }).ok());
  int task_slices = 0, stage_slices = 0, stage_marks = 0;
  for (const TraceEvent& e : trace->Events()) {
    if (e.category == "task" && e.phase == 'X') {
      ++task_slices;
      bool has_bundle = false;
      for (auto& [k, v] : e.args) has_bundle = has_bundle || (k == "bundle" && v == "com.a");
      EXPECT_TRUE(has_bundle) << e.name;
      if (e.name == "com.a:y") {
        bool has_after = false;
        for (auto& [k, v] : e.args) has_after = has_after || (k == "after" && v == "com.a:x");
        EXPECT_TRUE(has_after);
      }
    }
    if (e.category == "stage" && e.phase == 'X') ++stage_slices;
    if (e.category == "stage" && e.phase == 'i') ++stage_marks;
  }
  EXPECT_EQ(task_slices, 2);
  EXPECT_EQ(stage_slices, 5);
  EXPECT_EQ(stage_marks, 10);
  EXPECT_NE(trace->ToJson().find("\"traceEvents\""), std::string::npos);
  internal::StopTraceForTesting();
}

::testing::AssertionResult BuildFails(std::vector<StartupTaskSpec> tasks,
                                      std::vector<std::string> needles,
                                      std::vector<std::string> stages = {}) {
  auto built =
      StartupPipeline::Build(std::move(stages), std::move(tasks), kThreads, {"background"});
  if (built.ok()) return ::testing::AssertionFailure() << "graph was accepted";
  for (const auto& n : needles) {
    if (built.error().message.find(n) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "error '" << built.error().message << "' lacks '" << n << "'";
    }
  }
  if (built.error().code != ErrorCode::kValidation) {
    return ::testing::AssertionFailure() << "code is not validation";
  }
  return ::testing::AssertionSuccess();
}

TEST(StartupPipelineTest, BadGraphsAreRefusedWithClearErrors) {
  EXPECT_TRUE(BuildFails(
      {T("com.a", "x", "boot", {"com.b:y"}), T("com.b", "y", "boot", {"z"}),
       T("com.b", "z", "boot", {"com.a:x"})},
      {"startup task cycle:", "com.a:x -> ", "com.b:y", "com.b:z", "(bundles: com.a, com.b)"}));
  EXPECT_TRUE(
      BuildFails({T("com.a", "x", "boot", {"com.zz:gone"})},
                 {"com.a:x runs after unknown task com.zz:gone", "bundle com.zz is not resolved"}));
  EXPECT_TRUE(BuildFails({T("com.a", "x", "boot", {"nope"})},
                         {"com.a:x runs after unknown task com.a:nope"}));
  EXPECT_TRUE(BuildFails(
      {T("com.a", "x", "boot", {"com.b:y"}), T("com.b", "y", "idle")},
      {"com.a:x (stage boot) runs after com.b:y of the later stage idle", "bundles com.a, com.b"}));
  EXPECT_TRUE(BuildFails({T("com.a", "x", "boot"), T("com.a", "x", "idle")},
                         {"duplicate startup task com.a:x"}));
  EXPECT_TRUE(BuildFails({T("com.a", "x", "launch")},
                         {"com.a:x is in unknown stage 'launch'", "boot, framework"}));
  EXPECT_TRUE(
      BuildFails({T("com.a", "x", "boot", {}, "gpu")}, {"unknown thread 'gpu'", "main, normal"}));
  auto be = T("com.a", "x", "boot");
  be.decl.priority = "best_effort";
  EXPECT_TRUE(BuildFails({be}, {"is best_effort", "held until the 'idle' stage"}));
  EXPECT_TRUE(BuildFails({T("com.a", "x", "framework", {}, "background")},
                         {"runs on pool 'background'", "move it to 'idle'"}));
  // Custom stages: the last one is the idle stage.
  EXPECT_TRUE(BuildFails({T("com.a", "x", "boot")}, {"unknown stage 'boot'", "start, settle"},
                         {"start", "settle"}));
  EXPECT_TRUE(
      StartupPipeline::Build({"start", "settle"}, {T("com.a", "x", "settle")}, kThreads).ok());
  EXPECT_FALSE(StartupPipeline::Build({"a", "a"}, {}, kThreads).ok());
}

TEST(StartupPipelineTest, EmptyGraphFinishesAndLiftsTheFence) {
  auto built = StartupPipeline::Build({}, {}, kThreads);
  ASSERT_TRUE(built.ok());
  auto sched = MakeScheduler();
  ASSERT_TRUE(RunLaunch(**built, *sched, [](const StartupTaskSpec&) { return Status::Ok(); }).ok());
  EXPECT_TRUE(sched->startup_idle());
  EXPECT_EQ((*built)->current_stage(), "done");
}

TEST(StartupPipelineTest, ShutdownBeforeTasksRanDoesNotHang) {
  auto built = StartupPipeline::Build(
      {}, {T("com.a", "m", "boot", {}, "main"), T("com.a", "n", "idle")}, kThreads);
  ASSERT_TRUE(built.ok());
  auto sched = MakeScheduler();
  // Started but the main loop never runs: the main task stays queued.
  ASSERT_TRUE((*built)->Start(*sched, [](const StartupTaskSpec&) { return Status::Ok(); }).ok());
  EXPECT_FALSE((*built)->idle_reached());
  sched->Shutdown();  // drops it; the pipeline hears about it
  EXPECT_TRUE((*built)->finished());
  EXPECT_FALSE((*built)->result().ok());
  EXPECT_NE((*built)->result().error().message.find("dropped by the scheduler"), std::string::npos);
  built->reset();  // must not wait forever
}

}  // namespace
}  // namespace atrium
