// Interoperability with an independent TUF implementation, tuf-js (the
// client the npm CLI uses; pinned in tests/interop/package-lock.json and
// installed by ./dev into <build>/interop/node_modules):
//   1. tuf-js's Updater refreshes against a repository `atrium release`
//      published and `atrium serve` serves, and downloads a target byte for
//      byte as ours does;
//   2. a repository built and signed with @tufjs/models is accepted by
//      `atrium tuf-client`;
//   3. metadata tuf-js refuses (expired, under threshold) ours refuses too.
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "gtest/gtest.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::Ran;
using testing::ReadFile;
using testing::RunProcess;
using testing::Server;

const std::string kModules = std::string(ATRIUM_BINARY_DIR) + "/interop/node_modules";
const std::string kScripts = std::string(ATRIUM_SOURCE_DIR) + "/tests/interop";

class TufJsInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kModules + "/tuf-js"))
        << "tuf-js is not installed in " << kModules << " (./dev installs it)";
    char tmpl[] = "/tmp/atrium-tufjs-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  Ran Cmd(std::vector<std::string> args) { return RunProcess(args, dir_); }
  Ran Atrium(std::vector<std::string> args) {
    args.insert(args.begin(), ATRIUM_CLI);
    return Cmd(std::move(args));
  }
  // tufjs_client.mjs against `url`; its JSON answer.
  json::object TufJs(const std::string& url, const std::string& root, const std::string& name,
                     const std::vector<std::string>& targets) {
    std::vector<std::string> args = {"node",           kScripts + "/tufjs_client.mjs",
                                     "--modules",      kModules,
                                     "--metadata-url", url + "/metadata",
                                     "--target-url",   url + "/targets",
                                     "--metadata-dir", dir_ + "/" + name + "-meta",
                                     "--target-dir",   dir_ + "/" + name + "-targets",
                                     "--root",         root};
    for (const auto& t : targets) {
      args.push_back("--target");
      args.push_back(t);
    }
    Ran r = Cmd(args);
    json::error_code ec;
    json::value v = json::parse(r.out, ec);
    EXPECT_FALSE(ec) << r.out << r.err;
    return !ec && v.is_object() ? v.as_object() : json::object{};
  }
  // `atrium tuf-client` init + download of `targets` from `url`.
  Ran Ours(const std::string& url, const std::string& root, const std::string& name,
           const std::vector<std::string>& targets) {
    const std::string meta = dir_ + "/" + name + "-meta";
    Ran init = Atrium({"tuf-client", "--metadata-dir", meta, "init", root});
    if (init.code != 0) return init;
    std::vector<std::string> args = {"tuf-client", "--metadata-dir", meta, "--metadata-url",
                                     url + "/metadata"};
    if (targets.empty()) {
      args.push_back("refresh");
    } else {
      for (const auto& t : targets) {
        args.push_back("--target-name");
        args.push_back(t);
      }
      args.insert(args.end(), {"--target-base-url", url + "/targets", "--target-dir",
                               dir_ + "/" + name + "-targets", "download"});
    }
    return Atrium(args);
  }
  std::string Serve(Server& server, const std::string& repo) {
    std::string line = server.StartReadingFirstLine(
        {ATRIUM_CLI, "serve", repo, "--port", "0"},
        dir_ + "/serve-" + fs::path(repo).filename().string() + ".log");
    std::string url = line.substr(line.find("http://"));
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  }
  // A repository made by @tufjs/models; the path of its 1.root.json.
  std::string MakeTufJsRepo(const std::string& name, const std::vector<std::string>& extra) {
    std::ofstream(dir_ + "/payload.bin", std::ios::binary) << std::string(5000, 'p') << name;
    std::vector<std::string> args = {"node",      kScripts + "/tufjs_make_repo.mjs",
                                     "--modules", kModules,
                                     "--out",     dir_ + "/" + name,
                                     "--target",  dir_ + "/payload.bin=apps/wallet/payload.bin"};
    args.insert(args.end(), extra.begin(), extra.end());
    Ran r = Cmd(args);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    return dir_ + "/" + name + "/metadata/1.root.json";
  }

  std::string dir_;
};

