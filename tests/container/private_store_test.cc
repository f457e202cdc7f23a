// Tests for PrivateStore against real SQLite files in a fresh temp directory:
// the key-value contract, error values for bad files and arguments,
// concurrent writers, and durability across a SIGKILL of the writing process.
#include "atrium/private_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "atrium/result.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxKeyBytes = 4 * 1024;
constexpr size_t kMaxValueBytes = 16 * 1024 * 1024;

class PrivateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "atrium_private_store_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << "mkdtemp failed";
    dir_ = tmpl;
  }

  void TearDown() override {
    std::error_code ec;
    // Undo any chmod a test made so the directory can be removed.
    for (auto it = fs::recursive_directory_iterator(dir_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) fs::permissions(it->path(), fs::perms::owner_all, ec);
    }
    fs::remove_all(dir_, ec);
  }

  std::string PathFor(const std::string& name) const { return (dir_ / name).string(); }

  std::unique_ptr<PrivateStore> OpenOrDie(const std::string& path) {
    Result<std::unique_ptr<PrivateStore>> store = PrivateStore::Open(path);
    if (!store.ok()) {
      ADD_FAILURE() << "Open(" << path << "): " << store.error().ToString();
      return nullptr;
    }
    return std::move(store).value();
  }

  fs::path dir_;
};

std::optional<std::string> GetOrDie(PrivateStore& store, std::string_view key) {
  Result<std::optional<std::string>> got = store.Get(key);
  if (!got.ok()) {
    ADD_FAILURE() << "Get: " << got.error().ToString();
    return std::nullopt;
  }
  return *got;
}

std::vector<std::string> KeysOrDie(PrivateStore& store, std::string_view prefix = {}) {
  Result<std::vector<std::string>> keys = store.Keys(prefix);
  if (!keys.ok()) {
    ADD_FAILURE() << "Keys: " << keys.error().ToString();
    return {};
  }
  return *keys;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

TEST_F(PrivateStoreTest, PutGetOverwriteErase) {
  auto store = OpenOrDie(PathFor("a.db"));
  ASSERT_NE(store, nullptr);

  EXPECT_EQ(GetOrDie(*store, "k"), std::nullopt);
  ASSERT_TRUE(store->Put("k", "v1").ok());
  EXPECT_EQ(GetOrDie(*store, "k"), "v1");
  ASSERT_TRUE(store->Put("k", "second").ok());
  EXPECT_EQ(GetOrDie(*store, "k"), "second");
  EXPECT_EQ(KeysOrDie(*store), std::vector<std::string>{"k"});

  ASSERT_TRUE(store->Erase("k").ok());
  EXPECT_EQ(GetOrDie(*store, "k"), std::nullopt);
  EXPECT_TRUE(KeysOrDie(*store).empty());
  EXPECT_TRUE(store->Erase("k").ok()) << "erasing a missing key is not an error";
}

TEST_F(PrivateStoreTest, EmptyValueIsStoredAndDistinctFromMissing) {
  auto store = OpenOrDie(PathFor("a.db"));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put("empty", "").ok());
  ASSERT_TRUE(store->Put("view", std::string_view()).ok());
  EXPECT_EQ(GetOrDie(*store, "empty"), std::string());
  EXPECT_EQ(GetOrDie(*store, "view"), std::string());
  ASSERT_TRUE(store->Put(std::string_view(), "empty key").ok());
  EXPECT_EQ(GetOrDie(*store, ""), "empty key");
}

TEST_F(PrivateStoreTest, BinaryValuesRoundTripIncludingNul) {
  auto store = OpenOrDie(PathFor("a.db"));
  ASSERT_NE(store, nullptr);
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  all_bytes += std::string("\0\0tail\0", 7);
  ASSERT_TRUE(store->Put("bin", all_bytes).ok());
  std::optional<std::string> got = GetOrDie(*store, "bin");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->size(), all_bytes.size());
  EXPECT_EQ(*got, all_bytes);

  // Non-UTF-8 key bytes are fine too.
  const std::string key = "\xff\xfe\x80key";
  ASSERT_TRUE(store->Put(key, std::string(3, '\0')).ok());
  EXPECT_EQ(GetOrDie(*store, key), std::string(3, '\0'));
}

