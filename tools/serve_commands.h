// `atrium serve <repo> [--port N] [--host H] [--threads N]`: serves a release
// repository folder (metadata/, targets/) over HTTP for development and
// tests, with the embedded StaticServer (atrium/dynamic/static_server.h).
// Prints "serving <repo> at http://HOST:PORT/" on stdout once listening,
// then one line per answered request on stderr ("GET /metadata/timestamp.json
// 200 1234": method, target, status, body bytes) until SIGINT or SIGTERM,
// then exits 0. A folder that is not there or an address that cannot be
// bound: a message on stderr, exit 1; bad arguments: usage, exit 2.
#ifndef ATRIUM_TOOLS_SERVE_COMMANDS_H_
#define ATRIUM_TOOLS_SERVE_COMMANDS_H_

// argv[0] is "serve".
int ServeMain(int argc, char** argv);

#endif  // ATRIUM_TOOLS_SERVE_COMMANDS_H_
