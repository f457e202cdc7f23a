// HttpServer (see http_server.h): Beast over Asio. One io_context run by the
// runners; the acceptor's handlers run one at a time (a single accept is
// outstanding), and each connection (Session) runs on its own strand, so a
// Session is only ever touched by one thread at a time.
//
// Lifetime:
//  1. A Session is owned by the handlers of its pending operation (a
//     shared_ptr in each): the read, the write, or the timer that bounds
//     the handler's answer. It ends when a handler does not start another.
//  2. An Answer holds the Session weakly and the Gate: it posts to the
//     Session's strand only while the Gate is open, under the Gate's mutex,
//     so an answer given after Stop (from a thread of the handler's owner)
//     touches nothing of the stopped server.
//  3. Stop() closes the Gate, stops the io_context and waits for every
//     runner; the acceptor and the io_context are then destroyed on the
//     owner's thread. Destroying the io_context destroys the handlers not
//     run, and with them the Sessions still open (their sockets close).
//  4. The Core (options, counters, log) is shared by the Sessions and
//     outlives them.
#include "atrium/dynamic/http/http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "atrium/base/log.h"
#include "atrium/dynamic/http/file_request.h"

namespace atrium::http {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

Reply EmptyReply(bhttp::status status, const Request& req) {
  bhttp::response<bhttp::empty_body> res{status, req.version()};
  res.content_length(0);
  return res;
}

Reply TextReply(bhttp::status status, const Request& req, std::string body,
                std::string_view content_type) {
  bhttp::response<bhttp::string_body> res{status, req.version()};
  res.set(bhttp::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

int ReplyStatus(const Reply& reply) {
  return std::visit([](const auto& res) { return static_cast<int>(res.result_int()); }, reply);
}

void SetReplyHeader(Reply& reply, bhttp::field field, std::string_view value) {
  std::visit([&](auto& res) { res.set(field, value); }, reply);
}

void SetReplyHeader(Reply& reply, std::string_view field, std::string_view value) {
  std::visit([&](auto& res) { res.set(field, value); }, reply);
}

namespace {

constexpr auto kAcceptRetry = std::chrono::milliseconds(50);
// How long a connection being closed after a refusal reads (and drops) what
// the client still sends, so its unread bytes do not turn our close into a
// reset that loses the response on the way.
constexpr auto kLingerLimit = std::chrono::milliseconds(2000);

// What the Sessions share with the server: immutable options and the
// counters. `mu` guards `stats`, `log` and `stopped`.
struct Core {
  HttpServerOptions options;
  std::chrono::milliseconds idle{0};
  std::chrono::milliseconds handler_timeout{0};
  size_t read_buffer_limit = 0;
  std::atomic<size_t> open_connections{0};

  mutable std::mutex mu;
  mutable std::condition_variable answered;
  HttpServerStats stats;          // guarded by mu
  std::deque<ServedRequest> log;  // guarded by mu
  bool stopped = false;           // guarded by mu

  void Record(ServedRequest entry) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++stats.requests;
      stats.body_bytes_sent += entry.body_bytes;
      if (entry.status >= 200 && entry.status < 300) ++stats.responses_2xx;
      if (entry.status == 304) ++stats.responses_304;
      if (entry.status >= 400 && entry.status < 500) ++stats.responses_4xx;
      if (entry.status >= 500) ++stats.responses_5xx;
      if (options.log_capacity == 0) {
        ++stats.log_dropped;
      } else {
        if (log.size() == options.log_capacity) {
          log.pop_front();
          ++stats.log_dropped;
        }
        log.push_back(entry);
      }
    }
    answered.notify_all();
    if (options.on_request) options.on_request(entry);
  }
};

// Open while the server runs; an Answer posts only through an open Gate.
struct Gate {
  std::mutex mu;
  bool open = true;  // guarded by mu
};

// A response on its way out with its serializer (which points into it, so
// the pair never moves) and the log entry it completes.
template <class Body>
struct Outgoing {
  explicit Outgoing(bhttp::response<Body>&& m) : message(std::move(m)), serializer(message) {}
  bhttp::response<Body> message;
  bhttp::response_serializer<Body> serializer;
  ServedRequest entry;
  bool close = false;
};

// One connection: read a request, answer it, again while keep-alive holds.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<Core> core, std::shared_ptr<Gate> gate)
      : stream_(std::move(socket)),
        timer_(stream_.get_executor()),
        buffer_(core->read_buffer_limit),
        core_(std::move(core)),
        gate_(std::move(gate)) {}
  ~Session() { core_->open_connections.fetch_sub(1); }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

  // On the strand: the handler's reply to request `id` (ignored when that
  // request was answered already, by the timeout).
  void Deliver(uint64_t id, Reply reply) {
    if (id != awaiting_) return;
    awaiting_ = 0;
    timer_.cancel();
    if (auto* text = std::get_if<bhttp::response<bhttp::string_body>>(&reply); text && head_) {
      // A HEAD answer has the header of the GET answer and no body.
      bhttp::response<bhttp::empty_body> res(std::move(text->base()));
      return Send(std::move(res), std::move(pending_entry_));
    }
    std::visit([&](auto& res) { Send(std::move(res), std::move(pending_entry_)); }, reply);
  }

  // Any thread: post `reply` for request `id` to the strand while the
  // server runs.
  static void Post(const std::weak_ptr<Session>& weak, const std::shared_ptr<Gate>& gate,
                   uint64_t id, Reply reply) {
    std::lock_guard<std::mutex> lock(gate->mu);
    if (!gate->open) return;
    std::shared_ptr<Session> self = weak.lock();
    if (!self) return;
    auto executor = self->stream_.get_executor();
    net::post(executor, [self = std::move(self), id, reply = std::move(reply)]() mutable {
      self->Deliver(id, std::move(reply));
    });
  }

 private:
  // The handler's side of one request: answers once; unanswered, a 500.
  struct Pending {
    std::weak_ptr<Session> session;
    std::shared_ptr<Gate> gate;
    uint64_t id = 0;
    unsigned version = 11;
    std::atomic<bool> done{false};
    ~Pending() {
      if (done.exchange(true)) return;
      bhttp::response<bhttp::empty_body> res{bhttp::status::internal_server_error, version};
      res.content_length(0);
      Post(session, gate, id, std::move(res));
    }
  };

  void Read() {
    parser_.emplace();
    parser_->header_limit(core_->options.header_limit);
    parser_->body_limit(core_->options.body_limit);
    stream_.expires_after(core_->idle);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (!ec) return Dispatch(parser_->release());
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
        ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) {
      return Close();  // the client went away, timed out, or the socket failed
    }
    ServedRequest entry;
    if (parser_->is_header_done()) {
      entry.method = std::string(parser_->get().method_string());
      entry.target = std::string(parser_->get().target());
      entry.host = std::string(parser_->get()[bhttp::field::host]);
    }
    auto status = bhttp::status::bad_request;
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      status = bhttp::status::request_header_fields_too_large;
    }
    if (ec == bhttp::error::body_limit) status = bhttp::status::payload_too_large;
    bhttp::response<bhttp::empty_body> res{status, 11};
    res.content_length(0);
    Send(std::move(res), std::move(entry), /*close=*/true);
  }

  void Dispatch(Request req) {
    pending_entry_ = ServedRequest{std::string(req.method_string()), std::string(req.target()),
                                   std::string(req[bhttp::field::host]), 0, 0};
    close_after_ = !req.keep_alive();
    head_ = req.method() == bhttp::verb::head;
    awaiting_ = ++last_id_;
    auto pending = std::make_shared<Pending>();
    pending->session = weak_from_this();
    pending->gate = gate_;
    pending->id = awaiting_;
    pending->version = req.version();
    timer_.expires_after(core_->handler_timeout);
    timer_.async_wait([self = shared_from_this(), id = awaiting_](beast::error_code ec) {
      if (ec || id != self->awaiting_) return;
      self->awaiting_ = 0;
      bhttp::response<bhttp::empty_body> res{bhttp::status::service_unavailable, 11};
      res.content_length(0);
      self->Send(std::move(res), std::move(self->pending_entry_), /*close=*/true);
    });
    Answer answer = [pending](Reply reply) {
      if (pending->done.exchange(true)) return;
      Session::Post(pending->session, pending->gate, pending->id, std::move(reply));
    };
    try {
      core_->options.handler(req, std::move(answer));
    } catch (const std::exception& e) {
      // `pending` answers 500 when the last copy of `answer` goes.
      internal::Log(LogLevel::kError, "",
                    core_->options.name + ": exception in the request handler: " + e.what());
    } catch (...) {
      internal::Log(LogLevel::kError, "",
                    core_->options.name + ": a non-standard exception in the request handler");
    }
  }

  template <class Body>
  void Send(bhttp::response<Body>&& res, ServedRequest entry, bool close = false) {
    close = close || close_after_;
    res.set(bhttp::field::server, "atrium");
    res.set(bhttp::field::date, HttpDate(::time(nullptr)));
    res.keep_alive(!close);
    auto out = std::make_shared<Outgoing<Body>>(std::move(res));
    out->entry = std::move(entry);
    out->entry.status = static_cast<int>(out->message.result_int());
    out->close = close;
    stream_.expires_after(core_->idle);
    bhttp::async_write_header(stream_, out->serializer,
                              [self = shared_from_this(), out](beast::error_code ec, size_t) {
                                if (ec) return self->Finish(std::move(out->entry), ec);
                                self->WriteBody(out);
                              });
  }

  // The body, one serializer buffer at a time: the idle timeout bounds each
  // step (a slow reader is fine, a stalled one is cut off), and the bytes
  // counted are body bytes the socket took.
  template <class Body>
  void WriteBody(std::shared_ptr<Outgoing<Body>> out) {
    if (out->serializer.is_done()) return Finish(std::move(out->entry), {}, out->close);
    stream_.expires_after(core_->idle);
    bhttp::async_write_some(stream_, out->serializer,
                            [self = shared_from_this(), out](beast::error_code ec, size_t n) {
                              out->entry.body_bytes += n;
                              if (ec) return self->Finish(std::move(out->entry), ec);
                              self->WriteBody(out);
                            });
  }

  void Finish(ServedRequest entry, beast::error_code ec, bool close = true) {
    core_->Record(std::move(entry));
    if (ec) return Close();
    if (close) return Linger();
    Read();
  }

  // A graceful close: no more from us, then drop what the client still
  // sends until it closes too (or kLingerLimit passes, in all).
  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::min<std::chrono::milliseconds>(core_->idle, kLingerLimit));
    Discard();
  }
  void Discard() {
    stream_.async_read_some(net::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->stream_.close();
                              self->Discard();
                            });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  net::steady_timer timer_;  // bounds the handler's answer
  beast::flat_buffer buffer_;
  char discard_[1024];
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  ServedRequest pending_entry_;
  bool close_after_ = false;
  bool head_ = false;  // the request being answered is a HEAD
  uint64_t last_id_ = 0;
  uint64_t awaiting_ = 0;  // the request the handler owes an answer, 0: none
  std::shared_ptr<Core> core_;
  std::shared_ptr<Gate> gate_;
};