TEST_F(PrivateStoreTest, KeysAreSortedAndPrefixWildcardsAreLiteral) {
  auto store = OpenOrDie(PathFor("a.db"));
  ASSERT_NE(store, nullptr);
  const std::vector<std::string> keys = {"b",  "a%b", "a_b", "ab",  "a%",   "a_",
                                         "ax", "a",   "aXb", "a\\", "a\\b", "c%_"};
  for (const std::string& k : keys) ASSERT_TRUE(store->Put(k, "v:" + k).ok());

  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(KeysOrDie(*store), sorted);

  EXPECT_EQ(KeysOrDie(*store, "a%"), (std::vector<std::string>{"a%", "a%b"}));
  EXPECT_EQ(KeysOrDie(*store, "a_"), (std::vector<std::string>{"a_", "a_b"}));
  EXPECT_EQ(KeysOrDie(*store, "a\\"), (std::vector<std::string>{"a\\", "a\\b"}));
  EXPECT_EQ(KeysOrDie(*store, "%"), std::vector<std::string>{});
  EXPECT_EQ(KeysOrDie(*store, "_"), std::vector<std::string>{});
  EXPECT_EQ(KeysOrDie(*store, "c%_"), std::vector<std::string>{"c%_"});
  EXPECT_EQ(KeysOrDie(*store, "b"), std::vector<std::string>{"b"});
  EXPECT_EQ(KeysOrDie(*store, "zz"), std::vector<std::string>{});
  EXPECT_EQ(KeysOrDie(*store, "A"), std::vector<std::string>{}) << "prefix is case-sensitive";

  std::vector<std::string> a_keys;
  std::copy_if(sorted.begin(), sorted.end(), std::back_inserter(a_keys),
               [](const std::string& k) { return k.rfind('a', 0) == 0; });
  EXPECT_EQ(KeysOrDie(*store, "a"), a_keys);
}

TEST_F(PrivateStoreTest, PrefixEndingInHighBytes) {
  auto store = OpenOrDie(PathFor("a.db"));
  ASSERT_NE(store, nullptr);
  for (const char* k : {"\xfe", "\xfe\xff", "\xfe\xff\x01", "\xff", "\xff\x01", "\xff\xff", "~"}) {
    ASSERT_TRUE(store->Put(k, "v").ok());
  }
  EXPECT_EQ(KeysOrDie(*store, "\xff"), (std::vector<std::string>{"\xff", "\xff\x01", "\xff\xff"}));
  EXPECT_EQ(KeysOrDie(*store, "\xff\xff"), std::vector<std::string>{"\xff\xff"});
  EXPECT_EQ(KeysOrDie(*store, "\xfe\xff"), (std::vector<std::string>{"\xfe\xff", "\xfe\xff\x01"}));
  EXPECT_EQ(KeysOrDie(*store, "\xfe"),
            (std::vector<std::string>{"\xfe", "\xfe\xff", "\xfe\xff\x01"}));
}

TEST_F(PrivateStoreTest, CreatesParentDirectoriesAndAPrivateFile) {
  const std::string path = PathFor("private/deep/er/bundle.db");
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->path(), path);
  EXPECT_TRUE(fs::is_regular_file(path));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "user data must not be readable by others";
}

TEST_F(PrivateStoreTest, PersistsAcrossReopen) {
  const std::string path = PathFor("persist.db");
  {
    auto store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Put("kept", std::string("x\0y", 3)).ok());
    ASSERT_TRUE(store->Put("gone", "1").ok());
    ASSERT_TRUE(store->Erase("gone").ok());
  }
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(GetOrDie(*store, "kept"), std::string("x\0y", 3));
  EXPECT_EQ(GetOrDie(*store, "gone"), std::nullopt);
  EXPECT_EQ(KeysOrDie(*store), std::vector<std::string>{"kept"});
}

TEST_F(PrivateStoreTest, OpeningAnEmptyFileCreatesTheStore) {
  const std::string path = PathFor("empty.db");
  WriteFile(path, "");
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->Put("k", "v").ok());
}

// Each thread writes its own keys; afterwards every key is present.
void WriteConcurrently(PrivateStore& a, PrivateStore& b, int per_thread) {
  auto writer = [per_thread](PrivateStore* store, char tag) {
    for (int i = 0; i < per_thread; ++i) {
      std::string key = std::string(1, tag) + "/" + std::to_string(i);
      Status s = store->Put(key, key + "=value");
      EXPECT_TRUE(s.ok()) << s.error().ToString();
      if (i % 10 == 0) {
        EXPECT_TRUE(store->Keys(std::string(1, tag)).ok());
      }
    }
  };
  std::thread t1(writer, &a, 'x');
  std::thread t2(writer, &b, 'y');
  t1.join();
  t2.join();
}

