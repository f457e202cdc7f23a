// Scheduler tests: the main loop, pools, priorities, ordered executors and
// the governance rules, against a real scheduler with real threads. No
// assertion depends on wall-clock speed: ordering is forced with gates and
// checked with counters; timeouts only guard against hangs.
#include "atrium/scheduler.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "atrium/thread_activity.h"
#include "cpu_priority.h"

namespace atrium {
namespace {

using namespace std::chrono_literals;

constexpr auto kHangGuard = 60s;

// Polls `pred` until it holds; false after kHangGuard.
template <typename Pred>
bool WaitUntil(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + kHangGuard;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Burns a little CPU, so that tasks overlap.
void Spin(int n) {
  for (int i = 0; i < n; ++i) asm volatile("" ::: "memory");
}

// A one-shot barrier tasks wait on until the test opens it.
class Gate {
 public:
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // False when the hang guard expired.
  bool Wait() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kHangGuard, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

PoolConfig Pool(std::string name, int threads, CpuPriority cpu = CpuPriority::kNormal,
                bool held = false) {
  PoolConfig p;
  p.name = std::move(name);
  p.threads = threads;
  p.cpu = cpu;
  p.held_until_idle = held;
  return p;
}

std::unique_ptr<Scheduler> Make(SchedulerOptions options) {
  auto s = Scheduler::Create(std::move(options));
  if (!s.ok()) {
    ADD_FAILURE() << s.error().ToString();
    return nullptr;
  }
  return std::move(s).value();
}

std::unique_ptr<Scheduler> MakeUnfenced(std::vector<PoolConfig> pools, int max_threads = 0) {
  SchedulerOptions o;
  o.pools = std::move(pools);
  o.max_threads = max_threads;
  o.hold_until_idle = false;
  return Make(std::move(o));
}

std::shared_ptr<Executor> Exec(Scheduler& s, std::string_view target,
                               std::string_view bundle = "") {
  auto e = s.GetExecutor(target, bundle);
  EXPECT_TRUE(e.ok()) << e.error().ToString();
  return e.ok() ? e.value() : nullptr;
}

const PoolStats* FindPool(const SchedulerStats& s, std::string_view name) {
  for (const PoolStats& p : s.pools) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const BundleTaskStats* FindBundle(const SchedulerStats& s, std::string_view name) {
  for (const BundleTaskStats& b : s.bundles) {
    if (b.bundle == name) return &b;
  }
  return nullptr;
}

// /proc/self/task/<tid>/stat field 19 (nice); fields counted after comm's ')'.
int NiceOf(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 1000;
  std::istringstream fields(stat.substr(paren + 1));
  std::string field;
  for (int i = 3; i <= 19; ++i) fields >> field;  // fields 3..19
  return std::stoi(field);
}

std::string CommOf(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

int CountThreads() {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)entry;
    ++n;
  }
  return n;
}

// The thread count once it settles at `want`: a joined thread can stay
// listed in /proc/self/task for a moment after pthread_join returns (the
// kernel releases the task after it cleared the tid join waits on), so the
// count is polled, with a deadline that only guards against a hang.
int SettledThreadCount(int want) {
  WaitUntil([&] { return CountThreads() == want; });
  return CountThreads();
}

// --- Main loop ---

TEST(SchedulerMainLoop, PostsFromEightThreadsRunOnTheLoopThreadInOrder) {
  auto s = MakeUnfenced({Pool("normal", 1)});
  ASSERT_TRUE(s);
  constexpr int kPosters = 8;
  constexpr int kPerPoster = 500;
  std::vector<std::vector<int>> seen(kPosters);  // touched on the loop thread only
  std::atomic<int> ran{0};
  std::atomic<int> off_loop{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> posters;
  for (int t = 0; t < kPosters; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < kPerPoster; ++i) {
        Status st = s->PostMain([&, t, i] {
          if (!s->IsMainThread()) off_loop.fetch_add(1);
          seen[t].push_back(i);
          ran.fetch_add(1);
        });
        if (!st.ok()) refused.fetch_add(1);
      }
    });
  }
  EXPECT_FALSE(s->IsMainThread());
  const bool done =
      s->RunMainLoopUntil([&] { return ran.load() == kPosters * kPerPoster; }, kHangGuard);
  for (auto& p : posters) p.join();
  ASSERT_TRUE(done);
  EXPECT_FALSE(s->IsMainThread());  // only while the loop runs
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(off_loop.load(), 0);
  for (int t = 0; t < kPosters; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<size_t>(kPerPoster));
    EXPECT_TRUE(std::is_sorted(seen[t].begin(), seen[t].end())) << "poster " << t;
  }
  EXPECT_STREQ(CurrentThreadActivity()->thread, "main");
  const SchedulerStats stats = s->Stats();
  EXPECT_EQ(stats.pools[0].name, "main");
  EXPECT_EQ(stats.pools[0].tasks.run, static_cast<uint64_t>(kPosters * kPerPoster));
}

TEST(SchedulerMainLoop, TasksPostedBeforeTheLoopRunsAreKept) {
  auto s = MakeUnfenced({Pool("normal", 1)});
  ASSERT_TRUE(s);
  std::vector<int> order;
  ASSERT_TRUE(s->PostMain([&] { order.push_back(1); }).ok());
  ASSERT_TRUE(s->PostMain([&] { order.push_back(2); }).ok());
  EXPECT_TRUE(s->RunMainLoopUntil([&] { return order.size() == 2; }, kHangGuard));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(SchedulerMainLoop, DelayedTaskRunsAfterItsDelayAndAfterAnUndelayedOne) {
  auto s = MakeUnfenced({Pool("normal", 1)});
  ASSERT_TRUE(s);
  auto main = Exec(*s, "main");
  ASSERT_TRUE(main);
  EXPECT_EQ(main->target(), "main");
  std::vector<std::string> order;
  const auto posted = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point delayed_ran;
  ASSERT_TRUE(main->PostDelayed(
                      [&] {
                        EXPECT_TRUE(s->IsMainThread());
                        delayed_ran = std::chrono::steady_clock::now();
                        order.push_back("delayed");
                      },
                      60ms)
                  .ok());
  ASSERT_TRUE(main->Post([&] { order.push_back("now"); }).ok());
  ASSERT_TRUE(s->RunMainLoopUntil([&] { return order.size() == 2; }, kHangGuard));
  EXPECT_EQ(order, (std::vector<std::string>{"now", "delayed"}));
  EXPECT_GE(delayed_ran - posted, 60ms);  // a lower bound: never early
}

TEST(SchedulerMainLoop, RunUntilTimesOutAndQuitStopsRunMainLoop) {
  auto s = MakeUnfenced({Pool("normal", 1)});
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->RunMainLoopUntil([] { return false; }, 20ms));
  EXPECT_TRUE(s->RunMainLoopUntil([] { return true; }, kHangGuard));

  // Quit from another thread while RunMainLoop runs.
  std::atomic<bool> ran{false};
  std::thread quitter([&] {
    EXPECT_TRUE(s->PostMain([&] { ran = true; }).ok());
    WaitUntil([&] { return ran.load(); });
    s->QuitMainLoop();
  });
  s->RunMainLoop();
  quitter.join();
  EXPECT_TRUE(ran.load());

  // Quit from a main-loop task.
  ASSERT_TRUE(s->PostMain([&] { s->QuitMainLoop(); }).ok());
  s->RunMainLoop();
}

TEST(SchedulerMainLoop, IdleTaskRunsAfterTheQueueDrains) {
  auto s = MakeUnfenced({Pool("normal", 1)});
  ASSERT_TRUE(s);
  auto main = Exec(*s, "main");
  std::vector<std::string> order;
  ASSERT_TRUE(main->PostIdle([&] { order.push_back("idle"); }).ok());
  ASSERT_TRUE(main->Post([&] { order.push_back("a"); }).ok());
  ASSERT_TRUE(main->Post([&] { order.push_back("b"); }).ok());
  ASSERT_TRUE(s->RunMainLoopUntil([&] { return order.size() == 3; }, kHangGuard));
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "idle"}));
}

