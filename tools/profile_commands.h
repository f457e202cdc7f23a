// `atrium profile`: launch an app N times and report where startup time goes,
// or launch two builds side by side and say whether the launch moved.
//
//   atrium profile <app-dir> [--runs N] [--out DIR] [--budget F] [--baseline F]
//                  [--tolerance P] [--save-baseline F] [--data-dir D] [--install X.atb]
//                  [--keep-data] [--run-timeout S]
//   atrium profile --compare <app-A> <app-B> [--runs N] [--max-runs M] [--warmup W]
//                  [--min-change X] [--min-task-change X] [--confidence C]
//                  [--include-idle] [--data-dir-a D] [--data-dir-b D]
//                  [--install-a X.atb] [--install-b X.atb] [--out DIR] ...
//
// Each run is a fresh process, `atrium run <app-dir> --data-dir D --trace
// DIR/run-<i>.json --quiet` (this same executable; profile_runs.h). One app:
// run 0 starts from an empty data dir (a first launch after install: the
// bundle index is built) or a copy of --data-dir; later runs reuse it, warm
// like a device. The traces are analyzed by profile_report.h into
// DIR/summary.txt and DIR/report.html. A/B (profile_compare.cc): compare.h
// into DIR/compare.{txt,json,html}. docs/profiling.md describes them.
//
// Calling convention, as for the other commands in atrium_main.cc: argv[0]
// is the command's name ("profile"), options follow. Exit status:
//   0  every run succeeded and no budget / baseline is exceeded; A/B: no
//      change or an improvement
//   1  a run failed (its trace is left out), or an input or output file failed
//   2  usage
//   3  every run succeeded, but a budget or the baseline is exceeded; A/B:
//      the launch regressed
//   4  A/B: the launch did not move, but tasks are slower
//   5  A/B: not enough runs to decide at --max-runs
//
// Concurrency: run from main() only (forks, prints and exits).
#ifndef ATRIUM_TOOLS_PROFILE_COMMANDS_H_
#define ATRIUM_TOOLS_PROFILE_COMMANDS_H_

int ProfileMain(int argc, char** argv);

#endif  // ATRIUM_TOOLS_PROFILE_COMMANDS_H_
