// Test hooks of the guard layer (never installed).
#ifndef ATRIUM_GUARD_TEST_HOOKS_H_
#define ATRIUM_GUARD_TEST_HOOKS_H_

namespace atrium::internal {

// Called inside the crash handler between its two phases; tests use it to
// crash inside the handler. Not async-signal-safe to change while crashing.
void SetCrashHookForTesting(void (*hook)());

}  // namespace atrium::internal

#endif  // ATRIUM_GUARD_TEST_HOOKS_H_
