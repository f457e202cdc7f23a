// StaticServer: the embedded HTTP/1.1 server behind `atrium serve`. It serves
// one folder as plain static files (a release repository: `metadata/` and
// `targets/`) for development and tests, the way a CDN would: GET and HEAD,
// strong ETags with If-None-Match (304), single byte ranges (206/416),
// keep-alive. It never lists a directory and never serves a file outside its
// root (no `..` segment, no symlink out of the root). Every response body is
// file bytes: refusals (4xx/5xx) carry no body, so `body_bytes_sent` is exactly
// what clients downloaded of the files.
//
// Limits: request headers up to 8 KiB (431 beyond), no request body (413),
// `max_connections` open connections (more are closed at accept), and an idle
// timeout per connection: a request must arrive whole, and each write must
// make progress, within `idle_timeout_ms`, or the connection is closed.
//
// Concurrency: Start, Stop and the destructor belong to the owner's thread
// and must not be called from `on_request` (Stop joins the server threads).
// port(), url(), stats(), TakeLog() and WaitForRequests() are thread-safe and
// may be called while the server runs. The server runs `threads` threads of
// its own (the HttpServer core of dynamic/http on threads of its own: a
// development tool, so it does not go through the scheduler); `on_request`
// is called on one of them.
#ifndef ATRIUM_DYNAMIC_STATIC_SERVER_H_
#define ATRIUM_DYNAMIC_STATIC_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "atrium/dynamic/http_stats.h"
#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

struct StaticServerOptions {
  std::string root;  // the folder served (must exist)
  std::string host = "127.0.0.1";
  uint16_t port = 0;             // 0: the kernel chooses; port() says which
  int threads = 2;               // server threads, >= 1
  size_t max_connections = 256;  // open connections; more are closed at accept
  int idle_timeout_ms = 15000;   // per request read and per write progress, > 0
  // The newest answered requests TakeLog keeps (older ones are dropped and
  // counted in StaticServerStats::log_dropped); 0 keeps none.
  size_t log_capacity = 4096;
  // Called after each answered request (on a server thread; keep it short).
  std::function<void(const ServedRequest&)> on_request;
};

using StaticServerStats = HttpServerStats;

class ATRIUM_EXPORT StaticServer {
 public:
  // Binds host:port and starts serving `options.root`. kNotFound when the
  // root is not a folder, kInvalidArgument for a bad option or host, kIo
  // when the address cannot be bound (in use, not local).
  static Result<std::unique_ptr<StaticServer>> Start(StaticServerOptions options);

  ~StaticServer();  // Stop()
  StaticServer(const StaticServer&) = delete;
  StaticServer& operator=(const StaticServer&) = delete;

  // Closes the listening socket and every connection (a response being
  // written is cut off) and joins the server threads. Idempotent.
  void Stop();

  uint16_t port() const;  // the bound port
  // "http://127.0.0.1:PORT" (no trailing slash; an IPv6 host in brackets).
  std::string url() const;
  StaticServerStats stats() const;
  // The requests answered since the last call, in the order they completed.
  std::vector<ServedRequest> TakeLog();
  // Waits until `total` requests in all have been answered since Start (a
  // client may read a whole response before the server has counted it).
  // False if that did not happen within `timeout` or the server stopped.
  bool WaitForRequests(uint64_t total, std::chrono::milliseconds timeout) const;

 private:
  class Impl;
  explicit StaticServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace atrium

#endif  // ATRIUM_DYNAMIC_STATIC_SERVER_H_
