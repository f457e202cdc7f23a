// Test hooks of the config layer (never installed).
#ifndef ATRIUM_DYNAMIC_CONFIG_TESTING_H_
#define ATRIUM_DYNAMIC_CONFIG_TESTING_H_

#include "atrium/base/clock.h"

namespace atrium::config {

// The clock config layers created from now on use (fetch throttling,
// date.now); nullptr restores the real clock. Not thread-safe against a
// container opening at the same time.
void SetConfigClockForTesting(atrium::internal::Clock* clock);

}  // namespace atrium::config

#endif  // ATRIUM_DYNAMIC_CONFIG_TESTING_H_
