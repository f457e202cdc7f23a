// HostileHttpServer: a loopback HTTP server for the update client's attack
// tests (test-only, header-only; not part of the library). It serves the
// files of a folder like `atrium serve` does (GET, whole files, 200, no
// ranges, keep-alive) until told otherwise for a path:
//   RespondNotFound  404, no body;
//   StreamEndless    a body that never ends: 64 KiB blocks until the client
//                    disconnects, with no Content-Length (close-delimited)
//                    or a huge declared one; the client must cut it off;
//   CloseAfter       the true Content-Length, then only the first K body
//                    bytes and a closed connection (a repository that
//                    vanishes mid-update);
//   ServeBytes       other bytes in place of the file's.
// It records the path of every request (query dropped) in arrival order.
// Paths are matched exactly as sent ("/metadata/timestamp.json").
//
// Concurrency: every public method is thread-safe. One server thread runs
// all connections (Asio, one io_context); the destructor stops it, which
// closes every connection, and joins it.
#ifndef ATRIUM_TESTS_UPDATE_HOSTILE_HTTP_SERVER_H_
#define ATRIUM_TESTS_UPDATE_HOSTILE_HTTP_SERVER_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "atrium/result.h"

namespace atrium::testing {

class HostileHttpServer {
 public:
  static constexpr uint64_t kEndlessBlock = 64 * 1024;

