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

// Registers the handler of each startup task; the first failure wins.
inline atrium::Status RegisterStartupWork(atrium::BundleContext& ctx,
                                          std::initializer_list<StartupWork> work) {
  for (const StartupWork& w : work) {
    atrium::Status s = ctx.RegisterStartupTask(w.id, w.run);
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
