// The sample wallet's startup work: real, deterministic work of varied
// length for the startup tasks its bundles declare, so a profile of the
// sample looks like a real launch (CPU on the main thread and pools, SQLite
// on io, waiting on net).
#ifndef WALLET_STARTUP_WORK_H_
#define WALLET_STARTUP_WORK_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>
#include <utility>

#include "atrium/bundle.h"

namespace wallet {

// CPU work: `units` x 50,000 rounds of a 64-bit mixing function (about a
// millisecond per 3-5 units on a desktop core). Returns the digest so the
// work cannot be optimized away.
inline uint64_t BurnCpu(int units) {
  uint64_t x = 0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(units);
  for (int64_t i = 0; i < int64_t{units} * 50'000; ++i) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 29;
  }
  return x;
}

// Storage work: `rows` writes to the bundle's private SQLite store.
inline atrium::Status TouchStore(atrium::BundleContext& ctx, const std::string& key, int rows) {
  auto store = ctx.storage();
  if (!store.ok()) return store.error();
  for (int i = 0; i < rows; ++i) {
    atrium::Status s = (*store)->Put(key + "." + std::to_string(i), std::to_string(BurnCpu(1)));
    if (!s.ok()) return s;
  }
  return atrium::Status::Ok();
}

// Network-like wait (the sample has no server): the thread blocks.
inline void AwaitNetwork(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

struct StartupWork {
  const char* id;
  std::function<atrium::Status()> run;
};

// A slower build of one task, the way a change to it would be: compiled
// with -DWALLET_SLOW_TASK="<task id>" -DWALLET_SLOW_MS=<n>, the task waits n
// ms more after its work (the A/B profiling tests build such variants of the
// sample's bundles; the sample itself is built without them).
#if defined(WALLET_SLOW_TASK) && defined(WALLET_SLOW_MS)
inline constexpr const char* kSlowTask = WALLET_SLOW_TASK;
inline constexpr int kSlowMs = WALLET_SLOW_MS;
#else
inline constexpr const char* kSlowTask = "";
inline constexpr int kSlowMs = 0;
#endif

// Registers the handler of each startup task; the first failure wins.
inline atrium::Status RegisterStartupWork(atrium::BundleContext& ctx,
                                          std::initializer_list<StartupWork> work) {
  for (const StartupWork& w : work) {
    std::function<atrium::Status()> run = w.run;
    if (kSlowMs > 0 && std::string(w.id) == kSlowTask) {
      run = [inner = w.run] {
        atrium::Status s = inner();
        std::this_thread::sleep_for(std::chrono::milliseconds(kSlowMs));
        return s;
      };
    }
    atrium::Status s = ctx.RegisterStartupTask(w.id, std::move(run));
    if (!s.ok()) return s;
  }
  return atrium::Status::Ok();
}

// A handler doing `units` of CPU work.
inline std::function<atrium::Status()> Cpu(int units) {
  return [units] {
    volatile uint64_t sink = BurnCpu(units);
    (void)sink;
    return atrium::Status::Ok();
  };
}

}  // namespace wallet

#endif  // WALLET_STARTUP_WORK_H_
