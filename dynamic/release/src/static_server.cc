// StaticServer (see static_server.h): Beast over Asio. One io_context run by
// `threads` threads; the acceptor's handlers run one at a time (a single
// accept is outstanding), and each connection (Session) runs on its own
// strand, so a Session is only ever touched by one thread at a time.
//
// Lifetime:
//  1. A Session is owned by the handlers of its pending operation (a
//     shared_ptr in each); it ends when a handler does not start another
//     (after a refusal or "Connection: close", once the client has closed
//     too or kLingerLimit passed: see Linger).
//  2. Stop() stops the io_context and joins the threads; nothing runs after
//     that, so the acceptor and the io_context are destroyed on the owner's
//     thread. Destroying the io_context destroys the handlers not run, and
//     with them the Sessions still open (their sockets close).
//  3. ServerCore (the options, counters and log) outlives every Session.
#include "atrium/dynamic/static_server.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "atrium/base/log.h"
#include "file_window.h"
#include "static_file_request.h"

namespace atrium {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr uint32_t kHeaderLimit = 8 * 1024;
// Larger than the header limit, so an oversized header is reported as such.
constexpr size_t kReadBufferLimit = 16 * 1024;
constexpr auto kAcceptRetry = std::chrono::milliseconds(50);
// How long a connection being closed after a refusal reads (and drops) what
// the client still sends, so its unread bytes do not turn our close into a
// reset that loses the response on the way.
constexpr auto kLingerLimit = std::chrono::milliseconds(2000);

using FileBody = http::basic_file_body<release::FileWindow>;
using Request = http::request<http::empty_body>;

// What the Sessions share with the server: immutable options and the
// counters. `mu` guards `stats`, `log` and `stopped`.
struct ServerCore {
  StaticServerOptions options;
  std::string root_real;
  std::chrono::milliseconds idle{0};
  std::atomic<size_t> open_connections{0};

