// The hostile test server (hostile_http_server.h) does what the update
// client's attack tests rely on, shown with libcurl as the client: files,
// 404s, endless bodies the client has to cut off (the server sees it go),
// a connection closed after K body bytes, other bytes in place of a file,
// and the paths requested in order.
#include "hostile_http_server.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace atrium::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kBound = 20s;  // generous: only a broken server waits this long

struct Download {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  uint64_t limit = UINT64_MAX;  // the client gives up past this many bytes
  curl_off_t declared = -1;     // Content-Length, -1 when none
};

size_t Collect(char* data, size_t size, size_t n, void* user) {
  auto* d = static_cast<Download*>(user);
  if (d->body.size() + size * n > d->limit) return 0;  // cut it off
  d->body.append(data, size * n);
  return size * n;
}

Download Get(CURL* curl, const std::string& url, uint64_t limit = UINT64_MAX,
             curl_off_t max_file_size = 0) {
  Download d;
  d.limit = limit;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &d);
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, max_file_size);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(kBound / 1ms));
  d.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &d.status);
  curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &d.declared);
  return d;
}

Download Get(const std::string& url, uint64_t limit = UINT64_MAX, curl_off_t max_file_size = 0) {
  CURL* curl = curl_easy_init();
  Download d = Get(curl, url, limit, max_file_size);
  curl_easy_cleanup(curl);
  return d;
}

class HostileHttpServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  void SetUp() override {
    char tmpl[] = "/tmp/atrium_hostile_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ / "metadata");
    fs::create_directories(root_ / "targets");
    std::ofstream(root_ / "metadata/timestamp.json") << timestamp_;
    target_.resize(200 * 1024);
    for (size_t i = 0; i < target_.size(); ++i) target_[i] = static_cast<char>(i * 131 + 7);
    std::ofstream(root_ / "targets/app.atb", std::ios::binary) << target_;
    server_ = std::make_unique<HostileHttpServer>(root_.string());
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(root_);
  }
  std::string Url(const std::string& path) const { return server_->url() + path; }

  fs::path root_;
  const std::string timestamp_ = R"({"signed":{"_type":"timestamp","version":3}})";
  std::string target_;
  std::unique_ptr<HostileHttpServer> server_;
};

TEST_F(HostileHttpServerTest, ServesFilesAndRecordsPathsInOrder) {
  CURL* curl = curl_easy_init();  // one keep-alive connection
  Download a = Get(curl, Url("/metadata/timestamp.json"));
  Download b = Get(curl, Url("/targets/app.atb?attempt=2"));
  Download c = Get(curl, Url("/targets/missing.atd"));
  curl_easy_cleanup(curl);
  EXPECT_EQ(a.code, CURLE_OK);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, timestamp_);
  EXPECT_EQ(b.body, target_);
  EXPECT_EQ(b.declared, static_cast<curl_off_t>(target_.size()));
  EXPECT_EQ(c.status, 404);
  EXPECT_EQ(server_->requests(),
            (std::vector<std::string>{"/metadata/timestamp.json", "/targets/app.atb",
                                      "/targets/missing.atd"}));
  ASSERT_TRUE(server_->WaitForConnectionsClosed(1, kBound));  // the handle's, at cleanup
  EXPECT_EQ(server_->connections_closed(), 1u);
}

TEST_F(HostileHttpServerTest, RespondsNotFoundUntilToldOtherwise) {
  server_->RespondNotFound("/metadata/timestamp.json");
  EXPECT_EQ(Get(Url("/metadata/timestamp.json")).status, 404);
  server_->ServeFile("/metadata/timestamp.json");
  EXPECT_EQ(Get(Url("/metadata/timestamp.json")).body, timestamp_);
}

TEST_F(HostileHttpServerTest, EndlessBodyGoesOnUntilTheClientCutsIt) {
  server_->StreamEndless("/targets/app.atb");  // close-delimited
  constexpr uint64_t kLimit = 4 << 20;
  Download d = Get(Url("/targets/app.atb"), kLimit);
  EXPECT_EQ(d.code, CURLE_WRITE_ERROR);  // our write callback refused more
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.declared, -1);
  EXPECT_GE(d.body.size(), kLimit - HostileHttpServer::kEndlessBlock);
  ASSERT_TRUE(server_->WaitForEndlessStreamsEnded(1, kBound));
  EXPECT_GE(server_->endless_bytes_sent(), d.body.size());
}

TEST_F(HostileHttpServerTest, EndlessBodyWithAHugeDeclaredLength) {
  const uint64_t kTiB = uint64_t{1} << 40;
  server_->StreamEndless("/targets/app.atb", kTiB);
  Download cut = Get(Url("/targets/app.atb"), 1 << 20);
  EXPECT_EQ(cut.code, CURLE_WRITE_ERROR);
  EXPECT_EQ(cut.declared, static_cast<curl_off_t>(kTiB));
  EXPECT_LE(cut.body.size(), 1u << 20);
  // A client that checks the declared size first refuses before the body.
  Download refused = Get(Url("/targets/app.atb"), UINT64_MAX, 1 << 20);
  EXPECT_EQ(refused.code, CURLE_FILESIZE_EXCEEDED);
  EXPECT_EQ(refused.body, "");
  ASSERT_TRUE(server_->WaitForEndlessStreamsEnded(2, kBound));
}

TEST_F(HostileHttpServerTest, ClosesAfterKBodyBytes) {
  server_->CloseAfter("/targets/app.atb", 1000);
  Download d = Get(Url("/targets/app.atb"));
  EXPECT_EQ(d.code, CURLE_PARTIAL_FILE);
  EXPECT_EQ(d.declared, static_cast<curl_off_t>(target_.size()));  // the true length
  EXPECT_EQ(d.body, target_.substr(0, 1000));
  server_->CloseAfter("/targets/app.atb", 0);
  EXPECT_EQ(Get(Url("/targets/app.atb")).body, "");
}

TEST_F(HostileHttpServerTest, ServesOtherBytesInPlaceOfTheFile) {
  server_->ServeBytes("/metadata/timestamp.json", "{\"signed\":\"forged\"}");
  Download d = Get(Url("/metadata/timestamp.json"));
  EXPECT_EQ(d.code, CURLE_OK);
  EXPECT_EQ(d.body, "{\"signed\":\"forged\"}");
  EXPECT_EQ(Get(Url("/targets/app.atb")).body, target_);  // other paths untouched
  EXPECT_EQ(server_->requests(),
            (std::vector<std::string>{"/metadata/timestamp.json", "/targets/app.atb"}));
}

}  // namespace
}  // namespace atrium::testing
