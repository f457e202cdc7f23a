// ArtifactStore under file-system faults (atrium/base/fs_faults.h): every
// write, fsync, rename and directory creation an install performs — of the
// extracted files, the package copy and the state.db rows — is failed in
// turn with ENOSPC and with EIO, and every write is cut short once. Each
// install either succeeds (the new version active, its files verified) or
// returns an error naming a file and leaves the store exactly as it was
// (the old version active and verified, in this process and after
// reopening), and the same store installs the new version once the disk
// is healthy again.
#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "atrium/artifact_store.h"
#include "atrium/base/fs_faults.h"
#include "testing/fs_faults.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
using testing::Describe;

class ArtifactStoreFaultsTest : public testing::FsFaultTest {
 protected:
  void SetUp() override {
    FsFaultTest::SetUp();
    ASSERT_GE(sodium_init(), 0);
    crypto_sign_keypair(pub_.data(), sec_.data());
    v1_ = Pack("1.0.0");
    v2_ = Pack("1.1.0");
  }

  // A package with a library of 150 KiB (several 64 KiB copy chunks), a
  // nested resource and bundle.json.
  std::string Pack(const std::string& version) {
    const std::string dir = root_ + "/src-" + version;
    fs::create_directories(dir + "/res/img");
    std::ofstream(dir + "/bundle.json")
        << R"({"name": "com.test.pay", "version": ")" << version << R"(", "library": "libpay.so"})";
    std::string lib(150 * 1024, 'x');
    for (size_t i = 0; i < lib.size(); i += 7) lib[i] = static_cast<char>('a' + (i / 7) % 26);
    std::ofstream(dir + "/libpay.so") << version << lib;
    std::ofstream(dir + "/res/img/logo.txt") << "logo " << version;
    PackOptions o;
    o.apps = {"*"};
    o.secret_key = sec_;
    const std::string out = root_ + "/pay-" + version + ".atb";
    auto r = PackDirectory(dir, o, out);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return out;
  }

  // A new data folder with 1.0.0 installed and active.
  std::unique_ptr<ArtifactStore> Fresh(int n) {
    data_ = root_ + "/data-" + std::to_string(n);
    auto store = Open();
    auto r = store->Install(v1_, InstallAs::kActive, "first");
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return store;
  }
  std::unique_ptr<ArtifactStore> Open() {
    auto s = ArtifactStore::Open({data_, {pub_}, "com.test.app"});
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // version -> state, with each active version's files verified.
  static std::map<std::string, std::string> Snapshot(const ArtifactStore& store) {
    std::map<std::string, std::string> out;
    auto list = store.List();
    EXPECT_TRUE(list.ok()) << list.error().ToString();
    if (!list.ok()) return out;
    for (const ArtifactRecord& r : *list) {
      std::string state = ArtifactStateName(r.state);
      if (r.state == ArtifactState::kActive) {
        Status verified = store.VerifyFiles(r);
        if (!verified.ok()) state += " (files: " + verified.error().ToString() + ")";
      }
      out[r.version] = state;
    }
    return out;
  }

  std::string data_, v1_, v2_;
  PublicKey pub_{};
  SecretKey sec_{};
};

TEST_F(ArtifactStoreFaultsTest, EveryFailedWriteSyncRenameOrMkdirLeavesTheOldVersion) {
  const std::map<std::string, std::string> before = {{"1.0.0", "active"}};
  const std::map<std::string, std::string> after = {{"1.0.0", "previous"}, {"1.1.0", "active"}};
  testing::FsCounts counts;
  {
    auto store = Fresh(0);
    counts = testing::CountFsOps([&] {
      auto r = store->Install(v2_, InstallAs::kActive, "second");
      ASSERT_TRUE(r.ok()) << r.error().ToString();
    });
    ASSERT_EQ(Snapshot(*store), after);
  }
  // The install writes three files and the package copy, syncs each and
  // their folders, renames twice, and commits rows through SQLite's WAL.
  EXPECT_GE(counts[internal::FsOp::kWrite], 6);
  EXPECT_GE(counts[internal::FsOp::kSync], 6);
  EXPECT_EQ(counts[internal::FsOp::kRename], 2);
  EXPECT_GE(counts[internal::FsOp::kMkdir], 3);

  int failed = 0, succeeded = 0, shorts_taken = 0, n = 0;
  for (const internal::FsFaultPlan& plan : testing::EveryFault(counts)) {
    SCOPED_TRACE(Describe(plan));
    auto store = Fresh(++n);
    Result<ArtifactRecord> r = MakeError(ErrorCode::kInternal, "not run");
    bool fired = false;
    {
      internal::FsFaultScope fault(plan);
      r = store->Install(v2_, InstallAs::kActive, "second");
      fired = fault.fired();
    }
    if (!plan.short_write) {
      ASSERT_TRUE(fired);
    }
    if (r.ok()) {
      ++succeeded;
      if (plan.short_write && fired) ++shorts_taken;
      EXPECT_EQ(Snapshot(*store), after);
      EXPECT_EQ(Snapshot(*Open()), after);
      continue;
    }
    ++failed;
    EXPECT_TRUE(!plan.short_write)
        << "a short write is retried, not an error: " << r.error().ToString();
    EXPECT_FALSE(r.error().file.empty()) << r.error().ToString();
    EXPECT_EQ(Snapshot(*store), before) << r.error().ToString();
    EXPECT_EQ(Snapshot(*Open()), before) << r.error().ToString();
    // Nothing half-installed is left for the next install to trip on.
    auto again = store->Install(v2_, InstallAs::kActive, "second, disk healthy");
    ASSERT_TRUE(again.ok()) << again.error().ToString();
    EXPECT_EQ(Snapshot(*store), after);
  }
  // Every error case failed the install; short writes never did, and the
  // file writes (not SQLite's) were cut short.
  const int shorts = counts[internal::FsOp::kWrite];
  EXPECT_EQ(succeeded, shorts);
  EXPECT_GE(shorts_taken, 4);
  EXPECT_EQ(failed + succeeded, static_cast<int>(testing::EveryFault(counts).size()));
  RecordProperty("fault_cases", failed + succeeded);
  RecordProperty("failed_installs", failed);
  RecordProperty("writes", counts[internal::FsOp::kWrite]);
  RecordProperty("fsyncs", counts[internal::FsOp::kSync]);
  RecordProperty("renames", counts[internal::FsOp::kRename]);
  RecordProperty("mkdirs", counts[internal::FsOp::kMkdir]);
  RecordProperty("short_writes_taken", shorts_taken);
}

}  // namespace
}  // namespace atrium
