// The scheduler: a libuv main loop and governed pools of threads, behind the
// Scheduler interface (atrium/scheduler.h has the contract and the
// governance rules).
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
// ("atrium-starter"), itself created by Create's caller: a thread inherits
// its creator's nice value and policy, and an unprivileged thread cannot
// lower its nice value again, so a pool thread never creates another
// pool's thread. The starter runs no task and is not counted in Stats.
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

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "atrium/base/log.h"
#include "atrium/log_level.h"
#include "atrium/thread_activity.h"
#include "cpu_priority.h"

namespace atrium {
namespace internal {
namespace {

using Clock = std::chrono::steady_clock;

// Lane queues, in the order a thread picks from them.
constexpr int kClassCount = 4;
constexpr int kIdleClass = 3;  // PostIdle; the others are TaskPriority values
constexpr int kBestEffortClass = static_cast<int>(TaskPriority::kBestEffort);
// Main-loop tasks run per wake-up before the loop gets to its I/O and timers.
constexpr int kMainBatch = 256;
constexpr size_t kNotActive = static_cast<size_t>(-1);
// Pauses an idle pool thread spins for before it sleeps (a few microseconds).
constexpr int kIdleSpins = 200;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct BundleState;
struct Sequence;
struct TaskQueue;

struct TaskRecord {
  Task fn;
  TaskTraits traits;
  BundleState* bundle = nullptr;
  TaskQueue* queue = nullptr;
  Sequence* sequence = nullptr;  // PostOrdered
  uint64_t seq = 0;              // posting order
  int cls = 1;                   // lane queue
  bool deferred = false;         // counted once in quota_deferrals
  Clock::time_point ready;       // posted, or due (queue wait counts from here)
  Clock::time_point due;         // delayed tasks
};
using TaskPtr = std::unique_ptr<TaskRecord>;
// Dropped or finished records, destroyed after mu_ is released: a task's
// closure may do anything when destroyed (the container's wrapper unmaps a
// bundle library).
using Graveyard = std::vector<TaskPtr>;

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
};

struct Sequence {
  std::string id;               // target '\0' key
  std::deque<TaskPtr> waiting;  // behind the one in a lane or running
};

struct Lane {
  BundleState* bundle = nullptr;
  std::deque<TaskPtr> tasks[kClassCount];
  size_t size = 0;
  size_t active_index = kNotActive;  // in TaskQueue::active
};

struct Worker {
  TaskQueue* pool = nullptr;
  int index = 0;
  std::thread thread;            // set by the starter thread
  std::condition_variable wake;  // waited on with mu_
  bool signalled = false;        // taken off the idle list by a waker
};

// The main loop's queue or a pool. Every member is guarded by mu_.
struct TaskQueue {
  std::string name;
  bool is_main = false;
  PoolConfig config;  // pools
  int nice = 0;
  bool sched_idle = false;
  bool paused = false;
  std::unordered_map<BundleState*, std::unique_ptr<Lane>> lanes;
  std::vector<Lane*> active;        // lanes with tasks
  std::vector<TaskPtr> delayed;     // min-heap on (due, seq)
  size_t pending = 0;               // accepted, not started, not dropped
  size_t queued[kClassCount] = {};  // in lanes
  int running = 0;
  int fg_running = 0;  // USER_BLOCKING / USER_VISIBLE
  int peak_running = 0;
  TaskCounters tasks;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<Worker*> idle;
  // Tasks put in lanes so far: written under mu_, read without it by a
  // thread spinning before it sleeps.
  std::atomic<uint64_t> enqueued{0};
};

bool LaterDue(const TaskPtr& a, const TaskPtr& b) {
  return a->due != b->due ? a->due > b->due : a->seq > b->seq;
}

void Account(TaskCounters* c, double wait_ms, double run_ms, bool failed) {
  ++c->run;
  if (failed) ++c->failed;
  c->queue_wait_ms_total += wait_ms;
  c->queue_wait_ms_max = std::max(c->queue_wait_ms_max, wait_ms);
  c->run_ms_total += run_ms;
  c->run_ms_max = std::max(c->run_ms_max, run_ms);
}

Error StateError(std::string message, std::string_view bundle) {
  Error e = MakeError(ErrorCode::kState, std::move(message));
  e.bundle = std::string(bundle);
  return e;
}

void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Takes `lock`'s mutex, spinning a little before sleeping on it: it is held
// for short, bounded stretches.
void LockSpinning(std::unique_lock<std::mutex>& lock) {
  for (int i = 0; i < 64; ++i) {
    if (lock.try_lock()) return;
    CpuRelax();
  }
  lock.lock();
}

// While one is alive on a thread, idle workers woken there are notified
// when it is destroyed (after the poster released mu_) rather than at once,
// so the woken thread does not run into the mutex its waker still holds.
class DeferredWakes;
thread_local DeferredWakes* tls_deferred_wakes = nullptr;
class DeferredWakes {
 public:
  DeferredWakes() : saved_(tls_deferred_wakes) { tls_deferred_wakes = this; }
  ~DeferredWakes() {
    tls_deferred_wakes = saved_;
    for (int i = 0; i < count_; ++i) cvs_[i]->notify_one();
  }
  DeferredWakes(const DeferredWakes&) = delete;
  DeferredWakes& operator=(const DeferredWakes&) = delete;
  // False when full: notify at once.
  bool Add(std::condition_variable* cv) {
    if (count_ == kMax) return false;
    cvs_[count_++] = cv;
    return true;
  }

