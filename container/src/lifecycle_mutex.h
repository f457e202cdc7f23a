// LifecycleMutex: the container's lifecycle lock. Recursive (a thread that
// holds it may take it again), and a thread can give up every level it holds
// for a while (ReleaseAll / Reacquire) — around a bundle's Start and Stop, so
// no bundle code ever runs under it — or until the lifecycle changes (Wait,
// woken by NotifyAll: a bundle finished loading or stopping).
//
// Concurrency: BasicLockable (std::lock_guard works); every member may be
// called from any thread; ReleaseAll, Reacquire and Wait only by a thread that
// holds the lock (Reacquire: that held it before its ReleaseAll).
#ifndef ATRIUM_CONTAINER_LIFECYCLE_MUTEX_H_
#define ATRIUM_CONTAINER_LIFECYCLE_MUTEX_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace atrium::internal {

class LifecycleMutex {
 public:
  void lock() {
    const std::thread::id self = std::this_thread::get_id();
    std::unique_lock<std::mutex> l(m_);
    if (depth_ > 0 && owner_ == self) {
      ++depth_;
      return;
    }
    cv_.wait(l, [&] { return depth_ == 0; });
    owner_ = self;
    depth_ = 1;
  }
  void unlock() {
    std::lock_guard<std::mutex> l(m_);
    if (--depth_ == 0) {
      owner_ = {};
      cv_.notify_all();
    }
  }
  // Gives up every level the calling thread holds; returns how many.
  int ReleaseAll() {
    std::lock_guard<std::mutex> l(m_);
    const int depth = depth_;
    depth_ = 0;
    owner_ = {};
    cv_.notify_all();
    return depth;
  }
  // Takes the lock back at `depth` levels (ReleaseAll's result).
  void Reacquire(int depth) {
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return depth_ == 0; });
    owner_ = std::this_thread::get_id();
    depth_ = depth;
  }
  // Gives the lock up until NotifyAll was called (by another thread) and the
  // lock is free again, then holds it as before.
  void Wait() {
    std::unique_lock<std::mutex> l(m_);
    const int depth = depth_;
    const uint64_t seen = generation_;
    depth_ = 0;
    owner_ = {};
    cv_.notify_all();
    cv_.wait(l, [&] { return generation_ != seen && depth_ == 0; });
    owner_ = std::this_thread::get_id();
    depth_ = depth;
  }
  // The lifecycle changed: wakes every Wait (they run once the lock is free).
  void NotifyAll() {
    std::lock_guard<std::mutex> l(m_);
    ++generation_;
    cv_.notify_all();
  }

 private:
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::thread::id owner_;    // guarded by m_
  int depth_ = 0;            // guarded by m_
  uint64_t generation_ = 0;  // guarded by m_: NotifyAll calls
};

// Releases every level of `mu` for the scope (bundle code runs without it).
class LifecycleUnlocked {
 public:
  explicit LifecycleUnlocked(LifecycleMutex& mu) : mu_(mu), depth_(mu.ReleaseAll()) {}
  ~LifecycleUnlocked() { mu_.Reacquire(depth_); }
  LifecycleUnlocked(const LifecycleUnlocked&) = delete;
  LifecycleUnlocked& operator=(const LifecycleUnlocked&) = delete;

 private:
  LifecycleMutex& mu_;
  const int depth_;
};

}  // namespace atrium::internal

#endif  // ATRIUM_CONTAINER_LIFECYCLE_MUTEX_H_