  // Serves `root` on 127.0.0.1, a port the kernel chooses.
  explicit HostileHttpServer(std::string root)
      : root_(std::move(root)),
        block_(kEndlessBlock, 'x'),
        io_(std::make_unique<boost::asio::io_context>()),
        acceptor_(std::make_unique<boost::asio::ip::tcp::acceptor>(*io_)) {
    namespace net = boost::asio;
    boost::beast::error_code ec;
    const net::ip::tcp::endpoint any(net::ip::address_v4::loopback(), 0);
    acceptor_->open(any.protocol(), ec);
    if (!ec) acceptor_->bind(any, ec);
    if (!ec) acceptor_->listen(net::socket_base::max_listen_connections, ec);
    ATRIUM_CHECK(!ec, "hostile server: cannot listen on 127.0.0.1");
    port_ = acceptor_->local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { io_->run(); });
  }
  ~HostileHttpServer() {
    io_->stop();
    thread_.join();
    acceptor_.reset();
    // Frees the connections still open (their sockets close with them),
    // which count themselves under mu_: before any other member goes.
    io_.reset();
  }
  HostileHttpServer(const HostileHttpServer&) = delete;
  HostileHttpServer& operator=(const HostileHttpServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void RespondNotFound(const std::string& path) { Set(path, Rule(Rule::kNotFound)); }
  // Without `declared_length` the body is close-delimited.
  void StreamEndless(const std::string& path,
                     std::optional<uint64_t> declared_length = std::nullopt) {
    Rule rule(Rule::kEndless);
    rule.declared_length = declared_length;
    Set(path, std::move(rule));
  }
  void CloseAfter(const std::string& path, uint64_t body_bytes) {
    Rule rule(Rule::kCloseAfter);
    rule.cut_after = body_bytes;
    Set(path, std::move(rule));
  }
  void ServeBytes(const std::string& path, std::string bytes) {
    Rule rule(Rule::kBytes);
    rule.bytes = std::move(bytes);
    Set(path, std::move(rule));
  }
  void ServeFile(const std::string& path) {  // back to the file
    std::lock_guard<std::mutex> lock(mu_);
    rules_.erase(path);
  }

  // Every request path so far, in arrival order.
  std::vector<std::string> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  // Connections the server has closed or seen closed, and endless bodies
  // that ended (the client went away), with what they had sent.
  size_t connections_closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_closed_;
  }
  uint64_t endless_bytes_sent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return endless_bytes_sent_;
  }
  size_t endless_streams_ended() const {
    std::lock_guard<std::mutex> lock(mu_);
    return endless_ended_;
  }
  // Waits until `n` endless bodies have ended; false after `timeout`.
  bool WaitForEndlessStreamsEnded(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return endless_ended_ >= n; });
  }
  bool WaitForConnectionsClosed(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return connections_closed_ >= n; });
  }

 private:
  struct Rule {
    enum Kind { kNotFound, kEndless, kCloseAfter, kBytes };
    explicit Rule(Kind k) : kind(k) {}
    Kind kind;
    std::optional<uint64_t> declared_length;
    uint64_t cut_after = 0;
    std::string bytes;
  };

  // One connection; everything runs on the server thread.
  class Connection : public std::enable_shared_from_this<Connection> {
   public:
    Connection(boost::asio::ip::tcp::socket socket, HostileHttpServer& server)
        : socket_(std::move(socket)), server_(server) {}
    ~Connection() { server_.Count(&HostileHttpServer::connections_closed_); }

    void Read() {
      namespace http = boost::beast::http;
      parser_.emplace();
      parser_->header_limit(16 * 1024);
      http::async_read(socket_, buffer_, *parser_,
                       [self = shared_from_this()](boost::beast::error_code ec, size_t) {
                         if (!ec) self->Answer();
                       });
    }

   private:
    void Answer() {
      namespace http = boost::beast::http;
      const auto& req = parser_->get();
      std::string path(req.target());
      path = path.substr(0, path.find('?'));
      std::optional<Rule> rule = server_.Record(path);
      keep_alive_ = req.keep_alive();
      header_ = std::make_shared<http::response<http::empty_body>>(http::status::ok, 11);
      header_->set(http::field::server, "hostile");
      header_->set(http::field::content_type, "application/octet-stream");
      if (!rule) {  // the file, if there is one
        std::string body;
        if (!ReadFile(server_.root_ + path, &body)) return SendWhole(http::status::not_found, "");
        return SendWhole(http::status::ok, std::move(body));
      }
      switch (rule->kind) {
        case Rule::kNotFound:
          return SendWhole(http::status::not_found, "");
        case Rule::kBytes:
          return SendWhole(http::status::ok, std::move(rule->bytes));
        case Rule::kEndless:
          keep_alive_ = false;
          if (rule->declared_length) header_->content_length(*rule->declared_length);
          return WriteHeader([self = shared_from_this()] { self->StreamForever(); });
        case Rule::kCloseAfter: {
          std::string body;
          if (!ReadFile(server_.root_ + path, &body)) body.assign(2 * rule->cut_after + 1, 'c');
          header_->content_length(body.size());
          body_ = body.substr(0, rule->cut_after);
          return WriteHeader([self = shared_from_this()] { self->WriteBodyThenClose(); });
        }
      }
    }

    static bool ReadFile(const std::string& path, std::string* out) {
      std::error_code ec;
      if (path.find("/../") != std::string::npos || !std::filesystem::is_regular_file(path, ec)) {
        return false;
      }
      std::ifstream in(path, std::ios::binary);
      if (!in) return false;
      out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      return !in.bad();
    }

    template <class Then>
    void WriteHeader(Then then) {
      header_->keep_alive(keep_alive_);
      boost::beast::http::async_write(
          socket_, *header_,
          [self = shared_from_this(), then](boost::beast::error_code ec, size_t) {
            if (!ec) then();
          });
    }

    void SendWhole(boost::beast::http::status status, std::string body) {
      header_->result(status);
      header_->content_length(body.size());
      body_ = std::move(body);
      WriteHeader([self = shared_from_this()] {
        boost::asio::async_write(self->socket_, boost::asio::buffer(self->body_),
                                 [self](boost::beast::error_code ec, size_t) {
                                   if (!ec && self->keep_alive_) self->Read();
                                 });
      });
    }

    void WriteBodyThenClose() {
      boost::asio::async_write(socket_, boost::asio::buffer(body_),
                               [self = shared_from_this()](boost::beast::error_code, size_t) {
                                 boost::beast::error_code ignored;
                                 self->socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both,
                                                        ignored);
                                 self->socket_.close(ignored);
                               });
    }

    void StreamForever() {
      boost::asio::async_write(socket_, boost::asio::buffer(server_.block_),
                               [self = shared_from_this()](boost::beast::error_code ec, size_t n) {
                                 self->server_.AddEndlessBytes(n, /*ended=*/static_cast<bool>(ec));
                                 if (!ec) self->StreamForever();
                               });
    }

    boost::asio::ip::tcp::socket socket_;
    HostileHttpServer& server_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
    std::shared_ptr<boost::beast::http::response<boost::beast::http::empty_body>> header_;
    std::string body_;
    bool keep_alive_ = true;
  };

  void Accept() {
    acceptor_->async_accept(
        [this](boost::beast::error_code ec, boost::asio::ip::tcp::socket socket) {
          if (ec) return;  // stopped
          std::make_shared<Connection>(std::move(socket), *this)->Read();
          Accept();
        });
  }

  void Set(const std::string& path, Rule rule) {
    std::lock_guard<std::mutex> lock(mu_);
    rules_.insert_or_assign(path, std::move(rule));
  }
  std::optional<Rule> Record(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(path);
    auto it = rules_.find(path);
    if (it == rules_.end()) return std::nullopt;
    return it->second;
  }
  void Count(size_t HostileHttpServer::*counter) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++(this->*counter);
    }
    changed_.notify_all();
  }
  void AddEndlessBytes(uint64_t n, bool ended) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      endless_bytes_sent_ += n;
      if (ended) ++endless_ended_;
    }
    changed_.notify_all();
  }

  const std::string root_;
  const std::string block_;  // the endless body's block
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<std::string, Rule> rules_;  // guarded by mu_
  std::vector<std::string> requests_;  // guarded by mu_
  size_t connections_closed_ = 0;      // guarded by mu_
  uint64_t endless_bytes_sent_ = 0;    // guarded by mu_
  size_t endless_ended_ = 0;           // guarded by mu_
};

}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_UPDATE_HOSTILE_HTTP_SERVER_H_
