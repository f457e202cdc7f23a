// Test hooks of the scheduler layer (never installed).
#ifndef ATRIUM_SCHEDULER_TEST_HOOKS_H_
#define ATRIUM_SCHEDULER_TEST_HOOKS_H_

namespace atrium {
class Scheduler;
}

namespace atrium::internal {

class Clock;

// Makes `scheduler` (from Scheduler::Create, nothing posted yet) read time
// from `clock`, which must outlive it: queue waits, run times and delayed
// tasks' due times follow the clock a test steps. The hang watchdog's
// MainTaskRunningSinceNs stays on the steady clock.
void SetSchedulerClockForTesting(Scheduler& scheduler, const Clock& clock);
// Wakes every idle pool thread and the main loop so that they look at the
// clock again (after a test advanced it).
void WakeSchedulerForTesting(Scheduler& scheduler);

// Removes and deletes the active trace recorder (no other thread may be
// using it).
void StopTraceForTesting();

}  // namespace atrium::internal

#endif  // ATRIUM_SCHEDULER_TEST_HOOKS_H_
