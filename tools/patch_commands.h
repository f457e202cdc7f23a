// Release-side hotpatch commands of the `atrium` CLI:
//
//   atrium keygen --out PREFIX          writes PREFIX.pub (public key, 64 hex
//                                       characters) and PREFIX.key (secret
//                                       key, 128 hex characters, mode 0600);
//                                       refuses to overwrite either file
//   atrium patch sign <dir> --key FILE  writes <dir>/patch.sig over patch.json
//                                       and the source it names
//
// Both produce exactly the formats hotpatch/src/patch_package.h defines (the
// runtime's LoadPatchPackage verifies them), using libsodium directly, since
// the tool links only the public runtime library.
//
// Calling convention, as for the other commands in atrium_main.cc: argv[0]
// is the command's own name ("keygen", "sign"), options follow. Return value
// is the process exit status: 0 done, 1 failed (message on stderr), 2 usage.
//
// Concurrency: run from main() only (they print and exit).
#ifndef ATRIUM_TOOLS_PATCH_COMMANDS_H_
#define ATRIUM_TOOLS_PATCH_COMMANDS_H_

int KeygenMain(int argc, char** argv);
int PatchSignMain(int argc, char** argv);

#endif  // ATRIUM_TOOLS_PATCH_COMMANDS_H_
