// Tests for PatchStore: hotpatches as lua_patch rows of a real artifact store
// (state.db in a temp dir, real signed packages), with hotpatch's fault
// counts beside them. Install atomicity under SIGKILL is the artifact store's
// (tests/bundles/artifact_store_test.cc).
#include "patch_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "atrium/artifact_store.h"
#include "atrium/package.h"
#include "testing/package_fixture.h"

namespace atrium::hotpatch::internal {
namespace {

namespace fs = std::filesystem;

class PatchStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "atrium_patch_store_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    Reopen();
  }
  void TearDown() override {
    patches_.reset();
    store_.reset();
    fs::remove_all(root_);
  }
  void Reopen() {
    patches_.reset();
    store_.reset();
    auto store = ArtifactStore::Open({root_ + "/data", {keys_.pub}, "com.test.app"});
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    store_ = std::move(store).value();
    auto patches = PatchStore::Open(store_.get());
    ASSERT_TRUE(patches.ok()) << patches.error().ToString();
    patches_ = std::move(patches).value();
  }
  // A signed lua_patch package of `id` at `version`.
  std::string Package(const std::string& id, const std::string& version) {
    const std::string dir = root_ + "/src/" + id + "-" + version;
    fs::create_directories(dir);
    std::ofstream(dir + "/patch.json")
        << R"({"id": ")" << id << R"(", "version": ")" << version
        << R"(", "targets": {"app": "com.test.app"}, "points": [{"point": "pay.fee",)"
        << R"j( "function": "f", "signature": "int(int)"}]})j";
    std::ofstream(dir + "/patch.lua") << "function f(original, x) return x end";
    return testing::PackDir(dir, keys_, ArtifactKind::kLuaPatch);
  }
  // "id version state faults" of every listed patch.
  std::vector<std::string> Summary() {
    std::vector<std::string> out;
    auto list = patches_->List();
    EXPECT_TRUE(list.ok()) << list.error().ToString();
    if (!list.ok()) return out;
    for (const StoredPatch& p : *list) {
      out.push_back(p.id + " " + p.version + " " + PatchStateName(p.state) + " " +
                    std::to_string(p.faults));
    }
    return out;
  }

  std::string root_;
  testing::Keys keys_;
  std::unique_ptr<ArtifactStore> store_;
  std::unique_ptr<PatchStore> patches_;
};

TEST_F(PatchStoreTest, InstallsIntoTheArtifactStore) {
  auto a = patches_->Install(Package("fix-fee", "1.0.0"));
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(a->state, PatchState::kEnabled);
  EXPECT_TRUE(fs::exists(a->dir + "/patch.lua"));
  EXPECT_EQ(a->record.kind, ArtifactKind::kLuaPatch);
  EXPECT_TRUE(store_->VerifyFiles(a->record).ok());
  ASSERT_TRUE(patches_->Install(Package("fix-login", "0.2.0")).ok());
  EXPECT_EQ(Summary(),
            (std::vector<std::string>{"fix-fee 1.0.0 enabled 0", "fix-login 0.2.0 enabled 0"}));
  // The same version again, a package of another kind, a missing file.
  EXPECT_EQ(patches_->Install(Package("fix-fee", "1.0.0")).error().code, ErrorCode::kAlreadyExists);
  const std::string bundle = testing::PackFixture(root_, keys_, "greeter", "9.0.0");
  auto native = patches_->Install(bundle);
  ASSERT_FALSE(native.ok());
  EXPECT_NE(native.error().message.find("not a hotpatch: a package of kind native_bundle"),
            std::string::npos);
  EXPECT_EQ(patches_->Install(root_ + "/nope.atb").error().code, ErrorCode::kIo);
}

