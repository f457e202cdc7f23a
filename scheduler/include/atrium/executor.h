// Executors: how a bundle runs work off its own stack. Bundles never create
// raw threads; they ask their BundleContext for an executor of a named pool
// (`urgent`, `normal`, `io`, `net`, `background` or an app-defined pool) or
// of the main loop, and every task posted through it is accounted to the
// bundle (count, queue wait, run time, concurrency quota) and cancelled
// before the bundle's library is unloaded.
//
//   auto io = ctx.executor("io");
//   io->Post([] { WarmCache(); }, atrium::TaskTraits{}.MayBlock());
//   io->PostOrdered("db", [] { Write(1); });   // same key: one at a time, in order
//
// Header-only: bundles link no part of the runtime.
//
// Concurrency: every method is thread-safe. A task never runs after Post's
// executor's bundle has been stopped (pending ones are dropped; a running one
// is waited for before the library is unloaded).
#ifndef ATRIUM_EXECUTOR_H_
#define ATRIUM_EXECUTOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "atrium/result.h"
#include "atrium/task_traits.h"

namespace atrium {

using Task = std::function<void()>;

// A handle to a pool (or the main loop) on behalf of one bundle.
class Executor {
 public:
  virtual ~Executor() = default;
  // Where tasks run: a pool name or "main".
  virtual std::string_view target() const = 0;
  // Queues `task`. Fails (kState) after shutdown began or the bundle stopped,
  // (kValidation) when the pool's queue is full.
  virtual Status Post(Task task, TaskTraits traits = {}) = 0;
  // Queues `task` to run no earlier than `delay` from now.
  virtual Status PostDelayed(Task task, std::chrono::milliseconds delay,
                             TaskTraits traits = {}) = 0;
  // Tasks posted with the same key (per executor target) run one at a time,
  // in posting order, on whatever pool thread is free: no dedicated thread.
  virtual Status PostOrdered(std::string_view key, Task task, TaskTraits traits = {}) = 0;
  // Runs when the app is idle: after the startup pipeline reached `idle`
  // and no USER_BLOCKING/USER_VISIBLE task is queued or running in this
  // executor's pool.
  virtual Status PostIdle(Task task) = 0;
};

}  // namespace atrium

#endif  // ATRIUM_EXECUTOR_H_
