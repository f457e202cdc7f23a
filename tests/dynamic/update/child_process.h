// Child processes for the end-to-end tests of releases: run a command to
// completion with its output captured, or keep a server process running
// (its first stdout line read, e.g. the URL `atrium serve` prints) until the
// test ends; a free loopback port and a bounded wait for a file to appear.
#ifndef ATRIUM_TESTS_UPDATE_CHILD_PROCESS_H_
#define ATRIUM_TESTS_UPDATE_CHILD_PROCESS_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern char** environ;

namespace atrium::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Ran {
  int code = -1;
  std::string out, err;
};

// Runs `args` to completion, stdout and stderr into files of `dir`.
inline Ran RunProcess(const std::vector<std::string>& args, const std::string& dir) {
  static int n = 0;
  const std::string out = dir + "/out" + std::to_string(++n),
                    err = dir + "/err" + std::to_string(n);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  Ran r;
  if (posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) return r;
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

// A server process: started, and killed (SIGTERM, then waited for) at the end.
class Server {
 public:
  ~Server() { Stop(); }
  // Starts `args` with stdout on a pipe and returns its first line.
  std::string StartReadingFirstLine(const std::vector<std::string>& args, const std::string& log) {
    int fds[2];
    if (pipe(fds) != 0) return "";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    Spawn(args, &fa);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    std::string line;
    char c;
    while (read(fds[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    close(fds[0]);
    return line;
  }
  void Start(const std::vector<std::string>& args) { Spawn(args, nullptr); }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
  }

 private:
  void Spawn(const std::vector<std::string>& args, posix_spawn_file_actions_t* fa) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawnp(&pid_, argv[0], fa, nullptr, argv.data(), environ), 0) << args[0];
  }
  pid_t pid_ = 0;
};

// Runs `cli` (the built atrium) with `args` in `dir`, expecting exit status
// `expect_code` (a failure shows the command, stdout and stderr).
inline Ran RunCli(const std::string& cli, std::vector<std::string> args, const std::string& dir,
                  int expect_code) {
  args.insert(args.begin(), cli);
  Ran r = RunProcess(args, dir);
  EXPECT_EQ(r.code, expect_code) << args[1] << " " << (args.size() > 2 ? args[2] : "")
                                 << "\nstdout:\n"
                                 << r.out << "\nstderr:\n"
                                 << r.err;
  return r;
}

inline uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// Waits (bounded) until `path` exists, woken by inotify when a file in its
// directory is written or moved in (nginx writes its pid file once its
// listening sockets are open, so connections queue from then on).
inline bool WaitForFile(const std::string& path, std::chrono::milliseconds timeout) {
  const std::string dir = path.substr(0, path.rfind('/'));
  const int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return false;
  inotify_add_watch(fd, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool found = access(path.c_str(), F_OK) == 0;
  while (!found) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    found = access(path.c_str(), F_OK) == 0;
  }
  close(fd);
  return found;
}

}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_UPDATE_CHILD_PROCESS_H_
