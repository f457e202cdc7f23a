// ArtifactStore with real signed packages, a real state.db and real files:
// state changes and their history, refusals that leave the store as it was,
// integrity checks, and crash consistency (a child killed with SIGKILL at
// every install step).
#include "atrium/artifact_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "atrium/bundles/store_stamp.h"
#include "atrium/bundles/test_hooks.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/atrium-store-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Keys {
  PublicKey pub{};
  SecretKey sec{};
  Keys() {
    if (sodium_init() < 0) std::abort();
    crypto_sign_keypair(pub.data(), sec.data());
  }
};

// A bundle directory with bundle.json, a "library" and a resource.
std::string MakeBundleDir(const std::string& root, const std::string& version,
                          const std::string& payload) {
  std::string dir = root + "/src-" + version + "-" + std::to_string(payload.size());
  fs::create_directories(dir + "/res");
  std::ofstream(dir + "/bundle.json")
      << R"({"name": "com.test.pay", "version": ")" << version << R"(", "library": "libpay.so"})";
  std::ofstream(dir + "/libpay.so") << "ELF-ish " << payload << std::string(4096, 'x');
  std::ofstream(dir + "/res/strings.txt") << "hello " << version;
  return dir;
}

std::string Pack(const std::string& root, const Keys& keys, const std::string& version,
                 const std::string& payload = "v") {
  std::string dir = MakeBundleDir(root, version, payload);
  PackOptions o;
  o.apps = {"*"};  // any app: this test is not about app scope
  o.secret_key = keys.sec;
  std::string out = root + "/pay-" + version + "-" + std::to_string(payload.size()) + ".atb";
  auto r = PackDirectory(dir, o, out);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return out;
}

