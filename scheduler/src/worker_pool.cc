// SchedulerCore's pool threads: starting them through the starter thread,
// waking them, and the worker loop (scheduler_core.h; the design is in
// scheduler.cc's file comment).
//
// Concurrency: a worker runs WorkerMain on its own thread and touches its
// pool only with mu_ held, except while a task runs (mu_ released) and while
// it spins on the pool's atomic `enqueued` count before sleeping.
#include <pthread.h>

#include <algorithm>
#include <string>
#include <system_error>

#include "atrium/base/log.h"
#include "atrium/log_level.h"
#include "atrium/thread_activity.h"
#include "scheduler_core.h"

namespace atrium::internal::sched {
namespace {

thread_local DeferredWakes* tls_deferred_wakes = nullptr;

}  // namespace

DeferredWakes::DeferredWakes() : saved_(tls_deferred_wakes) { tls_deferred_wakes = this; }

DeferredWakes::~DeferredWakes() {
  tls_deferred_wakes = saved_;
  for (int i = 0; i < count_; ++i) cvs_[i]->notify_one();
}

void DeferredWakes::Notify(std::condition_variable* cv) {
  DeferredWakes* d = tls_deferred_wakes;
  if (d == nullptr || d->count_ == kMax) {
    cv->notify_one();
    return;
  }
  d->cvs_[d->count_++] = cv;
}

bool SchedulerCore::CanStartWorkerLocked(const Pool& p) const {
  if (stop_threads_) return false;
  const int started = static_cast<int>(p.workers.size());
  if (started >= p.queue.config().threads) return false;
  if (started == 0) return true;  // every pool is guaranteed one
  // Leave one for each pool that has none yet.
  return threads_started_ + pools_without_threads_ < max_threads_;
}

void SchedulerCore::StartWorkerLocked(Pool* p) {
  auto w = std::make_unique<Worker>();
  w->pool = p;
  w->index = static_cast<int>(p->workers.size());
  if (p->workers.empty()) --pools_without_threads_;
  ++threads_started_;
  starter_queue_.push_back(w.get());
  p->workers.push_back(std::move(w));
  // The first pool thread wanted makes the starter (an Open that runs no
  // pool task starts no thread).
  if (!starter_.joinable()) MakeStarterLocked();
  starter_cv_.notify_one();
}

void SchedulerCore::SignalIdleWorkerLocked(Pool* p) {
  Worker* w = p->idle.back();
  p->idle.pop_back();
  w->signalled = true;
  // Workers live until the core is destroyed, so a late notify is safe.
  DeferredWakes::Notify(&w->wake);
}

void SchedulerCore::WakeWorkerLocked(Pool* p) {
  if (!p->idle.empty()) {
    SignalIdleWorkerLocked(p);
  } else if (CanStartWorkerLocked(*p)) {
    StartWorkerLocked(p);
  }
}

void SchedulerCore::EnsureWorkersLocked(Pool* p) {
  while (!p->idle.empty()) SignalIdleWorkerLocked(p);
  const size_t want = std::min(p->queue.pending, static_cast<size_t>(p->queue.config().threads));
  while (p->workers.size() < want && CanStartWorkerLocked(*p)) StartWorkerLocked(p);
}

void SchedulerCore::WakePoolsForBundleLocked(BundleState* b, const TaskQueue* except) {
  for (auto& p : pools_) {
    if (&p->queue == except) continue;
    if (p->queue.HasQueuedOf(b)) WakeWorkerLocked(p.get());
  }
}

void SchedulerCore::MakeStarterLocked() {
  try {
    starter_ = std::thread([this] { StarterMain(); });
  } catch (const std::system_error& e) {
    // Queued workers wait for the next attempt (the next thread wanted).
    Log(LogLevel::kError, "", std::string("scheduler: cannot start a thread: ") + e.what());
  }
}

void SchedulerCore::StarterMain() {
  pthread_setname_np(pthread_self(), "atrium-starter");
  // Pool threads inherit the starter's signal mask, CPU affinity and nice
  // value: those of Create's caller, whichever thread first wanted a pool
  // thread (Init made the starter itself when nice could not be lowered
  // back).
  pthread_sigmask(SIG_SETMASK, &creator_sigmask_, nullptr);
  if (creator_has_affinity_) {
    (void)sched_setaffinity(0, sizeof creator_affinity_, &creator_affinity_);
  }
  if (CurrentThreadNice() != creator_nice_ || sched_getscheduler(0) != SCHED_OTHER) {
    (void)ApplyCpuPriorityToCurrentThread(CpuPriority::kNormal, creator_nice_);
  }
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

void SchedulerCore::WorkerMain(Worker* w) {
  Pool* p = w->pool;
  TaskQueue* q = &p->queue;
  // The queue's name and config are immutable after Create.
  SetCurrentThreadName(q->name() + "-" + std::to_string(w->index));
  if (on_thread_start_) on_thread_start_();
  int nice;
  {
    std::lock_guard lock(mu_);
    nice = p->nice;
  }
  const AppliedPriority applied = ApplyCpuPriorityToCurrentThread(q->config().cpu, nice);
  tls_context.core = this;
  tls_context.pool = p;
  std::unique_lock lock(mu_);
  p->nice = applied.nice;
  p->sched_idle = applied.sched_idle;
  Graveyard graveyard;
  bool spun = false;
  while (!stop_threads_) {
    PromoteDueLocked(q, Now());
    if (TaskPtr rec = q->Pick(GateLocked())) {
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
    p->idle.push_back(w);
    if (!q->has_delayed() || clock_injected()) {
      // An injected clock moves only when a test steps it, and the test
      // wakes every idle thread then (WakeSchedulerForTesting).
      w->wake.wait(lock);
    } else {
      w->wake.wait_until(lock, q->next_due());
    }
    if (!w->signalled) p->idle.erase(std::find(p->idle.begin(), p->idle.end(), w));
  }
  tls_context = ThreadContext();
}

}  // namespace atrium::internal::sched
