// SchedulerCore: posting, governance, running a task, sequences,
// cancellation, stats and shutdown (scheduler_core.h; the design is in
// scheduler.cc's file comment).
#include "scheduler_core.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <exception>
#include <utility>

#include "atrium/base/log.h"
#include "atrium/log_level.h"
#include "atrium/thread_activity.h"

namespace atrium::internal::sched {
namespace {

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

}  // namespace

thread_local ThreadContext tls_context;

void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

void LockSpinning(std::unique_lock<std::mutex>& lock) {
  for (int i = 0; i < 64; ++i) {
    if (lock.try_lock()) return;
    CpuRelax();
  }
  lock.lock();
}

SchedulerCore::SchedulerCore(const SchedulerOptions& options, const PriorityPolicy& policy,
                             int max_threads, int default_quota)
    : max_threads_(max_threads),
      default_quota_(default_quota),
      policy_(policy),
      on_thread_start_(options.on_thread_start),
      main_("main", /*is_main=*/true),
      startup_idle_(!options.hold_until_idle) {
  for (const PoolConfig& config : options.pools) {
    auto pool = std::make_unique<Pool>(config);
    pool->queue.pool_index = static_cast<int>(pools_.size());
    pool->nice = PlannedNice(config.cpu, policy);
    if (config.name == "io") io_ = pool.get();
    pools_.push_back(std::move(pool));
  }
  pools_without_threads_ = static_cast<int>(pools_.size());
}

SchedulerCore::~SchedulerCore() {
  ATRIUM_CHECK(!loop_open_, "scheduler destroyed with its loop open");
}

Status SchedulerCore::Init() {
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
  // What the starter (and so every pool thread) takes from Create's caller.
  creator_nice_ = CurrentThreadNice();
  pthread_sigmask(SIG_SETMASK, nullptr, &creator_sigmask_);
  creator_has_affinity_ = sched_getaffinity(0, sizeof creator_affinity_, &creator_affinity_) == 0;
  // With the privilege to lower nice, the starter is made when the first
  // pool thread is wanted (StartWorkerLocked) and resets itself to the
  // caller's nice value; without it, a starter made by a less urgent thread
  // could not, so it is made now, by the caller.
  if (!MayRaisePriority()) {
    std::lock_guard lock(mu_);
    MakeStarterLocked();
  }
  return Status::Ok();
}

TaskQueue* SchedulerCore::FindPool(std::string_view name) {
  for (auto& p : pools_) {
    if (p->queue.name() == name) return &p->queue;
  }
  return nullptr;
}

std::string SchedulerCore::PoolNames() const {
  std::string out;
  for (const auto& p : pools_) {
    if (!out.empty()) out += ", ";
    out += p->queue.name();
  }
  return out;
}

// --- Posting ---

Status SchedulerCore::Post(TaskQueue* q, std::string_view target, std::string_view bundle,
                           BundleState* b, Task task, TaskTraits traits, PostKind kind,
                           std::chrono::milliseconds delay, std::string_view key) {
  if (!task) return MakeError(ErrorCode::kInvalidArgument, "empty task");
  if (traits.may_block && io_ != nullptr && !q->is_main() &&
      (q->name() == "urgent" || q->name() == "normal")) {
    q = &io_->queue;
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
  const SteadyClock::time_point now = Now();
  rec->ready = now;
  DeferredWakes wakes;  // after `lock` is released
  std::unique_lock lock(mu_, std::defer_lock);
  LockSpinning(lock);
  if (shutting_down_) {
    return StateError("scheduler is shut down: task for '" + q->name() + "' refused", bundle);
  }
  if (b == nullptr) b = BundleLocked(bundle);
  if (b->cancelled) {
    return StateError("bundle '" + b->name +
                          "' is cancelled: its tasks are refused until "
                          "ReopenBundle",
                      bundle);
  }
  if (!q->is_main() && q->pending >= q->config().queue_limit) {
    Error e = MakeError(ErrorCode::kValidation, "pool '" + q->name() + "' queue full (limit " +
                                                    std::to_string(q->config().queue_limit) + ")");
    e.bundle = std::string(bundle);
    return e;
  }
  rec->bundle = b;
  rec->queue = q;
  rec->seq = next_seq_++;
  ++q->pending;
  ++q->tasks.posted;
  ++b->tasks.posted;
  if (!q->is_main()) ++pool_outstanding_;
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

BundleState* SchedulerCore::Bundle(std::string_view bundle) {
  std::lock_guard lock(mu_);
  return BundleLocked(bundle);
}

BundleState* SchedulerCore::BundleLocked(std::string_view name) {
  auto it = bundles_.find(name);
  if (it == bundles_.end()) {
    // The host ("") has no default quota: it is the app itself.
    const int quota = name.empty() ? 0 : default_quota_;
    it =
        bundles_.emplace(std::string(name), std::make_unique<BundleState>(std::string(name), quota))
            .first;
  }
  return it->second.get();
}

std::vector<TaskQueue*> SchedulerCore::AllQueues() {
  std::vector<TaskQueue*> all{&main_};
  for (auto& p : pools_) all.push_back(&p->queue);
  return all;
}

void SchedulerCore::EnqueueLocked(TaskPtr rec) {
  TaskQueue* q = rec->queue;
  const bool startable = q->Push(std::move(rec), GateLocked());
  if (q->is_main()) {
    WakeMainLocked();
  } else if (startable) {
    WakeWorkerLocked(PoolOf(q));
  }
}

void SchedulerCore::PushDelayedLocked(TaskPtr rec) {
  TaskQueue* q = rec->queue;
  const bool earliest = q->PushDelayed(std::move(rec));
  if (q->is_main()) {
    WakeMainLocked();  // re-arms the loop's timer
  } else if (earliest) {
    // An idle thread re-computes its deadline; with none, a new thread
    // waits for the due time (a pool's first thread is always allowed).
    WakeWorkerLocked(PoolOf(q));
  }
}

void SchedulerCore::PromoteDueLocked(TaskQueue* q, SteadyClock::time_point now) {
  const int startable = q->PromoteDue(now, GateLocked());
  if (q->is_main()) return;  // called on the loop thread, which picks next
  for (int i = 0; i < startable; ++i) WakeWorkerLocked(PoolOf(q));
}

// --- Governance ---

void SchedulerCore::MarkStartupIdle() {
  std::lock_guard lock(mu_);
  if (startup_idle_) return;
  startup_idle_ = true;
  for (auto& p : pools_) EnsureWorkersLocked(p.get());
  WakeMainLocked();
}

bool SchedulerCore::startup_idle() const {
  std::lock_guard lock(mu_);
  return startup_idle_;
}

Status SchedulerCore::SetPaused(std::string_view pool, bool paused) {
  std::lock_guard lock(mu_);
  TaskQueue* q = FindPool(pool);
  if (q == nullptr) {
    return MakeError(
        pool == "main" ? ErrorCode::kInvalidArgument : ErrorCode::kNotFound,
        pool == "main" ? "the main loop cannot be paused" : "no pool '" + std::string(pool) + "'");
  }
  q->paused = paused;
  if (!paused) EnsureWorkersLocked(PoolOf(q));
  return Status::Ok();
}

void SchedulerCore::SetBundleQuota(std::string_view bundle, int max_running) {
  std::lock_guard lock(mu_);
  BundleState* b = BundleLocked(bundle);
  b->quota = std::max(0, max_running);
  for (auto& p : pools_) {
    if (p->queue.HasQueuedOf(b)) EnsureWorkersLocked(p.get());
  }
}

void SchedulerCore::CancelBundle(std::string_view bundle, bool wait_for_running) {
  std::unique_lock lock(mu_);
  BundleState* b = BundleLocked(bundle);
  b->cancelled = true;
  auto of_bundle = [b](const TaskRecord& t) { return t.bundle == b; };
  Graveyard graveyard;
  // Waiting sequence members first, so that dropping a sequence's head
  // does not queue the next task of the bundle.
  std::vector<TaskPtr> waiting, queued;
  for (auto& [id, s] : sequences_) TakeMatching(&s->waiting, of_bundle, &waiting);
  for (TaskQueue* q : AllQueues()) {
    q->TakeFromLaneOf(b, of_bundle, &queued);
    q->TakeDelayed(of_bundle, &queued);
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

void SchedulerCore::SetClock(const Clock* clock) { clock_.store(clock); }

void SchedulerCore::WakeAll() {
  std::lock_guard lock(mu_);
  for (auto& p : pools_) {
    while (!p->idle.empty()) SignalIdleWorkerLocked(p.get());
  }
  WakeMainLocked();
}

void SchedulerCore::ReopenBundle(std::string_view bundle) {
  std::lock_guard lock(mu_);
  BundleLocked(bundle)->cancelled = false;
}

// --- Running ---

void SchedulerCore::RunTaskLocked(TaskQueue* q, TaskPtr rec, std::unique_lock<std::mutex>& lock,
                                  Graveyard* graveyard) {
  BundleState* b = rec->bundle;
  const bool fg = rec->cls < kBestEffortClass;
  const SteadyClock::time_point start = Now();
  const double wait_ms = std::max(0.0, Ms(start - rec->ready));
  --q->pending;
  q->peak_running = std::max(q->peak_running, ++q->running);
  if (fg) ++q->fg_running;
  b->peak_running = std::max(b->peak_running, ++b->running);
  if (!q->is_main()) ++b->pool_running;
  Task fn = std::move(rec->fn);
  lock.unlock();
  if (q->is_main()) {
    // The hang watchdog compares this with the steady clock: never the
    // injected one.
    main_task_since_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count(),
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
          "task on '" + q->name() + "' threw: " + e.what() + " (swallowed)");
    } catch (...) {
      failed = true;
      Log(LogLevel::kError, b->name,
          "task on '" + q->name() + "' threw a non-std exception (swallowed)");
    }
    fn = nullptr;  // the closure dies outside mu_
    tls_context = saved;
  }
  if (q->is_main()) main_task_since_ns_.store(0, std::memory_order_release);
  const double run_ms = Ms(Now() - start);
  LockSpinning(lock);
  Account(&q->tasks, wait_ms, run_ms, failed);
  Account(&b->tasks, wait_ms, run_ms, failed);
  --q->running;
  if (fg) --q->fg_running;
  --b->running;
  if (!q->is_main()) {
    --b->pool_running;
    if (b->quota > 0 && b->pool_running == b->quota - 1) WakePoolsForBundleLocked(b, q);
    if (--pool_outstanding_ == 0 && shutting_down_) state_cv_.notify_all();
  }
  if (b->cancelled) state_cv_.notify_all();
  if (rec->sequence != nullptr) AdvanceSequenceLocked(rec->sequence, graveyard);
}

void SchedulerCore::AdvanceSequenceLocked(Sequence* s, Graveyard* graveyard) {
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

void SchedulerCore::DropLocked(TaskPtr rec, Graveyard* graveyard, bool advance) {
  TaskQueue* q = rec->queue;
  --q->pending;
  ++q->tasks.cancelled;
  ++rec->bundle->tasks.cancelled;
  if (!q->is_main() && --pool_outstanding_ == 0 && shutting_down_) state_cv_.notify_all();
  Sequence* s = advance ? rec->sequence : nullptr;
  graveyard->push_back(std::move(rec));
  if (s != nullptr) AdvanceSequenceLocked(s, graveyard);
}

// --- Stats ---

SchedulerStats SchedulerCore::Stats() const {
  std::lock_guard lock(mu_);
  SchedulerStats s;
  s.threads = threads_started_;
  s.peak_threads = threads_started_;  // pool threads live until Shutdown
  s.max_threads = max_threads_;
  s.startup_idle = startup_idle_;
  s.priority_policy = policy_.description;
  s.pools.push_back(QueueStatsLocked(main_));
  for (const auto& p : pools_) {
    PoolStats ps = QueueStatsLocked(p->queue);
    ps.nice = p->nice;
    ps.policy = p->sched_idle ? "SCHED_IDLE" : "SCHED_OTHER";
    ps.threads = static_cast<int>(p->workers.size());
    ps.idle_threads = static_cast<int>(p->idle.size());
    s.pools.push_back(std::move(ps));
  }
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

PoolStats SchedulerCore::QueueStatsLocked(const TaskQueue& q) const {
  PoolStats s;
  s.name = q.name();
  if (q.is_main()) {
    s.cpu = CpuPriority::kNormal;
    s.nice = main_nice_.load();
    s.policy = "SCHED_OTHER";
    s.max_threads = 1;
    s.threads = 1;
  } else {
    s.cpu = q.config().cpu;
    s.max_threads = q.config().threads;
    s.held_until_idle = q.config().held_until_idle;
  }
  s.peak_running = q.peak_running;
  s.queued = q.pending;
  s.held = q.Held(GateLocked());
  s.running = q.running;
  s.paused = q.paused;
  s.tasks = q.tasks;
  return s;
}

// --- Shutdown ---

void SchedulerCore::DropForShutdownLocked(Graveyard* graveyard) {
  auto skippable = [](const TaskRecord& t) {
    return t.traits.shutdown != ShutdownBehavior::kBlockShutdown;
  };
  std::vector<TaskPtr> waiting, queued, due_now;
  for (auto& [id, s] : sequences_) TakeMatching(&s->waiting, skippable, &waiting);
  for (TaskQueue* q : AllQueues()) {
    q->TakeFromLanes(skippable, &queued);
    q->TakeDelayed([](const TaskRecord&) { return true; }, &due_now);
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

void SchedulerCore::Shutdown() {
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
    while (TaskPtr rec = main_.Pick(GateLocked())) {
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
  // starter_ is only assigned under mu_ before stop_threads_ was set.
  if (starter_.joinable()) starter_.join();
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

}  // namespace atrium::internal::sched