TEST_F(PatchStoreTest, ANewVersionSupersedesAndRollbackReturnsToIt) {
  ASSERT_TRUE(patches_->Install(Package("fix-fee", "1.0.0")).ok());
  ASSERT_TRUE(patches_->Install(Package("fix-fee", "1.1.0")).ok());
  EXPECT_EQ(Summary(), (std::vector<std::string>{"fix-fee 1.1.0 enabled 0"}));
  ASSERT_TRUE(patches_->Rollback("fix-fee", "bad release").ok());
  EXPECT_EQ(Summary(), (std::vector<std::string>{"fix-fee 1.0.0 enabled 0"}));
  // No previous version left: kNotFound, nothing changes.
  Status again = patches_->Rollback("fix-fee", "again");
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Summary(), (std::vector<std::string>{"fix-fee 1.0.0 enabled 0"}));
  EXPECT_EQ(patches_->Rollback("unknown", "x").error().code, ErrorCode::kNotFound);
}

TEST_F(PatchStoreTest, DisableLeavesNoVersionEnabledAndEnableBringsTheNewestBack) {
  ASSERT_TRUE(patches_->Install(Package("fix-fee", "1.0.0")).ok());
  ASSERT_TRUE(patches_->Install(Package("fix-fee", "1.1.0")).ok());
  ASSERT_TRUE(patches_->SetState("fix-fee", PatchState::kDisabled, "operator").ok());
  auto enabled = patches_->Enabled();
  ASSERT_TRUE(enabled.ok());
  EXPECT_TRUE(enabled->empty());
  auto list = patches_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].state, PatchState::kDisabled);
  EXPECT_EQ((*list)[0].reason, "operator");
  ASSERT_TRUE(patches_->SetState("fix-fee", PatchState::kEnabled, "operator again").ok());
  EXPECT_EQ(Summary(), (std::vector<std::string>{"fix-fee 1.1.0 enabled 0"}));
  EXPECT_EQ(patches_->SetState("nope", PatchState::kEnabled, "x").error().code,
            ErrorCode::kNotFound);
}

TEST_F(PatchStoreTest, FaultsCountPerVersionAndAFailureFallsBackToThePrevious) {
  ASSERT_TRUE(patches_->Install(Package("fix-fee", "1.0.0")).ok());
  ASSERT_TRUE(patches_->Install(Package("fix-fee", "1.1.0")).ok());
  EXPECT_EQ(*patches_->RecordFault("fix-fee", "boom"), 1u);
  EXPECT_EQ(*patches_->RecordFault("fix-fee", "boom"), 2u);
  EXPECT_EQ(Summary(), (std::vector<std::string>{"fix-fee 1.1.0 enabled 2"}));
  ASSERT_TRUE(patches_->SetState("fix-fee", PatchState::kFailed, "2 faults").ok());
  // Like every artifact: the previous version takes over, with its own count.
  EXPECT_EQ(Summary(), (std::vector<std::string>{"fix-fee 1.0.0 enabled 0"}));
  EXPECT_EQ(*patches_->RecordFault("fix-fee", "boom"), 1u);
  EXPECT_EQ(patches_->RecordFault("nope", "x").error().code, ErrorCode::kNotFound);
}

TEST_F(PatchStoreTest, DisableAllAndStatePersistAcrossReopen) {
  ASSERT_TRUE(patches_->Install(Package("a", "1.0.0")).ok());
  ASSERT_TRUE(patches_->Install(Package("b", "1.0.0")).ok());
  ASSERT_TRUE(patches_->Install(Package("b", "1.1.0")).ok());
  ASSERT_TRUE(patches_->RecordFault("a", "x").ok());
  Reopen();
  EXPECT_EQ(Summary(), (std::vector<std::string>{"a 1.0.0 enabled 1", "b 1.1.0 enabled 0"}));
  ASSERT_TRUE(patches_->DisableAll("launch guard").ok());
  Reopen();
  auto enabled = patches_->Enabled();
  ASSERT_TRUE(enabled.ok());
  EXPECT_TRUE(enabled->empty());
  // The store's history says why.
  auto history = store_->History("b");
  ASSERT_TRUE(history.ok());
  ASSERT_FALSE(history->empty());
  EXPECT_EQ(history->back().reason, "launch guard");
}

}  // namespace
}  // namespace atrium::hotpatch::internal
