// Scheduler options: the default pools, the usable cores, names of CPU
// priorities, and the validation Create runs before anything starts.
//
// Concurrency: free functions with no shared state; thread-safe.
#include <sched.h>

#include <algorithm>
#include <string>
#include <thread>

#include "atrium/scheduler.h"
#include "scheduler_core.h"

namespace atrium {
namespace internal::sched {
namespace {

bool IsValidPoolName(std::string_view name) {
  if (name.empty() || name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Error OptionError(size_t index, std::string message) {
  Error e = MakeError(ErrorCode::kInvalidArgument, std::move(message));
  e.pointer = "/pools/" + std::to_string(index);
  return e;
}

}  // namespace

Status ValidateOptions(const SchedulerOptions& options) {
  for (size_t i = 0; i < options.pools.size(); ++i) {
    const PoolConfig& p = options.pools[i];
    if (!IsValidPoolName(p.name)) {
      return OptionError(i, "pool '" + p.name + "': name must match [a-z][a-z0-9_-]*");
    }
    if (p.name == "main") {
      return OptionError(i, "pool 'main': the name is reserved for the main loop");
    }
    for (size_t j = 0; j < i; ++j) {
      if (options.pools[j].name == p.name) {
        return OptionError(i, "pool '" + p.name + "' is defined twice (pools " + std::to_string(j) +
                                  " and " + std::to_string(i) + ")");
      }
    }
    if (p.threads < 1) {
      return OptionError(
          i, "pool '" + p.name + "': threads must be >= 1 (got " + std::to_string(p.threads) + ")");
    }
    if (p.queue_limit < 1) {
      return OptionError(i, "pool '" + p.name + "': queue_limit must be >= 1");
    }
  }
  const int pools = static_cast<int>(options.pools.size());
  if (options.max_threads < 0 || (options.max_threads > 0 && options.max_threads < pools)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "max_threads " + std::to_string(options.max_threads) +
                         " is below the number of pools (" + std::to_string(pools) +
                         "): every pool needs at least one thread");
  }
  if (options.bundle_quota < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "bundle_quota must be >= 0 (got " +
                                                      std::to_string(options.bundle_quota) + ")");
  }
  return Status::Ok();
}

}  // namespace internal::sched

const char* CpuPriorityName(CpuPriority p) {
  switch (p) {
    case CpuPriority::kHigh:
      return "high";
    case CpuPriority::kNormal:
      return "normal";
    case CpuPriority::kLow:
      return "low";
    case CpuPriority::kIdle:
      return "idle";
  }
  return "?";
}

int UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

std::vector<PoolConfig> DefaultPools(int cores) {
  cores = std::max(1, cores);
  std::vector<PoolConfig> pools(5);
  pools[0].name = "urgent";
  pools[0].threads = cores;
  pools[0].cpu = CpuPriority::kHigh;
  pools[1].name = "normal";
  pools[1].threads = cores;
  pools[2].name = "io";
  pools[2].threads = std::max(4, 2 * cores);
  pools[3].name = "net";
  pools[3].threads = std::max(2, cores);
  pools[4].name = "background";
  pools[4].threads = std::max(1, cores / 2);
  pools[4].cpu = CpuPriority::kIdle;
  pools[4].held_until_idle = true;
  return pools;
}

}  // namespace atrium
