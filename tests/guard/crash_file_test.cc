// The crash file at the next launch: the strict parser over hostile bytes
// (truncated at every offset, every byte flipped, inconsistent bodies), the
// binding of a record to its launch, and what is at the path when it is not
// a regular file (a FIFO is never waited on, a symlink never followed, a
// directory or hard link set aside, never written through).
#include "crash_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include "atrium/crash_capture.h"
#include "crash_record_bytes.h"
#include "gtest/gtest.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
using testing::HandMadeRecord;
using testing::kRecFrame0;
using testing::kRecModule0;
using testing::Poke;
using testing::Reseal;

std::string TempPath(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("atrium_crash_file_test_" + std::to_string(getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(CrashFileTest, HandMadeRecordParses) {
  auto r = ParseCrashRecord(HandMadeRecord(), "crash.bin");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->signal, SIGSEGV);
  EXPECT_EQ(r->fault_address, 0x1234u);
  EXPECT_TRUE(r->foreground);
  EXPECT_EQ(r->bundle, "com.test.crashy");
  ASSERT_EQ(r->frames.size(), 2u);
  EXPECT_EQ(r->frames[0].module, 0);
  EXPECT_EQ(r->frames[0].offset, 0x1000u);
  EXPECT_EQ(r->frames[1].module, -1);
  ASSERT_EQ(r->modules.size(), 1u);
  CrashReport report = Symbolize(*r, {"/opt/app/bundles"});
  EXPECT_TRUE(report.frames[0].bundle_library);
  EXPECT_EQ(report.frames[0].module, "/opt/app/bundles/libcrashy.so");
  EXPECT_FALSE(report.frames[1].bundle_library);
  // The signature does not depend on where modules were loaded.
  CrashRecord moved = *r;
  moved.modules[0].base += 0x10000;
  moved.frames[0].address += 0x10000;
  EXPECT_EQ(CrashSignature(moved), CrashSignature(*r));
  moved.frames[0].offset += 4;
  EXPECT_NE(CrashSignature(moved), CrashSignature(*r));
}

TEST(CrashFileTest, EmptyOrMissingFileIsNoCrash) {
  std::string file = TempPath("empty");
  std::ofstream(file).close();
  auto r = ReadCrashFile(file);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  auto missing = ReadCrashFile(TempPath("does_not_exist"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(CrashFileTest, TruncatedAtEveryOffset) {
  const std::string full = HandMadeRecord();
  for (size_t n = 1; n < full.size(); ++n) {
    auto r = ParseCrashRecord(full.substr(0, n), "crash.bin");
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
    if (n >= 12) {  // the length field is readable
      EXPECT_EQ(r.error().offset, n);
      EXPECT_NE(r.error().message.find("truncated at offset " + std::to_string(n)),
                std::string::npos)
          << r.error().message;
      EXPECT_EQ(r.error().file, "crash.bin");
    }
  }
}

TEST(CrashFileTest, TruncatedFileOnDisk) {
  std::string file = TempPath("truncated");
  std::string b = HandMadeRecord();
  std::ofstream(file, std::ios::binary) << b.substr(0, 40);
  auto r = ReadCrashFile(file);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ToString(),
            file + ":@40: truncated at offset 40: expected " + std::to_string(b.size()) + " bytes");
}

TEST(CrashFileTest, EveryFlippedByteIsDetected) {
  const std::string full = HandMadeRecord();
  for (size_t i = 0; i < full.size(); ++i) {
    std::string b = full;
    b[i] = static_cast<char>(b[i] ^ 0x5a);
    auto r = ParseCrashRecord(b, "crash.bin");
    ASSERT_FALSE(r.ok()) << i;
    EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
    if (i >= 16) {
      EXPECT_NE(r.error().message.find("checksum mismatch"), std::string::npos);
    }
  }
}

TEST(CrashFileTest, HeaderErrorsArePrecise) {
  std::string b = HandMadeRecord();
  b[0] = 'X';
  auto magic = ParseCrashRecord(b, "f");
  ASSERT_FALSE(magic.ok());
  EXPECT_EQ(magic.error().offset, 0u);
  EXPECT_NE(magic.error().message.find("magic"), std::string::npos);

  b = HandMadeRecord();
  Poke<uint32_t>(&b, 4, 7);
  auto version = ParseCrashRecord(b, "f");
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.error().offset, 4u);
  EXPECT_EQ(version.error().message, "unsupported version 7");

  for (uint32_t len : {0u, 100u, 0xFFFFFFFFu, 1u << 20}) {
    b = HandMadeRecord();
    Poke<uint32_t>(&b, 8, len);
    auto r = ParseCrashRecord(b, "f");
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_EQ(r.error().offset, 8u) << r.error().message;
  }

  b = HandMadeRecord() + "extra";
  auto trailing = ParseCrashRecord(b, "f");
  ASSERT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.error().offset, HandMadeRecord().size());
}

TEST(CrashFileTest, InconsistentBodyWithValidChecksum) {
  struct Case {
    size_t off;
    std::function<void(std::string*)> edit;
  } cases[] = {
      {8, [](std::string* b) { Poke<uint16_t>(b, 60, 3); }},     // frame count vs length
      {60, [](std::string* b) { Poke<uint16_t>(b, 60, 999); }},  // absurd frame count
      {62, [](std::string* b) { Poke<uint16_t>(b, 62, 999); }},  // absurd module count
      {kRecFrame0 + 16,
       [](std::string* b) { Poke<int32_t>(b, kRecFrame0 + 16, 1); }},  // module out of range
      {kRecFrame0 + 16, [](std::string* b) { Poke<int32_t>(b, kRecFrame0 + 16, -5); }},
      {80, [](std::string* b) { std::memset(b->data() + 80, 'a', 96); }},  // no NUL
      {kRecModule0 + 8,
       [](std::string* b) { std::memset(b->data() + kRecModule0 + 8, 0, 256); }},  // empty path
      {56, [](std::string* b) { Poke<uint32_t>(b, 56, 0x100); }},                  // unknown flag
      {16, [](std::string* b) { Poke<int32_t>(b, 16, 0); }},                       // no signal
  };
  for (const Case& c : cases) {
    std::string b = HandMadeRecord();
    c.edit(&b);
    Reseal(&b);
    auto r = ParseCrashRecord(b, "f");
    ASSERT_FALSE(r.ok()) << c.off;
    EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
    EXPECT_EQ(r.error().offset, c.off) << r.error().message;
  }
}

TEST(CrashFileTest, OversizedFileIsRejected) {
  std::string file = TempPath("huge");
  std::ofstream(file, std::ios::binary) << HandMadeRecord() << std::string(1 << 20, 'x');
  auto r = ReadCrashFile(file);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
  EXPECT_EQ(r.error().offset, HandMadeRecord().size());
}

TEST(CrashFileTest, TheBindingIsRead) {
  auto r = ParseCrashRecord(HandMadeRecord(17, 0xfeedfacecafebeefull), "crash.bin");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->launch_id, 17u);
  EXPECT_EQ(r->nonce, 0xfeedfacecafebeefull);
}

TEST(CrashFileTest, AnExitRecordHasNoSignalAndOnlyItMay) {
  std::string b = HandMadeRecord();
  Poke<int32_t>(&b, 16, 0);
  Poke<uint32_t>(&b, 56, 1 | 8);  // foreground | exit
  Reseal(&b);
  auto r = ParseCrashRecord(b, "f");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->from_exit);
  EXPECT_EQ(r->signal, 0);
  Poke<int32_t>(&b, 16, SIGSEGV);  // an exit with a signal
  Reseal(&b);
  auto both = ParseCrashRecord(b, "f");
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().offset, 16u);
}

