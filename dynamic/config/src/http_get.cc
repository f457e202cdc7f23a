#include "http_get.h"

#include <curl/curl.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string_view>

namespace atrium::config {
namespace {

struct Sink {
  std::FILE* file = nullptr;
  uint64_t written = 0;
  uint64_t max = 0;
  bool too_big = false;
};

size_t Write(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t bytes = size * n;
  if (sink->written + bytes > sink->max) {
    sink->too_big = true;
    return 0;  // aborts the transfer
  }
  sink->written += bytes;
  return std::fwrite(data, 1, bytes, sink->file);
}

size_t Header(char* data, size_t size, size_t n, void* user) {
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (size_t i = 0; i < kName.size() && match; ++i) {
      match = std::tolower(static_cast<unsigned char>(line[i])) == kName[i];
    }
    if (match) {
      const std::string value(line.substr(kName.size()));
      char* end = nullptr;
      const long long s = std::strtoll(value.c_str(), &end, 10);
      if (end != value.c_str() && s >= 0) *static_cast<int64_t*>(user) = s;
    }
  }
  return size * n;
}

}  // namespace

Result<HttpResponse> HttpGet(const std::string& url, const std::string& dest, uint64_t max_bytes,
                             long timeout_ms) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  auto fail = [&](std::string message) {
    Error e = MakeError(ErrorCode::kIo, "GET " + url + ": " + std::move(message));
    return e;
  };
  Sink sink;
  sink.max = max_bytes;
  sink.file = std::fopen(dest.c_str(), "wb");
  if (sink.file == nullptr) return fail("cannot write " + dest);
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    std::fclose(sink.file);
    return fail("cannot start libcurl");
  }
  HttpResponse response;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.retry_after_s);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  curl_easy_cleanup(curl);
  const bool closed = std::fclose(sink.file) == 0;
  if (sink.too_big) return fail("response larger than " + std::to_string(max_bytes) + " bytes");
  if (rc != CURLE_OK) return fail(error[0] != '\0' ? error : curl_easy_strerror(rc));
  if (!closed) return fail("cannot write " + dest);
  return response;
}

}  // namespace atrium::config
