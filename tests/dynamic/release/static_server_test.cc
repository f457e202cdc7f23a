// The embedded static server (`atrium serve`) on port 0 with real clients:
// libcurl for what a downloader does, raw sockets for exact request bytes
// (traversal attempts, half-sent headers, request bodies). Each test waits
// on what the server does (a response, a closed connection, the count of
// answered requests) with a generous bound, never on a sleep.
#include "atrium/dynamic/static_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "testing/raw_http_client.h"

namespace atrium::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kBound = 20s;  // generous: only a broken server waits this long

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

struct Reply {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names, the last response's
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

size_t CollectBody(char* data, size_t size, size_t n, void* user) {
  static_cast<Reply*>(user)->body.append(data, size * n);
  return size * n;
}

size_t CollectHeader(char* data, size_t size, size_t n, void* user) {
  auto* reply = static_cast<Reply*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) reply->headers.clear();
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply->headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
  }
  return size * n;
}

// One request on `curl` (reused, so keep-alive connections are reused too).
Reply Fetch(CURL* curl, const std::string& url, const std::vector<std::string>& headers = {},
            bool head = false) {
  Reply reply;
  curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);  // send "/../" as written
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  if (head) {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(kBound / 1ms));
  reply.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(list);
  return reply;
}

Reply Fetch(const std::string& url, const std::vector<std::string>& headers = {},
            bool head = false) {
  CURL* curl = curl_easy_init();
  Reply reply = Fetch(curl, url, headers, head);
  curl_easy_cleanup(curl);
  return reply;
}

class StaticServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  void SetUp() override {
    char tmpl[] = "/tmp/atrium_static_server_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ / "repo";
    timestamp_ = R"({"signed":{"_type":"timestamp","version":7}})";
    target_ = RandomBytes(300 * 1024 + 17, 1);
    WriteFile(root_ / "metadata/timestamp.json", timestamp_);
    WriteFile(root_ / "targets/wallet-1.2.0.atb", target_);
    WriteFile(dir_ / "outside/secret.txt", kSecret);
    fs::create_directories(root_ / "targets/empty_dir");
    fs::create_symlink(dir_ / "outside/secret.txt", root_ / "escape.txt");
    fs::create_symlink(dir_ / "outside", root_ / "outlink");
    fs::create_symlink("metadata/timestamp.json", root_ / "alias.json");
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  StaticServer& Serve(StaticServerOptions options = {}) {
    options.root = root_.string();
    auto started = StaticServer::Start(std::move(options));
    EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.error().ToString());
    server_ = std::move(started).value();
    return *server_;
  }
  std::string Url(const std::string& path) const { return server_->url() + path; }

  static constexpr const char* kSecret = "the-secret-outside-the-root";
  fs::path dir_, root_;
  std::string timestamp_, target_;
  std::unique_ptr<StaticServer> server_;
};

TEST_F(StaticServerTest, ServesFilesWithLengthAndType) {
  Serve();
  EXPECT_EQ(server_->url(), "http://127.0.0.1:" + std::to_string(server_->port()));
  Reply json = Fetch(Url("/metadata/timestamp.json?cache=no"));
  ASSERT_EQ(json.code, CURLE_OK);
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.body, timestamp_);
  EXPECT_EQ(json.Header("content-length"), std::to_string(timestamp_.size()));
  EXPECT_EQ(json.Header("content-type"), "application/json");
  EXPECT_EQ(json.Header("accept-ranges"), "bytes");
  EXPECT_FALSE(json.Header("etag").empty());

  Reply atb = Fetch(Url("/targets/wallet-1.2.0.atb"));
  EXPECT_EQ(atb.status, 200);
  EXPECT_EQ(atb.body, target_);
  EXPECT_EQ(atb.Header("content-length"), std::to_string(target_.size()));
  EXPECT_EQ(atb.Header("content-type"), "application/octet-stream");
  // A symlink that stays inside the root is followed.
  EXPECT_EQ(Fetch(Url("/alias.json")).body, timestamp_);
}

