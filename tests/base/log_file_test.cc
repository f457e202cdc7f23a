// LogFile: the size-capped log file of an app's data dir. Lines keep their
// format (escaped fields), the two files never hold more than twice the
// cap, the newest lines are in atrium.log, and Log() reaches every file
// added whatever $ATRIUM_LOG says, until it is removed.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "atrium/base/log.h"

namespace atrium::internal {
namespace {

class LogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atrium-logfile-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::vector<std::string> Lines(const std::string& name) {
    std::ifstream in(dir_ + "/logs/" + name);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  std::string dir_;
};

TEST_F(LogFileTest, LinesAreTabSeparatedWithEscapedFields) {
  auto file = LogFile::Open(dir_ + "/logs");
  ASSERT_TRUE(file.ok()) << file.error().ToString();
  (*file)->Write(1700000000123, LogLevel::kWarning, "com.a\tb", "two\nlines \\ and\ta tab");
  (*file)->Write(1700000000124, LogLevel::kInfo, "", "runtime");
  (*file)->Write(1700000000125, LogLevel::kDebug, "com.a", "below the file's threshold");
  EXPECT_EQ(
      Lines("atrium.log"),
      (std::vector<std::string>{"1700000000123\twarning\tcom.a\\tb\ttwo\\nlines \\\\ and\\ta tab",
                                "1700000000124\tinfo\t-\truntime"}));
}

TEST_F(LogFileTest, TheFilesStayUnderTwiceTheCap) {
  constexpr size_t kCap = 4096;
  auto file = LogFile::Open(dir_ + "/logs", kCap);
  ASSERT_TRUE(file.ok());
  for (int i = 0; i < 10000; ++i) {
    (*file)->Write(1700000000000 + i, LogLevel::kInfo, "com.a", "line " + std::to_string(i));
  }
  const auto current = std::filesystem::file_size(dir_ + "/logs/atrium.log");
  const auto older = std::filesystem::file_size(dir_ + "/logs/atrium.log.1");
  EXPECT_LE(current, kCap);
  EXPECT_LE(older, kCap);
  EXPECT_GT(older, kCap / 2);
  // The newest line is the last of atrium.log, the older half ends where it
  // starts.
  const auto lines = Lines("atrium.log");
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "1700000009999\tinfo\tcom.a\tline 9999");
  const auto first = lines.front();
  const auto before = Lines("atrium.log.1").back();
  EXPECT_EQ(std::stoll(first.substr(0, first.find('\t'))),
            std::stoll(before.substr(0, before.find('\t'))) + 1);
  // A line longer than the cap is cut, never written past it.
  (*file)->Write(1, LogLevel::kError, "com.a", std::string(3 * kCap, 'x'));
  EXPECT_LE(std::filesystem::file_size(dir_ + "/logs/atrium.log"), kCap);
}

TEST_F(LogFileTest, LogReachesAddedFilesUntilRemoved) {
  auto file = LogFile::Open(dir_ + "/logs");
  ASSERT_TRUE(file.ok());
  AddLogFile(*file);
  EXPECT_TRUE(LogEnabled(LogLevel::kInfo));  // stderr's threshold is warning here
  Log(LogLevel::kInfo, "com.a", "kept");
  RemoveLogFile(file->get());
  Log(LogLevel::kInfo, "com.a", "not kept");
  const auto lines = Lines("atrium.log");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\tinfo\tcom.a\tkept"), std::string::npos) << lines[0];
}

TEST_F(LogFileTest, AnUnwritableDirectoryIsAnError) {
  std::ofstream(dir_ + "/file") << "x";
  auto file = LogFile::Open(dir_ + "/file/logs");
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().ToString().find(dir_ + "/file/logs"), std::string::npos)
      << file.error().ToString();
}

}  // namespace
}  // namespace atrium::internal