  mutable std::mutex mu;
  mutable std::condition_variable answered;
  StaticServerStats stats;        // guarded by mu
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

// A response on its way out with its serializer (which points into it, so
// the pair never moves) and the log entry it completes.
template <class Body>
struct Outgoing {
  explicit Outgoing(http::response<Body>&& m) : message(std::move(m)), serializer(message) {}
  http::response<Body> message;
  http::response_serializer<Body> serializer;
  ServedRequest entry;
  bool close = false;
};

// One connection: read a request, answer it, again while keep-alive holds.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ServerCore& core) : stream_(std::move(socket)), core_(core) {}
  ~Session() { core_.open_connections.fetch_sub(1); }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(0);
    stream_.expires_after(core_.idle);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (!ec) return Answer(parser_->get());
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec.category() != http::make_error_code(http::error::bad_method).category()) {
      return Close();  // the client went away, timed out, or the socket failed
    }
    ServedRequest entry;
    if (parser_->is_header_done()) {
      entry.method = std::string(parser_->get().method_string());
      entry.target = std::string(parser_->get().target());
    }
    int status = 400;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) status = 431;
    if (ec == http::error::body_limit || ec == http::error::unexpected_body) status = 413;
    SendEmpty(static_cast<http::status>(status), 11, /*close=*/true, std::move(entry));
  }

  void Answer(const Request& req) {
    ServedRequest entry{std::string(req.method_string()), std::string(req.target()), 0, 0};
    const bool close = !req.keep_alive();
    const bool head = req.method() == http::verb::head;
    if (req.method() != http::verb::get && !head) {
      http::response<http::empty_body> res{http::status::method_not_allowed, req.version()};
      res.set(http::field::allow, "GET, HEAD");
      res.content_length(0);
      return Send(std::move(res), close, std::move(entry));
    }
    const release::TargetPath target = release::ParseTarget(req.target());
    if (target.status != 0) {
      return SendEmpty(static_cast<http::status>(target.status), req.version(), close,
                       std::move(entry));
    }
    release::OpenedFile file = release::OpenInRoot(core_.root_real, target.relative);
    if (file.status != 0) {
      return SendEmpty(static_cast<http::status>(file.status), req.version(), close,
                       std::move(entry));
    }
    const uint64_t size = static_cast<uint64_t>(file.st.st_size);
    release::FileWindow window;
    window.Assign(file.fd, 0, size);  // owns the descriptor from here on

    const std::string etag = release::StrongETag(file.st);
    const std::string modified = release::HttpDate(file.st.st_mtim.tv_sec);
    auto validators = [&](auto& res) {
      res.set(http::field::etag, etag);
      res.set(http::field::last_modified, modified);
    };
    const auto if_none_match = req.find(http::field::if_none_match);
    if (if_none_match != req.end() && release::IfNoneMatchMatches(if_none_match->value(), etag)) {
      http::response<http::empty_body> res{http::status::not_modified, req.version()};
      validators(res);
      return Send(std::move(res), close, std::move(entry));
    }

    release::RangeRequest range;
    const auto range_field = req.find(http::field::range);
    const auto if_range = req.find(http::field::if_range);
    if (!head && range_field != req.end() &&
        (if_range == req.end() || release::IfRangeAllows(if_range->value(), etag))) {
      range = release::ParseRange(range_field->value(), size);
    }
    if (range.kind == release::RangeRequest::kUnsatisfiable) {
      http::response<http::empty_body> res{http::status::range_not_satisfiable, req.version()};
      res.set(http::field::content_range, "bytes */" + std::to_string(size));
      validators(res);
      res.content_length(0);
      return Send(std::move(res), close, std::move(entry));
    }

    const bool part = range.kind == release::RangeRequest::kPart;
    const uint64_t first = part ? range.first : 0;
    const uint64_t length = part ? range.length : size;
    const auto status = part ? http::status::partial_content : http::status::ok;
    auto describe = [&](auto& res) {
      validators(res);
      res.set(http::field::content_type, release::ContentTypeFor(target.relative));
      res.set(http::field::accept_ranges, "bytes");
      if (part) {
        res.set(http::field::content_range, "bytes " + std::to_string(first) + "-" +
                                                std::to_string(first + length - 1) + "/" +
                                                std::to_string(size));
      }
      res.content_length(length);
    };
    if (head) {
      http::response<http::empty_body> res{status, req.version()};
      describe(res);
      return Send(std::move(res), close, std::move(entry));
    }
    http::response<FileBody> res{status, req.version()};
    window.Narrow(first, length);
    beast::error_code ec;
    res.body().reset(std::move(window), ec);
    if (ec)
      return SendEmpty(http::status::internal_server_error, req.version(), close, std::move(entry));
    describe(res);
    Send(std::move(res), close, std::move(entry));
  }

  void SendEmpty(http::status status, unsigned version, bool close, ServedRequest entry) {
    http::response<http::empty_body> res{status, version};
    res.content_length(0);
    Send(std::move(res), close, std::move(entry));
  }

  template <class Body>
  void Send(http::response<Body>&& res, bool close, ServedRequest entry) {
    res.set(http::field::server, "atrium");
    res.set(http::field::date, release::HttpDate(::time(nullptr)));
    res.keep_alive(!close);
    auto out = std::make_shared<Outgoing<Body>>(std::move(res));
    out->entry = std::move(entry);
    out->entry.status = static_cast<int>(out->message.result_int());
    out->close = close;
    stream_.expires_after(core_.idle);
    http::async_write_header(stream_, out->serializer,
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
    stream_.expires_after(core_.idle);
    http::async_write_some(stream_, out->serializer,
                           [self = shared_from_this(), out](beast::error_code ec, size_t n) {
                             out->entry.body_bytes += n;
                             if (ec) return self->Finish(std::move(out->entry), ec);
                             self->WriteBody(out);
                           });
  }

  void Finish(ServedRequest entry, beast::error_code ec, bool close = true) {
    core_.Record(std::move(entry));
    if (ec) return Close();
    if (close) return Linger();
    Read();
  }

  // A graceful close: no more from us, then drop what the client still
  // sends until it closes too (or kLingerLimit passes, in all).
  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::min<std::chrono::milliseconds>(core_.idle, kLingerLimit));
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
  beast::flat_buffer buffer_{kReadBufferLimit};
  char discard_[1024];
  std::optional<http::request_parser<http::empty_body>> parser_;
  ServerCore& core_;
};

}  // namespace

class StaticServer::Impl {
 public:
  Impl() = default;
  ~Impl() { Stop(); }

  Status Listen(StaticServerOptions options, std::string root_real);
  void Run();
  void Stop();

  ServerCore core_;
  uint16_t port_ = 0;
  std::string url_;

 private:
  void Accept();

  // Touched by the owner's thread before Run and after the threads joined,
  // and in between by the accept handlers only.
  std::unique_ptr<net::io_context> io_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<net::steady_timer> retry_;
  std::vector<std::thread> threads_;
};

