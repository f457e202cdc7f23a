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
    if (std::optional<std::string> reason = Check()) {
      Fire(std::move(*reason));
      return;  // one hang per launch
    }
    lock.lock();
  }
}

std::optional<std::string> Watchdog::Check() const {
  const Clock::time_point now = Clock::now();
  if (options_.main_loop_blocked_limit.count() > 0 && options_.main_task_running_since_ns) {
    const int64_t since = options_.main_task_running_since_ns();
    if (since != 0) {
      const std::chrono::nanoseconds blocked =
          now.time_since_epoch() - std::chrono::nanoseconds(since);
      if (blocked > options_.main_loop_blocked_limit) {
        return "main loop blocked " + Seconds(blocked) + " in one task";
      }
    }
  }
  if (options_.first_frame_limit.count() > 0 && options_.first_frame_reached &&
      now - start_ > options_.first_frame_limit && !options_.first_frame_reached()) {
    return "first_frame not reached within " + Seconds(options_.first_frame_limit);
  }
  return std::nullopt;
}

void Watchdog::Fire(std::string reason) {
  HangInfo hang;
  hang.reason = std::move(reason);
  const pid_t tid = options_.main_tid ? options_.main_tid() : 0;
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
