// Scheduler tests: CPU priorities and thread names, executors and their
// accounting, options, shutdown. Against a real scheduler with real
// threads; no assertion depends on wall-clock speed: ordering is forced
// with gates, "nothing ran" is shown by every free thread having gone to
// sleep (AllThreadsAsleep), and timeouts only guard against hangs.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "scheduler_test_util.h"

namespace atrium::scheduler_test {
namespace {

using namespace std::chrono_literals;

// --- CPU priority and thread names ---

struct ThreadProbe {
  pid_t tid = 0;
  int nice = 0;
  std::string comm;
  int policy = -1;
};

void CheckPriorities(Scheduler& s) {
  const bool lowered = s.priority_policy().rfind("lowered", 0) == 0;
  ASSERT_TRUE(lowered || s.priority_policy().rfind("raised", 0) == 0) << s.priority_policy();
  std::map<std::string, ThreadProbe> probes;
  std::mutex mu;
  for (const char* pool : {"urgent", "normal", "low", "background", "io"}) {
    ASSERT_TRUE(Exec(s, pool)
                    ->Post([&, pool] {
                      ThreadProbe p;
                      p.tid = gettid();
                      p.nice = NiceOf(p.tid);
                      p.comm = CommOf(p.tid);
                      p.policy = sched_getscheduler(p.tid);
                      std::lock_guard lock(mu);
                      probes[pool] = p;
                    })
                    .ok());
  }
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard lock(mu);
    return probes.size() == 5;
  }));
  const int step = lowered ? 5 : 0;
  EXPECT_EQ(probes["urgent"].nice, -5 + step) << s.priority_policy();
  EXPECT_EQ(probes["normal"].nice, 0 + step);
  EXPECT_EQ(probes["io"].nice, 0 + step);
  EXPECT_EQ(probes["low"].nice, 10 + step);
  EXPECT_EQ(probes["background"].nice, 19);
  EXPECT_EQ(probes["urgent"].comm, "urgent-0");
  EXPECT_EQ(probes["io"].comm, "io-0");
  EXPECT_EQ(probes["background"].comm, "background-0");
  EXPECT_EQ(probes["normal"].policy, SCHED_OTHER);
  const SchedulerStats stats = s.Stats();
  const PoolStats* bg = FindPool(stats, "background");
  if (bg->policy == "SCHED_IDLE") {
    EXPECT_EQ(probes["background"].policy, SCHED_IDLE);
  } else {
    EXPECT_EQ(bg->policy, "SCHED_OTHER");
    EXPECT_EQ(probes["background"].policy, SCHED_OTHER);
  }
  for (const char* pool : {"urgent", "normal", "low", "background", "io"}) {
    EXPECT_EQ(FindPool(stats, pool)->nice, probes[pool].nice) << pool;
  }
  EXPECT_EQ(stats.priority_policy, s.priority_policy());
}

std::vector<PoolConfig> PriorityPools() {
  return {Pool("urgent", 1, CpuPriority::kHigh), Pool("normal", 1), Pool("io", 1),
          Pool("low", 1, CpuPriority::kLow), Pool("background", 1, CpuPriority::kIdle)};
}

TEST(SchedulerPriority, ThreadsRunAtTheirPoolsPriorityUnderThePolicyInForce) {
  auto s = MakeUnfenced(PriorityPools());
  ASSERT_TRUE(s);
  CheckPriorities(*s);
}

TEST(SchedulerPriority, WithoutPrivilegeOtherPoolsAreLowered) {
  internal::DenyRaisingPriorityForTesting(true);
  auto s = MakeUnfenced(PriorityPools());
  internal::DenyRaisingPriorityForTesting(false);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->priority_policy(),
            "lowered: no privilege to raise (EPERM); urgent at 0, others lowered by 5");
  CheckPriorities(*s);
}

TEST(SchedulerPriority, ThreadStartedFromALowPriorityPoolGetsItsOwnPriority) {
  auto s = MakeUnfenced(PriorityPools());
  ASSERT_TRUE(s);
  // A background (idle) task starts the urgent pool's first thread.
  std::atomic<pid_t> urgent_tid{0};
  std::atomic<int> urgent_nice{1000};
  ASSERT_TRUE(Exec(*s, "background")
                  ->Post([&] {
                    EXPECT_TRUE(Exec(*s, "urgent")
                                    ->Post([&] {
                                      urgent_nice = NiceOf(gettid());
                                      urgent_tid = gettid();
                                    })
                                    .ok());
                  })
                  .ok());
  ASSERT_TRUE(WaitUntil([&] { return urgent_tid.load() != 0; }));
  EXPECT_EQ(urgent_nice.load(), FindPool(s->Stats(), "urgent")->nice);
  EXPECT_EQ(sched_getscheduler(urgent_tid.load()), SCHED_OTHER);
}

