// The scheduler: a libuv main loop and governed pools of threads, behind the
// Scheduler interface (atrium/scheduler.h has the contract and the
// governance rules).
//
// Rooms: task_queue.{h,cc} (lanes, the gate, quotas, the pick policy; no
// threads), scheduler_core.{h,cc} (posting, governance, running a task,
// sequences, cancellation, stats, shutdown), worker_pool.cc (pool threads),
// main_loop.cc (the libuv loop), scheduler_options.cc (defaults and
// validation), and this file (the Scheduler and Executor facades, Create).
//
// Design. One mutex (SchedulerCore::mu_) guards every queue, counter and
// bundle record; tasks run with it released, and task closures are
// destroyed with it released (a closure may unmap a bundle library). A pool
// keeps, per bundle, a "lane" of four FIFO queues (USER_BLOCKING,
// USER_VISIBLE, BEST_EFFORT, PostIdle); a thread picks, over the lanes of
// bundles under their quota, the head of the most urgent eligible queue,
// oldest first. So priorities order work, FIFO holds within a priority, and
// a bundle at its quota is passed by the others without scanning its
// backlog. The host ("") has no quota unless SetBundleQuota gives it one.
//
// Threads. Pool threads start on demand (a ready task and no idle thread)
// and live until Shutdown. They are created by one starter thread
// ("atrium-starter"), which takes the nice value, signal mask and CPU
// affinity of Create's caller: a thread inherits its creator's nice value
// and policy, and an unprivileged thread cannot lower its nice value again,
// so a pool thread never creates another pool's thread. When the process may
// lower nice values the starter is made when the first pool thread is wanted
// (Create starts no thread) and resets itself; otherwise Create makes it.
// The starter runs no task and is not counted in Stats.
// Each pool thread names itself "<pool>-<index>" and applies its pool's CPU
// priority to itself. An idle pool thread spins a few microseconds before
// it sleeps, which spares a sleep and a wake-up under streams of short
// tasks.
//
// Delayed tasks wait in a per-queue heap. No timer thread: an idle pool
// thread sleeps until the earliest due time (a pool with delayed work gets
// its first thread at once), and every pick first moves the tasks that
// came due into the lanes, where the startup fence holds them like any
// other. The main loop arms one uv_timer for its earliest due time.
//
// Ordered tasks (PostOrdered) form a sequence per (target, key): only the
// oldest is in a lane; when it finishes (or is dropped) the next one is
// queued. No thread is dedicated to a sequence.
//
// The main loop. The uv loop, its async handle and two timers are created
// by Create and afterwards touched only by the thread running
// RunMainLoop*, except uv_async_send, the one way in. Each wake-up runs up
// to kMainBatch ready tasks (then yields to I/O and timers); idle tasks run
// when no USER_BLOCKING/USER_VISIBLE task is left. RunMainLoopUntil's
// predicate is checked after every task and wake-up, so work finished on a
// pool should post to the main loop to be noticed. QuitMainLoop stops the
// running loop, or the next one to run when none runs. Around each main-loop
// task the running thread publishes the task's start time in an atomic
// (MainTaskRunningSinceNs), which the hang watchdog polls without mu_.
//
// Shutdown order: refuse posts; drop pending tasks that do not block
// shutdown (delayed kBlockShutdown tasks are due at once; the fence and
// pauses no longer hold anything); let the loop run its remaining tasks, or
// run them on the calling thread (IsMainThread() is true there meanwhile)
// when no loop is running; wait until every pool task is done; stop and
// join the threads; close the loop's handles and the loop, on the calling
// thread, or on the loop thread after uv_run returned when Shutdown was
// called by a main-loop task.
//
// CancelBundle waits for the bundle's running tasks: called on the main
// loop, it deadlocks if one of them waits for the main loop.
#include "atrium/scheduler.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "atrium/base/log.h"
#include "atrium/scheduler/test_hooks.h"
#include "cpu_priority.h"
#include "scheduler_core.h"

namespace atrium {
namespace internal {
namespace {

class ExecutorImpl final : public Executor {
 public:
  ExecutorImpl(std::shared_ptr<sched::SchedulerCore> core, sched::TaskQueue* queue,
               std::string bundle)
      : core_(std::move(core)),
        queue_(queue),
        target_(queue->name()),
        bundle_(std::move(bundle)),
        record_(core_->Bundle(bundle_)) {}

  std::string_view target() const override { return target_; }
  Status Post(Task task, TaskTraits traits) override {
    return core_->Post(queue_, target_, bundle_, record_, std::move(task), traits,
                       sched::PostKind::kNow, {}, {});
  }
  Status PostDelayed(Task task, std::chrono::milliseconds delay, TaskTraits traits) override {
    return core_->Post(queue_, target_, bundle_, record_, std::move(task), traits,
                       sched::PostKind::kDelayed, delay, {});
  }
  Status PostOrdered(std::string_view key, Task task, TaskTraits traits) override {
    return core_->Post(queue_, target_, bundle_, record_, std::move(task), traits,
                       sched::PostKind::kOrdered, {}, key);
  }
  Status PostIdle(Task task) override {
    return core_->Post(queue_, target_, bundle_, record_, std::move(task), TaskTraits{},
                       sched::PostKind::kIdle, {}, {});
  }

