// Scheduler tests: the main loop and the pools. Against a real scheduler with real
// threads; no assertion depends on wall-clock speed: ordering is forced
// with gates, "nothing ran" is shown by every free thread having gone to
// sleep (AllThreadsAsleep), and timeouts only guard against hangs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "scheduler_test_util.h"

namespace atrium::scheduler_test {
namespace {

using namespace std::chrono_literals;

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
  // Every started thread has looked for work since and gone to sleep.
  ASSERT_TRUE(WaitUntil([&] { return AllThreadsAsleep(*s, "p", 0); }));
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
  // Before the scheduler: tasks may still be inside gate.Wait() when the
  // body ends, and only ~Scheduler waits for them.
  Gate gate;
  std::atomic<int> started{0};
  auto s = MakeUnfenced({Pool("a", 4), Pool("b", 4), Pool("c", 4)}, /*max_threads=*/4);
  ASSERT_TRUE(s);
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

}  // namespace
}  // namespace atrium::scheduler_test