TEST(SchedulerMainLoop, ExceptionOnTheLoopIsCountedAndTheLoopGoesOn) {
  auto s = MakeUnfenced({Pool("normal", 1)});
  ASSERT_TRUE(s);
  bool after = false;
  ASSERT_TRUE(s->PostMain([] { throw std::runtime_error("boom"); }, "com.thrower").ok());
  ASSERT_TRUE(s->PostMain([&] { after = true; }).ok());
  ASSERT_TRUE(s->RunMainLoopUntil([&] { return after; }, kHangGuard));
  const SchedulerStats stats = s->Stats();
  EXPECT_EQ(stats.pools[0].tasks.failed, 1u);
  ASSERT_NE(FindBundle(stats, "com.thrower"), nullptr);
  EXPECT_EQ(FindBundle(stats, "com.thrower")->tasks.failed, 1u);
}

TEST(SchedulerMainLoop, RunningTaskAndLoopThreadArePublishedWhileAMainTaskBlocks) {
  auto s = MakeUnfenced({Pool("normal", 1)});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->MainTaskRunningSinceNs(), 0);
  EXPECT_EQ(s->main_thread_tid(), 0);  // the loop never ran
  Gate entered, release;
  std::atomic<bool> done{false};
  ASSERT_TRUE(s->PostMain([&] {
                 entered.Open();
                 release.Wait();
                 done = true;
               }).ok());
  int64_t since_while_blocked = 0;
  pid_t tid_while_blocked = 0;
  std::thread observer([&] {
    EXPECT_TRUE(entered.Wait());
    since_while_blocked = s->MainTaskRunningSinceNs();
    tid_while_blocked = s->main_thread_tid();
    release.Open();
  });
  const int64_t before = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  EXPECT_TRUE(s->RunMainLoopUntil([&] { return done.load(); }, kHangGuard));
  observer.join();
  EXPECT_NE(since_while_blocked, 0);
  EXPECT_GE(since_while_blocked, before);  // a steady-clock time, taken after the post
  EXPECT_EQ(tid_while_blocked, gettid());  // this thread ran the loop
  EXPECT_EQ(s->MainTaskRunningSinceNs(), 0);
  EXPECT_EQ(s->main_thread_tid(), gettid());  // the last loop thread
}

