// atrium_bench section 5: the launch guard (docs/launch_guard.md). Open +
// destroy, and Open + Start + destroy, with ContainerOptions::launch_guard
// on vs off, both apps, interleaved, in repetitions; before the last
// repetition each app's launch history is grown, so the figures show
// whether the history the guard reads at every Open costs more as it grows.
//
// Concurrency: the bench's thread; the guard's watchdog thread reports hangs
// through an atomic.
#include "container_bench.h"

namespace atrium::bench {
namespace {

// ---------------------------------------------------------------------------
// 5. the launch guard

// One guard sample: the guard on or off; Open alone (the guard records the
// launch, then discards it at close: opened, never started) or Open + Start
// (the launch reaches idle and destroying the container marks it good).
struct GuardVariant {
  bool guard = false;
  bool start = false;
};
constexpr GuardVariant kGuardVariants[] = {
    {.guard = false, .start = false},
    {.guard = true, .start = false},
    {.guard = false, .start = true},
    {.guard = true, .start = true},
};
constexpr int kGuardVariantCount = 4;

struct LaunchTimes {
  double open_us = 0, start_us = 0, close_us = 0;
  double total() const { return open_us + start_us + close_us; }
};

// The launch records in <data>/state.db: how many, and how many not good.
struct LaunchRows {
  size_t total = 0, not_good = 0;
};

LaunchRows CountLaunchRows(const std::string& data) {
  const std::string db = (fs::path(data) / "state.db").string();
  LaunchHistory history =
      Must(ReadLaunchHistory(db, std::numeric_limits<int>::max()), "reading launches of " + db);
  LaunchRows rows;
  rows.total = history.launches.size();
  for (const LaunchRecord& r : history.launches) {
    if (r.outcome != LaunchOutcome::kGood) ++rows.not_good;
  }
  return rows;
}

// state.db plus its WAL, in KiB.
double StateDbKib(const std::string& data) {
  uintmax_t bytes = 0;
  for (const char* name : {"state.db", "state.db-wal"}) {
    std::error_code ec;
    uintmax_t n = fs::file_size(fs::path(data) / name, ec);
    if (!ec) bytes += n;
  }
  return static_cast<double>(bytes) / 1024.0;
}

struct IndexStamp {
  ino_t ino = 0;
  timespec mtime{};
};

IndexStamp StampIndex(const std::string& data) {
  const std::string path = (fs::path(data) / "bundle_index.bin").string();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) Fail("no bundle index at " + path);
  return {st.st_ino, st.st_mtim};
}

bool SameStamp(const IndexStamp& a, const IndexStamp& b) {
  return a.ino == b.ino && a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec;
}

}  // namespace

