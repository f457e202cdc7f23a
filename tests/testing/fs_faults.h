// Sweeping file-system faults over an operation (atrium/base/fs_faults.h):
// count the writes, fsyncs, renames and directory creations a clean run
// performs, then build one plan per (operation, n-th, errno) and a short
// write at each write, so a test re-runs the operation once per plan on a
// fresh state and asserts it succeeded or left the previous state.
#ifndef ATRIUM_TESTS_TESTING_FS_FAULTS_H_
#define ATRIUM_TESTS_TESTING_FS_FAULTS_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "atrium/base/fs_faults.h"

namespace atrium::testing {

struct FsCounts {
  int ops[static_cast<int>(internal::FsOp::kCount)] = {};
  int operator[](internal::FsOp op) const { return ops[static_cast<int>(op)]; }
};

// What `run` does to the file system (only its own operations).
inline FsCounts CountFsOps(const std::function<void()>& run) {
  FsCounts counts;
  internal::FsFaultScope counting;
  run();
  for (int i = 0; i < static_cast<int>(internal::FsOp::kCount); ++i) {
    counts.ops[i] = counting.count(static_cast<internal::FsOp>(i));
  }
  return counts;
}

// Every operation counted, failed once with each of `errors`; then, with
// `short_writes`, each write cut short once (pointless where only SQLite
// writes: its writes are never short).
inline std::vector<internal::FsFaultPlan> EveryFault(const FsCounts& counts,
                                                     bool short_writes = true,
                                                     std::vector<int> errors = {ENOSPC, EIO}) {
  std::vector<internal::FsFaultPlan> plans;
  for (int i = 0; i < static_cast<int>(internal::FsOp::kCount); ++i) {
    for (int nth = 1; nth <= counts.ops[i]; ++nth) {
      for (int err : errors) {
        internal::FsFaultPlan p;
        p.op = static_cast<internal::FsOp>(i);
        p.nth = nth;
        p.err = err;
        plans.push_back(p);
      }
    }
  }
  for (int nth = 1; short_writes && nth <= counts[internal::FsOp::kWrite]; ++nth) {
    internal::FsFaultPlan p;
    p.op = internal::FsOp::kWrite;
    p.nth = nth;
    p.short_write = true;
    plans.push_back(p);
  }
  return plans;
}

// "ENOSPC at fsync #3", "short write #2".
inline std::string Describe(const internal::FsFaultPlan& p) {
  if (p.short_write) return "short write #" + std::to_string(p.nth);
  const char* name = p.err == ENOSPC ? "ENOSPC" : p.err == EIO ? "EIO" : strerrorname_np(p.err);
  return std::string(name) + " at " + internal::FsOpName(p.op) + " #" + std::to_string(p.nth);
}

// A fixture with fault injection enabled before anything is opened (so
// every database it opens can be faulted) and a temporary folder, root_.
class FsFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    internal::EnableFsFaultInjection();
    char tmpl[] = "/tmp/atrium-faults-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  std::string root_;
};

}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_TESTING_FS_FAULTS_H_