// The runners' shared state: a runner that starts after Stop returns at
// once; Stop waits for the ones that started.
struct Runners {
  std::mutex mu;
  std::condition_variable done;
  bool stopped = false;  // guarded by mu
  int running = 0;       // guarded by mu
  // What a runner runs; a runner holds a copy only while it runs, so the
  // io_context is destroyed by Stop, on the owner's thread.
  std::shared_ptr<net::io_context> io;  // guarded by mu
};

}  // namespace

class HttpServer::Impl {
 public:
  ~Impl() { Stop(); }

  Status Listen(HttpServerOptions options);
  Status Run();
  void Stop();

  std::shared_ptr<Core> core_ = std::make_shared<Core>();
  uint16_t port_ = 0;
  std::string url_;

 private:
  void Accept();

  // Touched by the owner's thread before Run and after the runners
  // returned, and in between by the accept handlers only.
  std::shared_ptr<net::io_context> io_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<net::steady_timer> retry_;
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  std::shared_ptr<Runners> runners_ = std::make_shared<Runners>();
  std::vector<std::thread> threads_;
};

Status HttpServer::Impl::Listen(HttpServerOptions options) {
  core_->options = std::move(options);
  core_->idle = std::chrono::milliseconds(core_->options.idle_timeout_ms);
  core_->handler_timeout = std::chrono::milliseconds(core_->options.handler_timeout_ms);
  core_->read_buffer_limit = std::max<size_t>(16 * 1024, size_t{core_->options.header_limit} * 2);
  const std::string& host = core_->options.host;
  const std::string where = host + ":" + std::to_string(core_->options.port);
  const std::string& name = core_->options.name;
  io_ = std::make_shared<net::io_context>(core_->options.threads);
  beast::error_code ec;
  tcp::endpoint endpoint;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, core_->options.port);
  } else {
    tcp::resolver resolver(*io_);
    auto found = resolver.resolve(host, std::to_string(core_->options.port),
                                  tcp::resolver::numeric_service, ec);
    if (ec || found.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       name + ": cannot resolve host '" + host + "': " + ec.message());
    }
    endpoint = found.begin()->endpoint();
  }
  acceptor_ = std::make_unique<tcp::acceptor>(*io_);
  auto fail = [&](const char* step) -> Status {
    return MakeError(ErrorCode::kIo, name + ": cannot " + step + " " + where + ": " + ec.message());
  };
  if (acceptor_->open(endpoint.protocol(), ec)) return fail("open a socket for");
  if (acceptor_->set_option(net::socket_base::reuse_address(true), ec)) return fail("set up");
  if (acceptor_->bind(endpoint, ec)) return fail("bind");
  if (acceptor_->listen(net::socket_base::max_listen_connections, ec)) return fail("listen on");
  const tcp::endpoint local = acceptor_->local_endpoint(ec);
  if (ec) return fail("read the address of");
  port_ = local.port();
  const std::string shown = local.address().to_string();
  url_ = "http://" + (local.address().is_v6() ? "[" + shown + "]" : shown) + ":" +
         std::to_string(port_);
  retry_ = std::make_unique<net::steady_timer>(*io_);
  return Status::Ok();
}

