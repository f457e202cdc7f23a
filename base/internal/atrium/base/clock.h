// Clock: where time enters. Code that decides by time (quiet periods,
// windows, budgets, record timestamps) asks a Clock, so a test can inject
// FakeClock and step it instead of sleeping.
//
// Concurrency: RealClock is stateless; FakeClock is thread-safe (atomics).
#ifndef ATRIUM_BASE_CLOCK_H_
#define ATRIUM_BASE_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace atrium::internal {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, Unix milliseconds (records, history rows).
  virtual int64_t NowUnixMs() const = 0;
  // Monotonic nanoseconds since an arbitrary start (durations, deadlines).
  virtual int64_t SteadyNs() const = 0;
};

// The system clocks; a process-wide instance that is never destroyed.
Clock& RealClock();

// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t unix_ms = 1'700'000'000'000, int64_t steady_ns = 0)
      : unix_ms_(unix_ms), steady_ns_(steady_ns) {}
  int64_t NowUnixMs() const override { return unix_ms_.load(); }
  int64_t SteadyNs() const override { return steady_ns_.load(); }
  // Moves both clocks forward by `ms`.
  void AdvanceMs(int64_t ms) {
    unix_ms_ += ms;
    steady_ns_ += ms * 1'000'000;
  }
  void SetUnixMs(int64_t ms) { unix_ms_ = ms; }

 private:
  std::atomic<int64_t> unix_ms_;
  std::atomic<int64_t> steady_ns_;
};

// RealClock().NowUnixMs().
int64_t NowUnixMs();

}  // namespace atrium::internal

#endif  // ATRIUM_BASE_CLOCK_H_