int ThreadsOfThisProcess() {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)entry;
    ++n;
  }
  return n;
}

TEST(SchedulerPriority, CreateStartsNoThreadTheFirstPoolTaskStartsThem) {
  // Warm the process-wide priority probe (it runs once, on its own thread).
  ASSERT_TRUE(MakeUnfenced(PriorityPools()));
  const int before = ThreadsOfThisProcess();
  auto s = MakeUnfenced(PriorityPools());
  ASSERT_TRUE(s);
  EXPECT_EQ(ThreadsOfThisProcess(), before) << "Create started a thread";
  std::atomic<bool> ran{false};
  ASSERT_TRUE(Exec(*s, "normal")->Post([&] { ran = true; }).ok());
  ASSERT_TRUE(WaitUntil([&] { return ran.load(); }));
  EXPECT_EQ(ThreadsOfThisProcess(), before + 2);  // the starter and normal-0
}

TEST(SchedulerPriority, FirstPoolThreadWantedByALessUrgentThreadKeepsItsPriority) {
  auto s = MakeUnfenced(PriorityPools());
  ASSERT_TRUE(s);
  if (s->priority_policy().rfind("raised", 0) != 0) {
    GTEST_SKIP() << "needs the privilege to raise nice: " << s->priority_policy();
  }
  // The first task comes from a host thread at nice 10: the starter it makes
  // takes the nice of Create's caller again, so the urgent pool still gets -5.
  std::atomic<int> urgent_nice{1000};
  std::thread host([&] {
    ASSERT_EQ(setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10), 0);
    ASSERT_TRUE(Exec(*s, "urgent")->Post([&] { urgent_nice = NiceOf(gettid()); }).ok());
  });
  host.join();
  ASSERT_TRUE(WaitUntil([&] { return urgent_nice.load() != 1000; }));
  EXPECT_EQ(urgent_nice.load(), -5);
}

TEST(SchedulerPriority, WithoutPrivilegeCreateMakesTheStarterSoALateLowTaskCannotDemotePools) {
  // Unprivileged (simulated): a starter made by a nice-10 thread could not
  // lower itself back, so Create makes it, on the caller's thread.
  struct Deny {
    Deny() { internal::DenyRaisingPriorityForTesting(true); }
    ~Deny() { internal::DenyRaisingPriorityForTesting(false); }
  } deny;
  const int before = ThreadsOfThisProcess();
  auto s = MakeUnfenced(PriorityPools());
  ASSERT_TRUE(s);
  EXPECT_EQ(ThreadsOfThisProcess(), before + 1) << "the starter";
  std::atomic<int> normal_nice{1000};
  std::thread host([&] {
    ASSERT_EQ(setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10), 0);
    ASSERT_TRUE(Exec(*s, "normal")->Post([&] { normal_nice = NiceOf(gettid()); }).ok());
  });
  host.join();
  ASSERT_TRUE(WaitUntil([&] { return normal_nice.load() != 1000; }));
  EXPECT_EQ(normal_nice.load(), 5);  // the lowered policy's "normal", not the poster's 10
  EXPECT_EQ(FindPool(s->Stats(), "normal")->nice, 5);
}

// --- Executors and accounting ---

TEST(SchedulerExecutors, TasksAreAccountedToTheExecutorsBundle) {
  auto s = MakeUnfenced({Pool("io", 2), Pool("normal", 1)});
  ASSERT_TRUE(s);
  auto io = Exec(*s, "io", "com.x");
  EXPECT_EQ(io->target(), "io");
  std::atomic<int> ran{0};
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(io->Post([&] { ran.fetch_add(1); }).ok());
  ASSERT_TRUE(WaitUntil([&] { return ran.load() == 3; }));
  ASSERT_TRUE(WaitUntil([&] { return FindBundle(s->Stats(), "com.x")->tasks.run == 3; }));
  const SchedulerStats stats = s->Stats();
  const BundleTaskStats* x = FindBundle(stats, "com.x");
  EXPECT_EQ(x->tasks.posted, 3u);
  EXPECT_EQ(FindPool(stats, "io")->tasks.run, 3u);
  EXPECT_EQ(FindBundle(stats, ""), nullptr);  // nothing posted by the host

  auto missing = s->GetExecutor("nope", "com.x");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("'nope'"), std::string::npos);
}