TEST(CrashFileTest, AVersionOneRecordIsRefusedByName) {
  std::string b = HandMadeRecord();
  Poke<uint32_t>(&b, 4, 1);
  auto r = ParseCrashRecord(b, "f");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, 4u);
  EXPECT_EQ(r.error().message, "unsupported version 1");
}

// Before: a blocking std::ifstream open, so a FIFO hung every start.
TEST(CrashFileTest, AFifoIsNotWaitedOnOrRead) {
  const std::string file = TempPath("fifo");
  ASSERT_EQ(mkfifo(file.c_str(), 0600), 0);
  auto r = ReadCrashFile(file);  // returns at once: O_NONBLOCK, then not a regular file
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_EQ(r.error().ToString(), file + ": crash file is a FIFO (not read)");
}

TEST(CrashFileTest, ASymlinkIsNotFollowedADirectoryOrHardLinkNotRead) {
  const std::string target = TempPath("elsewhere");
  std::ofstream(target, std::ios::binary) << HandMadeRecord();
  const std::string link = TempPath("link");
  fs::create_symlink(target, link);
  auto r = ReadCrashFile(link);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ToString(), link + ": crash file is a symbolic link (not followed)");

  const std::string dir = TempPath("dir");
  fs::create_directories(dir);
  auto d = ReadCrashFile(dir);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().ToString(), dir + ": crash file is a directory (not read)");

  const std::string hard = TempPath("hard");
  fs::create_hard_link(target, hard);
  auto h = ReadCrashFile(hard);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().ToString(), hard + ": crash file has 2 hard links (not read)");
}

