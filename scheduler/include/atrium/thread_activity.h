// What each thread is doing right now, kept in a thread-local so that a
// crash handler (async-signal-safe: fixed-size char arrays, no allocation)
// and the tracer can say which bundle, startup task, dynamic artifact or
// micro-app was current on the faulting thread.
//
// The scheduler sets `pool`/`bundle` around every task; the startup
// pipeline sets `task`; the container sets `bundle` while an activator runs;
// a dynamic layer that runs an artifact's code in the process (a hotpatch,
// an HCF template's Lua) sets `artifact` to "kind:id" around it, so the
// launch guard can blame that artifact for a crash; the container sets
// `waiting_for` while the thread waits for another thread's bundle load.
// ActivityScope saves and restores, so scopes nest.
//
// Concurrency: each thread touches only its own record.
#ifndef ATRIUM_THREAD_ACTIVITY_H_
#define ATRIUM_THREAD_ACTIVITY_H_

#include <cstddef>
#include <string_view>

#include "atrium/export.h"

namespace atrium {

struct ThreadActivity {
  char thread[16] = {};    // thread name ("main", "io-2")
  char bundle[96] = {};    // bundle whose code runs ("" = host)
  char task[96] = {};      // startup task id, "bundle:task"
  char artifact[96] = {};  // "kind:id" of the dynamic artifact whose code runs
  char micro_app[64] = {};
  // The bundle this thread waits for while another thread starts or stops
  // it (the container sets it): a hang here is that bundle's.
  char waiting_for[96] = {};
};

// The calling thread's record (never null).
ATRIUM_EXPORT ThreadActivity* CurrentThreadActivity();

enum class ActivityField { kBundle, kTask, kArtifact, kMicroApp, kWaitingFor };

// Copies `value` (truncated) into `field` for the scope's lifetime.
class ATRIUM_EXPORT ActivityScope {
 public:
  ActivityScope(ActivityField field, std::string_view value);
  ~ActivityScope();
  ActivityScope(const ActivityScope&) = delete;
  ActivityScope& operator=(const ActivityScope&) = delete;

 private:
  char* slot_;
  size_t size_;
  char saved_[96];
};

// Sets the thread's name in the record and, truncated to 15 characters,
// with pthread_setname_np; also names the thread in the active trace.
ATRIUM_EXPORT void SetCurrentThreadName(std::string_view name);

}  // namespace atrium

#endif  // ATRIUM_THREAD_ACTIVITY_H_