Status HttpServer::Impl::Run() {
  Accept();
  runners_->io = io_;
  auto run = [runners = runners_, name = core_->options.name] {
    std::shared_ptr<net::io_context> io;
    {
      std::lock_guard<std::mutex> lock(runners->mu);
      if (runners->stopped) return;
      io = runners->io;
      ++runners->running;
    }
    while (true) {
      try {
        io->run();
        break;
      } catch (const std::exception& e) {
        // Only a handler, `on_request` or an allocation can throw here; the
        // server goes on with the next completion.
        internal::Log(LogLevel::kError, "", name + ": exception in a handler: " + e.what());
      } catch (...) {
        internal::Log(LogLevel::kError, "", name + ": a non-standard exception in a handler");
      }
    }
    io.reset();
    std::lock_guard<std::mutex> lock(runners->mu);
    --runners->running;
    runners->done.notify_all();
  };
  for (int i = 0; i < core_->options.threads; ++i) {
    if (!core_->options.run_on) {
      threads_.emplace_back(run);
    } else if (!core_->options.run_on(run)) {
      return MakeError(ErrorCode::kState,
                       core_->options.name + ": its owner could not run runner " +
                           std::to_string(i + 1) + " of " + std::to_string(core_->options.threads));
    }
  }
  return Status::Ok();
}

