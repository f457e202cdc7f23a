// The TUF client over real HTTP against a hostile loopback server: the
// request sequence of a refresh, endless data at every role and for a
// target (cut off at each limit), and a repository that vanishes in the
// middle of a file. Nothing trusted changes when a download fails.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "atrium/dynamic/tuf_client.h"
#include "hostile_http_server.h"
#include "tuf_sim.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
using testing::HostileHttpServer;
using testing::TufSim;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class TufNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atrium-tufnet-XXXXXX";
    dir_ = mkdtemp(tmpl);
    sim_ = std::make_unique<TufSim>(dir_ + "/repo");
    sim_->AddTarget("native_bundle/com.a-1.0.0.atb", std::string(100'000, 'a'));
    sim_->PublishRoot();
    sim_->PublishAll();
    ASSERT_TRUE(TufClient::Init(dir_ + "/meta", sim_->Path("1.root.json")).ok());
    server_ = std::make_unique<HostileHttpServer>(dir_ + "/repo");
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }
  std::unique_ptr<TufClient> Client() {
    TufClientOptions o;
    o.metadata_dir = dir_ + "/meta";
    o.metadata_url = server_->url() + "/metadata";
    o.target_url = server_->url() + "/targets";
    o.now_unix_s = sim_->now;
    o.retries = 0;
    return std::move(TufClient::Open(o)).value();
  }

  std::string dir_;
  std::unique_ptr<TufSim> sim_;
  std::unique_ptr<HostileHttpServer> server_;
};

TEST_F(TufNetworkTest, ARefreshAsksForTheRootChainThenEachRoleOnce) {
  auto c = Client();
  ASSERT_TRUE(c->Refresh().ok());
  EXPECT_EQ(server_->requests(),
            (std::vector<std::string>{"/metadata/2.root.json", "/metadata/timestamp.json",
                                      "/metadata/1.snapshot.json", "/metadata/1.targets.json"}));
  auto t = c->FindTarget("native_bundle/com.a-1.0.0.atb");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(c->Download(*t, dir_ + "/dl").ok());
  EXPECT_EQ(server_->requests().back(),
            "/targets/native_bundle/" + t->hashes.at("sha256") + ".com.a-1.0.0.atb");
}

TEST_F(TufNetworkTest, EndlessDataIsCutOffAtEveryRole) {
  struct Case {
    std::string path;
    std::string limit;
  };
  // Root and timestamp have fixed limits; snapshot and targets are bounded
  // by the length their referrer signed.
  const Case cases[] = {
      {"/metadata/2.root.json", "524288"},
      {"/metadata/timestamp.json", "16384"},
      {"/metadata/1.snapshot.json", std::to_string(fs::file_size(sim_->Path("1.snapshot.json")))},
      {"/metadata/1.targets.json", std::to_string(fs::file_size(sim_->Path("1.targets.json")))},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.path);
    server_->StreamEndless(k.path);
    Status s = Client()->Refresh();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("more than the limit of " + k.limit +
                                     " bytes: endless data refused"),
              std::string::npos)
        << s.error().message;
    server_->ServeFile(k.path);
  }
  // A huge declared length is refused before a byte is read.
  server_->StreamEndless("/metadata/timestamp.json", uint64_t{1} << 40);
  Status s = Client()->Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("endless data refused"), std::string::npos);
  // What is trusted is still what the repository really published.
  EXPECT_EQ(ReadAll(dir_ + "/meta/timestamp.json"), ReadAll(sim_->Path("timestamp.json")));
}

TEST_F(TufNetworkTest, AnEndlessTargetIsCutAtItsSignedLength) {
  auto c = Client();
  auto t = c->FindTarget("native_bundle/com.a-1.0.0.atb");
  ASSERT_TRUE(t.ok());
  server_->StreamEndless("/targets/native_bundle/" + t->hashes.at("sha256") + ".com.a-1.0.0.atb");
  auto got = c->Download(*t, dir_ + "/dl");
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("more than the limit of 100000 bytes"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(dir_ + "/dl"));
}

TEST_F(TufNetworkTest, ARepositoryThatVanishesMidFileChangesNothingTrusted) {
  ASSERT_TRUE(Client()->Refresh().ok());
  const std::string snapshot = ReadAll(dir_ + "/meta/snapshot.json");
  sim_->PublishAll();  // version 2 of targets, snapshot, timestamp
  server_->CloseAfter("/metadata/2.snapshot.json", 10);
  Status s = Client()->Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kIo);
  EXPECT_EQ(ReadAll(dir_ + "/meta/snapshot.json"), snapshot);
  server_->ServeFile("/metadata/2.snapshot.json");
  auto c = Client();
  ASSERT_TRUE(c->Refresh().ok());
  EXPECT_EQ(c->trusted().snapshot, 2);
}

TEST_F(TufNetworkTest, A404ForAMetadataFileIsAFailureNamingIt) {
  server_->RespondNotFound("/metadata/1.targets.json");
  Status s = Client()->Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(s.error().message.rfind("1.targets.json: HTTP 404", 0), 0u) << s.error().message;
}

}  // namespace
}  // namespace atrium