 private:
  static constexpr int kMax = 4;
  DeferredWakes* const saved_;
  std::condition_variable* cvs_[kMax] = {};
  int count_ = 0;
};

class SchedulerCore;

// What the calling thread is doing for a scheduler.
struct ThreadContext {
  const SchedulerCore* core = nullptr;
  TaskQueue* pool = nullptr;      // a pool thread of `core`
  BundleState* bundle = nullptr;  // whose task runs now
};
thread_local ThreadContext tls_context;

enum class PostKind { kNow, kDelayed, kOrdered, kIdle };

class SchedulerCore {
 public:
  SchedulerCore(const SchedulerOptions& options, const PriorityPolicy& policy, int max_threads,
                int default_quota)
      : max_threads_(max_threads),
        default_quota_(default_quota),
        policy_(policy),
        on_thread_start_(options.on_thread_start),
        startup_idle_(!options.hold_until_idle) {
    main_.name = "main";
    main_.is_main = true;
    for (const PoolConfig& config : options.pools) {
      auto pool = std::make_unique<TaskQueue>();
      pool->name = config.name;
      pool->config = config;
      pool->nice = PlannedNice(config.cpu, policy);
      pool->sched_idle = false;
      pools_.push_back(std::move(pool));
    }
    pools_without_threads_ = static_cast<int>(pools_.size());
    for (auto& p : pools_) {
      if (p->name == "io") io_ = p.get();
    }
  }

  ~SchedulerCore() { ATRIUM_CHECK(!loop_open_, "scheduler destroyed with its loop open"); }

  Status Init() {
    if (int rc = uv_loop_init(&loop_); rc != 0) {
      return MakeError(ErrorCode::kInternal, std::string("uv_loop_init: ") + uv_strerror(rc));
    }
    uv_async_init(&loop_, &async_, &SchedulerCore::OnAsync);
    async_.data = this;
    uv_timer_init(&loop_, &delay_timer_);
    delay_timer_.data = this;
    uv_timer_init(&loop_, &timeout_timer_);
    timeout_timer_.data = this;
    loop_open_ = true;
    starter_ = std::thread([this] { StarterMain(); });
    return Status::Ok();
  }

  TaskQueue* main_queue() { return &main_; }
  TaskQueue* FindPool(std::string_view name) {
    for (auto& p : pools_) {
      if (p->name == name) return p.get();
    }
    return nullptr;
  }
  std::string PoolNames() const {
    std::string out;
    for (const auto& p : pools_) {
      if (!out.empty()) out += ", ";
      out += p->name;
    }
    return out;
  }

  // --- Posting ---

  // `b` is `bundle`'s record when the caller has it (an executor), else null.
  Status Post(TaskQueue* q, std::string_view target, std::string_view bundle, BundleState* b,
              Task task, TaskTraits traits, PostKind kind, std::chrono::milliseconds delay,
              std::string_view key) {
    if (!task) return MakeError(ErrorCode::kInvalidArgument, "empty task");
    if (traits.may_block && io_ != nullptr && !q->is_main &&
        (q->name == "urgent" || q->name == "normal")) {
      q = io_;
    }
    auto rec = std::make_unique<TaskRecord>();
    rec->fn = std::move(task);
    rec->traits = traits;
    rec->cls = kind == PostKind::kIdle ? kIdleClass : static_cast<int>(traits.priority);
    std::string sequence_id;
    if (kind == PostKind::kOrdered) {
      sequence_id.reserve(target.size() + 1 + key.size());
      sequence_id.append(target).push_back('\0');
      sequence_id.append(key);
    }
    const Clock::time_point now = Clock::now();
    rec->ready = now;
    DeferredWakes wakes;  // after `lock` is released
    std::unique_lock lock(mu_, std::defer_lock);
    LockSpinning(lock);
    if (shutting_down_) {
      return StateError("scheduler is shut down: task for '" + q->name + "' refused", bundle);
    }
    if (b == nullptr) b = BundleLocked(bundle);
    if (b->cancelled) {
      return StateError("bundle '" + b->name +
                            "' is cancelled: its tasks are refused until "
                            "ReopenBundle",
                        bundle);
    }
    if (!q->is_main && q->pending >= q->config.queue_limit) {
      Error e = MakeError(ErrorCode::kValidation, "pool '" + q->name + "' queue full (limit " +
                                                      std::to_string(q->config.queue_limit) + ")");
      e.bundle = std::string(bundle);
      return e;
    }
    rec->bundle = b;
    rec->queue = q;
    rec->seq = next_seq_++;
    ++q->pending;
    ++q->tasks.posted;
    ++b->tasks.posted;
    if (!q->is_main) ++pool_outstanding_;
    if (kind == PostKind::kDelayed && delay.count() > 0) {
      rec->due = now + delay;
      rec->ready = rec->due;
      PushDelayedLocked(std::move(rec));
    } else if (kind == PostKind::kOrdered) {
      auto [it, inserted] = sequences_.try_emplace(std::move(sequence_id));
      if (inserted) {
        it->second = std::make_unique<Sequence>();
        it->second->id = it->first;
      }
      rec->sequence = it->second.get();
      if (inserted) {
        EnqueueLocked(std::move(rec));
      } else {
        it->second->waiting.push_back(std::move(rec));
      }
    } else {
      EnqueueLocked(std::move(rec));
    }
    return Status::Ok();
  }

  // The record of `bundle`, created on first use; it lives as long as the core.
  BundleState* Bundle(std::string_view bundle) {
    std::lock_guard lock(mu_);
    return BundleLocked(bundle);
  }

  // --- Main loop ---

  bool IsMainThread() const { return loop_thread_.load() == std::this_thread::get_id(); }

