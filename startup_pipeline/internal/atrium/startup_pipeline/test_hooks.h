// Test hooks of the startup pipeline layer (never installed).
#ifndef ATRIUM_STARTUP_PIPELINE_TEST_HOOKS_H_
#define ATRIUM_STARTUP_PIPELINE_TEST_HOOKS_H_

#include "atrium/base/clock.h"
#include "atrium/startup_pipeline.h"

namespace atrium::internal {

// Makes `pipeline` (built by StartupPipeline::Build, not yet started) read
// time from `clock`, which must outlive it: a test steps a FakeClock inside
// its tasks and asserts run times, queue waits and budgets exactly. Give the
// FakeClock a non-zero steady time (0 means "never" in the reports). Not
// with tracing on: trace timestamps are measured on the steady clock.
void SetPipelineClockForTesting(StartupPipeline& pipeline, const Clock& clock);

}  // namespace atrium::internal

#endif  // ATRIUM_STARTUP_PIPELINE_TEST_HOOKS_H_
