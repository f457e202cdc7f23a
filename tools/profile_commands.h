// `atrium profile`: launch an app N times and report where startup time goes.
//
//   atrium profile <app-dir> [--runs N] [--out DIR] [--budget F] [--baseline F]
//                  [--tolerance P] [--save-baseline F] [--keep-data] [--run-timeout S]
//
// Each run is a fresh process, `atrium run <app-dir> --data-dir D --trace
// DIR/run-<i>.json --quiet` (this same executable). Run 0 starts from an empty
// data dir (a first launch after install: the bundle index is built); later
// runs reuse it, warm like a device. The traces are analyzed by
// profile_report.h into DIR/summary.txt and DIR/report.html; docs/profiling.md
// describes them.
//
// Calling convention, as for the other commands in atrium_main.cc: argv[0]
// is the command's name ("profile"), options follow. Exit status:
//   0  every run succeeded and no budget / baseline is exceeded
//   1  a run failed (its trace is left out), or an input or output file failed
//   2  usage
//   3  every run succeeded, but a budget or the baseline is exceeded
//
// Concurrency: run from main() only (forks, prints and exits).
#ifndef ATRIUM_TOOLS_PROFILE_COMMANDS_H_
#define ATRIUM_TOOLS_PROFILE_COMMANDS_H_

int ProfileMain(int argc, char** argv);

#endif  // ATRIUM_TOOLS_PROFILE_COMMANDS_H_