TEST_F(StaticServerTest, HeadSendsHeadersOnly) {
  Serve();
  Reply head = Fetch(Url("/targets/wallet-1.2.0.atb"), {}, /*head=*/true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-length"), std::to_string(target_.size()));
  EXPECT_EQ(head.Header("etag"), Fetch(Url("/targets/wallet-1.2.0.atb")).Header("etag"));
  // On the wire: nothing after the header block.
  const std::string raw = Exchange(server_->port(), "HEAD", "/targets/wallet-1.2.0.atb");
  EXPECT_EQ(StatusOf(raw), 200);
  EXPECT_EQ(raw.size(), raw.find("\r\n\r\n") + 4);
  ASSERT_TRUE(server_->WaitForRequests(3, kBound));
  EXPECT_EQ(server_->stats().body_bytes_sent, target_.size());
}

TEST_F(StaticServerTest, ETagAndIfNoneMatch) {
  Serve();
  const std::string url = Url("/metadata/timestamp.json");
  const std::string etag = Fetch(url).Header("etag");
  ASSERT_EQ(etag.front(), '"');
  for (const std::string& match : {etag, std::string("*"), "\"other\", W/" + etag}) {
    Reply r = Fetch(url, {"If-None-Match: " + match});
    EXPECT_EQ(r.status, 304) << match;
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(r.Header("etag"), etag);
  }
  Reply other = Fetch(url, {"If-None-Match: \"other\""});
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.body, timestamp_);
}

TEST_F(StaticServerTest, ChangedFileGetsNewETag) {
  Serve();
  const std::string url = Url("/metadata/timestamp.json");
  const std::string before = Fetch(url).Header("etag");
  const std::string changed = R"({"signed":{"_type":"timestamp","version":8}})";
  WriteFile(root_ / "metadata/timestamp.json", changed);  // same size, rewritten in place
  const auto when = fs::last_write_time(root_ / "metadata/timestamp.json");
  fs::last_write_time(root_ / "metadata/timestamp.json", when + 5s);
  Reply after = Fetch(url, {"If-None-Match: " + before});
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, changed);
  EXPECT_NE(after.Header("etag"), before);
  EXPECT_EQ(Fetch(url, {"If-None-Match: " + after.Header("etag")}).status, 304);
}

TEST_F(StaticServerTest, SingleByteRanges) {
  Serve();
  const std::string url = Url("/targets/wallet-1.2.0.atb");
  const std::string size = std::to_string(target_.size());
  struct Case {
    std::string range;
    size_t first, length;
  };
  const size_t n = target_.size();
  for (const Case& c : {Case{"bytes=10-19", 10, 10}, Case{"bytes=1000-", 1000, n - 1000},
                        Case{"bytes=-7", n - 7, 7}, Case{"bytes=5-999999999", 5, n - 5},
                        Case{"bytes=-999999999", 0, n}}) {
    Reply r = Fetch(url, {"Range: " + c.range});
    EXPECT_EQ(r.status, 206) << c.range;
    EXPECT_EQ(r.body, target_.substr(c.first, c.length)) << c.range;
    EXPECT_EQ(r.Header("content-length"), std::to_string(c.length));
    EXPECT_EQ(r.Header("content-range"), "bytes " + std::to_string(c.first) + "-" +
                                             std::to_string(c.first + c.length - 1) + "/" + size);
  }
  for (const std::string& range : {"bytes=" + size + "-", std::string("bytes=-0"),
                                   "bytes=" + size + "-" + std::to_string(n + 9)}) {
    Reply r = Fetch(url, {"Range: " + range});
    EXPECT_EQ(r.status, 416) << range;
    EXPECT_EQ(r.Header("content-range"), "bytes */" + size);
    EXPECT_EQ(r.body, "");
  }
  // Answered whole: several ranges, another unit, bad syntax, a stale If-Range.
  const std::string etag = Fetch(url, {}, true).Header("etag");
  for (const std::vector<std::string>& h : {std::vector<std::string>{"Range: bytes=0-1,5-6"},
                                            {"Range: items=0-1"},
                                            {"Range: bytes=9-3"},
                                            {"Range: bytes=0-1", "If-Range: \"stale\""}}) {
    Reply r = Fetch(url, h);
    EXPECT_EQ(r.status, 200) << h[0];
    EXPECT_EQ(r.body, target_);
  }
  EXPECT_EQ(Fetch(url, {"Range: bytes=0-1", "If-Range: " + etag}).status, 206);
}

TEST_F(StaticServerTest, RefusesEverythingOutsideTheRoot) {
  Serve();
  struct Case {
    const char* target;
    int status;
  };
  for (const Case& c :
       {Case{"/../outside/secret.txt", 404}, Case{"/%2e%2e/outside/secret.txt", 404},
        Case{"/metadata/%2E%2E/%2e%2e/outside/secret.txt", 404},
        Case{"/..%2Foutside%2Fsecret.txt", 404},
        Case{"/metadata/..%5c..%5coutside%5csecret.txt", 404}, Case{"/escape.txt", 404},
        Case{"/outlink/secret.txt", 404}, Case{"/metadata/timestamp.json%00.png", 400},
        Case{"/%00", 400}, Case{"/%zz", 400}, Case{"/metadata", 404}, Case{"/metadata/", 404},
        Case{"/targets/empty_dir", 404}, Case{"/", 404}, Case{"/no/such/file.json", 404},
        Case{"outside/secret.txt", 400}}) {
    const std::string response = Exchange(server_->port(), "GET", c.target);
    EXPECT_EQ(StatusOf(response), c.status) << c.target;
    EXPECT_EQ(response.find(kSecret), std::string::npos) << c.target;
    EXPECT_NE(response.find("Content-Length: 0\r\n"), std::string::npos) << c.target;
  }
  // libcurl too, which would normalize "/../" unless told not to.
  EXPECT_EQ(Fetch(Url("/../outside/secret.txt")).status, 404);
  ASSERT_TRUE(server_->WaitForRequests(17, kBound));
  EXPECT_EQ(server_->stats().body_bytes_sent, 0u);
  EXPECT_EQ(server_->stats().responses_4xx, 17u);
}

