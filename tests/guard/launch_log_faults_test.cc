// The launch log (state.db) under file-system faults (atrium/base/
// fs_faults.h): every write and fsync that recording a launch's start, and
// then its failure, performs is failed in turn with ENOSPC and with EIO.
// Each call either succeeds or returns an error naming state.db and leaves
// the records exactly as they were — in this process and after reopening —
// and the same log records the launch once the disk is healthy again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "atrium/base/fs_faults.h"
#include "atrium/launch_guard.h"
#include "launch_log.h"
#include "testing/fs_faults.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
using internal::LaunchLog;
using testing::Describe;

class LaunchLogFaultsTest : public testing::FsFaultTest {
 protected:
  std::unique_ptr<LaunchLog> Open() {
    internal::LaunchLogOptions o;
    o.now_ms = [this] { return now_ms_; };
    auto log = LaunchLog::Open(path_, o);
    EXPECT_TRUE(log.ok()) << log.error().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }
  // A new state.db holding one good launch.
  std::unique_ptr<LaunchLog> Fresh(int n) {
    path_ = root_ + "/state-" + std::to_string(n) + ".db";
    auto log = Open();
    auto id = log->BeginLaunch("3.1.0", {kBill});
    EXPECT_TRUE(id.ok());
    EXPECT_TRUE(log->MarkGood(*id).ok());
    return log;
  }

  // "<version> <outcome> <reason>" per launch, newest first.
  static std::vector<std::string> Records(LaunchLog& log) {
    std::vector<std::string> out;
    auto recent = log.Recent(10);
    EXPECT_TRUE(recent.ok()) << recent.error().ToString();
    if (!recent.ok()) return out;
    for (const LaunchRecord& r : *recent) {
      out.push_back(r.app_version + " " + LaunchOutcomeName(r.outcome) + " " + r.reason);
    }
    return out;
  }

  void ExpectFailedCallLeft(LaunchLog& log, const Error& e, const std::vector<std::string>& was) {
    EXPECT_NE(e.file.find("state-"), std::string::npos) << e.ToString();
    EXPECT_EQ(Records(log), was) << e.ToString();
    auto reopened = Open();
    ASSERT_NE(reopened, nullptr);
    EXPECT_EQ(Records(*reopened), was) << e.ToString();
  }

  const ArtifactRef kBill{"native_bundle", "com.wallet.bill", "1.2.0"};
  std::string path_;
  int64_t now_ms_ = 1'700'000'000'000;
};

TEST_F(LaunchLogFaultsTest, AFailedBeginLeavesThePreviousLaunches) {
  const std::vector<std::string> before = {"3.1.0 good "};
  const std::vector<std::string> after = {"3.2.0 running ", "3.1.0 good "};
  testing::FsCounts counts;
  {
    auto log = Fresh(0);
    counts = testing::CountFsOps([&] { ASSERT_TRUE(log->BeginLaunch("3.2.0", {kBill}).ok()); });
  }
  ASSERT_GE(counts[internal::FsOp::kWrite], 1);
  ASSERT_GE(counts[internal::FsOp::kSync], 1);
  int failed = 0, n = 0;
  for (const internal::FsFaultPlan& plan : testing::EveryFault(counts, /*short_writes=*/false)) {
    SCOPED_TRACE(Describe(plan));
    auto log = Fresh(++n);
    Result<int64_t> id = MakeError(ErrorCode::kInternal, "not run");
    {
      internal::FsFaultScope fault(plan);
      id = log->BeginLaunch("3.2.0", {kBill});
      ASSERT_TRUE(fault.fired());
    }
    if (id.ok()) {
      EXPECT_EQ(Records(*log), after);
      continue;
    }
    ++failed;
    ExpectFailedCallLeft(*log, id.error(), before);
    auto again = log->BeginLaunch("3.2.0", {kBill});
    ASSERT_TRUE(again.ok()) << again.error().ToString();
    EXPECT_EQ(Records(*log), after);
  }
  EXPECT_EQ(failed, 2 * (counts[internal::FsOp::kWrite] + counts[internal::FsOp::kSync]));
}

TEST_F(LaunchLogFaultsTest, AFailedMarkLeavesTheLaunchRunningForTheNextStartToClose) {
  const std::vector<std::string> before = {"3.2.0 running ", "3.1.0 good "};
  const std::vector<std::string> after = {"3.2.0 crashed SIGSEGV in com.wallet.bill",
                                          "3.1.0 good "};
  testing::FsCounts counts;
  {
    auto log = Fresh(0);
    auto id = log->BeginLaunch("3.2.0", {kBill});
    ASSERT_TRUE(id.ok());
    counts = testing::CountFsOps([&] {
      ASSERT_TRUE(
          log->MarkFailed(*id, LaunchOutcome::kCrashed, "SIGSEGV in com.wallet.bill", kBill).ok());
    });
  }
  ASSERT_GE(counts[internal::FsOp::kWrite], 1);
  ASSERT_GE(counts[internal::FsOp::kSync], 1);
  int failed = 0, n = 0;
  for (const internal::FsFaultPlan& plan : testing::EveryFault(counts, /*short_writes=*/false)) {
    SCOPED_TRACE(Describe(plan));
    auto log = Fresh(++n);
    auto id = log->BeginLaunch("3.2.0", {kBill});
    ASSERT_TRUE(id.ok());
    Status marked = MakeError(ErrorCode::kInternal, "not run");
    {
      internal::FsFaultScope fault(plan);
      marked = log->MarkFailed(*id, LaunchOutcome::kCrashed, "SIGSEGV in com.wallet.bill", kBill);
      ASSERT_TRUE(fault.fired());
    }
    if (marked.ok()) {
      EXPECT_EQ(Records(*log), after);
      continue;
    }
    ++failed;
    ExpectFailedCallLeft(*log, marked.error(), before);
    ASSERT_TRUE(
        log->MarkFailed(*id, LaunchOutcome::kCrashed, "SIGSEGV in com.wallet.bill", kBill).ok());
    EXPECT_EQ(Records(*log), after);
  }
  EXPECT_EQ(failed, 2 * (counts[internal::FsOp::kWrite] + counts[internal::FsOp::kSync]));
}

}  // namespace
}  // namespace atrium