TEST(SchedulerMainLoop, DelayedAndIdleMainTasksArePublishedWithTheLoopThreadsTid) {
  auto s = MakeUnfenced({Pool("normal", 1)});
  ASSERT_TRUE(s);
  auto main = Exec(*s, "main");
  ASSERT_TRUE(main);
  Gate delayed_in, delayed_out, idle_in, idle_out;
  std::atomic<bool> done{false};
  std::atomic<pid_t> loop_tid{0};
  ASSERT_TRUE(main->PostDelayed(
                      [&] {
                        delayed_in.Open();
                        delayed_out.Wait();
                      },
                      5ms)
                  .ok());
  std::thread loop([&] {
    loop_tid = gettid();
    EXPECT_TRUE(s->RunMainLoopUntil([&] { return done.load(); }, kHangGuard));
  });
  EXPECT_TRUE(delayed_in.Wait());
  const int64_t delayed_since = s->MainTaskRunningSinceNs();
  EXPECT_NE(delayed_since, 0);
  EXPECT_EQ(s->main_thread_tid(), loop_tid.load());
  EXPECT_NE(s->main_thread_tid(), gettid());
  delayed_out.Open();
  EXPECT_TRUE(WaitUntil([&] { return s->MainTaskRunningSinceNs() == 0; }));
  EXPECT_TRUE(main->PostIdle([&] {
                    idle_in.Open();
                    idle_out.Wait();
                    done = true;
                  })
                  .ok());
  EXPECT_TRUE(idle_in.Wait());
  const int64_t idle_since = s->MainTaskRunningSinceNs();
  EXPECT_GE(idle_since, delayed_since);  // a later task, no earlier start
  EXPECT_EQ(s->main_thread_tid(), loop_tid.load());
  idle_out.Open();
  loop.join();
  EXPECT_EQ(s->MainTaskRunningSinceNs(), 0);
  EXPECT_EQ(s->main_thread_tid(), loop_tid.load());
}

// --- Pools ---

TEST(SchedulerPools, PrioritiesOrderAOneThreadPoolFifoWithinAPriority) {
  auto s = MakeUnfenced({Pool("p", 1)});
  ASSERT_TRUE(s);
  auto p = Exec(*s, "p");
  Gate gate;
  std::atomic<bool> blocking{false};
  ASSERT_TRUE(p->Post([&] {
                 blocking = true;
                 gate.Wait();
               }).ok());
  ASSERT_TRUE(WaitUntil([&] { return blocking.load(); }));
  std::mutex mu;
  std::vector<std::string> order;
  auto add = [&](std::string name, TaskPriority prio) {
    ASSERT_TRUE(p->Post(
                     [&, name] {
                       std::lock_guard lock(mu);
                       order.push_back(name);
                     },
                     TaskTraits{}.Priority(prio))
                    .ok());
  };
  add("be1", TaskPriority::kBestEffort);
  add("uv1", TaskPriority::kUserVisible);
  add("ub1", TaskPriority::kUserBlocking);
  add("be2", TaskPriority::kBestEffort);
  add("uv2", TaskPriority::kUserVisible);
  add("ub2", TaskPriority::kUserBlocking);
  gate.Open();
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard lock(mu);
    return order.size() == 6;
  }));
  EXPECT_EQ(order, (std::vector<std::string>{"ub1", "ub2", "uv1", "uv2", "be1", "be2"}));
}