 private:
  const std::shared_ptr<sched::SchedulerCore> core_;
  sched::TaskQueue* const queue_;  // owned by core_
  const std::string target_;
  const std::string bundle_;
  sched::BundleState* const record_;  // owned by core_
};

class SchedulerImpl final : public Scheduler {
 public:
  explicit SchedulerImpl(std::shared_ptr<sched::SchedulerCore> core) : core_(std::move(core)) {}
  ~SchedulerImpl() override {
    Shutdown();
    ATRIUM_CHECK(!core_->loop_open(), "Scheduler destroyed by a task of its own main loop");
  }

  bool IsMainThread() const override { return core_->IsMainThread(); }
  Status PostMain(Task task, std::string_view bundle, TaskTraits traits) override {
    return core_->Post(core_->main_queue(), "main", bundle, nullptr, std::move(task), traits,
                       sched::PostKind::kNow, {}, {});
  }
  void RunMainLoop() override { core_->RunLoop(nullptr, std::nullopt); }
  bool RunMainLoopUntil(const std::function<bool()>& done,
                        std::chrono::milliseconds timeout) override {
    return core_->RunLoop(&done, timeout);
  }
  void QuitMainLoop() override { core_->QuitMainLoop(); }
  int64_t MainTaskRunningSinceNs() const override { return core_->MainTaskRunningSinceNs(); }
  pid_t main_thread_tid() const override { return core_->main_thread_tid(); }

  Result<std::shared_ptr<Executor>> GetExecutor(std::string_view target,
                                                std::string_view bundle) override {
    sched::TaskQueue* q = target == "main" ? core_->main_queue() : core_->FindPool(target);
    if (q == nullptr) {
      Error e = MakeError(ErrorCode::kNotFound, "no pool '" + std::string(target) +
                                                    "' (pools: main, " + core_->PoolNames() + ")");
      e.bundle = std::string(bundle);
      return e;
    }
    return std::shared_ptr<Executor>(std::make_shared<ExecutorImpl>(core_, q, std::string(bundle)));
  }

  void MarkStartupIdle() override { core_->MarkStartupIdle(); }
  bool startup_idle() const override { return core_->startup_idle(); }
  Status PausePool(std::string_view pool) override { return core_->SetPaused(pool, true); }
  Status ResumePool(std::string_view pool) override { return core_->SetPaused(pool, false); }
  void SetBundleQuota(std::string_view bundle, int max_running) override {
    core_->SetBundleQuota(bundle, max_running);
  }
  void CancelBundle(std::string_view bundle, bool wait_for_running) override {
    core_->CancelBundle(bundle, wait_for_running);
  }
  void ReopenBundle(std::string_view bundle) override { core_->ReopenBundle(bundle); }

  SchedulerStats Stats() const override { return core_->Stats(); }
  std::string priority_policy() const override { return core_->priority_policy(); }
  void Shutdown() override { core_->Shutdown(); }

  sched::SchedulerCore& core() { return *core_; }

 private:
  const std::shared_ptr<sched::SchedulerCore> core_;
};

}  // namespace

void SetSchedulerClockForTesting(Scheduler& scheduler, const Clock& clock) {
  static_cast<SchedulerImpl&>(scheduler).core().SetClock(&clock);
}

void WakeSchedulerForTesting(Scheduler& scheduler) {
  static_cast<SchedulerImpl&>(scheduler).core().WakeAll();
}

}  // namespace internal

Result<std::unique_ptr<Scheduler>> Scheduler::Create(SchedulerOptions options) {
  const int cores = UsableCores();
  if (options.pools.empty()) options.pools = DefaultPools(cores);
  if (Status st = internal::sched::ValidateOptions(options); !st.ok()) return st.error();
  int max_threads = options.max_threads;
  if (max_threads == 0) {
    max_threads = 2 * cores;
    for (const PoolConfig& p : options.pools) {
      if (p.name == "io" || p.name == "net") max_threads += p.threads;
    }
    max_threads = std::max(max_threads, static_cast<int>(options.pools.size()));
  }
  const int quota = options.bundle_quota > 0 ? options.bundle_quota : std::max(2, cores);
  const internal::PriorityPolicy policy = internal::DecidePriorityPolicy(options.pools);
  auto core = std::make_shared<internal::sched::SchedulerCore>(options, policy, max_threads, quota);
  if (Status st = core->Init(); !st.ok()) return st.error();
  return std::unique_ptr<Scheduler>(std::make_unique<internal::SchedulerImpl>(std::move(core)));
}

}  // namespace atrium
