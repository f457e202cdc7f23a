// What the embedded HTTP servers (`atrium serve`, the H5 layer's loopback
// server) report about the requests they answered: one entry per request
// and totals since the server started.
//
// Concurrency: value types.
#ifndef ATRIUM_DYNAMIC_HTTP_STATS_H_
#define ATRIUM_DYNAMIC_HTTP_STATS_H_

#include <cstdint>
#include <string>

namespace atrium {

// One answered request, as the log and `on_request` see it.
struct ServedRequest {
  std::string method;       // "GET"; empty when the request could not be parsed
  std::string target;       // the request target as received ("/metadata/1.root.json?x")
  std::string host;         // the Host header as received ("" when absent or unparsed)
  int status = 0;           // the HTTP status sent
  uint64_t body_bytes = 0;  // response body bytes written to the connection for it
};

// Totals since Start. A request counts when its response has been written
// (or its connection failed while writing).
struct HttpServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // closed at accept: max_connections reached
  uint64_t requests = 0;             // answered requests, every status
  uint64_t body_bytes_sent = 0;      // response body bytes written to connections
  uint64_t responses_2xx = 0;        // 200, 204 and 206
  uint64_t responses_304 = 0;
  uint64_t responses_4xx = 0;
  uint64_t responses_5xx = 0;
  uint64_t log_dropped = 0;  // answered requests no longer in the log
};

}  // namespace atrium

#endif  // ATRIUM_DYNAMIC_HTTP_STATS_H_