std::unique_ptr<ArtifactStore> OpenStore(const std::string& data, const Keys& keys) {
  auto s = ArtifactStore::Open({data, {keys.pub}, "com.test.app"});
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

std::map<std::string, std::string> States(ArtifactStore& store) {
  std::map<std::string, std::string> out;
  auto list = store.List();
  EXPECT_TRUE(list.ok());
  for (const auto& r : *list) out[r.version] = ArtifactStateName(r.state);
  return out;
}

TEST(ArtifactStoreTest, StagedBecomesActiveAtPromotionAndHistoryExplainsIt) {
  TempDir tmp;
  Keys keys;
  auto store = OpenStore(tmp.path() + "/data", keys);
  const uint64_t g0 = store->generation();
  auto base = store->Install(Pack(tmp.path(), keys, "1.0.0"), InstallAs::kBaseline, "shipped");
  ASSERT_TRUE(base.ok()) << base.error().ToString();
  EXPECT_EQ(base->state, ArtifactState::kBaseline);
  EXPECT_TRUE(fs::exists(base->dir + "/libpay.so"));
  EXPECT_TRUE(fs::exists(base->dir + "/res/strings.txt"));
  EXPECT_GT(store->generation(), g0);

  auto v2 = store->Install(Pack(tmp.path(), keys, "1.1.0"), InstallAs::kStaged, "release 12");
  ASSERT_TRUE(v2.ok()) << v2.error().ToString();
  EXPECT_EQ(States(*store),
            (std::map<std::string, std::string>{{"1.0.0", "baseline"}, {"1.1.0", "staged"}}));
  auto current = store->Current(ArtifactKind::kNativeBundle, "com.test.pay");
  ASSERT_TRUE(current.ok());
  EXPECT_EQ((*current)->version, "1.0.0");  // staged is not in use yet

  auto promoted = store->PromoteStaged();
  ASSERT_TRUE(promoted.ok());
  ASSERT_EQ(promoted->size(), 1u);
  EXPECT_EQ((*store->Current(ArtifactKind::kNativeBundle, "com.test.pay"))->version, "1.1.0");

  auto v3 = store->Install(Pack(tmp.path(), keys, "1.2.0"), InstallAs::kActive, "hotfix");
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(States(*store),
            (std::map<std::string, std::string>{
                {"1.0.0", "baseline"}, {"1.1.0", "previous"}, {"1.2.0", "active"}}));
  // 1.2.0 fails to load: previous comes back.
  auto after = store->MarkFailed(ArtifactKind::kNativeBundle, "com.test.pay", "1.2.0",
                                 "activator Start failed: no keystore");
  ASSERT_TRUE(after.ok()) << after.error().ToString();
  ASSERT_TRUE(after->has_value());
  EXPECT_EQ((*after)->version, "1.1.0");
  EXPECT_EQ(States(*store), (std::map<std::string, std::string>{
                                {"1.0.0", "baseline"}, {"1.1.0", "active"}, {"1.2.0", "failed"}}));
  // Rolling back the active update leaves the baseline in use.
  auto rolled = store->Rollback(ArtifactKind::kNativeBundle, "com.test.pay", "operator");
  ASSERT_TRUE(rolled.ok());
  EXPECT_FALSE(rolled->has_value());
  EXPECT_EQ((*store->Current(ArtifactKind::kNativeBundle, "com.test.pay"))->version, "1.0.0");
  // The baseline cannot be disabled; a failed version can be re-activated.
  EXPECT_EQ(store->Disable(ArtifactKind::kNativeBundle, "com.test.pay", "1.0.0", "x").error().code,
            ErrorCode::kState);
  ASSERT_TRUE(store->Activate(ArtifactKind::kNativeBundle, "com.test.pay", "1.2.0", "retry").ok());

  auto history = store->History("com.test.pay");
  ASSERT_TRUE(history.ok());
  bool saw_failure = false;
  for (const auto& e : *history) {
    if (e.version == "1.2.0" && e.to == "failed") {
      saw_failure = true;
      EXPECT_EQ(e.from, "active");
      EXPECT_NE(e.reason.find("no keystore"), std::string::npos);
    }
  }
  EXPECT_TRUE(saw_failure);
  // A second store on the same data dir sees the same state.
  auto again = OpenStore(tmp.path() + "/data", keys);
  EXPECT_EQ(States(*again), States(*store));
}

TEST(ArtifactStoreTest, SameBaselineIsANoOpOtherDuplicatesAreRefused) {
  TempDir tmp;
  Keys keys;
  auto store = OpenStore(tmp.path() + "/data", keys);
  std::string pkg = Pack(tmp.path(), keys, "1.0.0");
  ASSERT_TRUE(store->Install(pkg, InstallAs::kBaseline, "shipped").ok());
  const uint64_t g = store->generation();
  ASSERT_TRUE(store->Install(pkg, InstallAs::kBaseline, "shipped").ok());
  EXPECT_EQ(store->generation(), g);
  auto dup = store->Install(pkg, InstallAs::kActive, "again");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(dup.error().message.find("already installed (baseline)"), std::string::npos);
  // A new app release ships another baseline: it replaces the old one.
  ASSERT_TRUE(store->Install(Pack(tmp.path(), keys, "2.0.0"), InstallAs::kBaseline, "app 2").ok());
  EXPECT_EQ(States(*store), (std::map<std::string, std::string>{{"2.0.0", "baseline"}}));
}

TEST(ArtifactStoreTest, RefusedPackagesChangeNothing) {
  TempDir tmp;
  Keys keys, stranger;
  auto store = OpenStore(tmp.path() + "/data", keys);
  ASSERT_TRUE(store->Install(Pack(tmp.path(), keys, "1.0.0"), InstallAs::kActive, "ok").ok());
  const auto before = States(*store);
  const uint64_t g = store->generation();
  // Signed by a key the app does not pin.
  auto foreign = store->Install(Pack(tmp.path(), stranger, "6.6.6"), InstallAs::kActive, "evil");
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.error().message.find("refused"), std::string::npos)
      << foreign.error().ToString();
  // A flipped byte in the middle of an entry's frame.
  std::string pkg = Pack(tmp.path(), keys, "1.1.0", std::string(20000, 'q'));
  {
    std::fstream f(pkg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(pkg) / 2));
    char c;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(fs::file_size(pkg) / 2));
    c ^= 0x5a;
    f.write(&c, 1);
  }
  EXPECT_FALSE(store->Install(pkg, InstallAs::kActive, "tampered").ok());
  // Truncated.
  std::string cut = Pack(tmp.path(), keys, "1.2.0");
  fs::resize_file(cut, fs::file_size(cut) - 10);
  auto truncated = store->Install(cut, InstallAs::kActive, "truncated");
  ASSERT_FALSE(truncated.ok());
  EXPECT_FALSE(truncated.error().ToString().empty());
  // Not a package at all.
  std::ofstream(tmp.path() + "/junk.atb") << "hello";
  EXPECT_FALSE(store->Install(tmp.path() + "/junk.atb", InstallAs::kActive, "junk").ok());
  EXPECT_EQ(States(*store), before);
  EXPECT_EQ(store->generation(), g);
  // No stray files from the refused installs.
  size_t temps = 0;
  for (auto& e : fs::directory_iterator(tmp.path() + "/data/artifacts")) {
    temps += e.path().filename().string().rfind(".tmp-", 0) == 0;
  }
  EXPECT_EQ(temps, 0u);
}

