// SchedulerCore's main loop: running the libuv loop on the calling thread,
// waking it (uv_async_send, the one way in), its delay and timeout timers,
// and closing it (scheduler_core.h; the design is in scheduler.cc's file
// comment).
//
// Concurrency: the loop and its handles are touched only by the thread
// running RunLoop (or, once no loop runs, by the one closing it), except
// uv_async_send in WakeMainLocked, which any thread may call with mu_ held.
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>

#include "atrium/base/log.h"
#include "atrium/thread_activity.h"
#include "scheduler_core.h"

namespace atrium::internal::sched {

bool SchedulerCore::RunLoop(const std::function<bool()>* done,
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

void SchedulerCore::QuitMainLoop() {
  quit_.store(true);
  std::lock_guard lock(mu_);
  WakeMainLocked();
}

bool SchedulerCore::loop_open() const {
  std::lock_guard lock(mu_);
  return loop_open_;
}

void SchedulerCore::WakeMainLocked() {
  if (loop_open_ && !closing_) uv_async_send(&async_);
}

bool SchedulerCore::StopRequested() {
  if (quit_.exchange(false)) return true;
  return done_ != nullptr && (*done_)();
}

void SchedulerCore::OnLoopWakeup() {
  std::unique_lock lock(mu_);
  Graveyard graveyard;
  bool stop = false;
  bool drained = false;
  for (int n = 0; !stop; ++n) {
    if (n == kMainBatch) {
      WakeMainLocked();  // more next iteration, after I/O and timers
      break;
    }
    PromoteDueLocked(&main_, Now());
    TaskPtr rec = main_.Pick(GateLocked());
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
  if (!main_.has_delayed() || clock_injected()) {
    // (An injected clock: the test wakes the loop when it steps it.)
    uv_timer_stop(&delay_timer_);
  } else {
    const double ms = std::ceil(Ms(main_.next_due() - Now()));
    uv_update_time(&loop_);
    uv_timer_start(&delay_timer_, &SchedulerCore::OnDelayTimer,
                   static_cast<uint64_t>(std::max(0.0, ms)), 0);
  }
  if (shutting_down_ && drained) stop = true;
  lock.unlock();
  if (!stop) stop = StopRequested();
  if (stop) uv_stop(&loop_);
}

void SchedulerCore::OnAsync(uv_async_t* handle) {
  static_cast<SchedulerCore*>(handle->data)->OnLoopWakeup();
}

void SchedulerCore::OnDelayTimer(uv_timer_t* handle) {
  static_cast<SchedulerCore*>(handle->data)->OnLoopWakeup();
}

void SchedulerCore::OnTimeout(uv_timer_t* handle) { uv_stop(handle->loop); }

void SchedulerCore::CloseLoop() {
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

}  // namespace atrium::internal::sched
