// Scheduler: the app's main loop and its governed thread pools. Every piece
// of work in an Atrium app runs here; bundles and layers never create raw
// threads (they ask for an Executor).
//
// Main loop. A libuv loop run by the thread that calls RunMainLoop*() (the
// app's main thread). Other threads reach it only through one thread-safe
// post (an uv_async_t-fed queue: PostMain / the "main" executor); loop
// objects (handles, timers) are created, used and closed only on it.
//
// Pools. Named pools with a thread count, a CPU priority class and a queue
// limit; defaults (DefaultPools) can be overridden by the app descriptor:
//   urgent      work a user is waiting on          high (nice -5, else default)
//   normal      everything else on the CPU         default
//   io          blocking file / database work      default, more threads
//   net         network requests                   default
//   background  nobody waits                       idle (SCHED_IDLE, else nice 19)
// Threads start on demand. The sum of running pool threads never exceeds
// `max_threads` (default 2 x cores + the io and net pools' threads); a pool
// that cannot start another thread because of the cap queues its work for
// the threads it has (every pool is guaranteed one).
//
// CPU priorities are real: each pool thread applies its nice value to its
// own thread id with setpriority(PRIO_PROCESS, tid, nice) and, for `idle`,
// sched_setscheduler(SCHED_IDLE). Raising above the default needs
// privilege (CAP_SYS_NICE / RLIMIT_NICE); when it is refused, the raised
// pools keep the default and every other pool is lowered by the same step
// instead, so the ordering between pools holds. priority_policy() says
// which policy is in force. Threads are named "<pool>-<index>"
// (pthread_setname_np, at most 15 characters).
//
// Governance (one policy here, not checks in callers):
//  1. Until MarkStartupIdle(), BEST_EFFORT tasks and every task of a pool
//     with `held_until_idle` (background) are held, not run; delayed tasks
//     that come due are held the same way.
//  2. A paused pool runs nothing new until resumed; running tasks finish.
//  3. Every task is accounted to the bundle that posted it ("" = the host):
//     posted / run / cancelled counts, queue wait and run time. A bundle has
//     at most its quota of tasks running at once across all pools; the
//     others wait in their queues (other bundles' tasks pass them).
//  4. CancelBundle(b) drops b's pending tasks, refuses new ones and waits
//     for its running ones: the container calls it before unloading b.
//
// Shutdown drains or skips tasks by their ShutdownBehavior, then joins
// every thread. It is idempotent and called by the destructor.
//
// Concurrency: all methods are thread-safe unless noted. RunMainLoop* must
// be called by one thread at a time (the main thread); Shutdown must not be
// called from a pool thread.
#ifndef ATRIUM_SCHEDULER_H_
#define ATRIUM_SCHEDULER_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/executor.h"
#include "atrium/export.h"
#include "atrium/result.h"
#include "atrium/task_traits.h"

namespace atrium {

enum class CpuPriority : uint8_t {
  kHigh,    // nice -5 (needs privilege; see the policy above)
  kNormal,  // nice 0
  kLow,     // nice 10
  kIdle,    // SCHED_IDLE where allowed, else nice 19
};
ATRIUM_EXPORT const char* CpuPriorityName(CpuPriority p);  // "high", "normal", ...

struct PoolConfig {
  std::string name;  // [a-z][a-z0-9_-]*, not "main"
  int threads = 1;   // maximum threads of this pool (>= 1)
  CpuPriority cpu = CpuPriority::kNormal;
  size_t queue_limit = 10000;    // pending tasks beyond this are refused
  bool held_until_idle = false;  // governance rule 1 for the whole pool
};

// urgent, normal, io, net, background sized for `cores` CPUs.
ATRIUM_EXPORT std::vector<PoolConfig> DefaultPools(int cores);
// The CPUs this process may run on (its affinity mask), at least 1.
ATRIUM_EXPORT int UsableCores();

struct SchedulerOptions {
  std::vector<PoolConfig> pools;  // empty = DefaultPools(usable cores)
  int max_threads = 0;            // 0 = 2 x cores + io and net threads
  int bundle_quota = 0;           // running tasks per bundle; 0 = max(2, cores)
  bool hold_until_idle = true;    // false: no startup fence (tools, tests)
  // Run first on every pool thread the scheduler starts (the launch guard
  // gives each one an alternate signal stack for crash capture).
  std::function<void()> on_thread_start;
};

struct TaskCounters {
  uint64_t posted = 0;
  uint64_t run = 0;
  uint64_t cancelled = 0;  // dropped: bundle cancelled, shutdown skipped
  uint64_t failed = 0;     // of `run`, those that threw (logged, then swallowed)
  double queue_wait_ms_total = 0;
  double queue_wait_ms_max = 0;
  double run_ms_total = 0;
  double run_ms_max = 0;
};

struct PoolStats {
  std::string name;
  CpuPriority cpu = CpuPriority::kNormal;
  int nice = 0;         // nice value its threads run at
  std::string policy;   // "SCHED_OTHER" / "SCHED_IDLE"
  int max_threads = 0;  // configured
  int threads = 0;      // started
  // Started threads asleep for want of a task they may run: each looked at
  // the queue after its last task and found nothing eligible (paused, held,
  // over quota, idle work behind foreground work) or nothing at all.
  int idle_threads = 0;
  int peak_running = 0;
  size_t queued = 0;  // pending now (including held)
  size_t held = 0;    // of which held by the startup fence
  int running = 0;
  bool paused = false;
  bool held_until_idle = false;  // configured (governance rule 1)
  TaskCounters tasks;
};

struct BundleTaskStats {
  std::string bundle;  // "" = host
  int quota = 0;
  int running = 0;
  int peak_running = 0;
  uint64_t quota_deferrals = 0;  // times a ready task waited on the quota
  TaskCounters tasks;
};

struct SchedulerStats {
  std::vector<PoolStats> pools;  // main loop first, as pool "main"
  std::vector<BundleTaskStats> bundles;
  int threads = 0;  // pool threads started
  int peak_threads = 0;
  int max_threads = 0;
  bool startup_idle = false;
  std::string priority_policy;
};
// A readable table of the figures (what `atrium stats` prints).
ATRIUM_EXPORT std::string FormatSchedulerStats(const SchedulerStats& stats);

// What a host embedding a Container does with the app's scheduler
// (Container::scheduler()): run the main loop on its thread, post to it, and
// read the figures. The governance (pools, quotas, the startup fence,
// cancelling a bundle's tasks) stays with the container, which owns the
// Scheduler.
class ATRIUM_EXPORT HostScheduler {
 public:
  virtual ~HostScheduler() = default;