std::vector<Row> LaunchGuard(const Fixture& fx, const BenchConfig& config,
                             boost::json::object* detail) {
  // A hang would be a bug in the bench or the guard: counted by on_hang (the
  // watchdog thread, joined when the container closes) and checked per sample.
  std::atomic<int> hangs{0};
  OtherCpuWatch watch;
  auto sample = [&](const SyntheticApp& app, const std::string& data, GuardVariant v) {
    ContainerOptions options{.app_dir = app.dir, .data_dir = data};
    if (v.guard) {
      options.launch_guard = true;
      options.on_hang = [&hangs] { hangs.fetch_add(1); };
    }
    LaunchTimes t;
    auto t0 = Clock::now();
    auto c = Must(Container::Open(std::move(options)), "Container::Open(" + app.dir + ")");
    auto t1 = Clock::now();
    const LaunchGuardReport* report = c->launch_guard();
    if (!v.guard && report != nullptr) Fail("the guard ran although launch_guard was off");
    if (v.guard) {
      if (report == nullptr) Fail("launch_guard was on but the container reports no guard");
      if (report->launch_id == 0) Fail("the guard did not record the launch in " + data);
      if (report->decision.level != RecoveryLevel::kNone || report->decision.safe_mode ||
          !report->actions.empty()) {
        Fail("the guard decided to recover (" + report->decision.reason +
             "); the samples would measure recovery, not the guard's fixed cost");
      }
    }
    auto t2 = Clock::now();
    if (v.start) MustOk(c->Start(), "Start of " + app.id);
    auto t3 = Clock::now();
    c.reset();
    auto t4 = Clock::now();
    if (hangs.load() != 0) Fail("the watchdog reported a hang during a sample");
    if (v.start) MustBeUnmapped(app.bundles[0].library, "destroying the container");
    t.open_us = Us(t0, t1);
    t.start_us = Us(t2, t3);
    t.close_us = Us(t3, t4);
    return t;
  };

  struct AppRun {
    const SyntheticApp* app = nullptr;
    const std::string* data = nullptr;
    const char* label = "";
    // Per variant: every sample, and each repetition's sample totals.
    std::vector<LaunchTimes> samples[kGuardVariantCount] = {};
    std::vector<std::vector<double>> rep_totals[kGuardVariantCount] = {};
    std::vector<size_t> rows_at_rep = {};  // launch rows when each repetition began
    IndexStamp index = {};
  };
  AppRun runs[2];
  runs[0].app = &fx.big;
  runs[0].data = &fx.big_data;
  runs[0].label = "1000 inst";
  runs[1].app = &fx.small;
  runs[1].data = &fx.small_data;
  runs[1].label = "20 inst";
  for (AppRun& run : runs) {
    for (auto& v : run.rep_totals) v.resize(config.guard_repetitions);
    run.index = StampIndex(*run.data);
  }

  for (int rep = 0; rep < config.guard_repetitions; ++rep) {
    if (rep == config.guard_repetitions - 1 && config.guard_repetitions > 1) {
      // Grow each history to guard_history_rows good launches (real guarded
      // launches, untimed) so the last repetition reads and checks a large one.
      for (AppRun& run : runs) {
        size_t have = CountLaunchRows(*run.data).total;
        const size_t want = static_cast<size_t>(config.guard_history_rows);
        std::printf("  growing the %s launch history: %zu -> %zu rows\n", run.label, have,
                    std::max(have, want));
        std::fflush(stdout);
        for (; have < want; ++have) sample(*run.app, *run.data, {.guard = true, .start = true});
      }
    }
    size_t expected_growth[2] = {0, 0};
    for (int a = 0; a < 2; ++a) {
      LaunchRows rows = CountLaunchRows(*runs[a].data);
      if (rows.not_good != 0) Fail(std::string(runs[a].label) + ": a launch record is not good");
      runs[a].rows_at_rep.push_back(rows.total);
    }
    const int first = rep == 0 ? -config.warmup : 0;
    for (int i = first; i < config.guard_iterations; ++i) {
      // Rotate the variant order, and alternate the apps, every iteration.
      for (int k = 0; k < kGuardVariantCount; ++k) {
        const int vi = ((i + k) % kGuardVariantCount + kGuardVariantCount) % kGuardVariantCount;
        const GuardVariant v = kGuardVariants[vi];
        for (int j = 0; j < 2; ++j) {
          const int a = ((i + j) % 2 + 2) % 2;
          AppRun& run = runs[a];
          LaunchTimes t = sample(*run.app, *run.data, v);
          if (v.guard && v.start) ++expected_growth[a];
          if (i < 0) continue;
          run.samples[vi].push_back(t);
          run.rep_totals[vi][rep].push_back(t.total());
        }
      }
    }
    // Guarded Open alone must leave no record; guarded Open + Start exactly one, good.
    for (int a = 0; a < 2; ++a) {
      LaunchRows rows = CountLaunchRows(*runs[a].data);
      const size_t want = runs[a].rows_at_rep.back() + expected_growth[a];
      if (rows.total != want || rows.not_good != 0) {
        Fail(std::string(runs[a].label) + ": " + std::to_string(rows.total) + " launch rows (" +
             std::to_string(rows.not_good) + " not good) after repetition " + std::to_string(rep) +
             ", expected " + std::to_string(want) + ", all good");
      }
    }
  }
  for (AppRun& run : runs) {
    if (!SameStamp(run.index, StampIndex(*run.data))) {
      Fail(std::string("the bundle index of ") + run.label +
           " was rebuilt during the guard samples; they did not measure reopening");
    }
  }

  std::vector<Row> rows;
  boost::json::object apps;
  for (AppRun& run : runs) {
    auto totals = [&](int vi) {
      std::vector<double> out;
      for (const LaunchTimes& t : run.samples[vi]) out.push_back(t.total());
      return out;
    };
    auto part = [&](int vi, double LaunchTimes::*field) {
      std::vector<double> out;
      for (const LaunchTimes& t : run.samples[vi]) out.push_back(t.*field);
      return Median(out);
    };
    boost::json::object app_detail;
    for (int pair = 0; pair < 2; ++pair) {
      const int off = pair * 2, on = pair * 2 + 1;  // indices into kGuardVariants
      const char* what = pair == 0 ? "Open+destroy" : "Open+Start+destroy";
      Row r;
      r.key = std::string(pair == 0 ? "guard_open" : "guard_open_start") + "_" +
              (run.app == &fx.big ? "1000" : "20");
      r.metric = std::string(what) + " guarded, " + run.label;
      r.unit = "us";
      r.ours_samples = totals(on);
      r.baseline_name = "same, guard off";
      r.baseline_samples = totals(off);
      // A guarded launch may cost at most 0.7 ms more than an unguarded one
      // (the launch: Open+Start+destroy); Open alone is reported only.
      r.has_target = pair == 1;
      r.on = Row::On::kDifference;
      r.target = 700;
      r.CheckOthers(watch);
      std::printf(
          "  %s, %s: guard on %.0f us (open %.0f, start %.0f, destroy %.0f) vs off %.0f us "
          "(open %.0f, start %.0f, destroy %.0f): x%.2f, +%.0f us\n",
          run.label, what, r.ours(), part(on, &LaunchTimes::open_us),
          part(on, &LaunchTimes::start_us), part(on, &LaunchTimes::close_us), r.baseline(),
          part(off, &LaunchTimes::open_us), part(off, &LaunchTimes::start_us),
          part(off, &LaunchTimes::close_us), r.ratio().median, r.ours() - r.baseline());
      boost::json::array per_rep;
      std::vector<double> rep_ratios;
      std::printf("    per repetition (launch rows at its start: on / off us = ratio):");
      for (int rep = 0; rep < config.guard_repetitions; ++rep) {
        const double m_on = Median(run.rep_totals[on][rep]);
        const double m_off = Median(run.rep_totals[off][rep]);
        rep_ratios.push_back(m_on / m_off);
        std::printf(" [%zu: %.0f/%.0f = %.2f]", run.rows_at_rep[rep], m_on, m_off, m_on / m_off);
        per_rep.push_back(boost::json::object{{"launch_rows", run.rows_at_rep[rep]},
                                              {"guard_on_us", m_on},
                                              {"guard_off_us", m_off},
                                              {"ratio", m_on / m_off}});
      }
      std::printf("; median ratio %.2f\n", Median(rep_ratios));
      app_detail[r.key] = boost::json::object{
          {"median_repetition_ratio", Median(rep_ratios)},
          {"on_open_us", part(on, &LaunchTimes::open_us)},
          {"on_start_us", part(on, &LaunchTimes::start_us)},
          {"on_destroy_us", part(on, &LaunchTimes::close_us)},
          {"off_open_us", part(off, &LaunchTimes::open_us)},
          {"off_start_us", part(off, &LaunchTimes::start_us)},
          {"off_destroy_us", part(off, &LaunchTimes::close_us)},
          {"per_repetition", std::move(per_rep)},
      };
      rows.push_back(std::move(r));
    }
    const LaunchRows final_rows = CountLaunchRows(*run.data);
    std::printf(
        "  %s: %zu launch rows in state.db after the run (all good), state.db+wal %.0f KiB\n",
        run.label, final_rows.total, StateDbKib(*run.data));
    app_detail["launch_rows_after"] = final_rows.total;
    app_detail["state_db_kib_after"] = StateDbKib(*run.data);
    apps[run.label] = std::move(app_detail);
  }
  (*detail)["apps"] = std::move(apps);
  return rows;
}
}  // namespace atrium::bench
