// Running programs from tests: the built `atrium` CLI, or any shell line,
// with its exit status and its output (stdout and stderr together). Shared
// by every test that drives the CLI, instead of a copy in each.
//
// Concurrency: each call runs its own child process; safe from any thread.
#ifndef ATRIUM_TESTS_TESTING_CLI_H_
#define ATRIUM_TESTS_TESTING_CLI_H_

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace atrium::testing {

struct CliOutput {
  int status = -1;  // the exit status; -1 when killed by a signal or not run
  std::string text;
};

// Runs `command` with /bin/sh; `text` is what it wrote to stdout (redirect
// stderr in the command to get it too).
inline CliOutput RunShell(const std::string& command) {
  CliOutput out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.text.append(buf, n);
  const int status = ::pclose(p);
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Runs the CLI this build made, `atrium <args>`, stderr with stdout.
inline CliOutput RunCli(const std::string& args) {
  return RunShell(std::string(ATRIUM_BINARY_DIR) + "/bin/atrium " + args + " 2>&1");
}

}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_TESTING_CLI_H_