TEST(SchedulerExecutors, TasksSeeTheirBundleInTheThreadActivity) {
  auto s = MakeUnfenced({Pool("p", 1)});
  ASSERT_TRUE(s);
  std::mutex mu;
  std::string bundle, thread;
  std::atomic<bool> done{false};
  ASSERT_TRUE(Exec(*s, "p", "com.act")
                  ->Post([&] {
                    std::lock_guard lock(mu);
                    bundle = CurrentThreadActivity()->bundle;
                    thread = CurrentThreadActivity()->thread;
                    done = true;
                  })
                  .ok());
  ASSERT_TRUE(WaitUntil([&] { return done.load(); }));
  std::lock_guard lock(mu);
  EXPECT_EQ(bundle, "com.act");
  EXPECT_EQ(thread, "p-0");
}

TEST(SchedulerCreate, RejectsBadOptionsNamingThePool) {
  auto expect_error = [](std::vector<PoolConfig> pools, int max_threads, std::string_view part) {
    SchedulerOptions o;
    o.pools = std::move(pools);
    o.max_threads = max_threads;
    auto s = Scheduler::Create(o);
    ASSERT_FALSE(s.ok()) << part;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().ToString().find(part), std::string::npos) << s.error().ToString();
  };
  expect_error({Pool("io", 1), Pool("io", 2)}, 0, "pool 'io' is defined twice");
  expect_error({Pool("Bad", 1)}, 0, "pool 'Bad': name must match");
  expect_error({Pool("1x", 1)}, 0, "pool '1x'");
  expect_error({Pool("a b", 1)}, 0, "pool 'a b'");
  expect_error({Pool("main", 1)}, 0, "pool 'main'");
  expect_error({Pool("zero", 0)}, 0, "pool 'zero': threads must be >= 1");
  expect_error({Pool("a", 1), Pool("b", 1), Pool("c", 1)}, 2, "below the number of pools (3)");
  EXPECT_TRUE(Scheduler::Create({}).ok());  // the defaults
}

TEST(SchedulerCreate, DefaultPoolsAndNames) {
  const std::vector<PoolConfig> pools = DefaultPools(4);
  std::vector<std::string> names;
  for (const PoolConfig& p : pools) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"urgent", "normal", "io", "net", "background"}));
  EXPECT_EQ(pools[0].cpu, CpuPriority::kHigh);
  EXPECT_EQ(pools[4].cpu, CpuPriority::kIdle);
  EXPECT_TRUE(pools[4].held_until_idle);
  EXPECT_STREQ(CpuPriorityName(CpuPriority::kIdle), "idle");
  EXPECT_STREQ(CpuPriorityName(CpuPriority::kHigh), "high");
  auto s = Scheduler::Create({});
  ASSERT_TRUE(s.ok());
  const SchedulerStats stats = (*s)->Stats();
  EXPECT_EQ(stats.pools.size(), 6u);  // main + 5
  EXPECT_EQ(stats.threads, 0);        // on demand
  EXPECT_GE(stats.max_threads, 5);
}

// --- Shutdown ---

