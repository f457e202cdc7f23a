// Tests for PatchStore against a real SQLite file and real signed packages in
// a fresh temp directory: install / list / history, supersede, rollback,
// disable-all, fault counting, persistence across reopen, and crash
// consistency of Install (a forked child SIGKILLed at each stage of an
// install leaves the store with the patch installed fully or not at all).
#include "patch_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "atrium/result.h"
#include "patch_package.h"

namespace atrium::hotpatch::internal {

// Defined in patch_store.cc (test hook, see there).
extern void (*PatchStoreFailPointForTesting)(const char* stage);

namespace {

namespace fs = std::filesystem;

void WriteFile(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::vector<std::string> Entries(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class PatchStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "atrium_patch_store_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    data_dir_ = root_ / "data";
    key_ = GenerateKeyPair();
  }
  void TearDown() override {
    PatchStoreFailPointForTesting = nullptr;
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // A signed package id@version in root_/src, loaded and verified.
  PatchPackage Package(const std::string& id, const std::string& version) {
    fs::path dir = root_ / "src" / (id + "@" + version);
    fs::create_directories(dir);
    WriteFile(dir / "patch.json", R"j({"id": ")j" + id + R"j(", "version": ")j" + version +
                                      R"j(", "targets": {"app": "com.example.wallet"},
        "points": [{"point": "transfer.fee.compute", "function": "f",
                    "signature": "int(int)"}], "source": "main.lua"})j");
    WriteFile(dir / "main.lua", "function f(x) return x + 1 end -- " + id + " " + version + "\n");
    Status s = SignPatchDir(dir.string(), key_.secret_hex);
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    Result<PatchPackage> p = LoadPatchPackage(dir.string(), {key_.public_hex});
    EXPECT_TRUE(p.ok()) << p.error().ToString();
    return p.ok() ? std::move(p).value() : PatchPackage();
  }

  std::unique_ptr<PatchStore> Open() {
    Result<std::unique_ptr<PatchStore>> store = PatchStore::Open(data_dir_.string());
    if (!store.ok()) {
      ADD_FAILURE() << "Open: " << store.error().ToString();
      return nullptr;
    }
    return std::move(store).value();
  }

  static std::vector<StoredPatch> ListOrDie(PatchStore& store) {
    Result<std::vector<StoredPatch>> list = store.List();
    if (!list.ok()) {
      ADD_FAILURE() << "List: " << list.error().ToString();
      return {};
    }
    return *list;
  }

  static std::vector<PatchHistoryEntry> HistoryOrDie(PatchStore& store, const std::string& id) {
    Result<std::vector<PatchHistoryEntry>> h = store.History(id);
    if (!h.ok()) {
      ADD_FAILURE() << "History: " << h.error().ToString();
      return {};
    }
    return *h;
  }

  // "id version state" per listed patch.
  static std::vector<std::string> Summary(PatchStore& store) {
    std::vector<std::string> out;
    for (const StoredPatch& p : ListOrDie(store)) {
      out.push_back(p.id + " " + p.version + " " + PatchStateName(p.state));
    }
    return out;
  }

  fs::path root_;
  fs::path data_dir_;
  KeyPair key_;
};

using Strings = std::vector<std::string>;

TEST_F(PatchStoreTest, InstallsListsAndRecordsHistory) {
  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_TRUE(ListOrDie(*store).empty());
  EXPECT_TRUE(fs::exists(data_dir_ / "hotpatch.db"));

  Result<StoredPatch> a = store->Install(Package("fix-fee", "1.0.0"));
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(a->id, "fix-fee");
  EXPECT_EQ(a->version, "1.0.0");
  EXPECT_EQ(a->state, PatchState::kEnabled);
  EXPECT_EQ(a->faults, 0u);
  EXPECT_EQ(fs::path(a->dir), data_dir_ / "patches" / "fix-fee-1.0.0");
  Result<StoredPatch> b = store->Install(Package("fix-login", "0.2.0-beta.1"));
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  EXPECT_GT(b->install_seq, a->install_seq);

  std::vector<StoredPatch> list = ListOrDie(*store);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, "fix-fee");
  EXPECT_EQ(list[0].dir, a->dir);
  EXPECT_EQ(list[0].reason, "installed");
  EXPECT_EQ(list[1].id, "fix-login");
  EXPECT_EQ(list[1].version, "0.2.0-beta.1");

