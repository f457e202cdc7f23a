// RawClient: a raw TCP connection to a test HTTP server on 127.0.0.1, for
// exact request bytes (traversal attempts, half-sent headers, bodies, slow
// clients): what a well-behaved client library would refuse to send. Reads
// are bounded by kRawClientBound, so only a broken server makes a test wait
// that long.
//
// Concurrency: one RawClient per thread.
#ifndef ATRIUM_TESTS_TESTING_RAW_HTTP_CLIENT_H_
#define ATRIUM_TESTS_TESTING_RAW_HTTP_CLIENT_H_

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace atrium::testing {

inline constexpr std::chrono::seconds kRawClientBound{20};

// A raw connection to a server on 127.0.0.1, reads bounded by kRawClientBound.
class RawClient {
 public:
  explicit RawClient(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{static_cast<time_t>(kRawClientBound.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // Everything until the server closes the connection. `timed_out` is set
  // when it did not within kRawClientBound.
  std::string ReadToClose(bool* timed_out = nullptr) {
    std::string out;
    char buf[8192];
    while (true) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (timed_out) *timed_out = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      return out;
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

// One request with "Connection: close": the whole response as sent.
inline std::string Exchange(uint16_t port, const std::string& method, const std::string& target,
                            const std::string& extra = "") {
  RawClient client(port);
  EXPECT_TRUE(client.connected());
  client.Send(method + " " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n" + extra +
              "\r\n");
  bool timed_out = false;
  std::string response = client.ReadToClose(&timed_out);
  EXPECT_FALSE(timed_out) << target;
  return response;
}

inline int StatusOf(const std::string& response) {
  return response.size() > 12 ? std::atoi(response.c_str() + 9) : 0;
}

}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_TESTING_RAW_HTTP_CLIENT_H_
