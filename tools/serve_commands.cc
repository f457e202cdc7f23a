// `atrium serve` (see serve_commands.h).
//
// Concurrency: the main thread blocks SIGINT and SIGTERM before the server
// starts its threads (which inherit the mask), then waits for one with
// sigwait(2): no signal handler runs, so stopping needs nothing
// async-signal-safe. Request lines are printed from the server's threads,
// one fprintf each (stdio locks the stream per call).
#include "serve_commands.h"

#include <pthread.h>
#include <signal.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "atrium/dynamic/static_server.h"

namespace po = boost::program_options;

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: atrium serve <repo> [--port N] [--host H] [--threads N]\n"
               "  serves the release repository folder <repo> (metadata/, targets/) over\n"
               "  HTTP until interrupted; --port 0 (the default) lets the system choose,\n"
               "  --host defaults to 127.0.0.1, --threads to 2\n");
  return 2;
}

// Text from a client, made safe for a terminal (no escape sequences).
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7F ? '?' : c;
  }
  return out;
}

void PrintRequest(const atrium::ServedRequest& r) {
  std::fprintf(stderr, "%s %s %d %llu\n", r.method.empty() ? "-" : Printable(r.method).c_str(),
               r.target.empty() ? "-" : Printable(r.target).c_str(), r.status,
               static_cast<unsigned long long>(r.body_bytes));
}

}  // namespace

int ServeMain(int argc, char** argv) {
  std::string repo;
  std::string host = "127.0.0.1";
  int port = 0;
  int threads = 2;
  po::options_description options;
  options.add_options()("repo", po::value(&repo))("port", po::value(&port))(
      "host", po::value(&host))("threads", po::value(&threads));
  po::positional_options_description positional;
  positional.add("repo", 1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(),
              vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "atrium serve: %s\n", e.what());
    return Usage();
  }
  if (repo.empty() || port < 0 || port > 65535 || threads < 1 || host.empty()) return Usage();

  sigset_t stop_signals, previous;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);

  atrium::StaticServerOptions server_options;
  server_options.root = repo;
  server_options.host = host;
  server_options.port = static_cast<uint16_t>(port);
  server_options.threads = threads;
  server_options.log_capacity = 0;  // printed as they happen instead
  server_options.on_request = PrintRequest;
  auto server = atrium::StaticServer::Start(std::move(server_options));
  if (!server.ok()) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    std::fprintf(stderr, "atrium serve: %s\n", server.error().ToString().c_str());
    return 1;
  }
  std::printf("serving %s at %s/\n", repo.c_str(), (*server)->url().c_str());
  std::fflush(stdout);

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) != 0) {
  }
  (*server)->Stop();
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return 0;
}
