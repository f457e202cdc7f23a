// The scheduler on an injected clock (SetSchedulerClockForTesting): delayed
// tasks come due when the test steps a FakeClock, not when real time
// passes, and queue waits and run times are the clock's, so they are
// asserted exactly. Real threads and a real main loop; "not yet run" is
// shown by the pool's thread having gone idle while the clock stood
// still.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "atrium/base/clock.h"
#include "atrium/scheduler/test_hooks.h"
#include "scheduler_test_util.h"

namespace atrium::scheduler_test {
namespace {

using namespace std::chrono_literals;

class SchedulerClockTest : public ::testing::Test {
 protected:
  void Ran(int id) {
    std::lock_guard lock(mu_);
    order_.push_back(id);
  }
  std::vector<int> order() {
    std::lock_guard lock(mu_);
    return order_;
  }

  internal::FakeClock clock_{1'700'000'000'000, /*steady_ns=*/5'000'000'000};

 private:
  std::mutex mu_;
  std::vector<int> order_;
};

TEST_F(SchedulerClockTest, DelayedPoolTasksComeDueByTheClock) {
  auto s = MakeUnfenced({Pool("p", 1)});
  ASSERT_TRUE(s);
  internal::SetSchedulerClockForTesting(*s, clock_);
  auto p = Exec(*s, "p", "com.a");
  ASSERT_TRUE(p->PostDelayed([&] { Ran(2); }, 200ms).ok());
  ASSERT_TRUE(p->PostDelayed(
                   [&] {
                     Ran(1);
                     clock_.AdvanceMs(7);  // it runs 7 ms by the clock
                   },
                   100ms)
                  .ok());
  // The clock stands still: the thread finds nothing due and goes idle.
  ASSERT_TRUE(WaitUntil([&] { return AllThreadsAsleep(*s, "p", 0); }));
  EXPECT_EQ(order(), std::vector<int>{});

  clock_.AdvanceMs(100);
  internal::WakeSchedulerForTesting(*s);
  ASSERT_TRUE(WaitUntil([&] { return order().size() == 1; }));
  ASSERT_TRUE(WaitUntil([&] { return AllThreadsAsleep(*s, "p", 0); }));
  EXPECT_EQ(order(), std::vector<int>{1});  // the second is due at +200, the clock says +107

  clock_.AdvanceMs(100);
  internal::WakeSchedulerForTesting(*s);
  ASSERT_TRUE(WaitUntil([&] { return order().size() == 2; }));
  EXPECT_EQ(order(), (std::vector<int>{1, 2}));
  // A task is accounted just after it returns.
  ASSERT_TRUE(WaitUntil([&] {
    const SchedulerStats st = s->Stats();
    const BundleTaskStats* b = FindBundle(st, "com.a");
    return b != nullptr && b->tasks.run == 2;
  }));

  const SchedulerStats stats = s->Stats();
  const BundleTaskStats* a = FindBundle(stats, "com.a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->tasks.run, 2u);
  // The first started when due (+100): no wait. The second came due at +200
  // and started at +207: the clock was stepped past its due time.
  EXPECT_DOUBLE_EQ(a->tasks.queue_wait_ms_total, 7);
  EXPECT_DOUBLE_EQ(a->tasks.queue_wait_ms_max, 7);
  EXPECT_DOUBLE_EQ(a->tasks.run_ms_total, 7);
  EXPECT_DOUBLE_EQ(a->tasks.run_ms_max, 7);
}

TEST_F(SchedulerClockTest, TheMainLoopRunsADelayedTaskWhenTheClockSaysItIsDue) {
  auto s = MakeUnfenced({Pool("p", 1)});
  ASSERT_TRUE(s);
  internal::SetSchedulerClockForTesting(*s, clock_);
  auto main = Exec(*s, "main");
  // An hour by the clock, an instant in real time: the task before it steps
  // the clock, and the loop finds it due in the same wake-up.
  ASSERT_TRUE(main->PostDelayed([&] { Ran(2); }, std::chrono::hours(1)).ok());
  ASSERT_TRUE(main->Post([&] {
                    Ran(1);
                    clock_.AdvanceMs(3'600'000);
                  })
                  .ok());
  ASSERT_TRUE(s->RunMainLoopUntil([&] { return order().size() == 2; }, kHangGuard));
  EXPECT_EQ(order(), (std::vector<int>{1, 2}));
  const SchedulerStats stats = s->Stats();
  const PoolStats* m = FindPool(stats, "main");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->tasks.run, 2u);
  EXPECT_DOUBLE_EQ(m->tasks.queue_wait_ms_max, 0);
  EXPECT_DOUBLE_EQ(m->tasks.run_ms_total, 3'600'000);
}

}  // namespace
}  // namespace atrium::scheduler_test
