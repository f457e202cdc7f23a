// `atrium profile --compare` as a CI gate on a busy machine: the built
// sample wallet, real launches, a CPU hog beside them, repeated 10 times
// per case in the suite (ATRIUM_AB_REPETITIONS=20 for the measurement the
// docs report), each comparison as a CI job would run it: `--runs 15
// --max-runs 120`, the other options default (5 ms, 1 ms for tasks off the
// critical path, each claim at 95 %):
//
//   the sample against itself                      -> "no change"
//   against a copy whose post_frame critical-path
//     task com.wallet.account:refresh_balance is
//     15 ms slower                                 -> "regression" naming it
//   against a copy whose com.wallet.home:layout
//     (boot, main thread, off the critical path:
//     render_home waits for it and for
//     bind_account, which ends ~20 ms later) is
//     3 ms slower                                  -> "no change to the launch" with that
//                                                     task listed as slower
//
// The slower copies are the sample with one bundle package replaced by a
// build of the same source with one task slowed (tests/fixture_bundles,
// wallet_variants), packed and signed with the sample's release key as a
// team would ship it. The hog is one busy thread per core but one (one on
// this 2-core machine): with every core busy, the best-effort threads of
// the idle stage (SCHED_IDLE) barely run and each launch process lasts
// seconds (docs/profiling.md). Each case prints its rate and the runs it
// needed. Labelled "acceptance": run in the default suite, not under the
// sanitizers (their timing is not a launch's).
//
// Why --max-runs 120: the runs a comparison needs grow with the square of
// the launch's spread. On this machine an unchanged app needs 15-113 a side
// (median 22-29); a CI runner whose launches spread about twice as wide
// under the same hog reached 60 undecided in 4 of 20 comparisons. A
// simulation drawing from this machine's launches with their spread doubled
// gives "no change" within 120 runs in 99 % of comparisons (mean 45 a side).
//
// The target is 19 of 20 per case (a gate right at least 95 % of the time).
// A rate is a sample, so the test does not fail at the target: it fails
// when so few repetitions went as expected that a gate right 97 % of the
// time would score that low in at most 0.5 % of runs (binomial): below 8
// of 10, below 17 of 20 (Needed()). A gate right exactly 95 % of the time
// still fails a case by chance in 1.2 % of runs at 10 (1.6 % at 20), about
// 3.4 % of runs for the three cases; a gate right 90 % of the time fails it
// in 7 % of runs at 10, one right 80 % of the time or less in about a third
// at 10 and more than half at 20. The suite runs 10 (about 4 minutes of the
// CI run); the rates the docs and closing notes report are from 20. Below 5
// repetitions (a quick local run) every one must go as expected.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/cli.h"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const std::string kBin = std::string(ATRIUM_BINARY_DIR) + "/bin/atrium";
const std::string kSample = std::string(ATRIUM_BINARY_DIR) + "/samples/wallet";
const std::string kVariants =
    std::string(ATRIUM_BINARY_DIR) + "/tests/fixture_bundles/wallet_variants";
const std::string kKey = std::string(ATRIUM_BINARY_DIR) + "/samples/wallet-release.key";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Repetitions() {
  const char* v = std::getenv("ATRIUM_AB_REPETITIONS");
  int n = v != nullptr ? std::atoi(v) : 0;
  return n > 0 ? n : 10;
}

// Busy threads until destroyed.
class CpuHog {
 public:
  CpuHog() {
    const unsigned cores = std::thread::hardware_concurrency();  // 0 when unknown
    const unsigned n = cores > 1 ? cores - 1 : 1;
    for (unsigned i = 0; i < n; ++i)
      threads_.emplace_back([this] {
        volatile uint64_t x = 0;
        while (!stop_.load(std::memory_order_relaxed)) x = x * 6364136223846793005ull + 1;
      });
  }
  ~CpuHog() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  size_t threads() const { return threads_.size(); }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

class ProfileAbTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/atrium-profile-ab-XXXXXX";
    dir_ = new std::string(mkdtemp(tmpl));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  // A copy of the sample whose <bundle> package is the variant's build.
  static std::string SlowerCopy(const std::string& variant, const std::string& bundle) {
    std::string app = *dir_ + "/" + variant;
    fs::copy(kSample, app, fs::copy_options::recursive);
    auto out = ::atrium::testing::RunShell(kBin + " pack " + kVariants + "/" + variant + " --key " +
                                           kKey + " --app com.example.wallet -o " + app +
                                           "/packages/" + bundle + ".atb 2>&1");
    EXPECT_EQ(out.status, 0) << out.text;
    return app;
  }

  struct Outcome {
    int status = -1;
    json::value result;  // compare.json
  };
  // One A/B comparison, as a CI job would run it.
  static Outcome Compare(const std::string& b, int i) {
    std::string out_dir = *dir_ + "/out-" + std::to_string(i);
    auto out =
        ::atrium::testing::RunShell(kBin + " profile --compare " + kSample + " " + b +
                                    " --runs 15 --max-runs 120 --out " + out_dir + " 2>/dev/null");
    Outcome o;
    o.status = out.status;
    std::string text = ReadAll(out_dir + "/compare.json");
    boost::system::error_code ec;
    o.result = json::parse(text, ec);
    EXPECT_FALSE(ec) << out_dir << "/compare.json: " << text << "\n" << out.text;
    fs::remove_all(out_dir);
    return o;
  }

