// StaticServer (see static_server.h): the HttpServer core (dynamic/http) on
// threads of its own, answering every request with the file its target
// names below the root (ServeTarget).
#include "atrium/dynamic/static_server.h"

#include <sys/stat.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "atrium/dynamic/http/file_reply.h"
#include "atrium/dynamic/http/http_server.h"

namespace atrium {

class StaticServer::Impl {
 public:
  std::unique_ptr<http::HttpServer> server;
};

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
  http::HttpServerOptions core;
  core.name = "static server";
  core.host = std::move(options.host);
  core.port = options.port;
  core.threads = options.threads;
  core.max_connections = options.max_connections;
  core.idle_timeout_ms = options.idle_timeout_ms;
  core.log_capacity = options.log_capacity;
  core.on_request = std::move(options.on_request);
  core.handler = [root = std::move(root_real)](http::Request& req, http::Answer answer) {
    answer(http::ServeTarget(req, root));
  };
  auto server = http::HttpServer::Start(std::move(core));
  if (!server.ok()) return server.error();
  auto impl = std::make_unique<Impl>();
  impl->server = std::move(*server);
  return std::unique_ptr<StaticServer>(new StaticServer(std::move(impl)));
}

StaticServer::StaticServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StaticServer::~StaticServer() { Stop(); }
void StaticServer::Stop() { impl_->server->Stop(); }
uint16_t StaticServer::port() const { return impl_->server->port(); }
std::string StaticServer::url() const { return impl_->server->url(); }
StaticServerStats StaticServer::stats() const { return impl_->server->stats(); }
std::vector<ServedRequest> StaticServer::TakeLog() { return impl_->server->TakeLog(); }
bool StaticServer::WaitForRequests(uint64_t total, std::chrono::milliseconds timeout) const {
  return impl_->server->WaitForRequests(total, timeout);
}

}  // namespace atrium
