// `atrium logs`: what the bundles and the runtime logged during launches, read
// from the app's <data-dir>/logs/atrium.log (and atrium.log.1, the older half;
// the format is docs/container.md#logs).
//
//   atrium logs <app-dir> [--data-dir D] [--bundle B] [--since 10m|2h|3d|<unix-ms>]
//                         [--level debug|info|warning|error]
//
// Calling convention as for the other commands: argv[0] is "logs"; returns
// the exit status (0 shown, 1 failed, 2 usage).
//
// Concurrency: run from main() only.
#ifndef ATRIUM_TOOLS_LOG_COMMANDS_H_
#define ATRIUM_TOOLS_LOG_COMMANDS_H_

int LogsMain(int argc, char** argv);

#endif  // ATRIUM_TOOLS_LOG_COMMANDS_H_
