// CPU priority of pool threads: which nice value (and, for `idle`, which
// scheduling policy) each CpuPriority gets, decided once per scheduler by
// probing whether this process may raise a thread above the default, and
// applied by each pool thread to itself.
//
// Policies (PriorityPolicy::description says which one is in force):
//  1. "raised": a probe thread could set nice -5 on itself, so kHigh pools
//     run at -5 and the others at their nominal values (0, 10, idle).
//  2. "lowered": raising was refused (EPERM/EACCES: no CAP_SYS_NICE and an
//     RLIMIT_NICE too low), so kHigh pools stay at 0 and every other pool is
//     lowered by the same step (normal 5, low 15, idle stays idle): the
//     ordering between pools holds.
//  3. "default": no kHigh pool, nothing to raise; nominal values.
// kIdle is SCHED_IDLE where allowed; its nice is set to 19 as well, so it is
// the lowest either way.
//
// Concurrency: DecidePriorityPolicy and ApplyCpuPriorityToCurrentThread are
// thread-safe; the testing hook is an atomic.
#ifndef ATRIUM_SCHEDULER_CPU_PRIORITY_H_
#define ATRIUM_SCHEDULER_CPU_PRIORITY_H_

#include <string>
#include <vector>

#include "atrium/scheduler.h"

namespace atrium::internal {

inline constexpr int kRaiseStep = 5;  // kHigh is nice -5; lowering is by the same step

struct PriorityPolicy {
  bool lowered = false;  // policy 2
  std::string description;
};

// Probes (on a short-lived thread) whether nice can be raised, when a pool
// of `pools` is kHigh.
PriorityPolicy DecidePriorityPolicy(const std::vector<PoolConfig>& pools);

// The nice value a pool of priority `cpu` runs at under `policy`.
int PlannedNice(CpuPriority cpu, const PriorityPolicy& policy);

struct AppliedPriority {
  int nice = 0;             // read back from the kernel
  bool sched_idle = false;  // SCHED_IDLE took effect
};
// Sets the calling thread's nice to `nice` (and SCHED_IDLE for kIdle, or
// SCHED_OTHER otherwise, undoing a policy inherited from the creating thread).
AppliedPriority ApplyCpuPriorityToCurrentThread(CpuPriority cpu, int nice);

// The calling thread's nice value.
int CurrentThreadNice();

// Whether a thread of this process may lower its nice value (the probe,
// cached for the process; DenyRaisingPriorityForTesting makes it false).
bool MayRaisePriority();

// Makes the probe report EPERM, as in an unprivileged process, so tests can
// exercise the "lowered" policy on a machine where raising is allowed.
void DenyRaisingPriorityForTesting(bool deny);

}  // namespace atrium::internal

#endif  // ATRIUM_SCHEDULER_CPU_PRIORITY_H_