  // The installed copy is complete and still verifies.
  EXPECT_EQ(Entries(a->dir), (Strings{"main.lua", "patch.json", "patch.sig"}));
  Result<PatchPackage> copy = LoadPatchPackage(a->dir, {key_.public_hex});
  ASSERT_TRUE(copy.ok()) << copy.error().ToString();
  EXPECT_EQ(copy->manifest.id, "fix-fee");

  std::vector<PatchHistoryEntry> h = HistoryOrDie(*store, "fix-fee");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].version, "1.0.0");
  EXPECT_EQ(h[0].state, PatchState::kEnabled);
  EXPECT_EQ(h[0].reason, "installed");
  EXPECT_GT(h[0].time_unix_ms, 1600000000000);
  EXPECT_TRUE(HistoryOrDie(*store, "unknown").empty());
}

TEST_F(PatchStoreTest, RefusesToInstallTheSameVersionTwice) {
  auto store = Open();
  ASSERT_TRUE(store);
  PatchPackage p = Package("fix-fee", "1.0.0");
  ASSERT_TRUE(store->Install(p).ok());
  Result<StoredPatch> again = store->Install(p);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(again.error().message.find("'fix-fee' 1.0.0 is already installed"), std::string::npos)
      << again.error().ToString();
  // Superseded versions count as installed too.
  ASSERT_TRUE(store->Install(Package("fix-fee", "1.0.1")).ok());
  EXPECT_EQ(store->Install(p).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(Summary(*store), (Strings{"fix-fee 1.0.1 enabled"}));
  EXPECT_EQ(Entries(data_dir_ / "patches"), (Strings{"fix-fee-1.0.0", "fix-fee-1.0.1"}));
}

TEST_F(PatchStoreTest, NewVersionSupersedesTheOld) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Install(Package("fix-fee", "1.0.0")).ok());
  ASSERT_TRUE(store->Install(Package("other", "3.0.0")).ok());
  ASSERT_TRUE(store->SetState("fix-fee", PatchState::kDisabled, "by hand").ok());
  ASSERT_TRUE(store->Install(Package("fix-fee", "1.1.0")).ok());

  EXPECT_EQ(Summary(*store), (Strings{"other 3.0.0 enabled", "fix-fee 1.1.0 enabled"}));
  std::vector<PatchHistoryEntry> h = HistoryOrDie(*store, "fix-fee");
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[1].state, PatchState::kDisabled);
  EXPECT_EQ(h[2].version, "1.0.0");
  EXPECT_EQ(h[2].state, PatchState::kSuperseded);
  EXPECT_EQ(h[2].reason, "superseded by 1.1.0");
  EXPECT_EQ(h[3].version, "1.1.0");
  EXPECT_EQ(h[3].state, PatchState::kEnabled);
  // The old copy stays for a rollback.
  EXPECT_TRUE(fs::exists(data_dir_ / "patches" / "fix-fee-1.0.0" / "patch.json"));
}

