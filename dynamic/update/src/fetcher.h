// Fetcher: the update client's transport — bounded GETs over libcurl for
// http://, https:// (system CAs) and file:// (tests, local mirrors), with a
// connect timeout, a stall limit (too few bytes per second), an overall
// deadline, retries with exponential backoff for transient failures only
// (no connection, timeouts, 5xx), and a hard byte limit per file: a server
// that streams forever is cut off at the limit (the endless-data attack).
// One keep-alive connection is reused across the requests of a cycle.
//
// Concurrency: a Fetcher is used by one thread at a time (the update cycle).
#ifndef ATRIUM_DYNAMIC_UPDATE_FETCHER_H_
#define ATRIUM_DYNAMIC_UPDATE_FETCHER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "atrium/result.h"

namespace atrium::update {

struct FetchOptions {
  long connect_timeout_ms = 10'000;
  long timeout_ms = 300'000;          // whole transfer
  long stall_bytes_per_s = 64;        // slower than this for stall_s ...
  long stall_s = 30;                  // ... aborts the transfer
  int retries = 2;                    // after the first attempt
  int backoff_ms = 200;               // doubled after each retry
  std::function<void(int ms)> sleep;  // empty: really sleep
  std::string user_agent = "atrium-update/1";
  // Called while a file downloads (bytes so far, bytes expected or -1).
  std::function<void(uint64_t, int64_t)> progress;
  // When set and true, a transfer in flight stops (kState "cancelled").
  const std::atomic<bool>* cancel = nullptr;
};

class Fetcher {
 public:
  explicit Fetcher(FetchOptions options = {});
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  // The body of `url`, at most `max_bytes`. kNotFound for 404/403 (or a
  // missing file://), kCorrupt when the body passes `max_bytes`, kIo for
  // other failures; messages name `what` ("timestamp.json") and the URL.
  Result<std::string> Get(const std::string& url, uint64_t max_bytes, std::string_view what);
  // The same, streamed into `dest` (created or truncated).
  Status GetToFile(const std::string& url, const std::string& dest, uint64_t max_bytes,
                   std::string_view what);

  uint64_t bytes_received() const { return bytes_received_; }
  uint64_t requests() const { return requests_; }

  struct Sink;  // where a body goes (defined in fetcher.cc)

 private:
  Status Perform(const std::string& url, Sink& sink, std::string_view what);
  FetchOptions options_;
  void* curl_ = nullptr;  // CURL*
  uint64_t bytes_received_ = 0;
  uint64_t requests_ = 0;
};

}  // namespace atrium::update

#endif  // ATRIUM_DYNAMIC_UPDATE_FETCHER_H_
