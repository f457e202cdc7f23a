// TaskQueue: the scheduler's pick policy with no threads in it. The main
// loop and every pool own one; it holds the tasks accepted and not yet
// started, and decides which one runs next.
//
// A queue keeps, per bundle, a "lane" of four FIFO queues (USER_BLOCKING,
// USER_VISIBLE, BEST_EFFORT, PostIdle). Pick() takes, over the lanes of
// bundles under their quota, the head of the most urgent eligible queue,
// oldest first: priorities order work, FIFO holds within a priority, and a
// bundle at its quota is passed by the others without scanning its backlog.
// Which lane queues are eligible is decided by the queue's pause flag and by
// a Gate (the startup fence and shutdown, owned by the scheduler): until
// startup is idle, BEST_EFFORT and idle tasks, and every task of a pool held
// until idle, stay queued; idle tasks run only when no USER_BLOCKING or
// USER_VISIBLE task is queued or running. Delayed tasks wait in a heap and
// enter their lane when PromoteDue() sees them due.
//
// Concurrency: none inside. The scheduler calls every method, and touches
// every field, with its one mutex held — except `enqueued`, an atomic that
// a pool thread reads without the mutex while it spins before sleeping.
// Tests drive a TaskQueue directly, one call at a time.
#ifndef ATRIUM_SCHEDULER_TASK_QUEUE_H_
#define ATRIUM_SCHEDULER_TASK_QUEUE_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "atrium/executor.h"
#include "atrium/scheduler.h"
#include "atrium/task_traits.h"

namespace atrium::internal::sched {

using SteadyClock = std::chrono::steady_clock;

// Lane queues, in the order Pick() takes from them.
inline constexpr int kClassCount = 4;
inline constexpr int kIdleClass = 3;  // PostIdle; the others are TaskPriority values
inline constexpr int kBestEffortClass = static_cast<int>(TaskPriority::kBestEffort);

struct Sequence;
class TaskQueue;

// A bundle's record: its quota and what it has running, across queues.
struct BundleState {
  BundleState(std::string n, int q) : name(std::move(n)), quota(q) {}
  const std::string name;
  int quota;             // running pool tasks at once; 0 = no limit
  int running = 0;       // pool and main-loop tasks
  int pool_running = 0;  // counted against the quota
  int peak_running = 0;
  uint64_t quota_deferrals = 0;
  bool cancelled = false;
  TaskCounters tasks;

  bool UnderQuota() const { return quota == 0 || pool_running < quota; }
};

struct TaskRecord {
  Task fn;
  TaskTraits traits;
  BundleState* bundle = nullptr;
  TaskQueue* queue = nullptr;
  Sequence* sequence = nullptr;   // PostOrdered
  uint64_t seq = 0;               // posting order
  int cls = 1;                    // lane queue
  bool deferred = false;          // counted once in quota_deferrals
  SteadyClock::time_point ready;  // posted, or due (queue wait counts from here)
  SteadyClock::time_point due;    // delayed tasks
};
using TaskPtr = std::unique_ptr<TaskRecord>;

// The tasks of one PostOrdered (target, key): only the oldest is in a lane
// or running; the others wait here.
struct Sequence {
  std::string id;  // target '\0' key
  std::deque<TaskPtr> waiting;
};

// What holds tasks back beyond a queue's own pause flag, decided by the
// scheduler for all its queues.
struct Gate {
  bool startup_idle = true;    // false: the startup fence holds (rule 1)
  bool shutting_down = false;  // true: nothing is held (what is left blocks shutdown)
};

// Moves the tasks of `from` that satisfy `pred` to `out`, keeping order.
template <typename Pred>
void TakeMatching(std::deque<TaskPtr>* from, const Pred& pred, std::vector<TaskPtr>* out) {
  std::deque<TaskPtr> keep;
  for (TaskPtr& t : *from) {
    if (pred(*t)) {
      out->push_back(std::move(t));
    } else {
      keep.push_back(std::move(t));
    }
  }
  from->swap(keep);
}

class TaskQueue {
 public:
  // A pool's queue (`config` set) or the main loop's (`is_main`).
  TaskQueue(std::string name, bool is_main, PoolConfig config = {});
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  const std::string& name() const { return name_; }
  bool is_main() const { return is_main_; }
  const PoolConfig& config() const { return config_; }

  // Whether tasks of lane queue `cls` may start now, quotas aside.
  bool ClassEligible(int cls, const Gate& gate) const;
  // Queued tasks the gate or the pool's held_until_idle hold back now.
  size_t Held(const Gate& gate) const;

