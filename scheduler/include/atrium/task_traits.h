// Task traits: what a task is, as a small constexpr value type with safe
// defaults, passed with every post to the scheduler.
//
//   TaskTraits{}                                        // USER_VISIBLE, non-blocking, skipped at
//   shutdown TaskTraits{}.Priority(TaskPriority::kUserBlocking)  // e.g. decoding the image a user
//   tapped TaskTraits{}.Priority(TaskPriority::kBestEffort)    // e.g. pruning a cache; held until
//   startup is idle TaskTraits{}.MayBlock()                             // e.g. reading a file, an
//   SQLite query TaskTraits{}.Shutdown(ShutdownBehavior::kBlockShutdown)  // e.g. flushing a
//   write-ahead log
//
// Concurrency: a value type.
#ifndef ATRIUM_TASK_TRAITS_H_
#define ATRIUM_TASK_TRAITS_H_

#include <cstdint>

namespace atrium {

enum class TaskPriority : uint8_t {
  kUserBlocking,  // a user is waiting on it right now
  kUserVisible,   // its result will be seen soon (default)
  kBestEffort,    // nobody waits; held during startup until the `idle` stage
};

enum class ShutdownBehavior : uint8_t {
  kSkipOnShutdown,      // dropped if not started when shutdown begins (default)
  kContinueOnShutdown,  // a started one may finish; a pending one is dropped
  kBlockShutdown,       // shutdown waits until it has run
};

// A small value type describing a task. Builder style:
//   TaskTraits{}.Priority(TaskPriority::kBestEffort).MayBlock()
struct TaskTraits {
  TaskPriority priority = TaskPriority::kUserVisible;
  bool may_block = false;  // performs blocking I/O; routed to the io pool if
                           // posted to a cpu pool (urgent/normal)
  ShutdownBehavior shutdown = ShutdownBehavior::kSkipOnShutdown;

  constexpr TaskTraits& Priority(TaskPriority p) {
    priority = p;
    return *this;
  }
  constexpr TaskTraits& MayBlock(bool b = true) {
    may_block = b;
    return *this;
  }
  constexpr TaskTraits& Shutdown(ShutdownBehavior s) {
    shutdown = s;
    return *this;
  }
  bool operator==(const TaskTraits&) const = default;
};

}  // namespace atrium

#endif  // ATRIUM_TASK_TRAITS_H_
