#include "atrium/base/clock.h"

#include <chrono>

namespace atrium::internal {
namespace {

class SystemClock final : public Clock {
 public:
  int64_t NowUnixMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t SteadyNs() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

Clock& RealClock() {
  static SystemClock* clock = new SystemClock();  // leaked: usable from any destructor
  return *clock;
}

int64_t NowUnixMs() { return RealClock().NowUnixMs(); }

}  // namespace atrium::internal
