// WatchedWork: work outside the scheduler's main loop that must not block
// either (a micro-app open on a host thread); the launch guard's watchdog
// treats it as it treats a main-loop task.
#ifndef ATRIUM_GUARD_WATCHED_WORK_H_
#define ATRIUM_GUARD_WATCHED_WORK_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace atrium::internal {

struct WatchedWork {
  int64_t since_ns = 0;  // steady_clock ns when it began
  pid_t tid = 0;         // the thread doing it (gettid)
  std::string what;      // "micro-app 'bill' open"
};

}  // namespace atrium::internal

#endif  // ATRIUM_GUARD_WATCHED_WORK_H_
