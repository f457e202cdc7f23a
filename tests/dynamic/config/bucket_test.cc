// Tests for atrium/base/bucket.h: MicroPercentile against golden vectors
// computed independently with Python's hashlib, its distribution over a
// million ids, the independence of two seeds, and the same answer in another
// process.
//
// Concurrency: single-threaded, except the fork()ed child of one test.
#include "atrium/base/bucket.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace atrium::internal {
namespace {

struct Golden {
  std::string_view seed;
  std::string_view id;
  uint32_t micro;
};

// Each value is the output of
//   python3 -c 'import hashlib,sys;s,i=sys.argv[1:];print(int(hashlib.sha256(((s+".") if s else
//   "").encode()+i.encode()).hexdigest(),16)%100000000)' SEED ID
// (the ids are UTF-8).
constexpr Golden kGolden[] = {
    {"promo", "device-1", 60339430},
    {"promo", "device-2", 27043775},
    {"", "device-1", 30660541},
    {"", "", 65086549},
    {"checkout-v2", "3f1c9a7e-2b4d-4e8f-9a1b-c2d3e4f50617", 28783533},
    {"seed.with.dots", "user_42", 59336262},
    {"promo", "\xe8\xae\xbe\xe5\xa4\x87-42", 60041085},  // "设备-42"
    {"",
     "\xc3\xbc"
     "n"
     "\xc3\xaf"
     "c"
     "\xc3\xb8"
     "d"
     "\xc3\xa9",
     51083383},  // "ünïcødé"
    {"a", "b", 40432436},
};

TEST(BucketTest, MatchesPythonHashlibGoldenVectors) {
  for (const Golden& g : kGolden) {
    EXPECT_EQ(MicroPercentile(g.seed, g.id), g.micro)
        << "seed '" << g.seed << "' id '" << g.id << "'";
  }
}

TEST(BucketTest, EmptySeedHashesTheIdAlone) {
  // "promo" + "." + "device-1" with an empty seed is the id "promo.device-1".
  EXPECT_EQ(MicroPercentile("", "promo.device-1"), MicroPercentile("promo", "device-1"));
  EXPECT_NE(MicroPercentile("", "device-1"), MicroPercentile("promo", "device-1"));
}

std::string DeviceId(int i) { return "device-" + std::to_string(i); }

TEST(BucketTest, AMillionIdsFallIntoTwelveAndAHalfPercent) {
  constexpr int kIds = 1'000'000;
  constexpr uint32_t kP = 12'500'000;  // 12.5 % in micro-percent
  int in = 0;
  uint32_t max = 0;
  for (int i = 0; i < kIds; ++i) {
    const uint32_t micro = MicroPercentile("promo", DeviceId(i));
    ASSERT_LT(micro, kMicroPercentScale);
    if (micro > max) max = micro;
    if (micro <= kP) ++in;
  }
  const double percent = 100.0 * in / kIds;
  EXPECT_NEAR(percent, 12.5, 0.1);
  EXPECT_GT(max, kMicroPercentScale - 1000u);  // the whole range is used
}

TEST(BucketTest, TwoSeedsAreIndependent) {
  constexpr int kIds = 1'000'000;
  constexpr uint32_t kA = 50'000'000;  // 50 % under seed "a"
  constexpr uint32_t kB = 30'000'000;  // 30 % under seed "b"
  int in_a = 0, in_b = 0, in_both = 0;
  for (int i = 0; i < kIds; ++i) {
    const std::string id = DeviceId(i);
    const bool a = MicroPercentile("exp-a", id) <= kA;
    const bool b = MicroPercentile("exp-b", id) <= kB;
    in_a += a;
    in_b += b;
    in_both += a && b;
  }
  const double fa = 100.0 * in_a / kIds, fb = 100.0 * in_b / kIds;
  // One standard deviation of a fraction near 50 % over 10^6 ids is 0.05
  // points; the marginals are checked to 5 of them, the independence (the
  // joint fraction is the product of the marginals) to 0.1 points.
  EXPECT_NEAR(fa, 50.0, 0.25);
  EXPECT_NEAR(fb, 30.0, 0.25);
  EXPECT_NEAR(100.0 * in_both / kIds, fa * fb / 100.0, 0.1);
}

TEST(BucketTest, AChildProcessGetsTheSameAnswer) {
  const uint32_t here = MicroPercentile("promo", "device-7");
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    const uint32_t there = MicroPercentile("promo", "device-7");
    const bool ok = ::write(fds[1], &there, sizeof there) == sizeof there;
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  uint32_t there = 0;
  const ssize_t n = ::read(fds[0], &there, sizeof there);
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof there));
  EXPECT_EQ(there, here);
}

}  // namespace
}  // namespace atrium::internal