  // Runs the case Repetitions() times with the hog beside it; returns how
  // many repetitions `ok` accepted.
  template <typename Ok>
  static int Rate(const std::string& name, const std::string& b, Ok ok) {
    CpuHog hog;
    const int reps = Repetitions();
    int good = 0;
    std::string runs;
    for (int i = 0; i < reps; ++i) {
      Outcome o = Compare(b, i);
      if (!o.result.is_object()) continue;
      const json::object& r = o.result.as_object();
      bool accepted = ok(o.status, r);
      good += accepted ? 1 : 0;
      runs += " " + std::to_string(r.at("a").at("runs").to_number<int>());
      if (!accepted) {
        std::printf("%s: repetition %d: exit %d, verdict %s, launch %s, deciding %s\n",
                    name.c_str(), i, o.status, json::serialize(r.at("verdict")).c_str(),
                    json::serialize(r.at("launch")).c_str(),
                    json::serialize(r.at("deciding")).c_str());
      }
    }
    std::printf("%s: %d of %d as expected, with a CPU hog of %zu thread(s); runs a side:%s\n",
                name.c_str(), good, reps, hog.threads(), runs.c_str());
    ::testing::Test::RecordProperty(name, std::to_string(good) + "/" + std::to_string(reps));
    return good;
  }

  // The largest k with P(X < k) <= 0.5 % for X ~ Binomial(n, 0.97): 8 of
  // 10, 17 of 20; all of them below 5. See the top of the file.
  static int Needed() {
    const int n = Repetitions();
    if (n < 5) return n;
    double below = 0;  // P(X < k), X ~ Binomial(n, 0.97)
    int k = 0;
    for (;; ++k) {
      const double next =
          below + std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0) +
                           k * std::log(0.97) + (n - k) * std::log(0.03));
      if (k == n || next > 0.005) return k;
      below = next;
    }
  }

  static std::string* dir_;
};

std::string* ProfileAbTest::dir_ = nullptr;

bool Names(const json::object& r, const std::string& id) {
  for (const auto& d : r.at("deciding").as_array())
    if (d.as_string() == id) return true;
  return false;
}

TEST_F(ProfileAbTest, TheSampleAgainstItselfIsNoChange) {
  int good = Rate("unchanged", kSample, [](int status, const json::object& r) {
    return status == 0 && r.at("verdict").as_string() == "no_change";
  });
  EXPECT_GE(good, Needed());
}

TEST_F(ProfileAbTest, FifteenMsOnAPostFrameCriticalTaskIsARegressionNamingIt) {
  std::string b = SlowerCopy("account_plus15", "account");
  int good = Rate("+15 ms critical", b, [](int status, const json::object& r) {
    return status == 3 && r.at("verdict").as_string() == "regression" &&
           Names(r, "com.wallet.account:refresh_balance");
  });
  EXPECT_GE(good, Needed());
}

TEST_F(ProfileAbTest, ThreeMsOffTheCriticalPathLeavesTheLaunchButListsTheTask) {
  std::string b = SlowerCopy("home_plus3", "home");
  int good = Rate("+3 ms off-path", b, [](int status, const json::object& r) {
    if (status != 4 || r.at("verdict").as_string() != "tasks_slower") return false;
    if (r.at("launch").at("verdict").as_string() != "no change") return false;
    for (const auto& t : r.at("tasks").as_array())  // listed off the critical path
      if (t.at("name").as_string() == "com.wallet.home:layout")
        return t.at("verdict").as_string() == "regression" && Names(r, "com.wallet.home:layout");
    return false;
  });
  EXPECT_GE(good, Needed());
}

// A release candidate profiled without rebuilding the app folder: B is the
// sample with an update package installed into its data dir (a build of
// com.wallet.account 1.4.1 whose refresh_balance is 15 ms slower). No hog.
TEST_F(ProfileAbTest, AnUpdateInstalledIntoBIsWhatBRuns) {
  std::string update = *dir_ + "/update";
  fs::copy(kVariants + "/account_plus15", update, fs::copy_options::recursive);
  std::string manifest = ReadAll(update + "/bundle.json");
  size_t at = manifest.find("\"1.4.0\"");
  ASSERT_NE(at, std::string::npos);
  manifest.replace(at, 7, "\"1.4.1\"");
  std::ofstream(update + "/bundle.json") << manifest;
  auto out = ::atrium::testing::RunShell(kBin + " pack " + update + " --key " + kKey +
                                         " --app com.example.wallet -o " + update + ".atb 2>&1");
  ASSERT_EQ(out.status, 0) << out.text;
  out = ::atrium::testing::RunShell(kBin + " profile --compare " + kSample + " " + kSample +
                                    " --install-b " + update + ".atb --runs 6 --out " + *dir_ +
                                    "/install 2>&1");
  EXPECT_EQ(out.status, 3) << out.text;
  EXPECT_NE(out.text.find("B: " + kSample + ", fresh data dir, " + update + ".atb installed"),
            std::string::npos)
      << out.text;
  EXPECT_NE(out.text.find("  com.wallet.account:refresh_balance (post_frame, on the critical "
                          "path) +15"),
            std::string::npos)
      << out.text;
}

}  // namespace
