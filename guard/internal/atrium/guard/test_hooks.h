// Test hooks of the guard layer (never installed).
#ifndef ATRIUM_GUARD_TEST_HOOKS_H_
#define ATRIUM_GUARD_TEST_HOOKS_H_

namespace atrium::internal {

// Called inside the crash handler between its two phases; tests use it to
// crash inside the handler. Not async-signal-safe to change while crashing.
void SetCrashHookForTesting(void (*hook)());

// In a forked child of a test process whose capture is installed already:
// closes the crash file so the child's own launch installs capture into its
// own data dir. The handlers stay; no crash may happen meanwhile.
void ResetCrashCaptureForTesting();

}  // namespace atrium::internal

#endif  // ATRIUM_GUARD_TEST_HOOKS_H_