  // done == nullptr: RunMainLoop.
  bool RunLoop(const std::function<bool()>* done,
               std::optional<std::chrono::milliseconds> timeout) {
    {
      std::lock_guard lock(mu_);
      ATRIUM_CHECK(!loop_running_, "RunMainLoop* called while the main loop runs");
      ATRIUM_CHECK(tls_context.core != this || tls_context.pool == nullptr,
                   "RunMainLoop* called from a pool thread");
      if (shutting_down_) return false;
      loop_running_ = true;
      loop_thread_.store(std::this_thread::get_id());
    }
    SetCurrentThreadName("main");
    const pid_t tid = gettid();
    main_tid_.store(tid, std::memory_order_release);
    errno = 0;
    const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    main_nice_.store(errno == 0 ? nice : 0);
    done_ = done;
    if (done == nullptr || !(*done)()) {
      if (timeout) {
        uv_update_time(&loop_);
        uv_timer_start(&timeout_timer_, &SchedulerCore::OnTimeout,
                       static_cast<uint64_t>(std::max<int64_t>(0, timeout->count())), 0);
      }
      uv_async_send(&async_);  // the first wake-up runs what was posted before
      uv_run(&loop_, UV_RUN_DEFAULT);
      uv_timer_stop(&timeout_timer_);
    }
    done_ = nullptr;
    bool close = false;
    {
      std::lock_guard lock(mu_);
      loop_running_ = false;
      loop_thread_.store(std::thread::id());
      close = close_on_loop_exit_;
      close_on_loop_exit_ = false;
      state_cv_.notify_all();
    }
    if (close) CloseLoop();
    return done == nullptr || (*done)();
  }

  void QuitMainLoop() {
    quit_.store(true);
    std::lock_guard lock(mu_);
    WakeMainLocked();
  }

  // --- Governance ---

  void MarkStartupIdle() {
    std::lock_guard lock(mu_);
    if (startup_idle_) return;
    startup_idle_ = true;
    for (auto& p : pools_) EnsureWorkersLocked(p.get());
    WakeMainLocked();
  }
  bool startup_idle() const {
    std::lock_guard lock(mu_);
    return startup_idle_;
  }

  Status SetPaused(std::string_view pool, bool paused) {
    std::lock_guard lock(mu_);
    TaskQueue* q = FindPool(pool);
    if (q == nullptr) {
      return MakeError(pool == "main" ? ErrorCode::kInvalidArgument : ErrorCode::kNotFound,
                       pool == "main" ? "the main loop cannot be paused"
                                      : "no pool '" + std::string(pool) + "'");
    }
    q->paused = paused;
    if (!paused) EnsureWorkersLocked(q);
    return Status::Ok();
  }

  void SetBundleQuota(std::string_view bundle, int max_running) {
    std::lock_guard lock(mu_);
    BundleState* b = BundleLocked(bundle);
    b->quota = std::max(0, max_running);
    for (auto& p : pools_) {
      auto it = p->lanes.find(b);
      if (it != p->lanes.end() && it->second->size > 0) EnsureWorkersLocked(p.get());
    }
  }

  void CancelBundle(std::string_view bundle, bool wait_for_running) {
    std::unique_lock lock(mu_);
    BundleState* b = BundleLocked(bundle);
    b->cancelled = true;
    auto of_bundle = [b](const TaskRecord& t) { return t.bundle == b; };
    Graveyard graveyard;
    // Waiting sequence members first, so that dropping a sequence's head
    // does not queue the next task of the bundle.
    std::vector<TaskPtr> waiting, queued;
    for (auto& [id, s] : sequences_) TakeIf(&s->waiting, of_bundle, &waiting);
    for (TaskQueue* q : AllQueues()) {
      auto it = q->lanes.find(b);
      if (it != q->lanes.end()) TakeFromLaneLocked(q, it->second.get(), of_bundle, &queued);
      TakeDelayedLocked(q, of_bundle, &queued);
    }
    for (TaskPtr& t : waiting) DropLocked(std::move(t), &graveyard, /*advance=*/false);
    for (TaskPtr& t : queued) DropLocked(std::move(t), &graveyard, /*advance=*/true);
    lock.unlock();
    graveyard.clear();
    if (!wait_for_running) return;
    lock.lock();
    const int self = tls_context.core == this && tls_context.bundle == b ? 1 : 0;
    state_cv_.wait(lock, [&] { return b->running <= self; });
  }

  void ReopenBundle(std::string_view bundle) {
    std::lock_guard lock(mu_);
    BundleLocked(bundle)->cancelled = false;
  }

  SchedulerStats Stats() const {
    std::lock_guard lock(mu_);
    SchedulerStats s;
    s.threads = threads_started_;
    s.peak_threads = threads_started_;  // pool threads live until Shutdown
    s.max_threads = max_threads_;
    s.startup_idle = startup_idle_;
    s.priority_policy = policy_.description;
    s.pools.push_back(QueueStatsLocked(main_));
    for (const auto& p : pools_) s.pools.push_back(QueueStatsLocked(*p));
    for (const auto& [name, b] : bundles_) {
      BundleTaskStats bs;
      bs.bundle = name;
      bs.quota = b->quota;
      bs.running = b->running;
      bs.peak_running = b->peak_running;
      bs.quota_deferrals = b->quota_deferrals;
      bs.tasks = b->tasks;
      s.bundles.push_back(std::move(bs));
    }
    return s;
  }

  const std::string& priority_policy() const { return policy_.description; }

  // --- Shutdown ---