TEST_F(PatchStoreTest, RollbackReenablesThePreviousVersion) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Install(Package("fix-fee", "1.0.0")).ok());
  ASSERT_TRUE(store->Install(Package("fix-fee", "1.0.1")).ok());
  ASSERT_TRUE(store->Install(Package("fix-fee", "1.0.2")).ok());
  ASSERT_TRUE(store->RecordFault("fix-fee", "boom").ok());

  Status s = store->Rollback("fix-fee", "crashes on EUR");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  std::vector<StoredPatch> list = ListOrDie(*store);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].version, "1.0.1");
  EXPECT_EQ(list[0].state, PatchState::kEnabled);
  EXPECT_EQ(list[0].faults, 0u);
  EXPECT_EQ(list[0].reason, "rolled back from 1.0.2: crashes on EUR");

  std::vector<PatchHistoryEntry> h = HistoryOrDie(*store, "fix-fee");
  ASSERT_GE(h.size(), 2u);
  EXPECT_EQ(h[h.size() - 2].version, "1.0.2");
  EXPECT_EQ(h[h.size() - 2].state, PatchState::kDisabled);
  EXPECT_EQ(h[h.size() - 2].reason, "crashes on EUR");
  EXPECT_EQ(h.back().version, "1.0.1");
  EXPECT_EQ(h.back().state, PatchState::kEnabled);

  // A second rollback goes further back, never to the version rolled away from.
  ASSERT_TRUE(store->Rollback("fix-fee", "also bad").ok());
  EXPECT_EQ(Summary(*store), (Strings{"fix-fee 1.0.0 enabled"}));
  Status none = store->Rollback("fix-fee", "again");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
  EXPECT_NE(none.error().message.find("no earlier version"), std::string::npos);
  EXPECT_EQ(Summary(*store), (Strings{"fix-fee 1.0.0 enabled"}));

  // A newer install after a rollback supersedes the rolled-back-to version.
  ASSERT_TRUE(store->Install(Package("fix-fee", "1.0.3")).ok());
  EXPECT_EQ(Summary(*store), (Strings{"fix-fee 1.0.3 enabled"}));
  ASSERT_TRUE(store->Rollback("fix-fee", "no").ok());
  EXPECT_EQ(Summary(*store), (Strings{"fix-fee 1.0.0 enabled"}));
}

TEST_F(PatchStoreTest, RollbackOfUnknownOrSingleVersionIsNotFound) {
  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->Rollback("nope", "r").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(store->Install(Package("fix-fee", "1.0.0")).ok());
  EXPECT_EQ(store->Rollback("fix-fee", "r").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Summary(*store), (Strings{"fix-fee 1.0.0 enabled"}));
}

TEST_F(PatchStoreTest, SetStateChangesTheCurrentVersion) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Install(Package("fix-fee", "1.0.0")).ok());
  ASSERT_EQ(*store->RecordFault("fix-fee", "e1"), 1u);
  ASSERT_TRUE(store->SetState("fix-fee", PatchState::kFailed, "3 faults").ok());
  std::vector<StoredPatch> list = ListOrDie(*store);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, PatchState::kFailed);
  EXPECT_EQ(list[0].reason, "3 faults");
  EXPECT_EQ(list[0].faults, 1u);
  // Enabling starts the fault count afresh.
  ASSERT_TRUE(store->SetState("fix-fee", PatchState::kEnabled, "enabled").ok());
  EXPECT_EQ(ListOrDie(*store)[0].faults, 0u);

  EXPECT_EQ(store->SetState("nope", PatchState::kDisabled, "r").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store->SetState("fix-fee", PatchState::kSuperseded, "r").error().code,
            ErrorCode::kInvalidArgument);
}

TEST_F(PatchStoreTest, CountsFaults) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Install(Package("fix-fee", "1.0.0")).ok());
  for (uint32_t i = 1; i <= 3; ++i) {
    Result<uint32_t> n = store->RecordFault("fix-fee", "error: attempt to index nil");
    ASSERT_TRUE(n.ok()) << n.error().ToString();
    EXPECT_EQ(*n, i);
  }
  EXPECT_EQ(ListOrDie(*store)[0].faults, 3u);
  EXPECT_EQ(ListOrDie(*store)[0].state, PatchState::kEnabled);
  std::vector<PatchHistoryEntry> h = HistoryOrDie(*store, "fix-fee");
  EXPECT_EQ(h.back().reason, "fault 3: error: attempt to index nil");
  // Over-long messages are cut.
  ASSERT_TRUE(store->RecordFault("fix-fee", std::string(100000, 'x')).ok());
  EXPECT_LT(HistoryOrDie(*store, "fix-fee").back().reason.size(), 1100u);
  EXPECT_EQ(store->RecordFault("nope", "x").error().code, ErrorCode::kNotFound);
}

TEST_F(PatchStoreTest, CountsFaultsFromManyThreads) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Install(Package("fix-fee", "1.0.0")).ok());
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store] {
      for (int i = 0; i < kEach; ++i) EXPECT_TRUE(store->RecordFault("fix-fee", "x").ok());
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ListOrDie(*store)[0].faults, uint32_t{kThreads * kEach});
}

