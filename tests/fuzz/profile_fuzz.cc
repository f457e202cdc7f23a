// libFuzzer target for the files `atrium profile` reads
// (startup_pipeline/profile/profile_report.h): run traces, budgets files and baselines, all of
// which a user may hand it from anywhere. The first byte picks the parser ('t' trace, 'b' budgets,
// anything else baseline); the rest is the file. Checked invariants:
//   1. Parsing never crashes; a failure is kParse or kValidation and names the
//      file ("fuzz.json").
//   2. A parsed trace can be analyzed (Analyze, CriticalPath), and its profile
//      checked against an empty budget and turned into a baseline that parses
//      back; a parsed budget is checked against an empty profile.
//   3. Two runs of a parsed trace compare with themselves (CompareAb): no
//      line of an identical A and B is a regression, and the text, JSON and
//      HTML of the comparison are made; the JSON parses.
//
// Concurrency: the entry point is called from one thread at a time.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "compare.h"
#include "profile_report.h"

namespace {

using atrium::ErrorCode;

void Require(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "profile_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

template <typename T>
bool Check(const atrium::Result<T>& r) {
  if (r.ok()) return true;
  Require(r.error().code == ErrorCode::kParse || r.error().code == ErrorCode::kValidation,
          "error code is kParse or kValidation");
  Require(r.error().ToString().find("fuzz.json") != std::string::npos, "error names the file");
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  namespace p = atrium::profile;
  switch (data[0]) {
    case 't': {
      auto trace = p::ParseTrace(text, "fuzz.json");
      if (!Check(trace)) return 0;
      (void)p::CriticalPath(*trace);
      auto profile = p::Analyze({*trace});
      if (!profile.ok()) return 0;  // e.g. a run without tasks
      (void)p::CheckBudget(*profile, p::Budget{});
      auto baseline = p::ParseBaseline(p::BaselineJson(*profile), "fuzz.json");
      Require(baseline.ok(), "a profile's baseline parses back");
      std::vector<p::RunTrace> runs = {*trace, *trace};
      auto ab = p::CompareAb(runs, runs);
      if (!ab.ok()) return 0;
      Require(ab->outcome != p::AbOutcome::kRegression, "A against itself is no regression");
      (void)p::AbSummaryText(*ab);
      (void)p::AbReportHtml(*ab, runs, runs);
      boost::system::error_code ec;
      (void)boost::json::parse(p::AbJson(*ab), ec);
      Require(!ec, "the comparison's JSON parses");
      break;
    }
    case 'b': {
      auto budget = p::ParseBudget(text, "fuzz.json");
      if (!Check(budget)) return 0;
      (void)p::CheckBudget(p::Profile{}, *budget);
      break;
    }
    default:
      (void)Check(p::ParseBaseline(text, "fuzz.json"));
      break;
  }
  return 0;
}
