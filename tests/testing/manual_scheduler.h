// ManualScheduler: a Scheduler that runs nothing by itself. Every task
// posted (PostMain, an executor's Post, PostOrdered, PostIdle; PostDelayed
// as soon as it is posted — the fake has no clock) waits in one FIFO until
// the test runs it: RunOne() runs the oldest, RunMainLoopUntil() runs them
// one at a time, in posting order, on the calling thread, until its
// predicate holds or nothing is left; RunRound() runs what is queued now. So what a component does
// with a scheduler — which tasks it posts, when, and to which target — is asserted exactly in one
// run, with no thread timing involved. Pools exist only as names and sizes (Stats()), which is what
// the startup pipeline reads to size its dispatch.
//
// What only real threads show (parallel execution, CPU priorities, the
// fence holding a real pool) is tested against the real Scheduler.
//
// Concurrency: one test thread. Posting from inside a running task is
// allowed (the task is queued behind the others).
#ifndef ATRIUM_TESTS_TESTING_MANUAL_SCHEDULER_H_
#define ATRIUM_TESTS_TESTING_MANUAL_SCHEDULER_H_

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/executor.h"
#include "atrium/scheduler.h"

namespace atrium::testing {

class ManualScheduler final : public Scheduler {
 public:
  struct Posted {
    std::string target;  // "main" or a pool
    std::string bundle;
    TaskTraits traits;
    Task task;
  };

  // `pools`: name and thread count of each pool besides "main".
  explicit ManualScheduler(std::vector<std::pair<std::string, int>> pools)
      : pools_(std::move(pools)) {}

  // Runs the oldest queued task; false when none is queued.
  bool RunOne() {
    if (queue_.empty()) return false;
    Posted p = std::move(queue_.front());
    queue_.pop_front();
    running_target_ = p.target;
    ran_.push_back(p.target + " " + p.bundle);
    p.task();
    running_target_.clear();
    return true;
  }
  // One round of parallel work: runs the tasks queued now (not those they
  // post), oldest first; returns how many ran. With a component that keeps
  // at most N tasks of a pool in flight, a round is one step of N threads,
  // and the rounds until done are the makespan in task-lengths.
  size_t RunRound() {
    size_t n = queue_.size();
    size_t ran = 0;
    while (n-- > 0 && RunOne()) ++ran;
    return ran;
  }
  size_t queued() const { return queue_.size(); }
  // "<target> <bundle>" of every task run so far, in order.
  const std::vector<std::string>& ran() const { return ran_; }

  // --- HostScheduler ---
  bool IsMainThread() const override {
    return running_target_.empty() || running_target_ == "main";
  }
  Status PostMain(Task task, std::string_view bundle = "", TaskTraits traits = {}) override {
    return Queue("main", bundle, traits, std::move(task));
  }
  void RunMainLoop() override {
    while (!quit_ && RunOne()) {
    }
    quit_ = false;
  }
  bool RunMainLoopUntil(const std::function<bool()>& done, std::chrono::milliseconds) override {
    while (!done() && RunOne()) {
    }
    return done();
  }
  void QuitMainLoop() override { quit_ = true; }
  int64_t MainTaskRunningSinceNs() const override { return 0; }
  bool startup_idle() const override { return startup_idle_; }
  SchedulerStats Stats() const override {
    SchedulerStats s;
    PoolStats main;
    main.name = "main";
    main.max_threads = 1;
    s.pools.push_back(main);
    for (const auto& [name, threads] : pools_) {
      PoolStats p;
      p.name = name;
      p.max_threads = threads;
      s.pools.push_back(p);
    }
    s.startup_idle = startup_idle_;
    s.priority_policy = priority_policy();
    return s;
  }
  std::string priority_policy() const override { return "manual (tests)"; }

  // --- Scheduler ---
  pid_t main_thread_tid() const override { return 0; }
  Result<std::shared_ptr<Executor>> GetExecutor(std::string_view target,
                                                std::string_view bundle = "") override {
    if (target != "main" && !HasPool(target)) {
      return MakeError(ErrorCode::kNotFound, "no pool " + std::string(target));
    }
    return std::shared_ptr<Executor>(
        std::make_shared<ManualExecutor>(this, std::string(target), std::string(bundle)));
  }
  void MarkStartupIdle() override { startup_idle_ = true; }
  Status PausePool(std::string_view) override { return Status::Ok(); }
  Status ResumePool(std::string_view) override { return Status::Ok(); }
  void SetBundleQuota(std::string_view, int) override {}
  void CancelBundle(std::string_view, bool) override {}
  void ReopenBundle(std::string_view) override {}
  void Shutdown() override {
    shut_down_ = true;
    queue_.clear();
  }

 private:
  class ManualExecutor final : public Executor {
   public:
    ManualExecutor(ManualScheduler* s, std::string target, std::string bundle)
        : s_(s), target_(std::move(target)), bundle_(std::move(bundle)) {}
    std::string_view target() const override { return target_; }
    Status Post(Task task, TaskTraits traits = {}) override {
      return s_->Queue(target_, bundle_, traits, std::move(task));
    }
    Status PostDelayed(Task task, std::chrono::milliseconds, TaskTraits traits = {}) override {
      return s_->Queue(target_, bundle_, traits, std::move(task));
    }
    Status PostOrdered(std::string_view, Task task, TaskTraits traits = {}) override {
      return s_->Queue(target_, bundle_, traits, std::move(task));
    }
    Status PostIdle(Task task) override { return s_->Queue(target_, bundle_, {}, std::move(task)); }

   private:
    ManualScheduler* s_;
    std::string target_;
    std::string bundle_;
  };

  bool HasPool(std::string_view name) const {
    for (const auto& p : pools_) {
      if (p.first == name) return true;
    }
    return false;
  }
  Status Queue(std::string_view target, std::string_view bundle, TaskTraits traits, Task task) {
    if (shut_down_) return MakeError(ErrorCode::kState, "the scheduler is shut down");
    queue_.push_back(Posted{std::string(target), std::string(bundle), traits, std::move(task)});
    return Status::Ok();
  }

  std::vector<std::pair<std::string, int>> pools_;
  std::deque<Posted> queue_;
  std::vector<std::string> ran_;
  std::string running_target_;
  bool startup_idle_ = false;
  bool quit_ = false;
  bool shut_down_ = false;
};

}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_TESTING_MANUAL_SCHEDULER_H_
