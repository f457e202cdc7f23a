// TaskQueue tests: the pick policy driven one call at a time, with no
// thread and no clock but the time points the test passes in. Priorities,
// FIFO within a priority, oldest-first across bundles, quotas (and their
// deferral count), the startup fence, idle work, pauses, delayed tasks and
// taking tasks out are each asserted as an exact sequence of picks.
#include "task_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace atrium::internal::sched {
namespace {

using namespace std::chrono_literals;

constexpr int kBlocking = static_cast<int>(TaskPriority::kUserBlocking);
constexpr int kVisible = static_cast<int>(TaskPriority::kUserVisible);
constexpr int kBestEffort = static_cast<int>(TaskPriority::kBestEffort);

const Gate kOpen{/*startup_idle=*/true, /*shutting_down=*/false};
const Gate kFenced{/*startup_idle=*/false, /*shutting_down=*/false};
const Gate kShuttingDown{/*startup_idle=*/false, /*shutting_down=*/true};

class TaskQueueTest : public ::testing::Test {
 protected:
  PoolConfig Config(bool held_until_idle = false) {
    PoolConfig c;
    c.name = "normal";
    c.threads = 2;
    c.held_until_idle = held_until_idle;
    return c;
  }

  // A task of `bundle` in lane queue `cls`, named by its posting number.
  TaskPtr MakeTask(BundleState* bundle, int cls, TaskQueue* q) {
    auto rec = std::make_unique<TaskRecord>();
    rec->bundle = bundle;
    rec->queue = q;
    rec->cls = cls;
    rec->seq = next_seq_++;
    return rec;
  }
  TaskPtr Delayed(BundleState* bundle, TaskQueue* q, std::chrono::milliseconds due) {
    TaskPtr rec = MakeTask(bundle, kVisible, q);
    rec->due = SteadyClock::time_point(due);
    return rec;
  }

  // The posting numbers of the tasks Pick returns until it returns null.
  static std::vector<uint64_t> PickAll(TaskQueue& q, const Gate& gate) {
    std::vector<uint64_t> order;
    while (TaskPtr rec = q.Pick(gate)) order.push_back(rec->seq);
    return order;
  }

  BundleState host_{"", 0};
  BundleState a_{"com.example.a", 2};
  BundleState b_{"com.example.b", 2};
  uint64_t next_seq_ = 0;
};

TEST_F(TaskQueueTest, MostUrgentFirstAndFifoWithinAPriority) {
  TaskQueue q("normal", false, Config());
  EXPECT_TRUE(q.Push(MakeTask(&a_, kBestEffort, &q), kOpen));  // 0
  EXPECT_TRUE(q.Push(MakeTask(&a_, kVisible, &q), kOpen));     // 1
  EXPECT_TRUE(q.Push(MakeTask(&a_, kBlocking, &q), kOpen));    // 2
  EXPECT_TRUE(q.Push(MakeTask(&a_, kVisible, &q), kOpen));     // 3
  EXPECT_TRUE(q.Push(MakeTask(&a_, kBlocking, &q), kOpen));    // 4
  EXPECT_EQ(q.queued(kBlocking), 2u);
  EXPECT_EQ(q.queued(kVisible), 2u);
  EXPECT_EQ(q.queued(kBestEffort), 1u);
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{2, 4, 1, 3, 0}));
  EXPECT_EQ(q.queued(kBlocking) + q.queued(kVisible) + q.queued(kBestEffort), 0u);
  EXPECT_EQ(q.enqueued.load(), 5u);
}

TEST_F(TaskQueueTest, OldestFirstAcrossBundlesOfOnePriority) {
  TaskQueue q("normal", false, Config());
  q.Push(MakeTask(&b_, kVisible, &q), kOpen);     // 0
  q.Push(MakeTask(&a_, kVisible, &q), kOpen);     // 1
  q.Push(MakeTask(&host_, kVisible, &q), kOpen);  // 2
  q.Push(MakeTask(&b_, kVisible, &q), kOpen);     // 3
  q.Push(MakeTask(&a_, kBlocking, &q), kOpen);    // 4
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{4, 0, 1, 2, 3}));
}

