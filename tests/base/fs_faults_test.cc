// The fault-injection layer itself (atrium/base/fs_faults.h): counting,
// the n-th operation on a matching path, short writes, the SQLite VFS, and
// AtomicWriteFile swept over every fault (the old content or the new, never
// a mix, and no temporary file left behind).
#include "atrium/base/fs_faults.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "atrium/base/file_util.h"
#include "atrium/base/sqlite_db.h"
#include "testing/fs_faults.h"

namespace atrium::internal {
namespace {

namespace fs = std::filesystem;

class FsFaultsTest : public testing::FsFaultTest {
 protected:
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
};

TEST_F(FsFaultsTest, FailsOnlyTheNthOperationOnAMatchingPath) {
  const std::string a = root_ + "/a.txt", b = root_ + "/b.txt";
  const int fa = ::open(a.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  const int fb = ::open(b.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fa, 0);
  ASSERT_GE(fb, 0);
  FsFaultPlan plan;
  plan.op = FsOp::kWrite;
  plan.nth = 2;
  plan.err = EIO;
  plan.path_contains = "b.txt";
  {
    FsFaultScope scope(plan);
    EXPECT_EQ(FsWrite(fa, "1", 1, a), 1);  // not a matching path: not counted
    EXPECT_EQ(FsWrite(fb, "1", 1, b), 1);  // the first on b
    EXPECT_EQ(FsWrite(fa, "2", 1, a), 1);
    errno = 0;
    EXPECT_EQ(FsWrite(fb, "2", 1, b), -1);  // the second on b
    EXPECT_EQ(errno, EIO);
    EXPECT_EQ(FsWrite(fb, "3", 1, b), 1);  // fired once only
    EXPECT_EQ(FsSync(fb, b), 0);           // another operation
    EXPECT_TRUE(scope.fired());
    EXPECT_EQ(scope.fired_path(), b);
    EXPECT_EQ(scope.count(FsOp::kWrite), 3);
    EXPECT_EQ(scope.count(FsOp::kSync), 1);
  }
  ::close(fa);
  ::close(fb);
  EXPECT_EQ(Read(a), "12");
  EXPECT_EQ(Read(b), "13");
}

TEST_F(FsFaultsTest, AShortWriteWritesHalf) {
  const std::string a = root_ + "/a.txt";
  const int fd = ::open(a.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  FsFaultPlan plan;
  plan.short_write = true;
  {
    FsFaultScope scope(plan);
    EXPECT_EQ(FsWrite(fd, "a", 1, a), 1);  // one byte cannot be cut: passed over
    EXPECT_FALSE(scope.fired());
  }
  {
    plan.nth = 2;
    FsFaultScope scope(plan);
    EXPECT_EQ(FsWrite(fd, "b", 1, a), 1);
    EXPECT_EQ(FsWrite(fd, "cdefgh", 6, a), 3);
    EXPECT_TRUE(scope.fired());
    EXPECT_EQ(FsWrite(fd, "fgh", 3, a), 3);
  }
  ::close(fd);
  EXPECT_EQ(Read(a), "abcdefgh");
}

TEST_F(FsFaultsTest, RenameAndMkdirFailWithTheGivenErrno) {
  FsFaultPlan plan;
  plan.op = FsOp::kRename;
  plan.err = EXDEV;
  std::ofstream(root_ + "/from") << "x";
  {
    FsFaultScope scope(plan);
    errno = 0;
    EXPECT_EQ(FsRename((root_ + "/from").c_str(), (root_ + "/to").c_str()), -1);
    EXPECT_EQ(errno, EXDEV);
  }
  EXPECT_TRUE(fs::exists(root_ + "/from"));
  plan.op = FsOp::kMkdir;
  plan.err = ENOSPC;
  {
    FsFaultScope scope(plan);
    EXPECT_EQ(FsMkdirAt(AT_FDCWD, (root_ + "/d").c_str(), 0755, root_ + "/d"), -1);
    EXPECT_EQ(errno, ENOSPC);
  }
  EXPECT_FALSE(fs::exists(root_ + "/d"));
  // Unarmed, every call is the system call.
  EXPECT_EQ(FsMkdirAt(AT_FDCWD, (root_ + "/d").c_str(), 0755, root_ + "/d"), 0);
  EXPECT_EQ(FsRename((root_ + "/from").c_str(), (root_ + "/to").c_str()), 0);
}

TEST_F(FsFaultsTest, SqliteWritesAndSyncsGoThroughThePlan) {
  auto db = SqliteDb::Open(root_ + "/t.db", "t.db");
  ASSERT_TRUE(db.ok()) << db.error().ToString();
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t(v TEXT)", "creating").ok());
  FsFaultPlan plan;
  plan.op = FsOp::kSync;
  plan.err = EIO;
  {
    FsFaultScope scope(plan);
    Status s = (*db)->Exec("INSERT INTO t VALUES('x')", "inserting");
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().file, "t.db");
    EXPECT_NE(s.error().message.find("inserting: disk I/O error"), std::string::npos)
        << s.error().ToString();
    EXPECT_TRUE(scope.fired());
  }
  plan.op = FsOp::kWrite;
  plan.err = ENOSPC;
  {
    FsFaultScope scope(plan);
    Status s = (*db)->Exec("INSERT INTO t VALUES('y')", "inserting");
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("database or disk is full"), std::string::npos)
        << s.error().ToString();
  }
  ASSERT_TRUE((*db)->Exec("INSERT INTO t VALUES('z')", "inserting").ok());
  Statement count((*db)->handle(), "SELECT group_concat(v) FROM t");
  ASSERT_EQ(count.Step(), SQLITE_ROW);
  EXPECT_EQ(count.Text(0), "z");
}

TEST_F(FsFaultsTest, AtomicWriteFileLeavesTheOldOrTheNewContent) {
  const std::string path = root_ + "/settings.json";
  const std::string old_content = "{\"v\": 1}";
  const std::string new_content = std::string(100000, 'n');
  ASSERT_TRUE(AtomicWriteFile(path, old_content).ok());
  const testing::FsCounts counts =
      testing::CountFsOps([&] { ASSERT_TRUE(AtomicWriteFile(path, new_content).ok()); });
  EXPECT_EQ(counts[FsOp::kWrite], 1);
  EXPECT_EQ(counts[FsOp::kSync], 2);  // the file, then its folder
  EXPECT_EQ(counts[FsOp::kRename], 1);
  int failed = 0;
  for (const FsFaultPlan& plan : testing::EveryFault(counts)) {
    SCOPED_TRACE(testing::Describe(plan));
    ASSERT_TRUE(AtomicWriteFile(path, old_content).ok());
    Status s = Status::Ok();
    {
      FsFaultScope scope(plan);
      s = AtomicWriteFile(path, new_content);
      EXPECT_TRUE(scope.fired());
    }
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    if (s.ok()) {
      EXPECT_EQ(Read(path), new_content);
      continue;
    }
    ++failed;
    EXPECT_EQ(s.error().file.substr(0, root_.size()), root_) << s.error().ToString();
    // A failed sync of the folder comes after the rename: the new content
    // is in place but not known durable, and the error says so.
    if (plan.op == FsOp::kSync && plan.nth == 2) {
      EXPECT_EQ(Read(path), new_content);
    } else {
      EXPECT_EQ(Read(path), old_content) << s.error().ToString();
    }
  }
  EXPECT_EQ(failed, 2 * 4);
}

}  // namespace
}  // namespace atrium::internal
