// What both modes of `atrium profile` (profile_commands.cc: one app;
// profile_compare.cc: A/B) share: running one launch as a child process and
// reading its trace, preparing a data dir for the runs (a copy of a team's,
// an update installed into it), and writing result files.
//
// Each run is a child process of this same executable (/proc/self/exe), so
// no run inherits the state of another: stdin and stdout go to /dev/null,
// stderr is captured through a pipe (its tail is shown when a run fails) and
// a run that outlives its timeout is killed. The environment variable
// ATRIUM_PROFILE_RUNNER_FOR_TESTING names another executable to run instead
// (tests use a script that writes canned traces).
//
// Concurrency: single-threaded; called from main().
#ifndef ATRIUM_TOOLS_PROFILE_RUNS_H_
#define ATRIUM_TOOLS_PROFILE_RUNS_H_

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "profile_report.h"

namespace atrium::profile_cli {

// The command line of `atrium profile` (both modes).
struct ProfileOptions {
  std::string app_dir;               // one app; or A and B:
  std::vector<std::string> compare;  // --compare A B
  int runs = 10;                     // launches; with --compare, per side
  int max_runs = 0;                  // --compare: up to this many per side while undecided
  int warmup = 1;                    // --compare: launches per side before the measured ones
  std::string out = "atrium-profile";
  std::string budget;
  std::string baseline;
  double tolerance = 10;
  bool any_version = false;  // accept a baseline of another app version
  std::string save_baseline;
  bool keep_data = false;
  int run_timeout_s = 300;
  std::string data_dir, data_dir_a, data_dir_b;  // copied for the runs
  std::string install, install_a, install_b;     // installed into the copy
  double min_change_ms = 5;
  double min_change_pct = 0;  // when --min-change is given in %
  double min_task_change_ms = 1;
  double confidence_pct = 95;
  bool include_idle = false;
};

// `atrium profile --compare A B` (profile_compare.cc).
int CompareMain(const ProfileOptions& o);

// Prints "atrium profile: <message>" to stderr; returns 1.
int Fail(const std::string& message);

// The executable that runs launches: /proc/self/exe, or the test runner.
std::string RunnerExe();

// A new private directory under $TMPDIR (or /tmp): "" and `error` set when
// it cannot be made.
std::filesystem::path MakeScratchDir(std::string* error);

// One launch: `exe run <app> --data-dir D --trace F --quiet`.
struct LaunchRun {
  std::optional<profile::RunTrace> trace;  // when it succeeded
  std::string problem;                     // why not, when it failed
  std::string stderr_tail;                 // indented, for a failed run
  double seconds = 0;
};
LaunchRun RunLaunch(const std::string& exe, const std::filesystem::path& app_dir,
                    const std::string& data_dir, const std::string& trace_path, int timeout_s);

// Makes `dest` the data dir for the runs: a copy of `copy_from` (when not
// empty; it must be a directory), then `install` (a package, when not
// empty) installed into it with `exe install <app> <pkg> --data-dir dest`.
// "" on success, else the problem (naming the directory or package).
std::string PrepareDataDir(const std::string& exe, const std::filesystem::path& app_dir,
                           const std::string& copy_from, const std::string& install,
                           const std::filesystem::path& dest, int timeout_s);

// Writes `data` to `path` through a temporary file and a rename.
bool WriteFileAtomic(const std::string& path, const std::string& data, std::string* error);

// Removes run-<n>.json files a previous profile left in `dir`.
void RemoveStaleTraces(const std::filesystem::path& dir);

}  // namespace atrium::profile_cli

#endif  // ATRIUM_TOOLS_PROFILE_RUNS_H_
