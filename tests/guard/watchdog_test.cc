// Hang watchdog: a real scheduler whose main-loop task blocks, a first frame
// that never comes, limits turned off, and Stop. Only whether it fired is
// asserted, never how fast (generous deadlines guard against hangs).
#include "watchdog.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "atrium/scheduler.h"
#include "gtest/gtest.h"

namespace atrium::internal {
namespace {

using namespace std::chrono_literals;

// A one-shot barrier.
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 60s, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// What on_hang received.
class HangRecorder {
 public:
  std::function<void(const HangInfo&)> Callback() {
    return [this](const HangInfo& hang) {
      std::lock_guard<std::mutex> lock(mu_);
      hangs_.push_back(hang);
      cv_.notify_all();
    };
  }
  // False when no hang was reported within `deadline`.
  bool WaitForHang(std::chrono::milliseconds deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return !hangs_.empty(); });
  }
  std::vector<HangInfo> hangs() {
    std::lock_guard<std::mutex> lock(mu_);
    return hangs_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<HangInfo> hangs_;
};

// Where BlockMainLoop's call returns to: a frame of the captured main stack.
std::atomic<uintptr_t> g_return_into_block{0};

__attribute__((noinline)) void WaitAtGate(Gate* release) {
  g_return_into_block.store(reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
  release->Wait();
}

__attribute__((noinline)) void BlockMainLoop(Gate* entered, Gate* release) {
  entered->Open();
  WaitAtGate(release);
  asm volatile("" ::: "memory");  // not a tail call
}

std::unique_ptr<Scheduler> MakeScheduler() {
  auto s = Scheduler::Create();
  if (!s.ok()) {
    ADD_FAILURE() << s.error().ToString();
    return nullptr;
  }
  return std::move(s).value();
}

// A scheduler whose main loop runs on its own thread, its one task blocked
// in BlockMainLoop until Release().
class BlockedMainLoop {
 public:
  BlockedMainLoop() : scheduler_(MakeScheduler()) {
    if (!scheduler_) return;
    EXPECT_TRUE(scheduler_
                    ->PostMain([this] {
                      BlockMainLoop(&entered_, &release_);
                      done_ = true;
                    })
                    .ok());
    loop_ = std::thread([this] {
      loop_tid_ = gettid();
      EXPECT_TRUE(scheduler_->RunMainLoopUntil([this] { return done_.load(); }, 60s));
    });
    EXPECT_TRUE(entered_.Wait());
  }
  ~BlockedMainLoop() {
    Release();
    if (loop_.joinable()) loop_.join();
  }
  void Release() { release_.Open(); }
  Scheduler& scheduler() { return *scheduler_; }
  pid_t loop_tid() const { return loop_tid_.load(); }
  bool ok() const { return scheduler_ != nullptr; }

 private:
  std::unique_ptr<Scheduler> scheduler_;
  Gate entered_, release_;
  std::atomic<bool> done_{false};
  std::atomic<pid_t> loop_tid_{0};
  std::thread loop_;
};

WatchdogOptions WatchScheduler(Scheduler& s, HangRecorder* recorder) {
  WatchdogOptions o;
  o.poll = 10ms;
  o.main_task_running_since_ns = [&s] { return s.MainTaskRunningSinceNs(); };
  o.main_tid = [&s] { return s.main_thread_tid(); };
  o.first_frame_reached = [] { return true; };
  o.on_hang = recorder->Callback();
  return o;
}

TEST(WatchdogTest, BlockedMainTaskIsReportedWithTheMainThreadsStack) {
  BlockedMainLoop loop;
  ASSERT_TRUE(loop.ok());
  HangRecorder recorder;
  WatchdogOptions o = WatchScheduler(loop.scheduler(), &recorder);
  o.main_loop_blocked_limit = 100ms;
  Watchdog watchdog(std::move(o));
  ASSERT_TRUE(recorder.WaitForHang(10s));
  EXPECT_TRUE(watchdog.fired());
  loop.Release();
  watchdog.Stop();

  const std::vector<HangInfo> hangs = recorder.hangs();
  ASSERT_EQ(hangs.size(), 1u);
  const HangInfo& hang = hangs[0];
  EXPECT_NE(hang.reason.find("main loop blocked"), std::string::npos) << hang.reason;
  EXPECT_NE(hang.reason.find("in one task"), std::string::npos) << hang.reason;
  ASSERT_TRUE(hang.stack.has_value()) << hang.capture_error;
  EXPECT_TRUE(hang.capture_error.empty());
  EXPECT_EQ(hang.stack->signal, 0);
  EXPECT_EQ(hang.stack->tid, loop.loop_tid());
  EXPECT_EQ(hang.stack->thread, "main");
  bool in_block = false;
  for (const CrashFrame& f : hang.stack->frames) {
    if (f.address == g_return_into_block.load()) in_block = true;
  }
  EXPECT_TRUE(in_block);
}

TEST(WatchdogTest, FirstFrameNotReachedFires) {
  HangRecorder recorder;
  WatchdogOptions o;
  o.poll = 10ms;
  o.first_frame_limit = 100ms;
  o.first_frame_reached = [] { return false; };
  o.main_tid = [] { return pid_t{0}; };  // the main loop never ran
  o.on_hang = recorder.Callback();
  Watchdog watchdog(std::move(o));
  ASSERT_TRUE(recorder.WaitForHang(10s));
  watchdog.Stop();
  const std::vector<HangInfo> hangs = recorder.hangs();
  ASSERT_EQ(hangs.size(), 1u);
  EXPECT_NE(hangs[0].reason.find("first_frame not reached within 0.1 s"), std::string::npos)
      << hangs[0].reason;
  EXPECT_FALSE(hangs[0].stack.has_value());
  EXPECT_FALSE(hangs[0].capture_error.empty());
  EXPECT_TRUE(watchdog.fired());
}

TEST(WatchdogTest, FirstFrameLateCapturesTheMainThreadWhereverItIs) {
  BlockedMainLoop loop;
  ASSERT_TRUE(loop.ok());
  HangRecorder recorder;
  WatchdogOptions o = WatchScheduler(loop.scheduler(), &recorder);
  o.first_frame_limit = 100ms;
  o.first_frame_reached = [] { return false; };
  Watchdog watchdog(std::move(o));
  ASSERT_TRUE(recorder.WaitForHang(10s));
  watchdog.Stop();
  const std::vector<HangInfo> hangs = recorder.hangs();
  ASSERT_EQ(hangs.size(), 1u);
  EXPECT_NE(hangs[0].reason.find("first_frame"), std::string::npos) << hangs[0].reason;
  ASSERT_TRUE(hangs[0].stack.has_value()) << hangs[0].capture_error;
  EXPECT_EQ(hangs[0].stack->tid, loop.loop_tid());
}

TEST(WatchdogTest, LimitsOfZeroNeverFire) {
  BlockedMainLoop loop;
  ASSERT_TRUE(loop.ok());
  HangRecorder recorder;
  WatchdogOptions o = WatchScheduler(loop.scheduler(), &recorder);
  o.first_frame_reached = [] { return false; };
  o.first_frame_limit = 0ms;
  o.main_loop_blocked_limit = 0ms;
  Watchdog watchdog(std::move(o));
  // The task has been blocked for longer than a 100 ms limit would allow.
  EXPECT_FALSE(recorder.WaitForHang(300ms));
  EXPECT_NE(loop.scheduler().MainTaskRunningSinceNs(), 0);
  EXPECT_FALSE(watchdog.fired());
  watchdog.Stop();
  EXPECT_TRUE(recorder.hangs().empty());
}

TEST(WatchdogTest, StopBeforeAnyHangNeverFiresAndJoins) {
  HangRecorder recorder;
  std::atomic<bool> first_frame{false};
  WatchdogOptions o;
  o.poll = 60s;  // Stop must not wait for the next poll
  o.first_frame_limit = 100ms;
  o.first_frame_reached = [&] { return first_frame.load(); };
  o.main_tid = [] { return pid_t{0}; };
  o.on_hang = recorder.Callback();
  auto watchdog = std::make_unique<Watchdog>(std::move(o));
  watchdog->Stop();
  watchdog->Stop();  // idempotent
  EXPECT_FALSE(recorder.WaitForHang(300ms));
  EXPECT_FALSE(watchdog->fired());
  watchdog.reset();
  EXPECT_TRUE(recorder.hangs().empty());
}

TEST(WatchdogTest, FirstFrameReachedInTimeNeverFires) {
  HangRecorder recorder;
  std::atomic<bool> first_frame{true};
  WatchdogOptions o;
  o.poll = 10ms;
  o.first_frame_limit = 100ms;
  o.first_frame_reached = [&] { return first_frame.load(); };
  o.main_task_running_since_ns = [] { return int64_t{0}; };  // the loop is idle
  o.main_loop_blocked_limit = 100ms;
  o.main_tid = [] { return pid_t{0}; };
  o.on_hang = recorder.Callback();
  Watchdog watchdog(std::move(o));
  EXPECT_FALSE(recorder.WaitForHang(300ms));
  EXPECT_FALSE(watchdog.fired());
}

}  // namespace
}  // namespace atrium::internal