  void Shutdown() {
    std::unique_lock lock(mu_);
    ATRIUM_CHECK(tls_context.core != this || tls_context.pool == nullptr,
                 "Scheduler::Shutdown called from one of its pool threads");
    const bool on_loop = loop_running_ && IsMainThread();
    if (shutting_down_) {
      if (!on_loop) state_cv_.wait(lock, [&] { return shutdown_done_; });
      return;
    }
    shutting_down_ = true;
    Graveyard graveyard;
    DropForShutdownLocked(&graveyard);
    for (auto& p : pools_) EnsureWorkersLocked(p.get());
    WakeMainLocked();
    lock.unlock();
    graveyard.clear();
    lock.lock();
    if (!on_loop) {
      // The loop runs its remaining tasks before it stops; when no loop
      // runs, they run here.
      state_cv_.wait(lock, [&] { return !loop_running_; });
      loop_thread_.store(std::this_thread::get_id());
      if (main_.pending > 0) main_tid_.store(gettid(), std::memory_order_release);
      while (TaskPtr rec = PickLocked(&main_)) {
        RunTaskLocked(&main_, std::move(rec), lock, &graveyard);
        lock.unlock();
        graveyard.clear();
        lock.lock();
      }
      loop_thread_.store(std::thread::id());
    }
    state_cv_.wait(lock, [&] { return pool_outstanding_ == 0; });
    stop_threads_ = true;
    for (auto& p : pools_) {
      while (!p->idle.empty()) SignalIdleWorkerLocked(p.get());
    }
    starter_cv_.notify_all();
    lock.unlock();
    starter_.join();
    // No worker is added once stop_threads_ is set and the starter is done.
    for (auto& p : pools_) {
      for (auto& w : p->workers) {
        if (w->thread.joinable()) w->thread.join();
      }
    }
    lock.lock();
    if (on_loop) {
      close_on_loop_exit_ = true;
    } else {
      lock.unlock();
      CloseLoop();
      lock.lock();
    }
    shutdown_done_ = true;
    state_cv_.notify_all();
  }

  bool loop_open() const {
    std::lock_guard lock(mu_);
    return loop_open_;
  }

  int64_t MainTaskRunningSinceNs() const {
    return main_task_since_ns_.load(std::memory_order_acquire);
  }
  pid_t main_thread_tid() const { return main_tid_.load(std::memory_order_acquire); }

 private:
  std::vector<TaskQueue*> AllQueues() {
    std::vector<TaskQueue*> all{&main_};
    for (auto& p : pools_) all.push_back(p.get());
    return all;
  }

  BundleState* BundleLocked(std::string_view name) {
    auto it = bundles_.find(name);
    if (it == bundles_.end()) {
      // The host ("") has no default quota: it is the app itself.
      it =
          bundles_
              .emplace(std::string(name), std::make_unique<BundleState>(
                                              std::string(name), name.empty() ? 0 : default_quota_))
              .first;
    }
    return it->second.get();
  }

  static bool UnderQuota(const BundleState& b) { return b.quota == 0 || b.pool_running < b.quota; }

  // Whether tasks of lane queue `cls` may start in `q` now (quota aside).
  bool ClassEligibleLocked(const TaskQueue& q, int cls) const {
    if (shutting_down_) return true;  // what is left blocks shutdown
    if (q.paused) return false;
    if (!startup_idle_ && (q.config.held_until_idle || cls >= kBestEffortClass)) {
      return false;
    }
    if (cls == kIdleClass) {
      return q.queued[0] == 0 && q.queued[1] == 0 && q.fg_running == 0;
    }
    return true;
  }

  size_t HeldLocked(const TaskQueue& q) const {
    if (startup_idle_ || shutting_down_) return 0;
    size_t held = q.queued[kBestEffortClass] + q.queued[kIdleClass];
    if (q.config.held_until_idle) held += q.queued[0] + q.queued[1];
    return held;
  }

  Lane* LaneLocked(TaskQueue* q, BundleState* b) {
    std::unique_ptr<Lane>& lane = q->lanes[b];
    if (!lane) {
      lane = std::make_unique<Lane>();
      lane->bundle = b;
    }
    return lane.get();
  }

  void DeactivateIfEmptyLocked(TaskQueue* q, Lane* lane) {
    if (lane->size != 0 || lane->active_index == kNotActive) return;
    Lane* last = q->active.back();
    q->active[lane->active_index] = last;
    last->active_index = lane->active_index;
    q->active.pop_back();
    lane->active_index = kNotActive;
  }

  // Puts a ready task in its lane and wakes what can run it.
  void EnqueueLocked(TaskPtr rec) {
    TaskQueue* q = rec->queue;
    Lane* lane = LaneLocked(q, rec->bundle);
    const int cls = rec->cls;
    BundleState* b = rec->bundle;
    const bool under_quota = q->is_main || UnderQuota(*b);
    if (!under_quota && !rec->deferred) {
      rec->deferred = true;
      ++b->quota_deferrals;
    }
    lane->tasks[cls].push_back(std::move(rec));
    q->enqueued.fetch_add(1, std::memory_order_relaxed);
    ++lane->size;
    ++q->queued[cls];
    if (lane->active_index == kNotActive) {
      lane->active_index = q->active.size();
      q->active.push_back(lane);
    }
    if (q->is_main) {
      WakeMainLocked();
    } else if (under_quota && ClassEligibleLocked(*q, cls)) {
      WakeWorkerLocked(q);
    }
  }

