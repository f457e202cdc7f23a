// Artifact commands of the `atrium` CLI (the app's state.db):
//
//   atrium artifacts <app-dir> [--data-dir D] [--history]
//       every artifact held, its state and why; with --history every change
//   atrium install <app-dir> X.atb [--data-dir D] [--now]
//       verify and install a native bundle package: active from the next
//       launch (default) or at once (--now) for bundles not yet loaded
//   atrium swap <app-dir> X.atb [--data-dir D] [--live]
//       replace a bundle: like install; --live runs the launch, then swaps
//       the running bundle (its manifest must say "live_swap": true)
//   atrium rollback <app-dir> <bundle> [--data-dir D]
//       the active update of <bundle> is disabled; its previous version (or
//       the baseline) is used from the next launch
//   atrium launches <app-dir> [--data-dir D]
//       the launch guard's records: each launch, how it ended, the recovery
//       level decided at its start, what it blamed; then every guard action
//       with its reason
//   atrium crashes <app-dir> [--data-dir D] [--frames]
//       crash and hang reports: kind, foreground/background, one-time or
//       persistent, signature, blamed artifact, frames (all with --frames)
//
// Calling convention as in atrium_main.cc: argv[0] is the command's name;
// returns the exit status (0 ok, 1 failed, 2 usage).
#ifndef ATRIUM_TOOLS_ARTIFACT_COMMANDS_H_
#define ATRIUM_TOOLS_ARTIFACT_COMMANDS_H_

int ArtifactsMain(int argc, char** argv);
int InstallMain(int argc, char** argv);
int SwapMain(int argc, char** argv);
int RollbackMain(int argc, char** argv);
int LaunchesMain(int argc, char** argv);
int CrashesMain(int argc, char** argv);

#endif  // ATRIUM_TOOLS_ARTIFACT_COMMANDS_H_