TEST(SchedulerPools, OrderedTasksOfOneKeyNeverOverlapAndKeepTheirOrder) {
  auto s = MakeUnfenced({Pool("p", 4)});
  ASSERT_TRUE(s);
  auto p = Exec(*s, "p");
  constexpr int kTasks = 1000;
  std::atomic<int> in_flight{0};
  std::atomic<int> overlaps{0};
  std::vector<int> order;  // only one task of the key runs at a time
  std::atomic<int> done{0};
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(p->PostOrdered("db", [&, i] {
                   if (in_flight.fetch_add(1) != 0) overlaps.fetch_add(1);
                   order.push_back(i);
                   Spin(200);
                   in_flight.fetch_sub(1);
                   done.fetch_add(1);
                 }).ok());
    // Unordered noise keeps the other threads busy and free in turn.
    ASSERT_TRUE(p->Post([] {}).ok());
  }
  ASSERT_TRUE(WaitUntil([&] { return done.load() == kTasks; }));
  EXPECT_EQ(overlaps.load(), 0);
  ASSERT_EQ(order.size(), static_cast<size_t>(kTasks));
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_GT(s->Stats().pools[1].threads, 1);  // no dedicated thread: the pool's own
}

TEST(SchedulerPools, DifferentKeysRunConcurrently) {
  auto s = MakeUnfenced({Pool("p", 2)});
  ASSERT_TRUE(s);
  auto p = Exec(*s, "p");
  // Each waits until both are running: possible only if they overlap.
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  std::atomic<int> met{0};
  auto task = [&] {
    std::unique_lock lock(mu);
    ++started;
    cv.notify_all();
    if (cv.wait_for(lock, kHangGuard, [&] { return started == 2; })) met.fetch_add(1);
  };
  ASSERT_TRUE(p->PostOrdered("a", task).ok());
  ASSERT_TRUE(p->PostOrdered("b", task).ok());
  ASSERT_TRUE(WaitUntil([&] { return s->Stats().pools[1].tasks.run == 2; }));
  EXPECT_EQ(met.load(), 2);
}

TEST(SchedulerPools, MayBlockTasksOfCpuPoolsRunOnIo) {
  auto s = MakeUnfenced({Pool("normal", 1), Pool("io", 1)});
  ASSERT_TRUE(s);
  std::atomic<pid_t> tid{0};
  ASSERT_TRUE(Exec(*s, "normal")->Post([&] { tid = gettid(); }, TaskTraits{}.MayBlock()).ok());
  ASSERT_TRUE(WaitUntil([&] { return FindPool(s->Stats(), "io")->tasks.run == 1; }));
  EXPECT_EQ(CommOf(tid.load()), "io-0");
  const SchedulerStats stats = s->Stats();
  EXPECT_EQ(FindPool(stats, "normal")->tasks.posted, 0u);
}

TEST(SchedulerPools, DelayedPoolTaskRunsAfterItsDelay) {
  auto s = MakeUnfenced({Pool("p", 2)});
  ASSERT_TRUE(s);
  auto p = Exec(*s, "p");
  std::mutex mu;
  std::vector<std::string> order;
  const auto posted = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point ran_at;
  ASSERT_TRUE(p->PostDelayed(
                   [&] {
                     std::lock_guard lock(mu);
                     ran_at = std::chrono::steady_clock::now();
                     order.push_back("late");
                   },
                   80ms)
                  .ok());
  ASSERT_TRUE(p->PostDelayed(
                   [&] {
                     std::lock_guard lock(mu);
                     order.push_back("early");
                   },
                   10ms)
                  .ok());
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard lock(mu);
    return order.size() == 2;
  }));
  EXPECT_EQ(order, (std::vector<std::string>{"early", "late"}));
  EXPECT_GE(ran_at - posted, 80ms);
}