TEST_F(StaticServerTest, OnlyGetAndHead) {
  Serve();
  for (const char* method : {"DELETE", "PUT", "OPTIONS"}) {
    const std::string r = Exchange(server_->port(), method, "/metadata/timestamp.json");
    EXPECT_EQ(StatusOf(r), 405) << method;
    EXPECT_NE(r.find("Allow: GET, HEAD\r\n"), std::string::npos) << r;
  }
  const std::string post =
      Exchange(server_->port(), "POST", "/metadata/timestamp.json", "Content-Length: 0\r\n");
  EXPECT_EQ(StatusOf(post), 405);
  // A request with a body is refused and its connection closed (ReadToClose
  // returns: the server closed it).
  RawClient client(server_->port());
  client.Send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nabcd");
  bool timed_out = true;
  EXPECT_EQ(StatusOf(client.ReadToClose(&timed_out)), 413);
  EXPECT_FALSE(timed_out);
  // A header over 8 KiB too.
  RawClient big(server_->port());
  big.Send("GET /metadata/timestamp.json HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(9000, 'a') +
           "\r\n\r\n");
  EXPECT_EQ(StatusOf(big.ReadToClose(&timed_out)), 431);
  EXPECT_FALSE(timed_out);
}

TEST_F(StaticServerTest, StatsAndLogCountExactBodyBytes) {
  Serve();
  CURL* curl = curl_easy_init();
  uint64_t downloaded = 0;
  auto get = [&](const std::string& path, std::vector<std::string> headers, bool head = false) {
    Reply r = Fetch(curl, Url(path), headers, head);
    downloaded += r.body.size();
    return r;
  };
  const std::string etag = get("/metadata/timestamp.json", {}).Header("etag");
  get("/targets/wallet-1.2.0.atb", {}, /*head=*/true);
  get("/metadata/timestamp.json", {"If-None-Match: " + etag});
  get("/targets/wallet-1.2.0.atb", {"Range: bytes=100-1099"});
  get("/targets/wallet-1.2.0.atb", {});
  get("/missing.json", {});
  curl_easy_cleanup(curl);
  ASSERT_TRUE(server_->WaitForRequests(6, kBound));

  const StaticServerStats stats = server_->stats();
  EXPECT_EQ(stats.requests, 6u);
  EXPECT_EQ(stats.body_bytes_sent, downloaded);
  EXPECT_EQ(downloaded, timestamp_.size() + 1000 + target_.size());
  EXPECT_EQ(stats.responses_2xx, 4u);
  EXPECT_EQ(stats.responses_304, 1u);
  EXPECT_EQ(stats.responses_4xx, 1u);
  EXPECT_EQ(stats.responses_5xx, 0u);
  EXPECT_EQ(stats.connections_accepted, 1u);  // one keep-alive connection

  const std::vector<ServedRequest> log = server_->TakeLog();
  ASSERT_EQ(log.size(), 6u);
  const std::vector<std::tuple<std::string, std::string, int, uint64_t>> expected = {
      {"GET", "/metadata/timestamp.json", 200, timestamp_.size()},
      {"HEAD", "/targets/wallet-1.2.0.atb", 200, 0},
      {"GET", "/metadata/timestamp.json", 304, 0},
      {"GET", "/targets/wallet-1.2.0.atb", 206, 1000},
      {"GET", "/targets/wallet-1.2.0.atb", 200, target_.size()},
      {"GET", "/missing.json", 404, 0}};
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(std::tie(log[i].method, log[i].target, log[i].status, log[i].body_bytes), expected[i])
        << i;
  }
  EXPECT_TRUE(server_->TakeLog().empty());
}

