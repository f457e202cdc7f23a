#include "fetcher.h"

#include <curl/curl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

namespace atrium::update {

struct Fetcher::Sink {
  std::string* memory = nullptr;
  std::FILE* file = nullptr;
  uint64_t written = 0;
  uint64_t max = 0;
  bool too_big = false;
  bool write_failed = false;
  const FetchOptions* options = nullptr;
  int64_t expected = -1;
};

namespace {

size_t Write(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Fetcher::Sink*>(user);
  const size_t bytes = size * n;
  if (sink->written + bytes > sink->max) {
    sink->too_big = true;
    return 0;  // aborts the transfer
  }
  if (sink->memory != nullptr) {
    sink->memory->append(data, bytes);
  } else if (std::fwrite(data, 1, bytes, sink->file) != bytes) {
    sink->write_failed = true;
    return 0;
  }
  sink->written += bytes;
  if (sink->file != nullptr && sink->options->progress) {
    sink->options->progress(sink->written, sink->expected);
  }
  return bytes;
}

int XferInfo(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancel = static_cast<const std::atomic<bool>*>(user);
  return cancel != nullptr && cancel->load() ? 1 : 0;
}

bool Transient(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return true;
    default:
      return false;
  }
}

}  // namespace

Fetcher::Fetcher(FetchOptions options) : options_(std::move(options)) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

Fetcher::~Fetcher() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Status Fetcher::Perform(const std::string& url, Sink& sink, std::string_view what) {
  auto fail = [&](ErrorCode code, std::string message) {
    return MakeError(code, std::string(what) + ": " + std::move(message) + " (GET " + url + ")");
  };
  if (curl_ == nullptr) return fail(ErrorCode::kInternal, "cannot start libcurl");
  CURL* curl = static_cast<CURL*>(curl_);
  int backoff = options_.backoff_ms;
  for (int attempt = 0;; ++attempt) {
    if (sink.memory != nullptr) sink.memory->clear();
    if (sink.file != nullptr) {
      std::rewind(sink.file);
      if (ftruncate(fileno(sink.file), 0) != 0) return fail(ErrorCode::kIo, "cannot truncate");
    }
    sink.written = 0;
    sink.too_big = sink.write_failed = false;
    char error[CURL_ERROR_SIZE] = {0};
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, options_.timeout_ms);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, options_.stall_bytes_per_s);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options_.stall_s);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(sink.max));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    if (options_.cancel != nullptr) {
      if (options_.cancel->load()) return fail(ErrorCode::kState, "cancelled");
      curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &XferInfo);
      curl_easy_setopt(curl, CURLOPT_XFERINFODATA, options_.cancel);
    }
    ++requests_;
    const CURLcode rc = curl_easy_perform(curl);
    bytes_received_ += sink.written;
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (sink.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
      return fail(ErrorCode::kCorrupt, "more than the limit of " + std::to_string(sink.max) +
                                           " bytes: endless data refused");
    }
    if (sink.write_failed) return fail(ErrorCode::kIo, "cannot write the download");
    if (rc == CURLE_ABORTED_BY_CALLBACK) return fail(ErrorCode::kState, "cancelled");
    const bool is_file = url.rfind("file:", 0) == 0;
    if (rc == CURLE_FILE_COULDNT_READ_FILE ||
        (!is_file && (status == 404 || status == 403 || status == 410))) {
      Error e =
          fail(ErrorCode::kNotFound, is_file ? "not found" : "HTTP " + std::to_string(status));
      return e;
    }
    bool transient = false;
    std::string message;
    if (rc != CURLE_OK) {
      transient = Transient(rc);
      message = error[0] != '\0' ? error : curl_easy_strerror(rc);
    } else if (!is_file && status != 200) {
      transient = status >= 500;
      message = "HTTP " + std::to_string(status);
    } else {
      return Status::Ok();
    }
    if (!transient || attempt >= options_.retries) {
      return fail(
          ErrorCode::kIo,
          message + (attempt > 0 ? " (after " + std::to_string(attempt + 1) + " attempts)" : ""));
    }
    if (options_.sleep) {
      options_.sleep(backoff);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
    }
    backoff *= 2;
  }
}

Result<std::string> Fetcher::Get(const std::string& url, uint64_t max_bytes,
                                 std::string_view what) {
  std::string body;
  Sink sink;
  sink.memory = &body;
  sink.max = max_bytes;
  sink.options = &options_;
  if (Status s = Perform(url, sink, what); !s.ok()) return s.error();
  return body;
}

Status Fetcher::GetToFile(const std::string& url, const std::string& dest, uint64_t max_bytes,
                          std::string_view what) {
  Sink sink;
  sink.file = std::fopen(dest.c_str(), "w+b");
  if (sink.file == nullptr) {
    return MakeError(ErrorCode::kIo, std::string(what) + ": cannot write " + dest);
  }
  sink.max = max_bytes;
  sink.options = &options_;
  sink.expected = static_cast<int64_t>(max_bytes);
  Status s = Perform(url, sink, what);
  const bool flushed = std::fflush(sink.file) == 0 && fsync(fileno(sink.file)) == 0;
  std::fclose(sink.file);
  if (!s.ok()) return s;
  if (!flushed) return MakeError(ErrorCode::kIo, std::string(what) + ": cannot write " + dest);
  return Status::Ok();
}

}  // namespace atrium::update
