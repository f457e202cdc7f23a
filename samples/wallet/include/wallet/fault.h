// Faults the sample wallet's fault packages inject on purpose, so the launch
// guard can be exercised end to end (samples/faults, tests/guard/
// guard_e2e_test.cc). A bundle source built with WALLET_FAULT set to one of
// the values below uses these; the baseline build leaves WALLET_FAULT
// undefined and never includes a fault.
//
// Every helper runs on whatever thread the startup task it serves runs on;
// none keeps state.
#ifndef WALLET_FAULT_H_
#define WALLET_FAULT_H_

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <thread>

#include "atrium/bundle.h"
#include "wallet/startup_work.h"

// The fault a build injects (WALLET_FAULT=<value>).
#define WALLET_FAULT_NONE 0     // behaves like the baseline
#define WALLET_FAULT_SEGV 1     // a startup task dereferences null
#define WALLET_FAULT_ABORT 2    // a startup task calls std::abort()
#define WALLET_FAULT_HANG 3     // a main-thread startup task never returns
#define WALLET_FAULT_BGCRASH 4  // an idle background task crashes after the launch is good

namespace wallet {

// A fatal SIGSEGV: a read through a null pointer the compiler cannot prove
// null.
[[noreturn]] inline void CrashNullRead() {
  volatile int* volatile null_pointer = nullptr;
  volatile int value = *null_pointer;
  (void)value;
  std::abort();  // not reached
}

// Blocks the calling thread forever, waking every 50 ms (a hang a watchdog
// sees as one task that never ends, not as a busy loop).
[[noreturn]] inline void BlockForever() {
  for (;;) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

// A startup task handler that sleeps `ms` and then crashes (SIGSEGV).
inline std::function<atrium::Status()> CrashAfter(int ms) {
  return [ms]() -> atrium::Status {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    CrashNullRead();
  };
}

}  // namespace wallet

#endif  // WALLET_FAULT_H_
