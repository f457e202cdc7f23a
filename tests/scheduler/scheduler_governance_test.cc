// Scheduler tests: the governance rules (the startup fence, idle work,
// quotas, cancelling a bundle). Against a real scheduler with real
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
  // The threads not running the foreground task looked and went to sleep.
  ASSERT_TRUE(WaitUntil([&] { return AllThreadsAsleep(*s, "p", 1); }));
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
  ASSERT_TRUE(WaitUntil([&] { return AllThreadsAsleep(*s, "p", 1); }));
  EXPECT_FALSE(waited.load());  // idle threads, but the quota is 1
  gate.Open();
  ASSERT_TRUE(WaitUntil([&] { return waited.load(); }));
}

TEST(SchedulerGovernance, CancelBundleDropsPendingWaitsForRunningAndRefusesUntilReopened) {
  // Before the scheduler: b's first task may still be returning from
  // gate_b.Wait() when the body ends (the pool's other thread ran the rest),
  // and only ~Scheduler waits for it.
  Gate gate_a, gate_b;
  std::atomic<int> running{0};
  std::atomic<bool> a_finished{false};
  auto s = MakeUnfenced({Pool("p", 2)});
  ASSERT_TRUE(s);
  auto a = Exec(*s, "p", "com.a");
  auto b = Exec(*s, "p", "com.b");
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
  std::atomic<bool> returned_after_the_task{false};
  std::thread canceller([&] {
    s->CancelBundle("com.a");
    returned_after_the_task = a_finished.load();
    cancel_returned = true;
  });
  ASSERT_TRUE(WaitUntil([&] { return FindBundle(s->Stats(), "com.a")->tasks.cancelled == 11; }));
  Status refused = a->Post([] {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kState);
  EXPECT_FALSE(cancel_returned.load());  // a's task still runs
  gate_a.Open();
  canceller.join();
  EXPECT_TRUE(returned_after_the_task.load());  // CancelBundle waited for it
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
  // Declared before the scheduler, so they outlive its workers: the task
  // below may still be waking in gate.Wait() when the test returns.
  Gate gate;
  std::atomic<bool> running{false};
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
  ASSERT_TRUE(c->Post([&] {
                 running = true;
                 gate.Wait();
               }).ok());
  ASSERT_TRUE(WaitUntil([&] { return running.load(); }));
  s->CancelBundle("com.nowait", /*wait_for_running=*/false);
  EXPECT_EQ(FindBundle(s->Stats(), "com.nowait")->running, 1);
  gate.Open();
}

TEST(SchedulerGovernance, StatsTableShowsThreadsAsleepPerPool) {
  SchedulerStats stats;
  stats.threads = 3;
  stats.max_threads = 6;
  stats.peak_threads = 3;
  stats.priority_policy = "default";
  PoolStats main;
  main.name = "main";
  main.threads = 1;
  main.max_threads = 1;
  main.policy = "SCHED_OTHER";
  PoolStats normal = main;
  normal.name = "normal";
  normal.threads = 3;
  normal.max_threads = 4;
  normal.idle_threads = 2;
  normal.running = 1;
  normal.peak_running = 3;
  stats.pools = {main, normal};
  const std::string table = FormatSchedulerStats(stats);
  std::vector<std::string> lines;
  for (size_t start = 0, end; start < table.size(); start = end + 1) {
    end = table.find('\n', start);
    if (end == std::string::npos) end = table.size();
    lines.push_back(table.substr(start, end - start));
  }
  ASSERT_GE(lines.size(), 6u) << table;
  EXPECT_EQ(lines[3].substr(0, 79),
            "pool   cpu    nice policy      threads idle running/peak  queued   held state  ")
      << table;
  EXPECT_EQ(lines[4].substr(0, 79),
            "main   normal    0 SCHED_OTHER     1/1    -          0/0       0      0 -      ")
      << table;
  EXPECT_EQ(lines[5].substr(0, 79),
            "normal normal    0 SCHED_OTHER     3/4    2          1/3       0      0 -      ")
      << table;
}

}  // namespace
}  // namespace atrium::scheduler_test