TEST(SchedulerPools, AThrowingTaskDoesNotKillThePool) {
  auto s = MakeUnfenced({Pool("p", 1)});
  ASSERT_TRUE(s);
  auto p = Exec(*s, "p", "com.bad");
  ASSERT_TRUE(p->Post([] { throw std::runtime_error("task failure"); }).ok());
  ASSERT_TRUE(p->Post([] { throw 42; }).ok());
  std::atomic<bool> after{false};
  ASSERT_TRUE(p->Post([&] { after = true; }).ok());
  ASSERT_TRUE(WaitUntil([&] { return after.load(); }));
  ASSERT_TRUE(WaitUntil([&] { return FindPool(s->Stats(), "p")->tasks.run == 3; }));
  const SchedulerStats stats = s->Stats();
  EXPECT_EQ(FindPool(stats, "p")->tasks.failed, 2u);
  EXPECT_EQ(FindPool(stats, "p")->threads, 1);
  EXPECT_EQ(FindBundle(stats, "com.bad")->tasks.failed, 2u);
}

TEST(SchedulerPools, QueueLimitRefusesWithAClearError) {
  PoolConfig io = Pool("io", 1);
  io.queue_limit = 3;
  auto s = MakeUnfenced({io});
  ASSERT_TRUE(s);
  auto e = Exec(*s, "io");
  Gate gate;
  std::atomic<bool> blocking{false};
  ASSERT_TRUE(e->Post([&] {
                 blocking = true;
                 gate.Wait();
               }).ok());
  ASSERT_TRUE(WaitUntil([&] { return blocking.load(); }));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(e->Post([] {}).ok());
  Status refused = e->Post([] {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kValidation);
  EXPECT_EQ(refused.error().message, "pool 'io' queue full (limit 3)");
  gate.Open();
  ASSERT_TRUE(WaitUntil([&] { return FindPool(s->Stats(), "io")->tasks.run == 4; }));
  EXPECT_TRUE(e->Post([] {}).ok());
}

TEST(SchedulerPools, PauseHoldsNewWorkAndResumeRunsIt) {
  auto s = MakeUnfenced({Pool("p", 2)});
  ASSERT_TRUE(s);
  auto p = Exec(*s, "p");
  Gate gate;
  std::atomic<bool> running{false};
  std::atomic<bool> finished{false};
  ASSERT_TRUE(p->Post([&] {
                 running = true;
                 gate.Wait();
                 finished = true;
               }).ok());
  ASSERT_TRUE(WaitUntil([&] { return running.load(); }));
  ASSERT_TRUE(s->PausePool("p").ok());
  std::atomic<int> ran{0};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(p->Post([&] { ran.fetch_add(1); }).ok());
  gate.Open();  // a running task finishes while paused
  ASSERT_TRUE(WaitUntil([&] { return finished.load(); }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(ran.load(), 0);
  SchedulerStats stats = s->Stats();
  EXPECT_TRUE(FindPool(stats, "p")->paused);
  EXPECT_EQ(FindPool(stats, "p")->queued, 5u);
  ASSERT_TRUE(s->ResumePool("p").ok());
  ASSERT_TRUE(WaitUntil([&] { return ran.load() == 5; }));
  EXPECT_FALSE(FindPool(s->Stats(), "p")->paused);
  EXPECT_EQ(s->PausePool("nope").error().code, ErrorCode::kNotFound);
}

TEST(SchedulerPools, ThreadCapIsNeverExceededAndEveryPoolGetsOne) {
  auto s = MakeUnfenced({Pool("a", 4), Pool("b", 4), Pool("c", 4)}, /*max_threads=*/4);
  ASSERT_TRUE(s);
  Gate gate;
  std::atomic<int> started{0};
  for (const char* pool : {"a", "b"}) {
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(Exec(*s, pool)
                      ->Post([&] {
                        started.fetch_add(1);
                        gate.Wait();
                      })
                      .ok());
    }
  }
  // a and b may take 3 threads together; one stays reserved for c.
  ASSERT_TRUE(WaitUntil([&] { return started.load() == 3; }));
  std::atomic<bool> c_ran{false};
  ASSERT_TRUE(Exec(*s, "c")->Post([&] { c_ran = true; }).ok());
  ASSERT_TRUE(WaitUntil([&] { return c_ran.load(); }));
  EXPECT_EQ(started.load(), 3);
  SchedulerStats stats = s->Stats();
  EXPECT_LE(stats.peak_threads, 4);
  gate.Open();
  ASSERT_TRUE(WaitUntil([&] { return started.load() == 12; }));
  EXPECT_LE(s->Stats().peak_threads, 4);
}

// --- Governance ---

TEST(SchedulerGovernance, StartupFenceHoldsBestEffortAndHeldPools) {
  SchedulerOptions o;
  o.pools = {Pool("normal", 2), Pool("background", 1, CpuPriority::kIdle, /*held=*/true)};
  auto s = Make(o);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->startup_idle());
  auto normal = Exec(*s, "normal");
  auto background = Exec(*s, "background");
  std::atomic<int> held_ran{0};
  std::atomic<bool> control{false};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        normal
            ->Post([&] { held_ran.fetch_add(1); }, TaskTraits{}.Priority(TaskPriority::kBestEffort))
            .ok());
    ASSERT_TRUE(background->Post([&] { held_ran.fetch_add(1); }).ok());
  }
  ASSERT_TRUE(normal->PostIdle([&] { held_ran.fetch_add(1); }).ok());
  ASSERT_TRUE(normal
                  ->PostDelayed([&] { held_ran.fetch_add(1); }, 5ms,
                                TaskTraits{}.Priority(TaskPriority::kBestEffort))
                  .ok());
  ASSERT_TRUE(normal->Post([&] { control = true; }).ok());
  ASSERT_TRUE(WaitUntil([&] { return control.load(); }));
  // The delayed one came due and is held like the others.
  ASSERT_TRUE(WaitUntil([&] {
    SchedulerStats st = s->Stats();
    return FindPool(st, "normal")->held == 5 && FindPool(st, "background")->held == 3;
  }));
  EXPECT_EQ(held_ran.load(), 0);
  s->MarkStartupIdle();
  EXPECT_TRUE(s->startup_idle());
  ASSERT_TRUE(WaitUntil([&] { return held_ran.load() == 8; }));
  ASSERT_TRUE(WaitUntil([&] { return FindPool(s->Stats(), "background")->tasks.run == 3; }));
  EXPECT_EQ(FindPool(s->Stats(), "normal")->held, 0u);
}