TEST_F(TaskQueueTest, ABundleAtItsQuotaIsPassedAndCountedOnce) {
  TaskQueue q("normal", false, Config());
  a_.pool_running = 2;                                        // at its quota of 2
  EXPECT_FALSE(q.Push(MakeTask(&a_, kBlocking, &q), kOpen));  // 0: may not start
  EXPECT_EQ(a_.quota_deferrals, 1u);
  EXPECT_TRUE(q.Push(MakeTask(&b_, kVisible, &q), kOpen));  // 1
  // b's less urgent task passes a's blocked one; a's stays, counted once.
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{1}));
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{}));
  EXPECT_EQ(a_.quota_deferrals, 1u);
  EXPECT_EQ(b_.quota_deferrals, 0u);
  a_.pool_running = 1;
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{0}));
  // A quota of 0 means no limit.
  a_.quota = 0;
  a_.pool_running = 50;
  EXPECT_TRUE(q.Push(MakeTask(&a_, kVisible, &q), kOpen));
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{2}));
}

TEST_F(TaskQueueTest, TheMainLoopHasNoQuota) {
  TaskQueue main("main", true);
  a_.pool_running = 2;
  EXPECT_TRUE(main.Push(MakeTask(&a_, kVisible, &main), kOpen));
  EXPECT_EQ(a_.quota_deferrals, 0u);
  EXPECT_EQ(PickAll(main, kOpen), (std::vector<uint64_t>{0}));
}

TEST_F(TaskQueueTest, TheStartupFenceHoldsBestEffortAndIdleWork) {
  TaskQueue q("normal", false, Config());
  EXPECT_FALSE(q.Push(MakeTask(&a_, kBestEffort, &q), kFenced));  // 0
  EXPECT_FALSE(q.Push(MakeTask(&a_, kIdleClass, &q), kFenced));   // 1
  EXPECT_TRUE(q.Push(MakeTask(&a_, kVisible, &q), kFenced));      // 2
  EXPECT_EQ(q.Held(kFenced), 2u);
  EXPECT_EQ(q.Held(kOpen), 0u);
  EXPECT_EQ(PickAll(q, kFenced), (std::vector<uint64_t>{2}));
  EXPECT_EQ(PickAll(q, kFenced), (std::vector<uint64_t>{}));
  // Startup idle: best effort, then idle work (nothing in the foreground).
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{0, 1}));
}

TEST_F(TaskQueueTest, APoolHeldUntilIdleHoldsEverything) {
  TaskQueue q("background", false, Config(/*held_until_idle=*/true));
  EXPECT_FALSE(q.Push(MakeTask(&a_, kBlocking, &q), kFenced));  // 0
  EXPECT_FALSE(q.Push(MakeTask(&a_, kVisible, &q), kFenced));   // 1
  EXPECT_EQ(q.Held(kFenced), 2u);
  EXPECT_EQ(PickAll(q, kFenced), (std::vector<uint64_t>{}));
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{0, 1}));
}

TEST_F(TaskQueueTest, IdleWorkWaitsForTheForeground) {
  TaskQueue q("normal", false, Config());
  q.Push(MakeTask(&a_, kIdleClass, &q), kOpen);  // 0
  q.fg_running = 1;                              // a USER_VISIBLE task runs
  EXPECT_FALSE(q.ClassEligible(kIdleClass, kOpen));
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{}));
  q.fg_running = 0;
  q.Push(MakeTask(&b_, kVisible, &q), kOpen);  // 1: queued foreground work comes first
  EXPECT_FALSE(q.ClassEligible(kIdleClass, kOpen));
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{1, 0}));
}

TEST_F(TaskQueueTest, APausedPoolStartsNothingUntilShutdown) {
  TaskQueue q("normal", false, Config());
  q.paused = true;
  EXPECT_FALSE(q.Push(MakeTask(&a_, kBlocking, &q), kOpen));      // 0
  EXPECT_FALSE(q.Push(MakeTask(&a_, kBestEffort, &q), kFenced));  // 1
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{}));
  // Shutting down, neither the pause nor the fence holds anything.
  EXPECT_EQ(q.Held(kShuttingDown), 0u);
  EXPECT_EQ(PickAll(q, kShuttingDown), (std::vector<uint64_t>{0, 1}));
}