void ExpectAllKeys(PrivateStore& store, int per_thread) {
  EXPECT_EQ(KeysOrDie(store).size(), 2u * per_thread);
  for (char tag : {'x', 'y'}) {
    EXPECT_EQ(KeysOrDie(store, std::string(1, tag) + "/").size(), static_cast<size_t>(per_thread));
    for (int i = 0; i < per_thread; ++i) {
      std::string key = std::string(1, tag) + "/" + std::to_string(i);
      EXPECT_EQ(GetOrDie(store, key), key + "=value") << key;
    }
  }
}

TEST_F(PrivateStoreTest, TwoThreadsWriteConcurrentlyThroughOneStore) {
  const std::string path = PathFor("threads.db");
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  constexpr int kPerThread = 100;
  WriteConcurrently(*store, *store, kPerThread);
  ExpectAllKeys(*store, kPerThread);

  store.reset();
  auto reopened = OpenOrDie(path);
  ASSERT_NE(reopened, nullptr);
  ExpectAllKeys(*reopened, kPerThread);
}

TEST_F(PrivateStoreTest, TwoStoresOnOneFileWriteConcurrently) {
  // Two connections contend for SQLite's write lock; busy_timeout must absorb it.
  const std::string path = PathFor("two.db");
  auto a = OpenOrDie(path);
  auto b = OpenOrDie(path);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kPerThread = 100;
  WriteConcurrently(*a, *b, kPerThread);
  ExpectAllKeys(*a, kPerThread);
  ExpectAllKeys(*b, kPerThread);
}

TEST_F(PrivateStoreTest, GarbageFileIsCorruptAndLeftUntouched) {
  const std::string path = PathFor("garbage.db");
  std::string garbage;
  for (int i = 0; i < 8192; ++i) garbage.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  WriteFile(path, garbage);

  Result<std::unique_ptr<PrivateStore>> store = PrivateStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kCorrupt) << store.error().ToString();
  EXPECT_EQ(store.error().file, path);
  EXPECT_NE(store.error().ToString().find(path), std::string::npos);
  EXPECT_NE(store.error().message.find("not a database"), std::string::npos)
      << "message carries sqlite3_errmsg: " << store.error().message;
  EXPECT_EQ(ReadFile(path), garbage) << "a file that is not ours must not be modified";
}

TEST_F(PrivateStoreTest, TextFileIsCorrupt) {
  const std::string path = PathFor("notes.db");
  WriteFile(path, "these are someone's notes, not a database\n");
  Result<std::unique_ptr<PrivateStore>> store = PrivateStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kCorrupt) << store.error().ToString();
  EXPECT_EQ(store.error().file, path);
}

TEST_F(PrivateStoreTest, DatabaseWithForeignKvTableIsCorrupt) {
  const std::string path = PathFor("foreign.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE kv(name TEXT, data TEXT)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);

  Result<std::unique_ptr<PrivateStore>> store = PrivateStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kCorrupt) << store.error().ToString();
  EXPECT_EQ(store.error().file, path);
}

TEST_F(PrivateStoreTest, ParentThatIsAFileIsIo) {
  WriteFile(PathFor("plain"), "x");
  const std::string path = PathFor("plain/sub/bundle.db");
  Result<std::unique_ptr<PrivateStore>> store = PrivateStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kIo) << store.error().ToString();
  EXPECT_EQ(store.error().file, path);
}

TEST_F(PrivateStoreTest, PathThatIsADirectoryIsIo) {
  const std::string path = PathFor("dir.db");
  fs::create_directory(path);
  Result<std::unique_ptr<PrivateStore>> store = PrivateStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kIo) << store.error().ToString();
  EXPECT_EQ(store.error().file, path);
}

TEST_F(PrivateStoreTest, UnwritableDirectoryIsIo) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  const fs::path locked = dir_ / "locked";
  fs::create_directory(locked);
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  for (const std::string& path :
       {(locked / "bundle.db").string(), (locked / "sub" / "bundle.db").string()}) {
    Result<std::unique_ptr<PrivateStore>> store = PrivateStore::Open(path);
    ASSERT_FALSE(store.ok()) << path;
    EXPECT_EQ(store.error().code, ErrorCode::kIo) << store.error().ToString();
    EXPECT_EQ(store.error().file, path);
  }
}