void HttpServer::Impl::Accept() {
  acceptor_->async_accept(net::make_strand(*io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (ec) {  // out of descriptors, say: try again shortly rather than spin
      retry_->expires_after(kAcceptRetry);
      retry_->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) Accept();
      });
      return;
    }
    const bool full = core_->open_connections.load() >= core_->options.max_connections;
    {
      std::lock_guard<std::mutex> lock(core_->mu);
      ++(full ? core_->stats.connections_refused : core_->stats.connections_accepted);
    }
    if (full) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      // The header and the body go out in separate writes: without
      // TCP_NODELAY the body waits for the client's delayed ACK (~40 ms).
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      core_->open_connections.fetch_add(1);
      std::make_shared<Session>(std::move(socket), core_, gate_)->Start();
    }
    Accept();
  });
}

void HttpServer::Impl::Stop() {
  if (!io_) return;
  {
    std::lock_guard<std::mutex> lock(gate_->mu);
    gate_->open = false;
  }
  io_->stop();
  {
    std::unique_lock<std::mutex> lock(runners_->mu);
    runners_->stopped = true;
    runners_->done.wait(lock, [&] { return runners_->running == 0; });
    runners_->io.reset();
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  if (acceptor_) {
    beast::error_code ignored;
    acceptor_->close(ignored);
  }
  retry_.reset();
  acceptor_.reset();
  io_.reset();
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    core_->stopped = true;
  }
  core_->answered.notify_all();
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options) {
  if (options.threads < 1 || options.idle_timeout_ms <= 0 || options.handler_timeout_ms <= 0 ||
      options.max_connections == 0 || options.header_limit == 0 || !options.handler) {
    return MakeError(ErrorCode::kInvalidArgument,
                     options.name +
                         ": threads, idle_timeout_ms, handler_timeout_ms, max_connections and "
                         "header_limit must be > 0, and a handler is required");
  }
  try {
    auto impl = std::make_shared<Impl>();
    if (Status s = impl->Listen(std::move(options)); !s.ok()) return s.error();
    if (impl->core_->options.on_bound) impl->core_->options.on_bound(impl->port_);
    if (Status s = impl->Run(); !s.ok()) return s.error();  // ~Impl stops what started
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
  } catch (const std::exception& e) {  // a thread that could not start, bad_alloc
    return MakeError(ErrorCode::kInternal, options.name + ": " + e.what());
  }
}

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }
void HttpServer::Stop() { impl_->Stop(); }
uint16_t HttpServer::port() const { return impl_->port_; }
std::string HttpServer::url() const { return impl_->url_; }

HttpServerStats HttpServer::stats() const {
  std::lock_guard<std::mutex> lock(impl_->core_->mu);
  return impl_->core_->stats;
}

std::vector<ServedRequest> HttpServer::TakeLog() {
  std::lock_guard<std::mutex> lock(impl_->core_->mu);
  std::vector<ServedRequest> out(std::make_move_iterator(impl_->core_->log.begin()),
                                 std::make_move_iterator(impl_->core_->log.end()));
  impl_->core_->log.clear();
  return out;
}

bool HttpServer::WaitForRequests(uint64_t total, std::chrono::milliseconds timeout) const {
  const Core& core = *impl_->core_;
  std::unique_lock<std::mutex> lock(core.mu);
  return core.answered.wait_for(lock, timeout, [&] {
    return core.stats.requests >= total || core.stopped;
  }) && core.stats.requests >= total;
}

}  // namespace atrium::http
