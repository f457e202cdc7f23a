// The private store (users' private data) under file-system faults
// (atrium/base/fs_faults.h): every write and fsync that replacing a value
// performs is failed in turn with ENOSPC and with EIO. Each Put either
// succeeds or returns an error naming the store's file and keeps the old
// value — in this process and after reopening — and the same store takes
// the new value once the disk is healthy again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>

#include "atrium/base/fs_faults.h"
#include "atrium/private_store.h"
#include "testing/fs_faults.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
using testing::Describe;

class PrivateStoreFaultsTest : public testing::FsFaultTest {
 protected:
  std::unique_ptr<PrivateStore> Open() {
    auto s = PrivateStore::Open(path_);
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  // A new store holding the user's token and a note.
  std::unique_ptr<PrivateStore> Fresh(int n) {
    path_ = root_ + "/private-" + std::to_string(n) + ".db";
    auto store = Open();
    EXPECT_TRUE(store->Put("wallet/token", "old-token").ok());
    EXPECT_TRUE(store->Put("wallet/note", std::string(5000, 'n')).ok());
    return store;
  }
  static std::string Value(PrivateStore& store, const std::string& key) {
    auto v = store.Get(key);
    EXPECT_TRUE(v.ok()) << v.error().ToString();
    return v.ok() && *v ? **v : "<none>";
  }

  std::string path_;
};

TEST_F(PrivateStoreFaultsTest, AFailedPutKeepsTheOldValue) {
  const std::string new_token = "new-token-" + std::string(3000, 't');
  testing::FsCounts counts;
  {
    auto store = Fresh(0);
    counts = testing::CountFsOps([&] { ASSERT_TRUE(store->Put("wallet/token", new_token).ok()); });
  }
  ASSERT_GE(counts[internal::FsOp::kWrite], 1);
  ASSERT_GE(counts[internal::FsOp::kSync], 1);
  int failed = 0, n = 0;
  for (const internal::FsFaultPlan& plan : testing::EveryFault(counts, /*short_writes=*/false)) {
    SCOPED_TRACE(Describe(plan));
    auto store = Fresh(++n);
    Status put = MakeError(ErrorCode::kInternal, "not run");
    {
      internal::FsFaultScope fault(plan);
      put = store->Put("wallet/token", new_token);
      ASSERT_TRUE(fault.fired());
    }
    if (put.ok()) {
      EXPECT_EQ(Value(*store, "wallet/token"), new_token);
      continue;
    }
    ++failed;
    EXPECT_NE(put.error().file.find("private-"), std::string::npos) << put.error().ToString();
    EXPECT_EQ(Value(*store, "wallet/token"), "old-token") << put.error().ToString();
    EXPECT_EQ(Value(*store, "wallet/note"), std::string(5000, 'n'));
    {
      auto reopened = Open();
      ASSERT_NE(reopened, nullptr);
      EXPECT_EQ(Value(*reopened, "wallet/token"), "old-token") << put.error().ToString();
    }
    ASSERT_TRUE(store->Put("wallet/token", new_token).ok());
    EXPECT_EQ(Value(*store, "wallet/token"), new_token);
  }
  EXPECT_EQ(failed, 2 * (counts[internal::FsOp::kWrite] + counts[internal::FsOp::kSync]));
}

}  // namespace
}  // namespace atrium
