#include "cpu_priority.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "atrium/base/log.h"
#include "atrium/log_level.h"

namespace atrium::internal {
namespace {

std::atomic<bool> deny_raise_for_testing{false};

// The probe's answer, kept for the process (-1: not probed yet).
std::atomic<int> raise_probe{-1};

// 0 when a thread may set nice -kRaiseStep on itself, else the errno.
// Probed once per process: every later scheduler (a container per launch,
// tests making many) spares the throwaway thread. A process that drops its
// privilege afterwards gets the failed raise reported by each pool thread
// (ApplyCpuPriorityToCurrentThread).
int ProbeRaise() {
  if (deny_raise_for_testing.load()) return EPERM;
  if (const int known = raise_probe.load(std::memory_order_acquire); known >= 0) return known;
  int error = 0;
  // A throwaway thread: the nice value it sets dies with it.
  std::thread probe([&error] {
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), -kRaiseStep) != 0) error = errno;
  });
  probe.join();
  raise_probe.store(error, std::memory_order_release);
  return error;
}

std::string ErrnoName(int error) {
  const char* name = strerrorname_np(error);
  return name != nullptr ? name : "errno " + std::to_string(error);
}

}  // namespace

void DenyRaisingPriorityForTesting(bool deny) { deny_raise_for_testing.store(deny); }

PriorityPolicy DecidePriorityPolicy(const std::vector<PoolConfig>& pools) {
  std::string high;
  for (const PoolConfig& p : pools) {
    if (p.cpu != CpuPriority::kHigh) continue;
    if (!high.empty()) high += ", ";
    high += p.name;
  }
  PriorityPolicy policy;
  if (high.empty()) {
    policy.description = "default: no high-priority pool; nice values as configured";
    return policy;
  }
  const int error = ProbeRaise();
  if (error == 0) {
    policy.description = "raised: " + high + " at nice -" + std::to_string(kRaiseStep);
  } else {
    policy.lowered = true;
    policy.description = "lowered: no privilege to raise (" + ErrnoName(error) + "); " + high +
                         " at 0, others lowered by " + std::to_string(kRaiseStep);
  }
  return policy;
}

int PlannedNice(CpuPriority cpu, const PriorityPolicy& policy) {
  const int step = policy.lowered ? kRaiseStep : 0;
  switch (cpu) {
    case CpuPriority::kHigh:
      return -kRaiseStep + step;
    case CpuPriority::kNormal:
      return 0 + step;
    case CpuPriority::kLow:
      return 10 + step;
    case CpuPriority::kIdle:
      return 19;
  }
  return 0;
}

bool MayRaisePriority() { return ProbeRaise() == 0; }

int CurrentThreadNice() {
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  return errno == 0 ? nice : 0;
}

AppliedPriority ApplyCpuPriorityToCurrentThread(CpuPriority cpu, int nice) {
  const id_t tid = static_cast<id_t>(gettid());
  AppliedPriority applied;
  sched_param param{};
  param.sched_priority = 0;
  if (cpu == CpuPriority::kIdle) {
    applied.sched_idle = sched_setscheduler(0, SCHED_IDLE, &param) == 0;
  } else if (sched_getscheduler(0) != SCHED_OTHER) {
    // Inherited from the creating thread: back to the default policy.
    sched_setscheduler(0, SCHED_OTHER, &param);
  }
  if (setpriority(PRIO_PROCESS, tid, nice) != 0) {
    const int error = errno;
    Log(LogLevel::kWarning, "",
        "scheduler: cannot set nice " + std::to_string(nice) + " on thread " + std::to_string(tid) +
            ": " + std::strerror(error));
  }
  errno = 0;
  const int actual = getpriority(PRIO_PROCESS, tid);
  applied.nice = errno == 0 ? actual : nice;
  return applied;
}

}  // namespace atrium::internal