  // True on the thread currently running the main loop.
  virtual bool IsMainThread() const = 0;
  // Posts to the main loop on behalf of `bundle`.
  virtual Status PostMain(Task task, std::string_view bundle = "", TaskTraits traits = {}) = 0;
  // Runs the loop on the calling thread until QuitMainLoop() or Shutdown().
  virtual void RunMainLoop() = 0;
  // Runs the loop until `done()` is true (checked after every main-loop
  // task and wake-up) or `timeout` passes. Returns done().
  virtual bool RunMainLoopUntil(const std::function<bool()>& done,
                                std::chrono::milliseconds timeout) = 0;
  virtual void QuitMainLoop() = 0;
  // When the main-loop task running now started, in steady_clock
  // nanoseconds (time_since_epoch); 0 when no main-loop task runs. Covers
  // every main-loop task (PostMain, the "main" executor's posted, delayed,
  // ordered and idle tasks, and those Shutdown runs itself when no loop
  // runs). Lock-free; the hang watchdog polls it from its own thread.
  virtual int64_t MainTaskRunningSinceNs() const = 0;
  // True once the idle stage began (best-effort work and held pools run).
  virtual bool startup_idle() const = 0;
  virtual SchedulerStats Stats() const = 0;
  virtual std::string priority_policy() const = 0;
};

class ATRIUM_EXPORT Scheduler : public HostScheduler {
 public:
  static Result<std::unique_ptr<Scheduler>> Create(SchedulerOptions options = {});
  ~Scheduler() override = default;

  // --- Main loop: HostScheduler, and ---
  // Kernel thread id (gettid) of the thread running the main loop, or of the
  // last one that ran it (or ran main-loop tasks in Shutdown); 0 when none
  // ever did. Lock-free.
  virtual pid_t main_thread_tid() const = 0;

  // --- Executors ---
  // `target` is "main" or a pool name; tasks are accounted to `bundle`.
  // kNotFound for an unknown pool.
  virtual Result<std::shared_ptr<Executor>> GetExecutor(std::string_view target,
                                                        std::string_view bundle = "") = 0;

  // --- Governance ---
  virtual void MarkStartupIdle() = 0;
  virtual Status PausePool(std::string_view pool) = 0;
  virtual Status ResumePool(std::string_view pool) = 0;
  virtual void SetBundleQuota(std::string_view bundle, int max_running) = 0;
  // Rule 4. With `wait_for_running`, blocks until `bundle`'s running tasks
  // returned (a task of the bundle calling this for itself is not waited
  // for). The container passes false when it holds its lifecycle lock (a
  // running task may be waiting for that lock) and instead keeps the
  // bundle's library mapped until each of its tasks has been destroyed.
  virtual void CancelBundle(std::string_view bundle, bool wait_for_running = true) = 0;
  // Accept tasks from `bundle` again (it was reloaded).
  virtual void ReopenBundle(std::string_view bundle) = 0;

  virtual void Shutdown() = 0;
};

}  // namespace atrium

#endif  // ATRIUM_SCHEDULER_H_
