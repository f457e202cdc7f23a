// SchedulerCore: the state behind Scheduler and its executors — the task
// queues (task_queue.h), bundle records, sequences, the pool threads and the
// libuv main loop — and the one mutex that guards them. The design is in
// scheduler.cc's file comment.
//
// Its member functions live in rooms by job:
//   scheduler_core.cc  posting, governance, running a task, sequences,
//                      cancellation, stats, shutdown
//   worker_pool.cc     pool threads: starting them (the starter thread),
//                      waking them, the worker loop
//   main_loop.cc       the libuv loop: running it, waking it, its timers,
//                      closing it
//
// Concurrency: every public method is thread-safe; members marked "guarded
// by mu_" are touched only with mu_ held; methods named *Locked expect it
// held. Tasks run, and their closures are destroyed, with mu_ released.
#ifndef ATRIUM_SCHEDULER_SCHEDULER_CORE_H_
#define ATRIUM_SCHEDULER_SCHEDULER_CORE_H_

#include <sched.h>
#include <sys/types.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "atrium/base/clock.h"
#include "atrium/scheduler.h"
#include "cpu_priority.h"
#include "task_queue.h"

namespace atrium::internal::sched {

// Main-loop tasks run per wake-up before the loop gets to its I/O and timers.
inline constexpr int kMainBatch = 256;
// Pauses an idle pool thread spins for before it sleeps (a few microseconds).
inline constexpr int kIdleSpins = 200;

inline double Ms(SteadyClock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Dropped or finished records, destroyed after mu_ is released: a task's
// closure may do anything when destroyed (the container's wrapper unmaps a
// bundle library).
using Graveyard = std::vector<TaskPtr>;

struct Pool;

struct Worker {
  Pool* pool = nullptr;
  int index = 0;
  std::thread thread;            // set by the starter thread
  std::condition_variable wake;  // waited on with mu_
  bool signalled = false;        // taken off the idle list by a waker
};

// A pool: its queue and its threads. Guarded by mu_ but for `queue`'s name
// and config, immutable after construction.
struct Pool {
  explicit Pool(const PoolConfig& config) : queue(config.name, /*is_main=*/false, config) {}
  TaskQueue queue;
  int nice = 0;
  bool sched_idle = false;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<Worker*> idle;
};

class SchedulerCore;

// Checks pool names, thread counts, limits and quotas (scheduler_options.cc);
// errors point at the pool (/pools/<index>).
Status ValidateOptions(const SchedulerOptions& options);

// What the calling thread is doing for a scheduler.
struct ThreadContext {
  const SchedulerCore* core = nullptr;
  Pool* pool = nullptr;           // a pool thread of `core`
  BundleState* bundle = nullptr;  // whose task runs now
};
extern thread_local ThreadContext tls_context;

enum class PostKind { kNow, kDelayed, kOrdered, kIdle };

// While one is alive on a thread, idle workers woken there are notified
// when it is destroyed (after the poster released mu_) rather than at once,
// so the woken thread does not run into the mutex its waker still holds.
class DeferredWakes {
 public:
  DeferredWakes();
  ~DeferredWakes();
  DeferredWakes(const DeferredWakes&) = delete;
  DeferredWakes& operator=(const DeferredWakes&) = delete;
  // Notifies `cv` when this is destroyed, or at once when full or when no
  // DeferredWakes is alive on the calling thread.
  static void Notify(std::condition_variable* cv);

 private:
  static constexpr int kMax = 4;
  DeferredWakes* const saved_;
  std::condition_variable* cvs_[kMax] = {};
  int count_ = 0;
};

// Takes `lock`'s mutex, spinning a little before sleeping on it: it is held
// for short, bounded stretches.
void LockSpinning(std::unique_lock<std::mutex>& lock);
void CpuRelax();

class SchedulerCore {
 public:
  SchedulerCore(const SchedulerOptions& options, const PriorityPolicy& policy, int max_threads,
                int default_quota);
  ~SchedulerCore();
  SchedulerCore(const SchedulerCore&) = delete;
  SchedulerCore& operator=(const SchedulerCore&) = delete;

  Status Init();

  TaskQueue* main_queue() { return &main_; }
  TaskQueue* FindPool(std::string_view name);
  std::string PoolNames() const;

  // `b` is `bundle`'s record when the caller has it (an executor), else null.
  Status Post(TaskQueue* q, std::string_view target, std::string_view bundle, BundleState* b,
              Task task, TaskTraits traits, PostKind kind, std::chrono::milliseconds delay,
              std::string_view key);
  // The record of `bundle`, created on first use; it lives as long as the core.
  BundleState* Bundle(std::string_view bundle);

  // --- Main loop (main_loop.cc) ---
  bool IsMainThread() const { return loop_thread_.load() == std::this_thread::get_id(); }
  // done == nullptr: RunMainLoop.
  bool RunLoop(const std::function<bool()>* done, std::optional<std::chrono::milliseconds> timeout);
  void QuitMainLoop();
  bool loop_open() const;
  int64_t MainTaskRunningSinceNs() const {
    return main_task_since_ns_.load(std::memory_order_acquire);
  }
  pid_t main_thread_tid() const { return main_tid_.load(std::memory_order_acquire); }

  // --- Governance ---
  void MarkStartupIdle();
  bool startup_idle() const;
  Status SetPaused(std::string_view pool, bool paused);
  void SetBundleQuota(std::string_view bundle, int max_running);
  void CancelBundle(std::string_view bundle, bool wait_for_running);
  void ReopenBundle(std::string_view bundle);

  SchedulerStats Stats() const;

  // Where time comes from: queue waits, run times and delayed tasks' due
  // times (not the hang watchdog's figure). SetSchedulerClockForTesting.
  SteadyClock::time_point Now() const {
    const Clock* clock = clock_.load(std::memory_order_acquire);
    if (clock == nullptr) return SteadyClock::now();  // no virtual call when not injected
    return SteadyClock::time_point(std::chrono::nanoseconds(clock->SteadyNs()));
  }
  void SetClock(const Clock* clock);
  bool clock_injected() const { return clock_.load(std::memory_order_acquire) != nullptr; }
  // Idle pool threads and the main loop look at the queues (and the clock)
  // again.
  void WakeAll();
  const std::string& priority_policy() const { return policy_.description; }

  void Shutdown();

 private:
  Gate GateLocked() const { return Gate{startup_idle_, shutting_down_}; }
  Pool* PoolOf(const TaskQueue* q) { return pools_[static_cast<size_t>(q->pool_index)].get(); }
  std::vector<TaskQueue*> AllQueues();
  BundleState* BundleLocked(std::string_view name);

  // Puts a ready task in its lane and wakes what can run it.
  void EnqueueLocked(TaskPtr rec);
  void PushDelayedLocked(TaskPtr rec);
  void PromoteDueLocked(TaskQueue* q, SteadyClock::time_point now);
  // Runs `rec` with mu_ released (`lock` holds it on entry and on return),
  // then accounts for it and queues its sequence's next task.
  void RunTaskLocked(TaskQueue* q, TaskPtr rec, std::unique_lock<std::mutex>& lock,
                     Graveyard* graveyard);
  // Queues the next waiting task of `s`, or retires `s`.
  void AdvanceSequenceLocked(Sequence* s, Graveyard* graveyard);
  // Accounts a task that will not run. `advance`: it was its sequence's
  // head (in a lane), so the sequence moves on.
  void DropLocked(TaskPtr rec, Graveyard* graveyard, bool advance);
  void DropForShutdownLocked(Graveyard* graveyard);
  PoolStats QueueStatsLocked(const TaskQueue& q) const;

  // --- Pool threads (worker_pool.cc) ---
  bool CanStartWorkerLocked(const Pool& p) const;
  void StartWorkerLocked(Pool* p);
  void SignalIdleWorkerLocked(Pool* p);
  // One more task of `p` may run: an idle thread takes it, else a new one.
  void WakeWorkerLocked(Pool* p);
  // Many tasks of `p` may have become runnable.
  void EnsureWorkersLocked(Pool* p);
  // `b` dropped below its quota: its tasks waiting in other pools may run.
  void WakePoolsForBundleLocked(BundleState* b, const TaskQueue* except);
  // Requires mu_: makes the starter thread (logs when the system refuses).
  void MakeStarterLocked();
  void StarterMain();
  void WorkerMain(Worker* w);

  // --- Main loop internals (main_loop.cc; loop thread) ---
  void WakeMainLocked();
  bool StopRequested();
  void OnLoopWakeup();
  static void OnAsync(uv_async_t* handle);
  static void OnDelayTimer(uv_timer_t* handle);
  static void OnTimeout(uv_timer_t* handle);
  // On the thread that owns the loop now (no loop runs).
  void CloseLoop();

  const int max_threads_;
  const int default_quota_;
  const PriorityPolicy policy_;
  const std::function<void()> on_thread_start_;
  std::atomic<const Clock*> clock_{nullptr};  // null: the steady clock

  mutable std::mutex mu_;
  std::condition_variable state_cv_;          // loop_running_, pool_outstanding_, running counts
  std::condition_variable starter_cv_;        // starter_queue_, stop_threads_
  TaskQueue main_;                            // guarded by mu_
  std::vector<std::unique_ptr<Pool>> pools_;  // elements guarded by mu_
  Pool* io_ = nullptr;                        // immutable after construction
  std::map<std::string, std::unique_ptr<BundleState>, std::less<>> bundles_;  // guarded by mu_
  std::unordered_map<std::string, std::unique_ptr<Sequence>> sequences_;      // guarded by mu_
  uint64_t next_seq_ = 0;                                                     // guarded by mu_
  bool startup_idle_;                                                         // guarded by mu_
  bool shutting_down_ = false;                                                // guarded by mu_
  bool shutdown_done_ = false;                                                // guarded by mu_
  bool stop_threads_ = false;                                                 // guarded by mu_
  size_t pool_outstanding_ = 0;    // pool tasks accepted, not finished or dropped; guarded by mu_
  int threads_started_ = 0;        // guarded by mu_
  int pools_without_threads_ = 0;  // guarded by mu_
  std::deque<Worker*> starter_queue_;  // guarded by mu_
  std::thread starter_;                // made under mu_ (MakeStarterLocked)
  // Create's caller's nice value, signal mask and CPU affinity (Init), which
  // the starter takes; set before any thread exists, read-only after.
  int creator_nice_ = 0;
  sigset_t creator_sigmask_{};
  cpu_set_t creator_affinity_{};
  bool creator_has_affinity_ = false;

  // Main loop. The uv objects: see scheduler.cc's file comment.
  uv_loop_t loop_{};
  uv_async_t async_{};
  uv_timer_t delay_timer_{};
  uv_timer_t timeout_timer_{};
  bool loop_open_ = false;           // guarded by mu_ (after Init)
  bool closing_ = false;             // guarded by mu_
  bool loop_running_ = false;        // guarded by mu_
  bool close_on_loop_exit_ = false;  // guarded by mu_
  std::atomic<std::thread::id> loop_thread_{};
  std::atomic<bool> quit_{false};
  std::atomic<int> main_nice_{0};
  // Hang watchdog's view of the loop: written by the loop thread, read anywhere.
  std::atomic<int64_t> main_task_since_ns_{0};   // steady ns; 0 = no main task runs
  std::atomic<pid_t> main_tid_{0};               // gettid of the (last) loop thread
  const std::function<bool()>* done_ = nullptr;  // loop thread only
};

}  // namespace atrium::internal::sched

#endif  // ATRIUM_SCHEDULER_SCHEDULER_CORE_H_
