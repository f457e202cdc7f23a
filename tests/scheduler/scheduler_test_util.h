// What the scheduler tests share (scheduler_test.cc: the main loop and
// pools; scheduler_governance_test.cc: the fence, idle work, quotas,
// cancelling; scheduler_threads_test.cc: CPU priorities, thread names,
// executors' accounting, options, shutdown): gates, polling with a hang
// guard, schedulers with chosen pools, lookups in Stats, /proc readers.
#ifndef ATRIUM_TESTS_SCHEDULER_SCHEDULER_TEST_UTIL_H_
#define ATRIUM_TESTS_SCHEDULER_SCHEDULER_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "atrium/scheduler.h"
#include "atrium/thread_activity.h"
#include "cpu_priority.h"

namespace atrium::scheduler_test {

using namespace std::chrono_literals;

inline constexpr auto kHangGuard = 60s;

// Polls `pred` until it holds; false after kHangGuard.
template <typename Pred>
inline bool WaitUntil(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + kHangGuard;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Burns a little CPU, so that tasks overlap.
inline void Spin(int n) {
  for (int i = 0; i < n; ++i) asm volatile("" ::: "memory");
}

// A one-shot barrier tasks wait on until the test opens it.
class Gate {
 public:
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // False when the hang guard expired.
  bool Wait() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kHangGuard, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

inline PoolConfig Pool(std::string name, int threads, CpuPriority cpu = CpuPriority::kNormal,
                       bool held = false) {
  PoolConfig p;
  p.name = std::move(name);
  p.threads = threads;
  p.cpu = cpu;
  p.held_until_idle = held;
  return p;
}

inline std::unique_ptr<Scheduler> Make(SchedulerOptions options) {
  auto s = Scheduler::Create(std::move(options));
  if (!s.ok()) {
    ADD_FAILURE() << s.error().ToString();
    return nullptr;
  }
  return std::move(s).value();
}

inline std::unique_ptr<Scheduler> MakeUnfenced(std::vector<PoolConfig> pools, int max_threads = 0) {
  SchedulerOptions o;
  o.pools = std::move(pools);
  o.max_threads = max_threads;
  o.hold_until_idle = false;
  return Make(std::move(o));
}

inline std::shared_ptr<Executor> Exec(Scheduler& s, std::string_view target,
                                      std::string_view bundle = "") {
  auto e = s.GetExecutor(target, bundle);
  EXPECT_TRUE(e.ok()) << e.error().ToString();
  return e.ok() ? e.value() : nullptr;
}

inline const PoolStats* FindPool(const SchedulerStats& s, std::string_view name) {
  for (const PoolStats& p : s.pools) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

// True when every started thread of `pool` but `busy` is asleep: each has
// looked at the queue since its last task and found nothing it may run. How
// a test shows "nothing ran" without sleeping and hoping.
inline bool AllThreadsAsleep(Scheduler& s, std::string_view pool, int busy) {
  const SchedulerStats stats = s.Stats();
  const PoolStats* p = FindPool(stats, pool);
  return p != nullptr && p->threads > 0 && p->idle_threads == p->threads - busy;
}

inline const BundleTaskStats* FindBundle(const SchedulerStats& s, std::string_view name) {
  for (const BundleTaskStats& b : s.bundles) {
    if (b.bundle == name) return &b;
  }
  return nullptr;
}

// /proc/self/task/<tid>/stat field 19 (nice); fields counted after comm's ')'.
inline int NiceOf(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 1000;
  std::istringstream fields(stat.substr(paren + 1));
  std::string field;
  for (int i = 3; i <= 19; ++i) fields >> field;  // fields 3..19
  return std::stoi(field);
}

inline std::string CommOf(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

inline int CountThreads() {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)entry;
    ++n;
  }
  return n;
}

// The thread count once it settles at `want`: a joined thread can stay
// listed in /proc/self/task for a moment after pthread_join returns (the
// kernel releases the task after it cleared the tid join waits on), so the
// count is polled, with a deadline that only guards against a hang.
inline int SettledThreadCount(int want) {
  WaitUntil([&] { return CountThreads() == want; });
  return CountThreads();
}

}  // namespace atrium::scheduler_test

#endif  // ATRIUM_TESTS_SCHEDULER_SCHEDULER_TEST_UTIL_H_