TEST_F(PrivateStoreTest, ExistingStoreInUnwritableDirectoryIsIo) {
  // The WAL and shm files cannot be created next to the database.
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  const fs::path locked = dir_ / "locked";
  const std::string path = (locked / "bundle.db").string();
  ASSERT_NE(OpenOrDie(path), nullptr);
  fs::remove(path + "-wal");
  fs::remove(path + "-shm");
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  Result<std::unique_ptr<PrivateStore>> store = PrivateStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kIo) << store.error().ToString();
  EXPECT_EQ(store.error().file, path);
}

TEST_F(PrivateStoreTest, InvalidPathsAreInvalidArgument) {
  Result<std::unique_ptr<PrivateStore>> empty = PrivateStore::Open("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  Result<std::unique_ptr<PrivateStore>> nul = PrivateStore::Open(PathFor(std::string("a\0b", 3)));
  ASSERT_FALSE(nul.ok());
  EXPECT_EQ(nul.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(PrivateStoreTest, OversizeKeysAndValuesAreRejected) {
  const std::string path = PathFor("limits.db");
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);

  const std::string max_key(kMaxKeyBytes, 'k');
  const std::string long_key(kMaxKeyBytes + 1, 'k');
  EXPECT_TRUE(store->Put(max_key, "v").ok());
  EXPECT_EQ(GetOrDie(*store, max_key), "v");

  for (Status s : {store->Put(long_key, "v"), store->Erase(long_key)}) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(s.error().file, path);
    EXPECT_NE(s.error().message.find("4097"), std::string::npos) << s.error().message;
  }
  Result<std::optional<std::string>> got = store->Get(long_key);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::kInvalidArgument);
  // A prefix longer than any key matches nothing rather than failing.
  EXPECT_TRUE(KeysOrDie(*store, long_key).empty());

  Status nul_key = store->Put(std::string("a\0b", 3), "v");
  ASSERT_FALSE(nul_key.ok());
  EXPECT_EQ(nul_key.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(KeysOrDie(*store, std::string("a\0", 2)).empty());

  const std::string max_value(kMaxValueBytes, '\x5a');
  ASSERT_TRUE(store->Put("big", max_value).ok());
  std::optional<std::string> big = GetOrDie(*store, "big");
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->size(), kMaxValueBytes);
  EXPECT_TRUE(*big == max_value);

  Status too_big = store->Put("huge", std::string(kMaxValueBytes + 1, 'x'));
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(GetOrDie(*store, "huge"), std::nullopt);
}

// A child process opens the store, writes, reports that Put returned, and is
// SIGKILLed at once (no destructor, no close, no checkpoint). The value must
// be there when the parent reopens the file.
TEST_F(PrivateStoreTest, WriteSurvivesSigkillOfWriter) {
  const std::string path = PathFor("durable/bundle.db");
  {
    auto seed = OpenOrDie(path);  // An earlier value the child overwrites.
    ASSERT_NE(seed, nullptr);
    ASSERT_TRUE(seed->Put("answer", "old").ok());
  }
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const std::string value = std::string("forty-two\0!", 11);

  pid_t pid = ::fork();
  ASSERT_GE(pid, 0) << "fork failed";
  if (pid == 0) {
    ::close(ready[0]);
    Result<std::unique_ptr<PrivateStore>> store = PrivateStore::Open(path);
    if (!store.ok()) ::_exit(10);
    if (!(*store)->Put("answer", value).ok()) ::_exit(11);
    if (!(*store)->Put("child", "was here").ok()) ::_exit(12);
    const char byte = 'k';
    if (::write(ready[1], &byte, 1) != 1) ::_exit(13);
    for (;;) ::pause();  // Wait for SIGKILL with the store still open.
  }

  ::close(ready[1]);
  char byte = 0;
  ssize_t n;
  do {
    n = ::read(ready[0], &byte, 1);
  } while (n < 0 && errno == EINTR);
  ::close(ready[0]);
  if (n == 1) ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_EQ(n, 1) << "child exited before writing; exit status "
                  << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(GetOrDie(*store, "answer"), value);
  EXPECT_EQ(GetOrDie(*store, "child"), "was here");
}

}  // namespace
}  // namespace atrium