  // Puts a ready task in its bundle's lane. True when it may start at once
  // (eligible, and its bundle under quota or this is the main loop): the
  // caller wakes a thread for it. A task found over quota is counted once
  // in its bundle's quota_deferrals.
  bool Push(TaskPtr rec, const Gate& gate);
  // Keeps a delayed task until PromoteDue. True when it is now the earliest.
  bool PushDelayed(TaskPtr rec);
  // Pushes the delayed tasks due at `now`; returns how many may start at once.
  int PromoteDue(SteadyClock::time_point now, const Gate& gate);
  // The earliest due time, when a delayed task waits.
  bool has_delayed() const { return !delayed_.empty(); }
  SteadyClock::time_point next_due() const { return delayed_.front()->due; }

  // Takes the next task to run, or null.
  TaskPtr Pick(const Gate& gate);

  // Moves the tasks in lanes satisfying `pred` to `out` (in each lane queue,
  // oldest first).
  template <typename Pred>
  void TakeFromLanes(const Pred& pred, std::vector<TaskPtr>* out);
  // The same, from `bundle`'s lane only.
  template <typename Pred>
  void TakeFromLaneOf(const BundleState* bundle, const Pred& pred, std::vector<TaskPtr>* out);
  // Moves the delayed tasks satisfying `pred` to `out`.
  template <typename Pred>
  void TakeDelayed(const Pred& pred, std::vector<TaskPtr>* out);

  bool HasQueuedOf(const BundleState* bundle) const;

  // Kept by the scheduler with its mutex held.
  int pool_index = -1;  // which of the scheduler's pools; -1 for the main loop
  bool paused = false;
  size_t pending = 0;  // accepted, not started, not dropped
  int running = 0;
  int fg_running = 0;  // USER_BLOCKING / USER_VISIBLE
  int peak_running = 0;
  TaskCounters tasks;
  // Tasks put in lanes so far, read without the mutex (see the file comment).
  std::atomic<uint64_t> enqueued{0};

  size_t queued(int cls) const { return queued_[cls]; }

 private:
  struct Lane {
    const BundleState* bundle = nullptr;
    std::deque<TaskPtr> tasks[kClassCount];
    size_t size = 0;
    size_t active_index = static_cast<size_t>(-1);  // in active_
  };
  static constexpr size_t kNotActive = static_cast<size_t>(-1);

  Lane* LaneOf(const BundleState* b);
  void DeactivateIfEmpty(Lane* lane);
  template <typename Pred>
  void TakeFromLane(Lane* lane, const Pred& pred, std::vector<TaskPtr>* out);

  const std::string name_;
  const bool is_main_;
  const PoolConfig config_;
  std::unordered_map<const BundleState*, std::unique_ptr<Lane>> lanes_;
  std::vector<Lane*> active_;        // lanes with tasks
  std::vector<TaskPtr> delayed_;     // min-heap on (due, seq)
  size_t queued_[kClassCount] = {};  // in lanes
};

bool LaterDue(const TaskPtr& a, const TaskPtr& b);

template <typename Pred>
void TaskQueue::TakeFromLane(Lane* lane, const Pred& pred, std::vector<TaskPtr>* out) {
  for (int c = 0; c < kClassCount; ++c) {
    const size_t before = out->size();
    TakeMatching(&lane->tasks[c], pred, out);
    const size_t taken = out->size() - before;
    lane->size -= taken;
    queued_[c] -= taken;
  }
  DeactivateIfEmpty(lane);
}

template <typename Pred>
void TaskQueue::TakeDelayed(const Pred& pred, std::vector<TaskPtr>* out) {
  auto split =
      std::partition(delayed_.begin(), delayed_.end(), [&](const TaskPtr& t) { return !pred(*t); });
  for (auto it = split; it != delayed_.end(); ++it) out->push_back(std::move(*it));
  delayed_.erase(split, delayed_.end());
  std::make_heap(delayed_.begin(), delayed_.end(), &LaterDue);
}

template <typename Pred>
void TaskQueue::TakeFromLanes(const Pred& pred, std::vector<TaskPtr>* out) {
  for (Lane* lane : std::vector<Lane*>(active_)) TakeFromLane(lane, pred, out);
}

template <typename Pred>
void TaskQueue::TakeFromLaneOf(const BundleState* bundle, const Pred& pred,
                               std::vector<TaskPtr>* out) {
  auto it = lanes_.find(bundle);
  if (it != lanes_.end()) TakeFromLane(it->second.get(), pred, out);
}

}  // namespace atrium::internal::sched

#endif  // ATRIUM_SCHEDULER_TASK_QUEUE_H_
