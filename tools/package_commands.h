// Package commands of the `atrium` CLI (format: docs/package.md):
//
//   atrium pack <dir> --key K.key -o X.atb [--kind native_bundle] [--level N]
//               [--id ID] [--version V] [--manifest artifact.json]
//       packs and signs <dir>; progress on a terminal, then a summary
//   atrium verify X.atb --pubkey P.pub [--pubkey Q.pub ...]
//       checks the signature and every entry's hashes
//   atrium inspect X.atb [--pubkey P.pub]
//       header fields, manifest, entries, signature status
//   atrium unpack X.atb --pubkey P.pub -o DIR
//       verifies, then extracts into DIR (new or empty)
//
// Keys are the files `atrium keygen` writes. Only the public API of
// libatrium (atrium/package.h) is used.
//
// Calling convention, as for the other commands in atrium_main.cc: argv[0]
// is the command's own name, options follow. Return value is the process exit
// status: 0 done, 1 failed (message on stderr), 2 usage.
//
// Concurrency: run from main() only (they print and exit).
#ifndef ATRIUM_TOOLS_PACKAGE_COMMANDS_H_
#define ATRIUM_TOOLS_PACKAGE_COMMANDS_H_

int PackMain(int argc, char** argv);
int VerifyMain(int argc, char** argv);
int InspectMain(int argc, char** argv);
int UnpackMain(int argc, char** argv);

#endif  // ATRIUM_TOOLS_PACKAGE_COMMANDS_H_