// What Install opens: before, a FIFO hung, a dangling symlink created a file
// at its target, a directory switched capture off on every launch.
TEST(CrashFileTest, WhatIsNotAPlainFileIsSetAsideAndAFreshFileMade) {
  struct Case {
    std::string name;
    std::function<void(const std::string&)> make;
    std::string kind;  // what "<path>.rejected" is afterwards
  };
  const std::string outside = TempPath("outside_target");
  const std::string kept = TempPath("kept");
  std::ofstream(kept) << "user data";
  const Case cases[] = {
      {"fifo", [](const std::string& p) { ASSERT_EQ(mkfifo(p.c_str(), 0600), 0); }, "fifo"},
      {"dangling", [&](const std::string& p) { fs::create_symlink(outside, p); }, "symlink"},
      {"dir",
       [](const std::string& p) {
         fs::create_directories(p + "/inside");
         std::ofstream(p + "/inside/f") << "x";
       },
       "directory"},
      {"hardlink", [&](const std::string& p) { fs::create_hard_link(kept, p); }, "regular"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = TempPath("install_" + c.name);
    c.make(path);
    auto fd = internal::OpenCrashFileForRecords(path);
    ASSERT_TRUE(fd.ok()) << fd.error().ToString();
    ASSERT_EQ(write(*fd, "rec", 3), 3);
    close(*fd);
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path)));
    EXPECT_EQ(Slurp(path), "rec");
    const fs::file_status aside = fs::symlink_status(path + ".rejected");
    const std::string kind = fs::is_fifo(aside)           ? "fifo"
                             : fs::is_symlink(aside)      ? "symlink"
                             : fs::is_directory(aside)    ? "directory"
                             : fs::is_regular_file(aside) ? "regular"
                                                          : "other";
    EXPECT_EQ(kind, c.kind);
  }
  EXPECT_FALSE(fs::exists(outside));    // the symlink's target was never created
  EXPECT_EQ(Slurp(kept), "user data");  // nor the other name of the hard link emptied
  // A second set-aside replaces the first (even a directory).
  const std::string path = TempPath("install_dir");
  fs::remove(path);
  fs::create_directories(path);
  auto again = internal::OpenCrashFileForRecords(path);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  close(*again);
  EXPECT_TRUE(fs::is_directory(path + ".rejected"));
  EXPECT_FALSE(fs::exists(path + ".rejected/inside"));
}

TEST(CrashFileTest, AnExistingRegularFileIsEmptiedNotReplaced) {
  const std::string path = TempPath("regular");
  std::ofstream(path, std::ios::binary) << HandMadeRecord();
  const ino_t before = fs::exists(path) ? [&] {
    struct stat st {};
    stat(path.c_str(), &st);
    return st.st_ino;
  }()
                                        : 0;
  auto fd = internal::OpenCrashFileForRecords(path);
  ASSERT_TRUE(fd.ok()) << fd.error().ToString();
  close(*fd);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, before);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_FALSE(fs::exists(path + ".rejected"));
}

}  // namespace
}  // namespace atrium
