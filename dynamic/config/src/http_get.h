// HttpGet: one bounded HTTP(S) GET into a file, with libcurl (the config
// layer's fetch; the update client brings its own transport).
//
// Concurrency: thread-safe (one easy handle per call; curl_global_init once).
#ifndef ATRIUM_DYNAMIC_CONFIG_HTTP_GET_H_
#define ATRIUM_DYNAMIC_CONFIG_HTTP_GET_H_

#include <cstdint>
#include <string>

#include "atrium/result.h"

namespace atrium::config {

struct HttpResponse {
  long status = 0;
  int64_t retry_after_s = -1;  // the Retry-After header in seconds, -1 when absent
};

// GETs `url` into `dest` (truncated first). kIo for a transport failure
// (no connection, timeout, more than `max_bytes`), naming the URL. Any HTTP
// status is a response; the caller decides.
Result<HttpResponse> HttpGet(const std::string& url, const std::string& dest, uint64_t max_bytes,
                             long timeout_ms);

}  // namespace atrium::config

#endif  // ATRIUM_DYNAMIC_CONFIG_HTTP_GET_H_
