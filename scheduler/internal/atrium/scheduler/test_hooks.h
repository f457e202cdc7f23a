// Test hooks of the scheduler layer (never installed).
#ifndef ATRIUM_SCHEDULER_TEST_HOOKS_H_
#define ATRIUM_SCHEDULER_TEST_HOOKS_H_

namespace atrium::internal {

// Removes and deletes the active trace recorder (no other thread may be
// using it).
void StopTraceForTesting();

}  // namespace atrium::internal

#endif  // ATRIUM_SCHEDULER_TEST_HOOKS_H_