TEST(ArtifactStoreTest, VerifyFilesFindsChangedMissingAndExtraFiles) {
  TempDir tmp;
  Keys keys;
  auto store = OpenStore(tmp.path() + "/data", keys);
  auto r = store->Install(Pack(tmp.path(), keys, "1.0.0"), InstallAs::kActive, "ok");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(store->VerifyFiles(*r).ok());
  {
    std::fstream f(r->dir + "/libpay.so", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);
    f.write("!", 1);
  }
  Status changed = store->VerifyFiles(*r);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(changed.error().file.find("libpay.so"), std::string::npos);
  fs::remove(r->dir + "/libpay.so");
  EXPECT_NE(store->VerifyFiles(*r).error().message.find("missing"), std::string::npos);
  auto r2 = store->Install(Pack(tmp.path(), keys, "1.1.0"), InstallAs::kActive, "ok");
  ASSERT_TRUE(r2.ok());
  std::ofstream(r2->dir + "/res/planted.sh") << "rm -rf /";
  Status extra = store->VerifyFiles(*r2);
  ASSERT_FALSE(extra.ok());
  EXPECT_NE(extra.error().file.find("planted.sh"), std::string::npos);
}

// The points Install passes through, in order.
const char* const kPoints[] = {"extracted", "renamed", "rows_written", "committed", "cleaned"};
const char* g_kill_at = nullptr;
void KillAt(const char* point) {
  if (g_kill_at != nullptr && std::strcmp(point, g_kill_at) == 0) raise(SIGKILL);
}