TEST_F(TufJsInteropTest, TufJsReadsARepositoryAtriumPublished) {
  const std::string repo = dir_ + "/repo";
  ASSERT_EQ(Atrium({"release", "init", repo}).code, 0);
  const std::string atb = std::string(ATRIUM_BINARY_DIR) + "/samples/wallet-patches/fix-fee.atb";
  ASSERT_EQ(Atrium({"release", "add", repo, atb, "--rollout", "12.5"}).code, 0);
  ASSERT_EQ(Atrium({"release", "publish", repo}).code, 0);
  Server server;
  const std::string url = Serve(server, repo);
  const std::string target = "lua_patch/fix-transfer-fee-1.0.0.atb";
  json::object got = TufJs(url, repo + "/metadata/1.root.json", "tufjs", {target});
  ASSERT_EQ(got["ok"], true) << json::serialize(got);
  EXPECT_EQ(got["trusted"].at("targets"), 2);
  EXPECT_EQ(got["trusted"].at("timestamp"), 2);
  const json::object& t = got["targets"].at(0).as_object();
  EXPECT_EQ(ReadFile(std::string(t.at("file").as_string())), ReadFile(atb));
  EXPECT_EQ(t.at("custom").at("atrium").at("rollout").at("micro_percent"), 12'500'000);
  // Ours, from the same server: the same bytes.
  Ran ours = Ours(url, repo + "/metadata/1.root.json", "ours", {target});
  ASSERT_EQ(ours.code, 0) << ours.err;
  EXPECT_EQ(ReadFile(dir_ + "/ours-targets/lua_patch%2Ffix-transfer-fee-1.0.0.atb"), ReadFile(atb));
  // After a key rotation both follow the root chain.
  ASSERT_EQ(Atrium({"release", "rotate-key", repo, "root"}).code, 0);
  ASSERT_EQ(Atrium({"release", "rotate-key", repo, "timestamp"}).code, 0);
  got = TufJs(url, repo + "/metadata/1.root.json", "tufjs", {});
  ASSERT_EQ(got["ok"], true) << json::serialize(got);
  EXPECT_EQ(got["trusted"].at("root"), 3);
  EXPECT_EQ(Ours(url, repo + "/metadata/1.root.json", "ours2", {}).code, 0);
}

TEST_F(TufJsInteropTest, AtriumAcceptsARepositorySignedWithTufJsModels) {
  const std::string root =
      MakeTufJsRepo("made", {"--root-threshold", "2", "--root-keys", "3", "--rotate-root"});
  Server server;
  const std::string url = Serve(server, dir_ + "/made");
  Ran ours = Ours(url, root, "ours", {"apps/wallet/payload.bin"});
  ASSERT_EQ(ours.code, 0) << ours.err;
  EXPECT_EQ(ReadFile(dir_ + "/ours-targets/apps%2Fwallet%2Fpayload.bin"),
            ReadFile(dir_ + "/payload.bin"));
  // The rotated root (2.root.json) is what ours trusts now.
  EXPECT_EQ(ReadFile(dir_ + "/ours-meta/root.json"), ReadFile(dir_ + "/made/metadata/2.root.json"));
}

TEST_F(TufJsInteropTest, WhatTufJsRefusesAtriumRefusesToo) {
  struct Case {
    std::vector<std::string> flags;
    std::string ours;  // part of our error message
  };
  const Case cases[] = {
      {{"--expire", "timestamp"}, "timestamp.json: expired at"},
      {{"--expire", "snapshot"}, "snapshot.json: expired at"},
      {{"--expire", "targets"}, "targets.json: expired at"},
      {{"--under-threshold", "snapshot"}, "snapshot role: 1 signature, threshold 2, 1 valid"},
      {{"--under-threshold", "targets"}, "targets role: 1 signature, threshold 2, 1 valid"},
      {{"--under-threshold", "timestamp"}, "timestamp role: 1 signature, threshold 2, 1 valid"},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.flags[0] + " " + c.flags[1]);
    const std::string name = "bad" + std::to_string(++n);
    const std::string root = MakeTufJsRepo(name, c.flags);
    Server server;
    const std::string url = Serve(server, dir_ + "/" + name);
    json::object theirs = TufJs(url, root, name + "-tufjs", {});
    EXPECT_EQ(theirs["ok"], false) << json::serialize(theirs);
    Ran ours = Ours(url, root, name + "-ours", {});
    EXPECT_EQ(ours.code, 1);
    EXPECT_NE(ours.err.find(c.ours), std::string::npos) << ours.err;
  }
}

}  // namespace
}  // namespace atrium