TEST(SchedulerGovernance, WithoutTheFenceEverythingRunsAtOnce) {
  auto s = MakeUnfenced({Pool("normal", 1), Pool("background", 1, CpuPriority::kIdle, true)});
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->startup_idle());
  std::atomic<int> ran{0};
  ASSERT_TRUE(
      Exec(*s, "normal")
          ->Post([&] { ran.fetch_add(1); }, TaskTraits{}.Priority(TaskPriority::kBestEffort))
          .ok());
  ASSERT_TRUE(Exec(*s, "background")->Post([&] { ran.fetch_add(1); }).ok());
  ASSERT_TRUE(Exec(*s, "normal")->PostIdle([&] { ran.fetch_add(1); }).ok());
  ASSERT_TRUE(WaitUntil([&] { return ran.load() == 3; }));
}

TEST(SchedulerGovernance, IdleTaskWaitsForForegroundWorkOfItsPool) {
  auto s = MakeUnfenced({Pool("p", 2)});
  ASSERT_TRUE(s);
  auto p = Exec(*s, "p");
  Gate gate;
  std::atomic<bool> fg_running{false};
  std::atomic<bool> fg_done{false};
  std::atomic<bool> idle_saw_fg_done{false};
  std::atomic<bool> idle_ran{false};
  ASSERT_TRUE(p->Post([&] {
                 fg_running = true;
                 gate.Wait();
                 fg_done = true;
               }).ok());
  ASSERT_TRUE(WaitUntil([&] { return fg_running.load(); }));
  ASSERT_TRUE(p->PostIdle([&] {
                 idle_saw_fg_done = fg_done.load();
                 idle_ran = true;
               }).ok());
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(idle_ran.load());  // a free thread, but USER_VISIBLE work runs
  gate.Open();
  ASSERT_TRUE(WaitUntil([&] { return idle_ran.load(); }));
  EXPECT_TRUE(idle_saw_fg_done.load());
}