TEST(SchedulerShutdown, RunsBlockingTasksDropsTheRestAndJoinsEveryThread) {
  const int threads_before = CountThreads();
  {
    SchedulerOptions o;
    o.pools = {Pool("p", 1), Pool("probe", 1)};
    auto s = Make(o);  // with the startup fence
    ASSERT_TRUE(s);
    auto p = Exec(*s, "p", "com.sd");
    Gate gate;
    std::atomic<bool> blocking{false};
    ASSERT_TRUE(p->Post([&] {
                   blocking = true;
                   gate.Wait();
                 }).ok());
    ASSERT_TRUE(WaitUntil([&] { return blocking.load(); }));
    const TaskTraits block = TaskTraits{}.Shutdown(ShutdownBehavior::kBlockShutdown);
    std::atomic<int> blocking_ran{0}, skipped_ran{0};
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(p->Post([&] { blocking_ran.fetch_add(1); }, block).ok());
      ASSERT_TRUE(p->Post([&] { skipped_ran.fetch_add(1); }).ok());
    }
    ASSERT_TRUE(p->Post([&] { skipped_ran.fetch_add(1); },
                        TaskTraits{}.Shutdown(ShutdownBehavior::kContinueOnShutdown))
                    .ok());
    // Held by the fence, delayed, ordered behind a skipped one: all still run.
    ASSERT_TRUE(p->Post([&] { blocking_ran.fetch_add(1); },
                        TaskTraits{block}.Priority(TaskPriority::kBestEffort))
                    .ok());
    ASSERT_TRUE(p->PostDelayed([&] { blocking_ran.fetch_add(1); }, 1h, block).ok());
    ASSERT_TRUE(p->PostOrdered("k", [&] { skipped_ran.fetch_add(1); }).ok());
    ASSERT_TRUE(p->PostOrdered(
                     "k", [&] { blocking_ran.fetch_add(1); }, block)
                    .ok());
    // Main loop, not running: the blocking one runs on the Shutdown caller.
    const std::thread::id me = std::this_thread::get_id();
    std::atomic<bool> main_on_caller{false};
    ASSERT_TRUE(s->PostMain(
                     [&] {
                       main_on_caller = std::this_thread::get_id() == me && s->IsMainThread();
                       blocking_ran.fetch_add(1);
                     },
                     "com.sd", block)
                    .ok());
    ASSERT_TRUE(s->PostMain([&] { skipped_ran.fetch_add(1); }, "com.sd").ok());
    // Opens the gate once Shutdown refuses posts (it has dropped what it drops).
    std::thread opener([&] {
      auto probe = Exec(*s, "probe", "com.probe");
      WaitUntil([&] { return !probe->Post([] {}).ok(); });
      gate.Open();
    });
    s->Shutdown();
    opener.join();
    EXPECT_EQ(blocking_ran.load(), 7);
    EXPECT_EQ(skipped_ran.load(), 0);
    const SchedulerStats stats = s->Stats();
    const BundleTaskStats* sd = FindBundle(stats, "com.sd");
    EXPECT_EQ(sd->tasks.cancelled, 6u);  // 3 skip, 1 continue, 1 ordered, 1 main
    EXPECT_EQ(sd->tasks.run, 8u);        // the gate task and the 7 blocking ones
    EXPECT_TRUE(main_on_caller.load());
    Status after = s->PostMain([] {});
    ASSERT_FALSE(after.ok());
    EXPECT_EQ(after.error().code, ErrorCode::kState);
    EXPECT_FALSE(p->Post([] {}).ok());
    s->Shutdown();  // idempotent
    EXPECT_EQ(SettledThreadCount(threads_before), threads_before);
  }
  EXPECT_EQ(SettledThreadCount(threads_before), threads_before);
}

TEST(SchedulerShutdown, WhileTheLoopRunsTheLoopRunsItsBlockingTasks) {
  auto s = MakeUnfenced({Pool("p", 1)});
  ASSERT_TRUE(s);
  std::atomic<bool> looping{false};
  std::atomic<bool> blocking_on_loop{false};
  std::thread loop([&] {
    ASSERT_TRUE(s->PostMain([&] { looping = true; }).ok());
    s->RunMainLoop();  // returns when Shutdown stops it
  });
  ASSERT_TRUE(WaitUntil([&] { return looping.load(); }));
  ASSERT_TRUE(s->PostMain([&] { blocking_on_loop = s->IsMainThread(); }, "",
                          TaskTraits{}.Shutdown(ShutdownBehavior::kBlockShutdown))
                  .ok());
  s->Shutdown();
  loop.join();
  // It ran, either on the loop before Shutdown or during it.
  EXPECT_TRUE(blocking_on_loop.load());
}

TEST(SchedulerShutdown, FromAMainLoopTask) {
  auto s = MakeUnfenced({Pool("p", 2)});
  ASSERT_TRUE(s);
  std::atomic<int> pool_ran{0};
  ASSERT_TRUE(Exec(*s, "p")
                  ->Post([&] { pool_ran.fetch_add(1); },
                         TaskTraits{}.Shutdown(ShutdownBehavior::kBlockShutdown))
                  .ok());
  bool after = false;
  ASSERT_TRUE(s->PostMain([&] { s->Shutdown(); }).ok());
  ASSERT_TRUE(s->PostMain([&] { after = true; }, "",
                          TaskTraits{}.Shutdown(ShutdownBehavior::kBlockShutdown))
                  .ok());
  s->RunMainLoop();  // Shutdown stops it
  EXPECT_TRUE(after);
  EXPECT_EQ(pool_ran.load(), 1);
  EXPECT_FALSE(s->PostMain([] {}).ok());
}

}  // namespace
}  // namespace atrium::scheduler_test