Status StaticServer::Impl::Listen(StaticServerOptions options, std::string root_real) {
  core_.options = std::move(options);
  core_.root_real = std::move(root_real);
  core_.idle = std::chrono::milliseconds(core_.options.idle_timeout_ms);
  const std::string& host = core_.options.host;
  const std::string where = host + ":" + std::to_string(core_.options.port);
  io_ = std::make_unique<net::io_context>(core_.options.threads);
  beast::error_code ec;
  tcp::endpoint endpoint;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, core_.options.port);
  } else {
    tcp::resolver resolver(*io_);
    auto found = resolver.resolve(host, std::to_string(core_.options.port),
                                  tcp::resolver::numeric_service, ec);
    if (ec || found.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "static server: cannot resolve host '" + host + "': " + ec.message());
    }
    endpoint = found.begin()->endpoint();
  }
  acceptor_ = std::make_unique<tcp::acceptor>(*io_);
  auto fail = [&](const char* step) -> Status {
    return MakeError(ErrorCode::kIo, std::string("static server: cannot ") + step + " " + where +
                                         ": " + ec.message());
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

void StaticServer::Impl::Run() {
  Accept();
  for (int i = 0; i < core_.options.threads; ++i) {
    threads_.emplace_back([this] {
      while (true) {
        try {
          io_->run();
          return;
        } catch (const std::exception& e) {
          // Only an on_request callback or an allocation can throw here;
          // the server goes on with the next handler.
          internal::Log(LogLevel::kError, "",
                        std::string("static server: exception in a handler: ") + e.what());
        }
      }
    });
  }
}

void StaticServer::Impl::Accept() {
  acceptor_->async_accept(net::make_strand(*io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (ec) {  // out of descriptors, say: try again shortly rather than spin
      retry_->expires_after(kAcceptRetry);
      retry_->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) Accept();
      });
      return;
    }
    const bool full = core_.open_connections.load() >= core_.options.max_connections;
    {
      std::lock_guard<std::mutex> lock(core_.mu);
      ++(full ? core_.stats.connections_refused : core_.stats.connections_accepted);
    }
    if (full) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      // The header and the body go out in separate writes: without
      // TCP_NODELAY the body waits for the client's delayed ACK (~40 ms).
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      core_.open_connections.fetch_add(1);
      std::make_shared<Session>(std::move(socket), core_)->Start();
    }
    Accept();
  });
}

void StaticServer::Impl::Stop() {
  if (!io_) return;
  io_->stop();
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
    std::lock_guard<std::mutex> lock(core_.mu);
    core_.stopped = true;
  }
  core_.answered.notify_all();
}

Result<std::unique_ptr<StaticServer>> StaticServer::Start(StaticServerOptions options) {
  if (options.threads < 1 || options.idle_timeout_ms <= 0 || options.max_connections == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "static server: threads, idle_timeout_ms and max_connections must be > 0");
  }
  struct stat st {};
  char* real = ::realpath(options.root.c_str(), nullptr);
  if (real == nullptr || ::stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
    std::free(real);
    Error e = MakeError(ErrorCode::kNotFound, "static server: the root is not a folder");
    e.file = options.root;
    return e;
  }
  std::string root_real(real);
  std::free(real);
  try {
    auto impl = std::make_unique<Impl>();
    Status listening = impl->Listen(std::move(options), std::move(root_real));
    if (!listening.ok()) return listening.error();
    impl->Run();
    return std::unique_ptr<StaticServer>(new StaticServer(std::move(impl)));
  } catch (const std::exception& e) {  // a thread that could not start, bad_alloc
    return MakeError(ErrorCode::kInternal, std::string("static server: ") + e.what());
  }
}

StaticServer::StaticServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StaticServer::~StaticServer() { Stop(); }
void StaticServer::Stop() { impl_->Stop(); }
uint16_t StaticServer::port() const { return impl_->port_; }
std::string StaticServer::url() const { return impl_->url_; }

StaticServerStats StaticServer::stats() const {
  std::lock_guard<std::mutex> lock(impl_->core_.mu);
  return impl_->core_.stats;
}

std::vector<ServedRequest> StaticServer::TakeLog() {
  std::lock_guard<std::mutex> lock(impl_->core_.mu);
  std::vector<ServedRequest> out(std::make_move_iterator(impl_->core_.log.begin()),
                                 std::make_move_iterator(impl_->core_.log.end()));
  impl_->core_.log.clear();
  return out;
}

bool StaticServer::WaitForRequests(uint64_t total, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->core_.mu);
  return impl_->core_.answered.wait_for(lock, timeout, [&] {
    return impl_->core_.stats.requests >= total || impl_->core_.stopped;
  }) && impl_->core_.stats.requests >= total;
}

}  // namespace atrium
