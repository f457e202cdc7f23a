// Test hooks of the update layer.
#ifndef ATRIUM_DYNAMIC_UPDATE_TESTING_H_
#define ATRIUM_DYNAMIC_UPDATE_TESTING_H_

#include "atrium/base/clock.h"

namespace atrium::update {

// The clock the sync after a launch reads ("interval_s", last_sync, the
// TUF reference time); nullptr: the real one. Set before the container opens.
void SetUpdateClockForTesting(const internal::Clock* clock);

}  // namespace atrium::update

#endif  // ATRIUM_DYNAMIC_UPDATE_TESTING_H_
