// Watchdog: the launch guard's hang detector. One thread, named "watchdog"
// (its own, not a scheduler pool's: it must run while the scheduler is
// stuck), wakes every `poll` and checks two limits:
//   1. first_frame_limit: the first frame was not reached that long after
//      the watchdog was constructed (the launch's start);
//   2. main_loop_blocked_limit: one main-loop task has been running longer
//      than that (Scheduler::MainTaskRunningSinceNs), or watched work outside
//      the main loop (a micro-app open on a host thread: oldest_watched) has.
// On the first hang it captures the stack of the blocked thread (the main
// thread's, or the watched work's)
// (CaptureThreadStack on main_tid(), 1 s at most), calls on_hang once, and
// stops checking. A limit of 0 is off.
//
// Concurrency: construct and destroy on an owning thread; Stop and fired()
// from any thread. The WatchdogOptions callbacks run on the watchdog thread
// and must be thread-safe. on_hang may call Stop (it does not join then)
// but must not destroy the Watchdog.
#ifndef ATRIUM_GUARD_WATCHDOG_H_
#define ATRIUM_GUARD_WATCHDOG_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "atrium/crash_capture.h"
#include "atrium/guard/watched_work.h"

namespace atrium::internal {

struct HangInfo {
  // "main loop blocked 5.0 s in one task" / "first_frame not reached within 10.0 s"
  std::string reason;
  std::optional<CrashRecord> stack;  // the main thread's stack when it could be captured
  std::string capture_error;         // why not, otherwise
};

struct WatchdogOptions {
  std::chrono::milliseconds first_frame_limit{0};        // 0 = off
  std::chrono::milliseconds main_loop_blocked_limit{0};  // 0 = off
  std::chrono::milliseconds poll{20};
  std::function<int64_t()> main_task_running_since_ns;  // steady ns, 0 = not running
  std::function<bool()> first_frame_reached;
  std::function<pid_t()> main_tid;
  std::function<std::optional<WatchedWork>()> oldest_watched;  // optional
  std::function<void(const HangInfo&)> on_hang;  // called once, on the watchdog thread
};

class Watchdog {
 public:
  // Starts the thread; the launch starts now (first_frame_limit counts from here).
  explicit Watchdog(WatchdogOptions options);
  // Stops and joins.
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Stops checking and joins the thread (unless called on it). Idempotent.
  void Stop();
  // A hang was detected (set before on_hang is called).
  bool fired() const { return fired_.load(); }

 private:
  void Run();
  struct Hang {
    std::string reason;
    pid_t tid = 0;  // the blocked thread; 0: the main thread
  };
  // The hang, or nullopt while none.
  std::optional<Hang> Check() const;
  void Fire(Hang hang);

  const WatchdogOptions options_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<bool> fired_{false};

  std::mutex mu_;
  std::condition_variable cv_;  // wakes Run when stop_ is set
  bool stop_ = false;           // guarded by mu_

  std::mutex join_mu_;  // serializes the join of concurrent Stop calls
  std::thread thread_;  // started last, in the constructor
};

}  // namespace atrium::internal

#endif  // ATRIUM_GUARD_WATCHDOG_H_