TEST(ArtifactStoreTest, KilledInstallsLeaveExactlyOneConsistentVersion) {
  for (const char* point : kPoints) {
    for (InstallAs as : {InstallAs::kActive, InstallAs::kStaged}) {
      SCOPED_TRACE(std::string(point) + (as == InstallAs::kActive ? " active" : " staged"));
      TempDir tmp;
      Keys keys;
      const std::string data = tmp.path() + "/data";
      std::string v1 = Pack(tmp.path(), keys, "1.0.0");
      std::string v2 = Pack(tmp.path(), keys, "2.0.0", std::string(100000, 'z'));
      {
        auto store = OpenStore(data, keys);
        ASSERT_TRUE(store->Install(v1, InstallAs::kActive, "first").ok());
      }
      pid_t child = fork();
      ASSERT_GE(child, 0);
      if (child == 0) {
        g_kill_at = point;
        internal::ArtifactStoreFailPointForTesting = &KillAt;
        auto store = ArtifactStore::Open({data, {keys.pub}, "com.test.app"});
        if (!store.ok()) _exit(3);
        auto r = (*store)->Install(v2, as, "second");
        _exit(r.ok() ? 0 : 4);  // reached only if the point was never hit
      }
      int status = 0;
      ASSERT_EQ(waitpid(child, &status, 0), child);
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "child did not die at " << point << " (status " << status << ")";

      auto store = OpenStore(data, keys);  // recovery sweep runs here
      ASSERT_NE(store, nullptr);
      auto list = store->List();
      ASSERT_TRUE(list.ok());
      int active = 0;
      std::set<std::string> owned;
      for (const auto& r : *list) {
        active += r.state == ArtifactState::kActive;
        EXPECT_TRUE(store->VerifyFiles(r).ok())
            << r.version << ": " << store->VerifyFiles(r).error().ToString();
        owned.insert(fs::path(r.dir).filename().string());
        owned.insert(fs::path(r.package).filename().string());
      }
      EXPECT_EQ(active, 1);
      auto current = store->Current(ArtifactKind::kNativeBundle, "com.test.pay");
      ASSERT_TRUE(current.ok() && current->has_value());
      const bool committed = std::string(point) == "committed" || std::string(point) == "cleaned";
      if (as == InstallAs::kActive) {
        EXPECT_EQ((*current)->version, committed ? "2.0.0" : "1.0.0");
      } else {
        EXPECT_EQ((*current)->version, "1.0.0");
        EXPECT_EQ(list->size(), committed ? 2u : 1u);
      }
      // Nothing on disk that no row names (the sweep removed the rest).
      for (auto& e : fs::directory_iterator(data + "/artifacts/native_bundle/com.test.pay")) {
        EXPECT_EQ(owned.count(e.path().filename().string()), 1u) << e.path();
      }
      for (auto& e : fs::directory_iterator(data + "/artifacts")) {
        EXPECT_NE(e.path().filename().string().rfind(".tmp-", 0), 0u) << e.path();
      }
    }
  }
}

TEST(ArtifactStoreTest, ChangeTimesComeFromTheInjectedClock) {
  TempDir tmp;
  Keys keys;
  int64_t now_ms = 1'700'000'000'000;
  auto opened = ArtifactStore::Open({tmp.path() + "/data", {keys.pub}, "com.test.app"});
  ASSERT_TRUE(opened.ok()) << opened.error().ToString();
  ArtifactStore& store = **opened;
  internal::SetArtifactStoreClockForTesting(store, [&now_ms] { return now_ms; });
  auto v1 = store.Install(Pack(tmp.path(), keys, "1.0.0"), InstallAs::kActive, "first");
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->changed_ms, 1'700'000'000'000);
  now_ms += 90'000;
  auto v2 = store.Install(Pack(tmp.path(), keys, "1.1.0"), InstallAs::kActive, "second");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->changed_ms, 1'700'000'090'000);
  auto history = store.History();
  ASSERT_TRUE(history.ok());
  std::vector<std::string> lines;
  for (const ArtifactEvent& e : *history) {
    lines.push_back(std::to_string(e.time_ms - 1'700'000'000'000) + " " + e.version + " " +
                    (e.from.empty() ? "-" : e.from) + ">" + e.to);
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"0 1.0.0 ->active", "90000 1.0.0 active>previous",
                                             "90000 1.1.0 ->active"}));
}

// The store's stamp (atrium/bundles/store_stamp.h): a lazy Open that finds
// nothing staged answers a launch's questions without SQLite; any change,
// by this or another store of the same data dir, is seen.