  void PushDelayedLocked(TaskPtr rec) {
    TaskQueue* q = rec->queue;
    const bool earliest = q->delayed.empty() || LaterDue(q->delayed.front(), rec);
    q->delayed.push_back(std::move(rec));
    std::push_heap(q->delayed.begin(), q->delayed.end(), &LaterDue);
    if (q->is_main) {
      WakeMainLocked();  // re-arms the loop's timer
    } else if (earliest) {
      // An idle thread re-computes its deadline; with none, a new thread
      // waits for the due time (a pool's first thread is always allowed).
      WakeWorkerLocked(q);
    }
  }

  void PromoteDueLocked(TaskQueue* q, Clock::time_point now) {
    while (!q->delayed.empty() && q->delayed.front()->due <= now) {
      std::pop_heap(q->delayed.begin(), q->delayed.end(), &LaterDue);
      TaskPtr rec = std::move(q->delayed.back());
      q->delayed.pop_back();
      EnqueueLocked(std::move(rec));
    }
  }

  // The next task to run in `q`, or null.
  TaskPtr PickLocked(TaskQueue* q) {
    bool eligible[kClassCount];
    bool any = false;
    for (int c = 0; c < kClassCount; ++c) any |= eligible[c] = ClassEligibleLocked(*q, c);
    if (!any) return nullptr;
    Lane* best = nullptr;
    int best_cls = kClassCount;
    uint64_t best_seq = 0;
    for (Lane* lane : q->active) {
      int cls = 0;
      while (cls < kClassCount && (!eligible[cls] || lane->tasks[cls].empty())) ++cls;
      if (cls == kClassCount) continue;
      TaskRecord* head = lane->tasks[cls].front().get();
      if (!q->is_main && !UnderQuota(*lane->bundle)) {
        if (!head->deferred) {
          head->deferred = true;
          ++lane->bundle->quota_deferrals;
        }
        continue;
      }
      if (cls > best_cls) continue;
      if (cls < best_cls || head->seq < best_seq) {
        best = lane;
        best_cls = cls;
        best_seq = head->seq;
      }
    }
    if (best == nullptr) return nullptr;
    TaskPtr rec = std::move(best->tasks[best_cls].front());
    best->tasks[best_cls].pop_front();
    --best->size;
    --q->queued[best_cls];
    DeactivateIfEmptyLocked(q, best);
    return rec;
  }

  // Runs `rec` with mu_ released (`lock` holds it on entry and on return),
  // then accounts for it and queues its sequence's next task.
  void RunTaskLocked(TaskQueue* q, TaskPtr rec, std::unique_lock<std::mutex>& lock,
                     Graveyard* graveyard) {
    BundleState* b = rec->bundle;
    const bool fg = rec->cls < kBestEffortClass;
    const Clock::time_point start = Clock::now();
    const double wait_ms = std::max(0.0, Ms(start - rec->ready));
    --q->pending;
    q->peak_running = std::max(q->peak_running, ++q->running);
    if (fg) ++q->fg_running;
    b->peak_running = std::max(b->peak_running, ++b->running);
    if (!q->is_main) ++b->pool_running;
    Task fn = std::move(rec->fn);
    lock.unlock();
    if (q->is_main) {
      main_task_since_ns_.store(
          std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count(),
          std::memory_order_release);
    }
    bool failed = false;
    {
      ActivityScope scope(ActivityField::kBundle, b->name);
      const ThreadContext saved = tls_context;
      tls_context.core = this;
      tls_context.bundle = b;
      try {
        fn();
      } catch (const std::exception& e) {
        failed = true;
        Log(LogLevel::kError, b->name,
            "task on '" + q->name + "' threw: " + e.what() + " (swallowed)");
      } catch (...) {
        failed = true;
        Log(LogLevel::kError, b->name,
            "task on '" + q->name + "' threw a non-std exception (swallowed)");
      }
      fn = nullptr;  // the closure dies outside mu_
      tls_context = saved;
    }
    if (q->is_main) main_task_since_ns_.store(0, std::memory_order_release);
    const double run_ms = Ms(Clock::now() - start);
    LockSpinning(lock);
    Account(&q->tasks, wait_ms, run_ms, failed);
    Account(&b->tasks, wait_ms, run_ms, failed);
    --q->running;
    if (fg) --q->fg_running;
    --b->running;
    if (!q->is_main) {
      --b->pool_running;
      if (b->quota > 0 && b->pool_running == b->quota - 1) WakePoolsForBundleLocked(b, q);
      if (--pool_outstanding_ == 0 && shutting_down_) state_cv_.notify_all();
    }
    if (b->cancelled) state_cv_.notify_all();
    if (rec->sequence != nullptr) AdvanceSequenceLocked(rec->sequence, graveyard);
  }

  // Queues the next waiting task of `s`, or retires `s`.
  void AdvanceSequenceLocked(Sequence* s, Graveyard* graveyard) {
    while (!s->waiting.empty()) {
      TaskPtr next = std::move(s->waiting.front());
      s->waiting.pop_front();
      if (next->bundle->cancelled ||
          (shutting_down_ && next->traits.shutdown != ShutdownBehavior::kBlockShutdown)) {
        DropLocked(std::move(next), graveyard, /*advance=*/false);
        continue;
      }
      EnqueueLocked(std::move(next));
      return;
    }
    sequences_.erase(s->id);
  }

  // Accounts a task that will not run. `advance`: it was its sequence's
  // head (in a lane), so the sequence moves on.
  void DropLocked(TaskPtr rec, Graveyard* graveyard, bool advance) {
    TaskQueue* q = rec->queue;
    --q->pending;
    ++q->tasks.cancelled;
    ++rec->bundle->tasks.cancelled;
    if (!q->is_main && --pool_outstanding_ == 0 && shutting_down_) state_cv_.notify_all();
    Sequence* s = advance ? rec->sequence : nullptr;
    graveyard->push_back(std::move(rec));
    if (s != nullptr) AdvanceSequenceLocked(s, graveyard);
  }

