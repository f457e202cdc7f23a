// Watchdog: see watchdog.h.
#include "watchdog.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "atrium/thread_activity.h"

namespace atrium::internal {
namespace {

using Clock = std::chrono::steady_clock;

// How long CaptureThreadStack waits for the main thread to answer.
constexpr std::chrono::milliseconds kCaptureTimeout{1000};

// "5.0 s".
std::string Seconds(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

}  // namespace

Watchdog::Watchdog(WatchdogOptions options) : options_(std::move(options)), start_(Clock::now()) {
  thread_ = std::thread([this] { Run(); });
}

Watchdog::~Watchdog() { Stop(); }

void Watchdog::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  std::lock_guard<std::mutex> lock(join_mu_);
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Watchdog::Run() {
  SetCurrentThreadName("watchdog");
  const auto poll = std::max(options_.poll, std::chrono::milliseconds(1));
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (cv_.wait_for(lock, poll, [this] { return stop_; })) return;
    lock.unlock();
    if (std::optional<Hang> hang = Check()) {
      Fire(std::move(*hang));
      return;  // one hang per launch
    }
    lock.lock();
  }
}

std::optional<Watchdog::Hang> Watchdog::Check() const {
  const Clock::time_point now = Clock::now();
  auto blocked_since = [&](int64_t since) {
    return now.time_since_epoch() - std::chrono::nanoseconds(since);
  };
  if (options_.main_loop_blocked_limit.count() > 0 && options_.main_task_running_since_ns) {
    const int64_t since = options_.main_task_running_since_ns();
    if (since != 0 && blocked_since(since) > options_.main_loop_blocked_limit) {
      return Hang{"main loop blocked " + Seconds(blocked_since(since)) + " in one task", 0};
    }
  }
  if (options_.main_loop_blocked_limit.count() > 0 && options_.oldest_watched) {
    if (std::optional<WatchedWork> w = options_.oldest_watched();
        w && w->since_ns != 0 && blocked_since(w->since_ns) > options_.main_loop_blocked_limit) {
      return Hang{w->what + " blocked " + Seconds(blocked_since(w->since_ns)), w->tid};
    }
  }
  if (options_.first_frame_limit.count() > 0 && options_.first_frame_reached &&
      now - start_ > options_.first_frame_limit && !options_.first_frame_reached()) {
    return Hang{"first_frame not reached within " + Seconds(options_.first_frame_limit), 0};
  }
  return std::nullopt;
}

void Watchdog::Fire(Hang found) {
  HangInfo hang;
  hang.reason = std::move(found.reason);
  const pid_t tid = found.tid != 0 ? found.tid : options_.main_tid ? options_.main_tid() : 0;
  if (tid == 0) {
    hang.capture_error = "the main loop has not run yet";
  } else if (Result<CrashRecord> stack = CaptureThreadStack(tid, kCaptureTimeout); stack.ok()) {
    hang.stack = std::move(stack).value();
  } else {
    hang.capture_error = stack.error().ToString();
  }
  fired_.store(true);
  if (options_.on_hang) options_.on_hang(hang);
}

}  // namespace atrium::internal