TEST(SchedulerGovernance, QuotasAndThreadCapHoldUnderAFlood) {
  SchedulerOptions o;
  o.pools = {Pool("normal", 4), Pool("io", 4)};
  o.max_threads = 5;
  o.bundle_quota = 2;
  o.hold_until_idle = false;
  auto s = Make(o);
  ASSERT_TRUE(s);
  constexpr int kBundles = 5;
  constexpr int kPerBundle = 2000;
  struct PerBundle {
    std::atomic<int> running{0};
    std::atomic<int> max_running{0};
    std::atomic<int> ran{0};
  };
  std::vector<PerBundle> per(kBundles);
  std::atomic<int> refused{0};
  std::vector<std::thread> posters;
  for (int b = 0; b < kBundles; ++b) {
    posters.emplace_back([&, b] {
      const std::string bundle = "com.flood" + std::to_string(b);
      auto normal = Exec(*s, "normal", bundle);
      auto io = Exec(*s, "io", bundle);
      for (int i = 0; i < kPerBundle; ++i) {
        Status st = (i % 2 ? io : normal)->Post([&per, b] {
          PerBundle& me = per[b];
          const int now = me.running.fetch_add(1) + 1;
          int seen = me.max_running.load();
          while (now > seen && !me.max_running.compare_exchange_weak(seen, now)) {
          }
          Spin(2000);
          me.running.fetch_sub(1);
          me.ran.fetch_add(1);
        });
        if (!st.ok()) refused.fetch_add(1);
      }
    });
  }
  for (auto& t : posters) t.join();
  ASSERT_EQ(refused.load(), 0);
  ASSERT_TRUE(WaitUntil([&] {
    int total = 0;
    for (auto& p : per) total += p.ran.load();
    return total == kBundles * kPerBundle;
  }));
  // The scheduler accounts a task just after it returns.
  ASSERT_TRUE(WaitUntil([&] {
    SchedulerStats st = s->Stats();
    return FindPool(st, "normal")->tasks.run + FindPool(st, "io")->tasks.run ==
           static_cast<uint64_t>(kBundles * kPerBundle);
  }));
  const SchedulerStats stats = s->Stats();
  EXPECT_LE(stats.peak_threads, 5);
  EXPECT_EQ(stats.max_threads, 5);
  for (int b = 0; b < kBundles; ++b) {
    EXPECT_LE(per[b].max_running.load(), 2) << "bundle " << b;
    const BundleTaskStats* bs = FindBundle(stats, "com.flood" + std::to_string(b));
    ASSERT_NE(bs, nullptr);
    EXPECT_EQ(bs->quota, 2);
    EXPECT_LE(bs->peak_running, 2);
    EXPECT_EQ(bs->running, 0);
    EXPECT_EQ(bs->tasks.posted, static_cast<uint64_t>(kPerBundle));
    EXPECT_EQ(bs->tasks.run, static_cast<uint64_t>(kPerBundle));
    EXPECT_EQ(bs->tasks.cancelled, 0u);
  }
  EXPECT_EQ(FindPool(stats, "normal")->tasks.run + FindPool(stats, "io")->tasks.run,
            static_cast<uint64_t>(kBundles * kPerBundle));
  const std::string table = FormatSchedulerStats(stats);
  EXPECT_NE(table.find("com.flood4"), std::string::npos) << table;
  EXPECT_NE(table.find("normal"), std::string::npos) << table;
}

TEST(SchedulerGovernance, BundleQuotaCanBeSetPerBundle) {
  auto s = MakeUnfenced({Pool("p", 4)});
  ASSERT_TRUE(s);
  s->SetBundleQuota("com.one", 1);
  auto p = Exec(*s, "p", "com.one");
  std::atomic<int> running{0}, max_running{0}, done{0};
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(p->Post([&] {
                   const int now = running.fetch_add(1) + 1;
                   int seen = max_running.load();
                   while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
                   }
                   Spin(2000);
                   running.fetch_sub(1);
                   done.fetch_add(1);
                 }).ok());
  }
  ASSERT_TRUE(WaitUntil([&] { return done.load() == 200; }));
  EXPECT_EQ(max_running.load(), 1);
  EXPECT_EQ(FindBundle(s->Stats(), "com.one")->quota, 1);

  // A task ready while its bundle is at the quota waits, and is counted.
  Gate gate;
  std::atomic<bool> blocking{false};
  ASSERT_TRUE(p->Post([&] {
                 blocking = true;
                 gate.Wait();
               }).ok());
  ASSERT_TRUE(WaitUntil([&] { return blocking.load(); }));
  const uint64_t deferrals = FindBundle(s->Stats(), "com.one")->quota_deferrals;
  std::atomic<bool> waited{false};
  ASSERT_TRUE(p->Post([&] { waited = true; }).ok());
  EXPECT_EQ(FindBundle(s->Stats(), "com.one")->quota_deferrals, deferrals + 1);
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(waited.load());  // three idle threads, but the quota is 1
  gate.Open();
  ASSERT_TRUE(WaitUntil([&] { return waited.load(); }));
}

