// `atrium release init|add|publish|remove|rotate-key|refresh|status` (the
// release repository), `atrium update` (one update cycle of an app) and
// `atrium tuf-client` (the TUF conformance command-line protocol).
#ifndef ATRIUM_TOOLS_RELEASE_COMMANDS_H_
#define ATRIUM_TOOLS_RELEASE_COMMANDS_H_

// argv[0] is "release".
int ReleaseMain(int argc, char** argv);
// argv[0] is "update".
int UpdateMain(int argc, char** argv);
// argv[0] is "tuf-client".
int TufClientMain(int argc, char** argv);

#endif  // ATRIUM_TOOLS_RELEASE_COMMANDS_H_