TEST_F(TaskQueueTest, DelayedTasksEnterTheirLanesWhenDueInDueOrder) {
  TaskQueue q("normal", false, Config());
  EXPECT_TRUE(q.PushDelayed(Delayed(&a_, &q, 30ms)));   // 0
  EXPECT_TRUE(q.PushDelayed(Delayed(&a_, &q, 10ms)));   // 1: now the earliest
  EXPECT_FALSE(q.PushDelayed(Delayed(&b_, &q, 10ms)));  // 2: same due time, posted later
  EXPECT_FALSE(q.PushDelayed(Delayed(&a_, &q, 20ms)));  // 3
  ASSERT_TRUE(q.has_delayed());
  EXPECT_EQ(q.next_due(), SteadyClock::time_point(10ms));
  EXPECT_EQ(q.PromoteDue(SteadyClock::time_point(9ms), kOpen), 0);
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{}));
  EXPECT_EQ(q.PromoteDue(SteadyClock::time_point(20ms), kOpen), 3);
  EXPECT_EQ(q.next_due(), SteadyClock::time_point(30ms));
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{1, 2, 3}));
  // The fence holds best-effort work only: a due USER_VISIBLE task is
  // startable under it, a due BEST_EFFORT one is promoted but not startable.
  EXPECT_EQ(q.PromoteDue(SteadyClock::time_point(30ms), kFenced), 1);
  EXPECT_FALSE(q.has_delayed());
  TaskPtr held = Delayed(&a_, &q, 40ms);
  held->cls = kBestEffort;
  q.PushDelayed(std::move(held));  // 4
  EXPECT_EQ(q.PromoteDue(SteadyClock::time_point(40ms), kFenced), 0);
  EXPECT_EQ(PickAll(q, kFenced), (std::vector<uint64_t>{0}));
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{4}));
}

TEST_F(TaskQueueTest, TakingTasksOutKeepsOrderAndCounts) {
  TaskQueue q("normal", false, Config());
  q.Push(MakeTask(&a_, kVisible, &q), kOpen);     // 0
  q.Push(MakeTask(&b_, kVisible, &q), kOpen);     // 1
  q.Push(MakeTask(&a_, kBlocking, &q), kOpen);    // 2
  q.Push(MakeTask(&a_, kVisible, &q), kOpen);     // 3
  q.PushDelayed(Delayed(&a_, &q, 5ms));           // 4
  q.PushDelayed(Delayed(&b_, &q, 5ms));           // 5
  q.Push(MakeTask(&b_, kBestEffort, &q), kOpen);  // 6
  auto of = [](const BundleState* b) { return [b](const TaskRecord& t) { return t.bundle == b; }; };

  std::vector<TaskPtr> taken;
  q.TakeFromLaneOf(&a_, of(&a_), &taken);
  q.TakeDelayed(of(&a_), &taken);
  std::vector<uint64_t> seqs;
  for (const TaskPtr& t : taken) seqs.push_back(t->seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 0, 3, 4}));
  EXPECT_FALSE(q.HasQueuedOf(&a_));
  EXPECT_TRUE(q.HasQueuedOf(&b_));
  EXPECT_EQ(q.queued(kBlocking), 0u);
  EXPECT_EQ(q.queued(kVisible), 1u);

  // What shutdown skips: everything but USER_VISIBLE here.
  taken.clear();
  q.TakeFromLanes([](const TaskRecord& t) { return t.cls != kVisible; }, &taken);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0]->seq, 6u);
  EXPECT_EQ(q.PromoteDue(SteadyClock::time_point(5ms), kOpen), 1);
  EXPECT_EQ(PickAll(q, kOpen), (std::vector<uint64_t>{1, 5}));
  EXPECT_FALSE(q.HasQueuedOf(&b_));
}

TEST_F(TaskQueueTest, TakeMatchingKeepsTheRestInOrder) {
  TaskQueue q("normal", false, Config());
  std::deque<TaskPtr> waiting;
  for (int i = 0; i < 5; ++i) waiting.push_back(MakeTask(i % 2 == 0 ? &a_ : &b_, kVisible, &q));
  std::vector<TaskPtr> out;
  TakeMatching(
      &waiting, [&](const TaskRecord& t) { return t.bundle == &a_; }, &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0]->seq, 0u);
  EXPECT_EQ(out[2]->seq, 4u);
  ASSERT_EQ(waiting.size(), 2u);
  EXPECT_EQ(waiting[0]->seq, 1u);
  EXPECT_EQ(waiting[1]->seq, 3u);
}

}  // namespace
}  // namespace atrium::internal::sched