TEST(SchedulerGovernance, CancelBundleDropsPendingWaitsForRunningAndRefusesUntilReopened) {
  auto s = MakeUnfenced({Pool("p", 2)});
  ASSERT_TRUE(s);
  auto a = Exec(*s, "p", "com.a");
  auto b = Exec(*s, "p", "com.b");
  Gate gate_a, gate_b;
  std::atomic<int> running{0};
  std::atomic<bool> a_finished{false};
  ASSERT_TRUE(a->Post([&] {
                 running.fetch_add(1);
                 gate_a.Wait();
                 a_finished = true;
               }).ok());
  ASSERT_TRUE(b->Post([&] {
                 running.fetch_add(1);
                 gate_b.Wait();
               }).ok());
  ASSERT_TRUE(WaitUntil([&] { return running.load() == 2; }));
  std::atomic<int> a_ran{0}, b_ran{0};
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(a->Post([&] { a_ran.fetch_add(1); }).ok());
    ASSERT_TRUE(a->PostOrdered("k", [&] { a_ran.fetch_add(1); }).ok());
    ASSERT_TRUE(b->Post([&] { b_ran.fetch_add(1); }).ok());
  }
  ASSERT_TRUE(a->PostDelayed([&] { a_ran.fetch_add(1); }, 1h).ok());
  std::atomic<bool> cancel_returned{false};
  std::thread canceller([&] {
    s->CancelBundle("com.a");
    cancel_returned = true;
  });
  ASSERT_TRUE(WaitUntil([&] { return FindBundle(s->Stats(), "com.a")->tasks.cancelled == 11; }));
  Status refused = a->Post([] {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kState);
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(cancel_returned.load());  // a's task still runs
  gate_a.Open();
  canceller.join();
  EXPECT_TRUE(a_finished.load());
  gate_b.Open();
  ASSERT_TRUE(WaitUntil([&] { return b_ran.load() == 5; }));
  EXPECT_EQ(a_ran.load(), 0);
  EXPECT_FALSE(a->Post([] {}).ok());
  s->ReopenBundle("com.a");
  ASSERT_TRUE(a->Post([&] { a_ran.fetch_add(1); }).ok());
  ASSERT_TRUE(WaitUntil([&] { return FindBundle(s->Stats(), "com.a")->tasks.run == 2; }));
  EXPECT_EQ(a_ran.load(), 1);
  const SchedulerStats stats = s->Stats();
  const BundleTaskStats* as = FindBundle(stats, "com.a");
  EXPECT_EQ(as->tasks.cancelled, 11u);
  EXPECT_EQ(as->tasks.run, 2u);
}

TEST(SchedulerGovernance, CancelBundleFromItsOwnTaskDoesNotWaitForItself) {
  auto s = MakeUnfenced({Pool("p", 2)});
  ASSERT_TRUE(s);
  auto a = Exec(*s, "p", "com.self");
  std::atomic<bool> returned{false};
  ASSERT_TRUE(a->Post([&] {
                 s->CancelBundle("com.self");
                 returned = true;
               }).ok());
  ASSERT_TRUE(WaitUntil([&] { return returned.load(); }));
  EXPECT_FALSE(a->Post([] {}).ok());
  // Without waiting: returns while the bundle's task still runs.
  auto c = Exec(*s, "p", "com.nowait");
  Gate gate;
  std::atomic<bool> running{false};
  ASSERT_TRUE(c->Post([&] {
                 running = true;
                 gate.Wait();
               }).ok());
  ASSERT_TRUE(WaitUntil([&] { return running.load(); }));
  s->CancelBundle("com.nowait", /*wait_for_running=*/false);
  EXPECT_EQ(FindBundle(s->Stats(), "com.nowait")->running, 1);
  gate.Open();
}

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
}  // namespace atrium
