// FileWindow: a byte range of an open file as a Beast File, so
// http::basic_file_body<FileWindow> streams a whole file (200) or one range
// of it (206) the way http::file_body streams a file: 4 KiB at a time
// through the serializer, never the whole file in memory. Reads use
// pread(2) at `first + pos`, so the window never shares a file offset.
//
// Concurrency: one owner at a time (the response being written).
#ifndef ATRIUM_DYNAMIC_HTTP_FILE_WINDOW_H_
#define ATRIUM_DYNAMIC_HTTP_FILE_WINDOW_H_

#include <unistd.h>

#include <boost/beast/core/error.hpp>
#include <boost/beast/core/file_base.hpp>
#include <cerrno>
#include <cstdint>
#include <utility>

namespace atrium::http {

class FileWindow {
 public:
  using error_code = boost::beast::error_code;

  FileWindow() = default;
  FileWindow(FileWindow&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)),
        first_(other.first_),
        length_(other.length_),
        pos_(other.pos_) {}
  FileWindow& operator=(FileWindow&& other) noexcept {
    if (this != &other) {
      Release();
      fd_ = std::exchange(other.fd_, -1);
      first_ = other.first_;
      length_ = other.length_;
      pos_ = other.pos_;
    }
    return *this;
  }
  FileWindow(const FileWindow&) = delete;
  FileWindow& operator=(const FileWindow&) = delete;
  ~FileWindow() { Release(); }

  // Takes ownership of `fd` and shows its bytes [first, first + length).
  void Assign(int fd, uint64_t first, uint64_t length) {
    Release();
    fd_ = fd;
    first_ = first;
    length_ = length;
    pos_ = 0;
  }

  // Shows [first, first + length) of the same file instead (within it).
  void Narrow(uint64_t first, uint64_t length) {
    first_ = first;
    length_ = length;
    pos_ = 0;
  }

  // The Beast File concept.
  bool is_open() const { return fd_ >= 0; }
  void close(error_code& ec) {
    Release();
    ec = {};
  }
  void open(const char*, boost::beast::file_mode, error_code& ec) {
    ec = boost::system::errc::make_error_code(boost::system::errc::operation_not_supported);
  }
  uint64_t size(error_code& ec) const {
    ec = {};
    return length_;
  }
  uint64_t pos(error_code& ec) const {
    ec = {};
    return pos_;
  }
  void seek(uint64_t offset, error_code& ec) {
    pos_ = offset < length_ ? offset : length_;
    ec = {};
  }
  // Short reads (the file shrank) return 0 at its new end; the serializer
  // then fails the response with short_read and the connection is closed.
  size_t read(void* buffer, size_t n, error_code& ec) {
    const uint64_t left = length_ - pos_;
    if (n > left) n = static_cast<size_t>(left);
    ssize_t got;
    do {
      got = ::pread(fd_, buffer, n, static_cast<off_t>(first_ + pos_));
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      ec = error_code(errno, boost::system::system_category());
      return 0;
    }
    pos_ += static_cast<uint64_t>(got);
    ec = {};
    return static_cast<size_t>(got);
  }
  size_t write(const void*, size_t, error_code& ec) {
    ec = boost::system::errc::make_error_code(boost::system::errc::operation_not_supported);
    return 0;
  }

 private:
  void Release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd_ = -1;
  uint64_t first_ = 0;
  uint64_t length_ = 0;
  uint64_t pos_ = 0;
};

}  // namespace atrium::http

#endif  // ATRIUM_DYNAMIC_HTTP_FILE_WINDOW_H_