TEST_F(StaticServerTest, ConcurrentClientsGetIdenticalBytes) {
  StaticServerOptions options;
  options.threads = 2;
  Serve(options);
  constexpr int kClients = 8, kRequests = 20;
  std::vector<int> mismatches(kClients, 0);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      CURL* curl = curl_easy_init();
      for (int r = 0; r < kRequests; ++r) {
        const bool big = (i + r) % 2 == 0;
        Reply reply = Fetch(curl, Url(big ? "/targets/wallet-1.2.0.atb" : "/alias.json"));
        if (reply.status != 200 || reply.body != (big ? target_ : timestamp_)) ++mismatches[i];
      }
      curl_easy_cleanup(curl);
    });
  }
  for (std::thread& t : clients) t.join();
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(mismatches[i], 0) << "client " << i;
  ASSERT_TRUE(server_->WaitForRequests(kClients * kRequests, kBound));
  const StaticServerStats stats = server_->stats();
  EXPECT_EQ(stats.requests, uint64_t{kClients * kRequests});
  EXPECT_EQ(stats.responses_2xx, uint64_t{kClients * kRequests});
  EXPECT_EQ(stats.body_bytes_sent,
            uint64_t{kClients * kRequests / 2} * (target_.size() + timestamp_.size()));
  EXPECT_EQ(stats.connections_accepted, uint64_t{kClients});
}

TEST_F(StaticServerTest, HalfSentHeaderDoesNotBlockOthers) {
  StaticServerOptions options;
  options.threads = 1;  // one server thread: the slow client must not hold it
  Serve(options);
  RawClient slow(server_->port());
  ASSERT_TRUE(slow.connected());
  slow.Send("GET /metadata/timestamp.json HTTP/1.1\r\nHost: t\r\n");
  for (int i = 0; i < 5; ++i) {
    Reply r = Fetch(Url("/targets/wallet-1.2.0.atb"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, target_);
  }
  // The slow connection was open all along: finishing its header answers it.
  slow.Send("Connection: close\r\n\r\n");
  bool timed_out = true;
  const std::string response = slow.ReadToClose(&timed_out);
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(StatusOf(response), 200);
  EXPECT_EQ(response.substr(response.size() - timestamp_.size()), timestamp_);
}

TEST_F(StaticServerTest, IdleConnectionIsClosed) {
  StaticServerOptions options;
  options.idle_timeout_ms = 200;
  Serve(options);
  RawClient slow(server_->port());
  ASSERT_TRUE(slow.connected());
  slow.Send("GET /metadata/timestamp.json HTTP/1.1\r\nHost: t\r\n");  // and nothing more
  bool timed_out = true;
  EXPECT_EQ(slow.ReadToClose(&timed_out), "");  // closed by the server, unanswered
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(server_->stats().requests, 0u);
  // An idle keep-alive connection is closed the same way.
  RawClient idle(server_->port());
  idle.Send("GET /alias.json HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(StatusOf(idle.ReadToClose(&timed_out)), 200);
  EXPECT_FALSE(timed_out);
}

TEST_F(StaticServerTest, ConnectionsOverTheLimitAreClosed) {
  StaticServerOptions options;
  options.max_connections = 1;
  Serve(options);
  RawClient first(server_->port());
  first.Send("GET /alias.json HTTP/1.1\r\nHost: t\r\n\r\n");  // kept alive: still open
  ASSERT_TRUE(server_->WaitForRequests(1, kBound));
  RawClient second(server_->port());  // the kernel accepts it; the server closes it
  bool timed_out = true;
  EXPECT_EQ(second.ReadToClose(&timed_out), "");
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(server_->stats().connections_refused, 1u);
  EXPECT_EQ(server_->stats().connections_accepted, 1u);
}

TEST_F(StaticServerTest, StartErrorsAndStop) {
  StaticServerOptions missing;
  missing.root = (dir_ / "no-such-repo").string();
  auto bad = StaticServer::Start(missing);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(bad.error().file, missing.root);

  Serve();
  StaticServerOptions same_port;
  same_port.root = root_.string();
  same_port.port = server_->port();
  auto busy = StaticServer::Start(same_port);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, ErrorCode::kIo);
  EXPECT_NE(busy.error().message.find(std::to_string(server_->port())), std::string::npos);

  RawClient open_connection(server_->port());
  open_connection.Send("GET /alias.json HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(server_->WaitForRequests(1, kBound));
  const uint16_t port = server_->port();
  server_->Stop();
  server_->Stop();  // idempotent
  bool timed_out = true;
  EXPECT_EQ(StatusOf(open_connection.ReadToClose(&timed_out)), 200);  // then closed by Stop
  EXPECT_FALSE(timed_out);
  EXPECT_FALSE(RawClient(port).connected());
  EXPECT_FALSE(server_->WaitForRequests(2, 1ms));
}

}  // namespace
}  // namespace atrium::testing