std::unique_ptr<ArtifactStore> OpenLazy(const std::string& data, const Keys& keys) {
  auto s = ArtifactStore::Open({data, {keys.pub}, "com.test.app", /*lazy=*/true});
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

bool Exists(const std::string& path) { return fs::exists(path); }

TEST(StoreStampTest, ALazyOpenAnswersFromTheStampWithoutOpeningStateDb) {
  TempDir tmp;
  Keys keys;
  const std::string data = tmp.path() + "/data";
  uint64_t generation = 0;
  {
    auto store = OpenStore(data, keys);
    ASSERT_TRUE(store->Install(Pack(tmp.path(), keys, "1.0.0"), InstallAs::kActive, "r1").ok());
    generation = store->generation();
  }  // closing writes the stamp
  auto stamp = internal::ReadStoreStamp(data);
  ASSERT_TRUE(stamp.has_value());
  EXPECT_EQ(stamp->generation, generation);
  EXPECT_EQ(stamp->staged, 0u);
  EXPECT_EQ(stamp->RowsOf("native_bundle"), 1u);
  EXPECT_EQ(stamp->RowsOf("config_set"), 0u);
  ASSERT_FALSE(Exists(data + "/state.db-wal"));  // SQLite closed it

  auto lazy = OpenLazy(data, keys);
  ASSERT_NE(lazy, nullptr);
  EXPECT_EQ(lazy->generation(), generation);
  auto promoted = lazy->PromoteStaged();
  ASSERT_TRUE(promoted.ok());
  EXPECT_TRUE(promoted->empty());
  auto configs = lazy->List(ArtifactKind::kConfigSet);
  ASSERT_TRUE(configs.ok());
  EXPECT_TRUE(configs->empty());
  auto none = lazy->Current(ArtifactKind::kLuaPatch, "com.test.patch");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  // Nothing so far opened SQLite (it makes state.db-wal when it opens).
  EXPECT_FALSE(Exists(data + "/state.db-wal"));
  // A kind with rows is read from the database.
  auto current = lazy->Current(ArtifactKind::kNativeBundle, "com.test.pay");
  ASSERT_TRUE(current.ok()) << current.error().ToString();
  ASSERT_TRUE(current->has_value());
  EXPECT_EQ((*current)->version, "1.0.0");
  EXPECT_TRUE(Exists(data + "/state.db-wal"));
}

TEST(StoreStampTest, AChangeByAnotherStoreIsSeenByALazyOne) {
  TempDir tmp;
  Keys keys;
  const std::string data = tmp.path() + "/data";
  { auto store = OpenStore(data, keys); }
  ASSERT_TRUE(internal::ReadStoreStamp(data).has_value());
  auto lazy = OpenLazy(data, keys);
  const uint64_t before = lazy->generation();
  {
    // Another session (another process, in the field) stages an update.
    auto other = OpenStore(data, keys);
    ASSERT_TRUE(other->Install(Pack(tmp.path(), keys, "1.1.0"), InstallAs::kStaged, "r2").ok());
    EXPECT_FALSE(internal::ReadStoreStamp(data).has_value()) << "a change removes the stamp";
    EXPECT_GT(lazy->generation(), before);
  }
  // The lazy store opened state.db to answer: the other session's close
  // left the WAL to it, so no stamp until the last connection closes.
  EXPECT_FALSE(internal::ReadStoreStamp(data).has_value());
  auto promoted = lazy->PromoteStaged();
  ASSERT_TRUE(promoted.ok()) << promoted.error().ToString();
  ASSERT_EQ(promoted->size(), 1u);
  EXPECT_EQ((*promoted)[0].version, "1.1.0");
  lazy.reset();
  auto stamp = internal::ReadStoreStamp(data);
  ASSERT_TRUE(stamp.has_value());
  EXPECT_EQ(stamp->staged, 0u);
  // A lazy Open with something staged opens the database at once.
  {
    auto other = OpenStore(data, keys);
    ASSERT_TRUE(other->Install(Pack(tmp.path(), keys, "1.2.0"), InstallAs::kStaged, "r3").ok());
  }
  stamp = internal::ReadStoreStamp(data);
  ASSERT_TRUE(stamp.has_value());
  EXPECT_EQ(stamp->staged, 1u);
  auto eager = OpenLazy(data, keys);
  EXPECT_TRUE(Exists(data + "/state.db-wal"));
  auto promoted2 = eager->PromoteStaged();
  ASSERT_TRUE(promoted2.ok());
  EXPECT_EQ(promoted2->size(), 1u);
}

TEST(StoreStampTest, NoStampIsWrittenWhileAChangeIsUnderWay) {
  TempDir tmp;
  Keys keys;
  const std::string data = tmp.path() + "/data";
  auto store = OpenStore(data, keys);
  {
    internal::StampLock change(data, internal::StampLock::Mode::kChange);
    ASSERT_TRUE(change.held());
    ASSERT_TRUE(internal::RemoveStoreStamp(data).ok());
    internal::StampLock writer(data, internal::StampLock::Mode::kWriteStamp);
    EXPECT_FALSE(writer.held());
    auto closing = OpenStore(data, keys);
    closing.reset();  // its close finds the change's lock: no stamp
    EXPECT_FALSE(internal::ReadStoreStamp(data).has_value());
  }
  store.reset();
  EXPECT_TRUE(internal::ReadStoreStamp(data).has_value());
}

TEST(StoreStampTest, DamagedForeignOrStaleStampsAreNotUsed) {
  TempDir tmp;
  Keys keys;
  const std::string data = tmp.path() + "/data";
  { auto store = OpenStore(data, keys); }
  const std::string path = data + "/store.stamp";
  std::string good;
  {
    std::ifstream in(path, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_TRUE(internal::ReadStoreStamp(data).has_value());
  auto write = [&](const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  };
  // Truncated at every length, one byte changed at every offset.
  for (size_t n = 0; n < good.size(); ++n) {
    write(good.substr(0, n));
    EXPECT_FALSE(internal::ReadStoreStamp(data).has_value()) << "cut at " << n;
  }
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    write(bad);
    EXPECT_FALSE(internal::ReadStoreStamp(data).has_value()) << "byte " << i << " changed";
  }
  // A well-formed stamp claiming too much, an oversized file, a directory.
  internal::StoreStamp forged;
  forged.generation = 7;
  std::string forged_text = internal::StoreStampText(forged);  // db 0 0: not this state.db
  write(forged_text);
  EXPECT_FALSE(internal::ReadStoreStamp(data).has_value());
  write(good + std::string(5000, 'x'));
  EXPECT_FALSE(internal::ReadStoreStamp(data).has_value());
  fs::remove(path);
  fs::create_directory(path);
  EXPECT_FALSE(internal::ReadStoreStamp(data).has_value());
  fs::remove(path);
  // state.db moved aside and replaced: the old stamp names another file.
  write(good);
  ASSERT_TRUE(internal::ReadStoreStamp(data).has_value());
  fs::rename(data + "/state.db", data + "/state.db.aside");
  EXPECT_FALSE(internal::ReadStoreStamp(data).has_value());
  {
    auto fresh = OpenLazy(data, keys);  // no valid stamp: opens (a new) state.db
    ASSERT_NE(fresh, nullptr);
    EXPECT_EQ(fresh->generation(), 0u);
  }
  EXPECT_TRUE(internal::ReadStoreStamp(data).has_value());
}

TEST(StoreStampTest, AHeldStampSeesEveryReplacementRemovalAndDatabaseSwap) {
  TempDir tmp;
  Keys keys;
  const std::string data = tmp.path() + "/data";
  { auto store = OpenStore(data, keys); }
  internal::HeldStoreStamp held(data);
  auto first = held.Read();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(held.Read()->generation, first->generation);  // unchanged: the held copy
  // Replaced by another session's stamp (a rename, as WriteStoreStamp does):
  // the new text is read, whatever its size.
  for (uint64_t generation : {first->generation + 1, uint64_t{123456789}, uint64_t{7}}) {
    internal::StoreStamp next = *first;
    next.generation = generation;
    ASSERT_TRUE(
        internal::WriteStoreStamp(data, next, *internal::StampFileIdOf(data + "/state.db")));
    auto seen = held.Read();
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->generation, generation);
  }
  // Removed (a change began): nothing, until a stamp is written again.
  ASSERT_TRUE(internal::RemoveStoreStamp(data).ok());
  EXPECT_FALSE(held.Read().has_value());
  ASSERT_TRUE(
      internal::WriteStoreStamp(data, *first, *internal::StampFileIdOf(data + "/state.db")));
  ASSERT_TRUE(held.Read().has_value());
  // state.db moved aside: a new reader refuses the stamp (it names the old
  // file); a held one answers until the stamp goes, which is why whatever
  // replaces state.db removes the stamp first (the guard's recovery does).
  fs::rename(data + "/state.db", data + "/state.db.aside");
  std::ofstream(data + "/state.db") << "";
  EXPECT_FALSE(internal::ReadStoreStamp(data).has_value());
  EXPECT_FALSE(internal::HeldStoreStamp(data).Read().has_value());
  ASSERT_TRUE(internal::RemoveStoreStamp(data).ok());
  EXPECT_FALSE(held.Read().has_value());
}

TEST(StoreStampTest, AWriterOutsideTheProtocolInvalidatesTheStamp) {
  TempDir tmp;
  Keys keys;
  const std::string data = tmp.path() + "/data";
  {
    auto store = OpenStore(data, keys);
    ASSERT_TRUE(store->Install(Pack(tmp.path(), keys, "1.0.0"), InstallAs::kActive, "r1").ok());
  }
  ASSERT_TRUE(internal::ReadStoreStamp(data).has_value());
  // Another program (an older build, the sqlite3 shell) stages a row without
  // touching the stamp: the stamp no longer describes state.db.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open((data + "/state.db").c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "SELECT COUNT(*) FROM artifacts", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_FALSE(internal::ReadStoreStamp(data).has_value()) << "a WAL exists while it is open";
  // (The file also grows, so its size differs whatever the clock's grain:
  // a same-size change within one timestamp tick is the limit docs/artifacts.md names.)
  ASSERT_EQ(sqlite3_exec(raw,
                         "UPDATE artifacts SET state = 'staged';"
                         "INSERT INTO history(time_ms, kind, id, version, from_state, to_state, "
                         "reason) VALUES(0, 'native_bundle', 'x', '1', '', '', "
                         "printf('%.*c', 65536, 'x'))",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_close(raw), SQLITE_OK);
  EXPECT_FALSE(internal::ReadStoreStamp(data).has_value()) << "state.db changed since";
  auto lazy = OpenLazy(data, keys);  // reads the database, so sees the staged row
  auto promoted = lazy->PromoteStaged();
  ASSERT_TRUE(promoted.ok());
  EXPECT_EQ(promoted->size(), 1u);
}

TEST(StoreStampTest, NoStampForADatabaseReplacedWhileASessionHadItOpen) {
  TempDir tmp;
  Keys keys;
  const std::string data = tmp.path() + "/data";
  auto old_session = OpenStore(data, keys);
  ASSERT_TRUE(old_session->Install(Pack(tmp.path(), keys, "1.0.0"), InstallAs::kActive, "r1").ok());
  {
    // The guard's recovery, in another process: under the exclusive lock,
    // the stamp removed and state.db moved aside; a fresh store follows.
    internal::StampLock replacing(data, internal::StampLock::Mode::kReplace);
    ASSERT_TRUE(replacing.held());
    ASSERT_TRUE(internal::RemoveStoreStamp(data).ok());
    for (const char* suffix : {"", "-wal", "-shm"}) {
      fs::rename(data + "/state.db" + suffix, data + "/state.db.aside" + suffix);
    }
  }
  {
    auto fresh = OpenStore(data, keys);
    EXPECT_EQ(fresh->generation(), 0u);
  }
  const auto fresh_stamp = internal::ReadStoreStamp(data);
  ASSERT_TRUE(fresh_stamp.has_value());
  EXPECT_EQ(fresh_stamp->generation, 0u);
  old_session.reset();  // it had the old file open: it writes no stamp for the new one
  const auto after = internal::ReadStoreStamp(data);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->generation, 0u);
  EXPECT_EQ(after->RowsOf("native_bundle"), 0u);
}

}  // namespace
}  // namespace atrium