  template <typename Pred>
  static void TakeIf(std::deque<TaskPtr>* from, const Pred& pred, std::vector<TaskPtr>* out) {
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

  template <typename Pred>
  void TakeFromLaneLocked(TaskQueue* q, Lane* lane, const Pred& pred, std::vector<TaskPtr>* out) {
    for (int c = 0; c < kClassCount; ++c) {
      const size_t before = out->size();
      TakeIf(&lane->tasks[c], pred, out);
      const size_t taken = out->size() - before;
      lane->size -= taken;
      q->queued[c] -= taken;
    }
    DeactivateIfEmptyLocked(q, lane);
  }

  template <typename Pred>
  void TakeDelayedLocked(TaskQueue* q, const Pred& pred, std::vector<TaskPtr>* out) {
    auto split = std::partition(q->delayed.begin(), q->delayed.end(),
                                [&](const TaskPtr& t) { return !pred(*t); });
    for (auto it = split; it != q->delayed.end(); ++it) out->push_back(std::move(*it));
    q->delayed.erase(split, q->delayed.end());
    std::make_heap(q->delayed.begin(), q->delayed.end(), &LaterDue);
  }

  void DropForShutdownLocked(Graveyard* graveyard) {
    auto skippable = [](const TaskRecord& t) {
      return t.traits.shutdown != ShutdownBehavior::kBlockShutdown;
    };
    std::vector<TaskPtr> waiting, queued, due_now;
    for (auto& [id, s] : sequences_) TakeIf(&s->waiting, skippable, &waiting);
    for (TaskQueue* q : AllQueues()) {
      for (Lane* lane : std::vector<Lane*>(q->active)) {
        TakeFromLaneLocked(q, lane, skippable, &queued);
      }
      TakeDelayedLocked(
          q, [](const TaskRecord&) { return true; }, &due_now);
    }
    for (TaskPtr& t : waiting) DropLocked(std::move(t), graveyard, /*advance=*/false);
    for (TaskPtr& t : queued) DropLocked(std::move(t), graveyard, /*advance=*/true);
    for (TaskPtr& t : due_now) {
      if (skippable(*t)) {
        DropLocked(std::move(t), graveyard, /*advance=*/false);
      } else {
        EnqueueLocked(std::move(t));
      }
    }
  }

  // --- Threads ---

  bool CanStartWorkerLocked(const TaskQueue& q) const {
    if (stop_threads_) return false;
    const int started = static_cast<int>(q.workers.size());
    if (started >= q.config.threads) return false;
    if (started == 0) return true;  // every pool is guaranteed one
    // Leave one for each pool that has none yet.
    return threads_started_ + pools_without_threads_ < max_threads_;
  }

  void StartWorkerLocked(TaskQueue* q) {
    auto w = std::make_unique<Worker>();
    w->pool = q;
    w->index = static_cast<int>(q->workers.size());
    if (q->workers.empty()) --pools_without_threads_;
    ++threads_started_;
    starter_queue_.push_back(w.get());
    q->workers.push_back(std::move(w));
    starter_cv_.notify_one();
  }

  void SignalIdleWorkerLocked(TaskQueue* q) {
    Worker* w = q->idle.back();
    q->idle.pop_back();
    w->signalled = true;
    // Workers live until the core is destroyed, so a late notify is safe.
    if (tls_deferred_wakes == nullptr || !tls_deferred_wakes->Add(&w->wake)) w->wake.notify_one();
  }

  // One more task of `q` may run: an idle thread takes it, else a new one.
  void WakeWorkerLocked(TaskQueue* q) {
    if (!q->idle.empty()) {
      SignalIdleWorkerLocked(q);
    } else if (CanStartWorkerLocked(*q)) {
      StartWorkerLocked(q);
    }
  }

  // Many tasks of `q` may have become runnable.
  void EnsureWorkersLocked(TaskQueue* q) {
    while (!q->idle.empty()) SignalIdleWorkerLocked(q);
    const size_t want = std::min(q->pending, static_cast<size_t>(q->config.threads));
    while (q->workers.size() < want && CanStartWorkerLocked(*q)) StartWorkerLocked(q);
  }

  // `b` dropped below its quota: its tasks waiting in other pools may run.
  void WakePoolsForBundleLocked(BundleState* b, TaskQueue* except) {
    for (auto& p : pools_) {
      if (p.get() == except) continue;
      auto it = p->lanes.find(b);
      if (it != p->lanes.end() && it->second->size > 0) WakeWorkerLocked(p.get());
    }
  }

  void StarterMain() {
    pthread_setname_np(pthread_self(), "atrium-starter");
    std::unique_lock lock(mu_);
    for (;;) {
      starter_cv_.wait(lock, [&] { return !starter_queue_.empty() || stop_threads_; });
      if (starter_queue_.empty()) return;
      Worker* w = starter_queue_.front();
      starter_queue_.pop_front();
      lock.unlock();
      std::thread t([this, w] { WorkerMain(w); });
      lock.lock();
      w->thread = std::move(t);
    }
  }

  void WorkerMain(Worker* w) {
    TaskQueue* q = w->pool;
    // q->name and q->config are immutable after Create.
    SetCurrentThreadName(q->name + "-" + std::to_string(w->index));
    if (on_thread_start_) on_thread_start_();
    int nice;
    {
      std::lock_guard lock(mu_);
      nice = q->nice;
    }
    const AppliedPriority applied = ApplyCpuPriorityToCurrentThread(q->config.cpu, nice);
    tls_context.core = this;
    tls_context.pool = q;
    std::unique_lock lock(mu_);
    q->nice = applied.nice;
    q->sched_idle = applied.sched_idle;
    Graveyard graveyard;
    bool spun = false;
    while (!stop_threads_) {
      PromoteDueLocked(q, Clock::now());
      if (TaskPtr rec = PickLocked(q)) {
        RunTaskLocked(q, std::move(rec), lock, &graveyard);
        if (!graveyard.empty()) {
          lock.unlock();
          graveyard.clear();
          lock.lock();
        }
        spun = false;
        continue;
      }
      if (!spun) {
        // Under a stream of short tasks the next one usually comes within
        // microseconds: watch for it briefly before sleeping (and being
        // woken, two system calls).
        spun = true;
        const uint64_t seen = q->enqueued.load(std::memory_order_relaxed);
        lock.unlock();
        for (int i = 0; i < kIdleSpins; ++i) {
          if (q->enqueued.load(std::memory_order_relaxed) != seen) break;
          CpuRelax();
        }
        LockSpinning(lock);
        continue;
      }
      spun = false;
      w->signalled = false;
      q->idle.push_back(w);
      if (q->delayed.empty()) {
        w->wake.wait(lock);
      } else {
        const Clock::time_point due = q->delayed.front()->due;
        w->wake.wait_until(lock, due);
      }
      if (!w->signalled) q->idle.erase(std::find(q->idle.begin(), q->idle.end(), w));
    }
    tls_context = ThreadContext();
  }

  // --- Main loop internals (loop thread) ---

  void WakeMainLocked() {
    if (loop_open_ && !closing_) uv_async_send(&async_);
  }

  bool StopRequested() {
    if (quit_.exchange(false)) return true;
    return done_ != nullptr && (*done_)();
  }

  void OnLoopWakeup() {
    std::unique_lock lock(mu_);
    Graveyard graveyard;
    bool stop = false;
    bool drained = false;
    for (int n = 0; !stop; ++n) {
      if (n == kMainBatch) {
        WakeMainLocked();  // more next iteration, after I/O and timers
        break;
      }
      PromoteDueLocked(&main_, Clock::now());
      TaskPtr rec = PickLocked(&main_);
      if (!rec) {
        drained = true;
        break;
      }
      RunTaskLocked(&main_, std::move(rec), lock, &graveyard);
      lock.unlock();
      graveyard.clear();
      stop = StopRequested();
      lock.lock();
    }
    if (main_.delayed.empty()) {
      uv_timer_stop(&delay_timer_);
    } else {
      const double ms = std::ceil(Ms(main_.delayed.front()->due - Clock::now()));
      uv_update_time(&loop_);
      uv_timer_start(&delay_timer_, &SchedulerCore::OnDelayTimer,
                     static_cast<uint64_t>(std::max(0.0, ms)), 0);
    }
    if (shutting_down_ && drained) stop = true;
    lock.unlock();
    if (!stop) stop = StopRequested();
    if (stop) uv_stop(&loop_);
  }

  static void OnAsync(uv_async_t* handle) {
    static_cast<SchedulerCore*>(handle->data)->OnLoopWakeup();
  }
  static void OnDelayTimer(uv_timer_t* handle) {
    static_cast<SchedulerCore*>(handle->data)->OnLoopWakeup();
  }
  static void OnTimeout(uv_timer_t* handle) { uv_stop(handle->loop); }

  // On the thread that owns the loop now (no loop runs).
  void CloseLoop() {
    {
      std::lock_guard lock(mu_);
      if (!loop_open_ || closing_) return;
      closing_ = true;  // no uv_async_send from now on
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&delay_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&timeout_timer_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);  // runs the close callbacks
    const int rc = uv_loop_close(&loop_);
    ATRIUM_CHECK(rc == 0, "uv_loop_close: a handle is still open");
    std::lock_guard lock(mu_);
    loop_open_ = false;
  }

  PoolStats QueueStatsLocked(const TaskQueue& q) const {
    PoolStats s;
    s.name = q.name;
    if (q.is_main) {
      s.cpu = CpuPriority::kNormal;
      s.nice = main_nice_.load();
      s.policy = "SCHED_OTHER";
      s.max_threads = 1;
      s.threads = 1;
    } else {
      s.cpu = q.config.cpu;
      s.nice = q.nice;
      s.policy = q.sched_idle ? "SCHED_IDLE" : "SCHED_OTHER";
      s.max_threads = q.config.threads;
      s.threads = static_cast<int>(q.workers.size());
      s.idle_threads = static_cast<int>(q.idle.size());
      s.held_until_idle = q.config.held_until_idle;
    }
    s.peak_running = q.peak_running;
    s.queued = q.pending;
    s.held = HeldLocked(q);
    s.running = q.running;
    s.paused = q.paused;
    s.tasks = q.tasks;
    return s;
  }

  const int max_threads_;
  const int default_quota_;
  const PriorityPolicy policy_;
  const std::function<void()> on_thread_start_;

  mutable std::mutex mu_;
  std::condition_variable state_cv_;    // loop_running_, pool_outstanding_, running counts
  std::condition_variable starter_cv_;  // starter_queue_, stop_threads_
  TaskQueue main_;                      // guarded by mu_
  std::vector<std::unique_ptr<TaskQueue>> pools_;  // elements guarded by mu_
  TaskQueue* io_ = nullptr;                        // immutable after construction
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
  std::thread starter_;

  // Main loop. The uv objects: see the file comment.
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

class ExecutorImpl final : public Executor {
 public:
  ExecutorImpl(std::shared_ptr<SchedulerCore> core, TaskQueue* queue, std::string bundle)
      : core_(std::move(core)),
        queue_(queue),
        target_(queue->name),
        bundle_(std::move(bundle)),
        record_(core_->Bundle(bundle_)) {}

  std::string_view target() const override { return target_; }
  Status Post(Task task, TaskTraits traits) override {
    return core_->Post(queue_, target_, bundle_, record_, std::move(task), traits, PostKind::kNow,
                       {}, {});
  }
  Status PostDelayed(Task task, std::chrono::milliseconds delay, TaskTraits traits) override {
    return core_->Post(queue_, target_, bundle_, record_, std::move(task), traits,
                       PostKind::kDelayed, delay, {});
  }
  Status PostOrdered(std::string_view key, Task task, TaskTraits traits) override {
    return core_->Post(queue_, target_, bundle_, record_, std::move(task), traits,
                       PostKind::kOrdered, {}, key);
  }
  Status PostIdle(Task task) override {
    return core_->Post(queue_, target_, bundle_, record_, std::move(task), TaskTraits{},
                       PostKind::kIdle, {}, {});
  }

 private:
  const std::shared_ptr<SchedulerCore> core_;
  TaskQueue* const queue_;  // owned by core_
  const std::string target_;
  const std::string bundle_;
  BundleState* const record_;  // owned by core_
};

class SchedulerImpl final : public Scheduler {
 public:
  explicit SchedulerImpl(std::shared_ptr<SchedulerCore> core) : core_(std::move(core)) {}
  ~SchedulerImpl() override {
    Shutdown();
    ATRIUM_CHECK(!core_->loop_open(), "Scheduler destroyed by a task of its own main loop");
  }

  bool IsMainThread() const override { return core_->IsMainThread(); }
  Status PostMain(Task task, std::string_view bundle, TaskTraits traits) override {
    return core_->Post(core_->main_queue(), "main", bundle, nullptr, std::move(task), traits,
                       PostKind::kNow, {}, {});
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
    TaskQueue* q = target == "main" ? core_->main_queue() : core_->FindPool(target);
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

 private:
  const std::shared_ptr<SchedulerCore> core_;
};

bool IsValidPoolName(std::string_view name) {
  if (name.empty() || name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Error OptionError(size_t index, std::string message) {
  Error e = MakeError(ErrorCode::kInvalidArgument, std::move(message));
  e.pointer = "/pools/" + std::to_string(index);
  return e;
}

Status ValidateOptions(const SchedulerOptions& options) {
  for (size_t i = 0; i < options.pools.size(); ++i) {
    const PoolConfig& p = options.pools[i];
    if (!IsValidPoolName(p.name)) {
      return OptionError(i, "pool '" + p.name + "': name must match [a-z][a-z0-9_-]*");
    }
    if (p.name == "main") {
      return OptionError(i, "pool 'main': the name is reserved for the main loop");
    }
    for (size_t j = 0; j < i; ++j) {
      if (options.pools[j].name == p.name) {
        return OptionError(i, "pool '" + p.name + "' is defined twice (pools " + std::to_string(j) +
                                  " and " + std::to_string(i) + ")");
      }
    }
    if (p.threads < 1) {
      return OptionError(
          i, "pool '" + p.name + "': threads must be >= 1 (got " + std::to_string(p.threads) + ")");
    }
    if (p.queue_limit < 1) {
      return OptionError(i, "pool '" + p.name + "': queue_limit must be >= 1");
    }
  }
  const int pools = static_cast<int>(options.pools.size());
  if (options.max_threads < 0 || (options.max_threads > 0 && options.max_threads < pools)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "max_threads " + std::to_string(options.max_threads) +
                         " is below the number of pools (" + std::to_string(pools) +
                         "): every pool needs at least one thread");
  }
  if (options.bundle_quota < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "bundle_quota must be >= 0 (got " +
                                                      std::to_string(options.bundle_quota) + ")");
  }
  return Status::Ok();
}

}  // namespace
}  // namespace internal

const char* CpuPriorityName(CpuPriority p) {
  switch (p) {
    case CpuPriority::kHigh:
      return "high";
    case CpuPriority::kNormal:
      return "normal";
    case CpuPriority::kLow:
      return "low";
    case CpuPriority::kIdle:
      return "idle";
  }
  return "?";
}

int UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

std::vector<PoolConfig> DefaultPools(int cores) {
  cores = std::max(1, cores);
  std::vector<PoolConfig> pools(5);
  pools[0].name = "urgent";
  pools[0].threads = cores;
  pools[0].cpu = CpuPriority::kHigh;
  pools[1].name = "normal";
  pools[1].threads = cores;
  pools[2].name = "io";
  pools[2].threads = std::max(4, 2 * cores);
  pools[3].name = "net";
  pools[3].threads = std::max(2, cores);
  pools[4].name = "background";
  pools[4].threads = std::max(1, cores / 2);
  pools[4].cpu = CpuPriority::kIdle;
  pools[4].held_until_idle = true;
  return pools;
}

Result<std::unique_ptr<Scheduler>> Scheduler::Create(SchedulerOptions options) {
  const int cores = UsableCores();
  if (options.pools.empty()) options.pools = DefaultPools(cores);
  if (Status st = internal::ValidateOptions(options); !st.ok()) return st.error();
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
  auto core = std::make_shared<internal::SchedulerCore>(options, policy, max_threads, quota);
  if (Status st = core->Init(); !st.ok()) return st.error();
  return std::unique_ptr<Scheduler>(std::make_unique<internal::SchedulerImpl>(std::move(core)));
}

}  // namespace atrium