TEST_F(PatchStoreTest, DisableAllDisablesEveryEnabledPatchAtOnce) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Install(Package("a", "1.0.0")).ok());
  ASSERT_TRUE(store->Install(Package("b", "1.0.0")).ok());
  ASSERT_TRUE(store->Install(Package("c", "1.0.0")).ok());
  ASSERT_TRUE(store->Install(Package("c", "1.1.0")).ok());
  ASSERT_TRUE(store->SetState("b", PatchState::kFailed, "faults").ok());

  Status s = store->DisableAll("launch guard: 2 crashed launches");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(Summary(*store), (Strings{"a 1.0.0 disabled", "b 1.0.0 failed", "c 1.1.0 disabled"}));
  for (const StoredPatch& p : ListOrDie(*store)) {
    if (p.id != "b") {
      EXPECT_EQ(p.reason, "launch guard: 2 crashed launches");
    }
  }
  EXPECT_EQ(HistoryOrDie(*store, "a").back().state, PatchState::kDisabled);
  EXPECT_EQ(HistoryOrDie(*store, "b").back().state, PatchState::kFailed);
  // Nothing enabled: still fine, and changes nothing.
  ASSERT_TRUE(store->DisableAll("again").ok());
  EXPECT_EQ(HistoryOrDie(*store, "a").size(), 2u);
}

TEST_F(PatchStoreTest, PersistsAcrossReopen) {
  uint64_t last_seq = 0;
  {
    auto store = Open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Install(Package("a", "1.0.0")).ok());
    ASSERT_TRUE(store->Install(Package("a", "1.0.1")).ok());
    Result<StoredPatch> b = store->Install(Package("b", "2.0.0"));
    ASSERT_TRUE(b.ok());
    last_seq = b->install_seq;
    ASSERT_TRUE(store->RecordFault("b", "x").ok());
    ASSERT_TRUE(store->SetState("a", PatchState::kDisabled, "paused").ok());
  }
  auto store = Open();
  ASSERT_TRUE(store);
  std::vector<StoredPatch> list = ListOrDie(*store);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, "a");
  EXPECT_EQ(list[0].version, "1.0.1");
  EXPECT_EQ(list[0].state, PatchState::kDisabled);
  EXPECT_EQ(list[0].reason, "paused");
  EXPECT_EQ(list[1].faults, 1u);
  EXPECT_EQ(HistoryOrDie(*store, "a").size(), 4u);
  Result<StoredPatch> c = store->Install(Package("c", "1.0.0"));
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c->install_seq, last_seq);
  // The rollback target survived the reopen too.
  ASSERT_TRUE(store->Rollback("a", "r").ok());
  EXPECT_EQ(Summary(*store), (Strings{"a 1.0.0 enabled", "b 2.0.0 enabled", "c 1.0.0 enabled"}));
}

TEST_F(PatchStoreTest, OpenRemovesLeftoversOfInterruptedInstalls) {
  {
    auto store = Open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Install(Package("a", "1.0.0")).ok());
  }
  fs::create_directories(data_dir_ / "patches" / ".tmp-Ab12Cd" / "x");
  fs::create_directories(data_dir_ / "patches" / "b-1.0.0");
  WriteFile(data_dir_ / "patches" / "b-1.0.0" / "patch.json", "{}");
  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_EQ(Entries(data_dir_ / "patches"), (Strings{"a-1.0.0"}));
  // The orphan's id+version is installable (its directory is free again).
  EXPECT_TRUE(store->Install(Package("b", "1.0.0")).ok());
}

TEST_F(PatchStoreTest, ReportsUnusableDataDirectories) {
  WriteFile(root_ / "file", "x");
  Result<std::unique_ptr<PatchStore>> blocked = PatchStore::Open((root_ / "file").string());
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code, ErrorCode::kIo);

  fs::create_directories(data_dir_);
  WriteFile(data_dir_ / "hotpatch.db", std::string(8192, 'z'));
  Result<std::unique_ptr<PatchStore>> garbage = PatchStore::Open(data_dir_.string());
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code, ErrorCode::kCorrupt) << garbage.error().ToString();
  EXPECT_EQ(garbage.error().file, (data_dir_ / "hotpatch.db").string());

  EXPECT_EQ(PatchStore::Open("").error().code, ErrorCode::kInvalidArgument);
}

