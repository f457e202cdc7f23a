// Delta package commands of the `atrium` CLI (format: docs/package.md,
// "Delta packages"):
//
//   atrium diff OLD.atb NEW.atb -o X.atd [--level N]
//       writes a delta package that rebuilds NEW.atb from OLD.atb; prints
//       each entry's op and sizes and the delta's size against NEW.atb
//       (progress on a terminal). --level: the zstd level NEW.atb was packed
//       with, when known (otherwise found per entry).
//   atrium apply OLD.atb X.atd --pubkey P.pub [--pubkey Q.pub ...] -o NEW.atb
//       rebuilds NEW.atb, checks it against the target's signature and
//       hashes, then renames it into place; on failure nothing is left
//       behind and the message says why (fall back to the full package).
//
// Only the public API of libatrium (atrium/delta_package.h) is used.
// Calling convention as in atrium_main.cc: argv[0] is the command's name;
// returns the exit status (0 done, 1 failed, 2 usage).
//
// Concurrency: run from main() only.
#ifndef ATRIUM_TOOLS_DELTA_COMMANDS_H_
#define ATRIUM_TOOLS_DELTA_COMMANDS_H_

int DiffMain(int argc, char** argv);
int ApplyMain(int argc, char** argv);

#endif  // ATRIUM_TOOLS_DELTA_COMMANDS_H_
