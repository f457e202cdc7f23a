// Releases end to end with real processes: `atrium release init/add/publish`
// of the sample wallet's bill update and its fee-fix hotpatch, served by
// `atrium serve` and by Debian's nginx, `atrium update` on a copy of the
// sample app, the next `atrium run` running the new bundle and the fixed
// fee, a delta downloaded instead of the full package (counted in the
// server's own log), and a withdrawn release disabled on the device.
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "gtest/gtest.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::FreePort;
using testing::Ran;
using testing::ReadFile;
using testing::RunProcess;
using testing::Server;
using testing::WaitForFile;

class ReleaseE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atrium-release-e2e-XXXXXX";
    dir_ = mkdtemp(tmpl);
    repo_ = dir_ + "/repo";
    const std::string samples = ATRIUM_SAMPLES_DIR;
    Atrium({"release", "init", repo_}, 0);
    Atrium({"release", "add", repo_, samples + "/wallet/packages/bill.atb"}, 0);
    Atrium({"release", "add", repo_, samples + "/wallet-faults/bill-ok.atb"}, 0);
    Atrium({"release", "add", repo_, samples + "/wallet-patches/fix-fee.atb"}, 0);
    Atrium({"release", "publish", repo_}, 0);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  Ran Atrium(std::vector<std::string> args, int expect_code) {
    return testing::RunCli(ATRIUM_CLI, std::move(args), dir_, expect_code);
  }
  // A copy of the sample wallet whose app.json names the repository at `url`.
  std::string App(const std::string& name, const std::string& url) {
    const std::string app = dir_ + "/" + name;
    fs::copy(std::string(ATRIUM_SAMPLES_DIR) + "/wallet", app, fs::copy_options::recursive);
    fs::copy_file(repo_ + "/metadata/1.root.json", app + "/root.json");
    json::value doc = json::parse(ReadFile(app + "/app.json"));
    json::object updates;
    updates["repository"] = url;
    updates["root"] = "root.json";
    doc.as_object()["updates"] = std::move(updates);
    std::ofstream(app + "/app.json", std::ios::trunc) << json::serialize(doc);
    return app;
  }
  // The update, the next run, and the withdrawal of the patch.
  void UpdateRunWithdraw(const std::string& url, const std::string& name) {
    const std::string app = App(name, url), data = dir_ + "/" + name + "-data";
    Ran u = Atrium({"update", app, "--data-dir", data}, 0);
    EXPECT_NE(u.out.find("staged    native_bundle/com.wallet.bill-1.1.0.atb: delta from an "
                         "installed version"),
              std::string::npos)
        << u.out;
    EXPECT_NE(u.out.find("staged    lua_patch/fix-transfer-fee-1.0.0.atb: full package"),
              std::string::npos)
        << u.out;
    Ran run = Atrium({"run", app, "--data-dir", data, "--open", "transfer"}, 0);
    EXPECT_NE(run.out.find("com.wallet.bill          1.1.0    active"), std::string::npos)
        << run.out;
    EXPECT_NE(run.out.find("[transfer] fee 0.50"), std::string::npos) << run.out;
    Atrium({"release", "remove", repo_, "lua_patch/fix-transfer-fee@1.0.0", "--reason",
            "rounds the fee down"},
           0);
    Atrium({"release", "publish", repo_}, 0);
    Ran w = Atrium({"update", app, "--data-dir", data}, 0);
    EXPECT_NE(w.out.find("withdrawn lua_patch/fix-transfer-fee-1.0.0.atb: withdrawn: rounds the "
                         "fee down"),
              std::string::npos)
        << w.out;
    Ran a = Atrium({"artifacts", app, "--data-dir", data}, 0);
    EXPECT_NE(a.out.find("disabled  withdrawn by the release: rounds the fee down"),
              std::string::npos)
        << a.out;
  }

  std::string dir_, repo_;
};

TEST_F(ReleaseE2eTest, UpdatesThroughAtriumServe) {
  Server serve;
  const std::string first =
      serve.StartReadingFirstLine({ATRIUM_CLI, "serve", repo_, "--port", "0"}, dir_ + "/serve.log");
  const size_t at = first.find("http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << first;
  std::string url = first.substr(at);
  while (!url.empty() && url.back() == '/') url.pop_back();
  UpdateRunWithdraw(url, "app-serve");
  serve.Stop();
  // The delta went over the wire, never the full 1.1.0 package.
  const std::string log = ReadFile(dir_ + "/serve.log");
  EXPECT_NE(log.find(".com.wallet.bill-1.0.3-to-1.1.0.atd 200"), std::string::npos) << log;
  EXPECT_EQ(log.find(".com.wallet.bill-1.1.0.atb"), std::string::npos) << log;
}

TEST_F(ReleaseE2eTest, UpdatesThroughNginx) {
  const uint16_t port = FreePort();
  const std::string conf = dir_ + "/nginx.conf";
  std::ofstream(conf) << "daemon off;\nmaster_process off;\npid " << dir_ << "/nginx.pid;\n"
                      << "error_log " << dir_ << "/nginx-error.log;\n"
                      << "events { worker_connections 64; }\n"
                      << "http {\n  log_format bytes '$request_uri $status $body_bytes_sent';\n"
                      << "  access_log " << dir_ << "/nginx-access.log bytes;\n"
                      << "  client_body_temp_path " << dir_ << "/nginx-tmp;\n"
                      << "  proxy_temp_path " << dir_ << "/nginx-tmp;\n"
                      << "  fastcgi_temp_path " << dir_ << "/nginx-tmp;\n"
                      << "  uwsgi_temp_path " << dir_ << "/nginx-tmp;\n"
                      << "  scgi_temp_path " << dir_ << "/nginx-tmp;\n"
                      << "  server {\n    listen 127.0.0.1:" << port << ";\n    root " << repo_
                      << ";\n  }\n}\n";
  const char* nginx = fs::exists("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx";
  Server server;
  server.Start({nginx, "-c", conf, "-p", dir_});
  ASSERT_TRUE(WaitForFile(dir_ + "/nginx.pid", std::chrono::seconds(30)))
      << ReadFile(dir_ + "/nginx-error.log");
  UpdateRunWithdraw("http://127.0.0.1:" + std::to_string(port), "app-nginx");
  server.Stop();
  const std::string log = ReadFile(dir_ + "/nginx-access.log");
  // Bytes nginx sent for the delta, and none for the full package.
  size_t delta_bytes = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("-to-1.1.0.atd 200 ") != std::string::npos) {
      delta_bytes = std::stoul(line.substr(line.rfind(' ') + 1));
    }
    EXPECT_EQ(line.find(".com.wallet.bill-1.1.0.atb"), std::string::npos) << line;
  }
  const uint64_t full =
      fs::file_size(std::string(ATRIUM_SAMPLES_DIR) + "/wallet-faults/bill-ok.atb");
  EXPECT_GT(delta_bytes, 0u) << log;
  EXPECT_LT(delta_bytes, full);
}

}  // namespace
}  // namespace atrium