TEST_F(PatchStoreTest, RefusesIdsThatCannotNameADirectory) {
  auto store = Open();
  ASSERT_TRUE(store);
  PatchPackage p = Package("fix-fee", "1.0.0");
  p.manifest.id = "../escape";
  Result<StoredPatch> r = store->Install(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(Entries(data_dir_ / "patches").empty());
}

TEST_F(PatchStoreTest, FailedCopyLeavesNothingBehind) {
  auto store = Open();
  ASSERT_TRUE(store);
  PatchPackage p = Package("fix-fee", "1.0.0");
  fs::remove(fs::path(p.dir) / "patch.sig");
  Result<StoredPatch> r = store->Install(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_EQ(r.error().file, (fs::path(p.dir) / "patch.sig").string());
  EXPECT_TRUE(Entries(data_dir_ / "patches").empty());
  EXPECT_TRUE(ListOrDie(*store).empty());
}

// ---------------------------------------------------------------------------
// Crash consistency.

const char* g_crash_stage = nullptr;

void CrashAtStage(const char* stage) {
  if (std::string_view(stage) == g_crash_stage) ::kill(::getpid(), SIGKILL);
}

class PatchStoreCrashTest : public PatchStoreTest,
                            public ::testing::WithParamInterface<const char*> {};

TEST_P(PatchStoreCrashTest, SigkillDuringInstallLeavesAllOrNothing) {
  const std::string stage = GetParam();
  {
    auto store = Open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Install(Package("fix-fee", "1.0.0")).ok());
  }
  PatchPackage next = Package("fix-fee", "1.0.1");

  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: its own store, killed by the hook at `stage`.
    g_crash_stage = GetParam();
    PatchStoreFailPointForTesting = &CrashAtStage;
    Result<std::unique_ptr<PatchStore>> store = PatchStore::Open(data_dir_.string());
    if (!store.ok()) ::_exit(2);
    Result<StoredPatch> r = (*store)->Install(next);
    ::_exit(r.ok() ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child was not killed at " << stage << " (status " << status << ")";

  auto store = Open();
  ASSERT_TRUE(store);
  const bool committed = stage == "committed";
  std::vector<StoredPatch> list = ListOrDie(*store);
  ASSERT_EQ(list.size(), 1u);
  if (committed) {
    EXPECT_EQ(list[0].version, "1.0.1");
    EXPECT_EQ(Entries(data_dir_ / "patches"), (Strings{"fix-fee-1.0.0", "fix-fee-1.0.1"}));
    Result<PatchPackage> copy = LoadPatchPackage(list[0].dir, {key_.public_hex});
    EXPECT_TRUE(copy.ok()) << copy.error().ToString();
    EXPECT_EQ(HistoryOrDie(*store, "fix-fee").size(), 3u);
  } else {
    EXPECT_EQ(list[0].version, "1.0.0");
    EXPECT_EQ(list[0].state, PatchState::kEnabled);
    EXPECT_EQ(Entries(data_dir_ / "patches"), (Strings{"fix-fee-1.0.0"}));
    EXPECT_EQ(HistoryOrDie(*store, "fix-fee").size(), 1u);
    // ... and the interrupted install can simply be retried.
    Result<StoredPatch> retry = store->Install(next);
    ASSERT_TRUE(retry.ok()) << retry.error().ToString();
    EXPECT_EQ(Summary(*store), (Strings{"fix-fee 1.0.1 enabled"}));
  }
  Result<PatchPackage> old_copy =
      LoadPatchPackage((data_dir_ / "patches" / "fix-fee-1.0.0").string(), {key_.public_hex});
  EXPECT_TRUE(old_copy.ok());
}

INSTANTIATE_TEST_SUITE_P(Stages, PatchStoreCrashTest,
                         ::testing::Values("files_written", "renamed", "rows_written", "committed"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace atrium::hotpatch::internal
