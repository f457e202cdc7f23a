// HttpServer: the embedded HTTP/1.1 server core under `atrium serve` and the
// H5 layer's loopback server. It accepts connections, reads one request at a
// time per connection (keep-alive), hands each whole request to the owner's
// handler and writes the reply the handler gives back, whenever it gives it
// (a handler may answer later, from another thread). It enforces the limits
// that keep a hostile or slow client from exhausting the host:
//  1. request headers up to `header_limit` bytes (431 beyond);
//  2. a request body up to `body_limit` bytes (413 beyond; 0 refuses any);
//  3. `max_connections` open connections (more are closed at accept);
//  4. an idle timeout per connection: a request must arrive whole, and each
//     write must make progress, within `idle_timeout_ms`; and a handler
//     must answer within `handler_timeout_ms` (else 503 and close).
// A request the server refuses never reaches the handler; its response has
// no body. A handler that drops its reply without answering gets a 500 sent
// for it.
//
// Threads: the server runs an Asio io_context on `threads` runners. By
// default it makes them itself (std::thread: a development tool); an owner
// that must not create threads (a layer: work goes through the scheduler)
// passes `run_on`, which is called `threads` times with a function to run
// until the server stops (the H5 layer posts it as a long-running task).
//
// Concurrency: Start, Stop and the destructor belong to the owner's thread
// and must not be called from the handler or `on_request` (Stop waits for
// the runners). port(), url(), stats(), TakeLog() and WaitForRequests() are
// thread-safe. The handler and `on_request` run on a runner; the reply may
// be called from any thread, once.
#ifndef ATRIUM_DYNAMIC_HTTP_HTTP_SERVER_H_
#define ATRIUM_DYNAMIC_HTTP_HTTP_SERVER_H_

#include <boost/beast/http/basic_file_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "atrium/dynamic/http/file_window.h"
#include "atrium/dynamic/http_stats.h"
#include "atrium/result.h"

namespace atrium::http {

namespace bhttp = boost::beast::http;

using Request = bhttp::request<bhttp::string_body>;
using FileBody = bhttp::basic_file_body<FileWindow>;
// What a handler answers with: no body, bytes in memory, or a window of an
// open file streamed from disk.
using Reply = std::variant<bhttp::response<bhttp::empty_body>, bhttp::response<bhttp::string_body>,
                           bhttp::response<FileBody>>;

// A reply with no body: `status`, Content-Length 0, for `req`'s version.
Reply EmptyReply(bhttp::status status, const Request& req);
// A reply of `body` typed `content_type`.
Reply TextReply(bhttp::status status, const Request& req, std::string body,
                std::string_view content_type);
// The reply's status code.
int ReplyStatus(const Reply& reply);
// Sets header `field` to `value` on whichever response the reply holds.
void SetReplyHeader(Reply& reply, bhttp::field field, std::string_view value);
void SetReplyHeader(Reply& reply, std::string_view field, std::string_view value);

// Called once per request with a way to answer it. The request is the
// handler's during the call only (it may move the body or headers out).
// `answer` may be called later, from any thread, exactly once (later calls
// are ignored); a handler that lets it go unused has a 500 sent for it.
using Answer = std::function<void(Reply)>;
using Handler = std::function<void(Request& request, Answer answer)>;

struct HttpServerOptions {
  std::string name = "http server";  // in errors and log lines
  std::string host = "127.0.0.1";
  uint16_t port = 0;               // 0: the kernel chooses; port() says which
  int threads = 2;                 // runners, >= 1
  size_t max_connections = 256;    // open connections; more are closed at accept
  int idle_timeout_ms = 15000;     // per request read and per write progress, > 0
  int handler_timeout_ms = 30000;  // from a whole request to the handler's answer, > 0
  uint32_t header_limit = 8 * 1024;
  uint64_t body_limit = 0;  // request body bytes; 0 refuses a request with a body
  // The newest answered requests TakeLog keeps (older ones are dropped and
  // counted in HttpServerStats::log_dropped); 0 keeps none.
  size_t log_capacity = 4096;
  Handler handler;  // required
  // Called after each answered request (on a runner; keep it short).
  std::function<void(const ServedRequest&)> on_request;
  // Called once by Start with the bound port, before any runner starts (so
  // what it sets up is visible to the handler without a lock).
  std::function<void(uint16_t port)> on_bound;
  // Empty: the server makes `threads` threads. Else called `threads` times
  // at Start with a function that runs until the server stops; it must run
  // it (on any thread) or return false, which fails Start.
  std::function<bool(std::function<void()> run)> run_on;
};

class HttpServer {
 public:
  // Binds host:port and starts serving. kInvalidArgument for a bad option
  // or host, kIo when the address cannot be bound, kState when `run_on`
  // refuses a runner.
  static Result<std::unique_ptr<HttpServer>> Start(HttpServerOptions options);

  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Closes the listening socket and every connection (a response being
  // written is cut off) and waits for every runner to return. Idempotent.
  void Stop();

  uint16_t port() const;
  // "http://127.0.0.1:PORT" (no trailing slash; an IPv6 host in brackets).
  std::string url() const;
  HttpServerStats stats() const;
  // The requests answered since the last call, in the order they completed.
  std::vector<ServedRequest> TakeLog();
  // Waits until `total` requests in all have been answered since Start (a
  // client may read a whole response before the server has counted it).
  // False if that did not happen within `timeout` or the server stopped.
  bool WaitForRequests(uint64_t total, std::chrono::milliseconds timeout) const;

  class Impl;

 private:
  explicit HttpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace atrium::http

#endif  // ATRIUM_DYNAMIC_HTTP_HTTP_SERVER_H_
