// `atrium profile` (see profile_commands.h and docs/profiling.md).
//
// Each run is a child process of this same executable (/proc/self/exe), so
// no run inherits the state of another: stdin and stdout go to /dev/null,
// stderr is captured through a pipe (its tail is shown when a run fails) and
// a run that outlives --run-timeout is killed. The environment variable
// ATRIUM_PROFILE_RUNNER_FOR_TESTING names another executable to run instead
// (tests use a script that writes canned traces).
//
// Concurrency: single-threaded; called from main().
#include "profile_commands.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "atrium/manifest.h"
#include "atrium/package.h"
#include "profile_report.h"

namespace fs = std::filesystem;
namespace po = boost::program_options;
namespace prof = atrium::profile;

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kStderrTailBytes = 16 * 1024;
constexpr int kStderrTailLines = 12;

int Fail(const std::string& message) {
  std::fprintf(stderr, "atrium profile: %s\n", message.c_str());
  return 1;
}

// The budget's stage and task names against what the app declares: its
// stages (app.json startup.stages or the default ones) and its baseline
// bundles' startup tasks ("<bundle>:<task>"). "" when every name is known.
std::string CheckBudgetNames(const prof::Budget& budget, const std::string& budget_file,
                             const fs::path& app_dir, const atrium::AppDescriptor& app) {
  using atrium::DefaultStartupStages, atrium::ErrorCode, atrium::LoadManifestFile,
      atrium::MakeError, atrium::Manifest, atrium::PackageReader, atrium::ParseManifest,
      atrium::Result, atrium::StartupTaskDecl;
  const std::vector<std::string>& stages =
      app.startup.stages.empty() ? DefaultStartupStages() : app.startup.stages;
  auto join = [](const auto& names) {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  };
  for (const auto& [stage, ms] : budget.stages) {
    if (std::find(stages.begin(), stages.end(), stage) == stages.end()) {
      return budget_file + ":/stages/" + stage + ": the app has no stage '" + stage +
             "' (its stages: " + join(stages) + ")";
    }
  }
  if (budget.tasks.empty()) return "";
  std::set<std::string> tasks;
  for (const std::string& entry : app.baseline) {
    const fs::path where = app_dir / entry;
    Result<Manifest> manifest = MakeError(ErrorCode::kNotFound, "");
    if (where.extension() == ".atb") {
      auto reader = PackageReader::Open(where.string());
      if (!reader.ok()) return reader.error().ToString();
      auto text = (*reader)->ReadEntry("bundle.json");
      if (!text.ok()) return text.error().ToString();
      manifest = ParseManifest(*text, where.string() + "!bundle.json");
    } else {
      manifest = LoadManifestFile((where / "bundle.json").string());
    }
    if (!manifest.ok()) return manifest.error().ToString();
    for (const StartupTaskDecl& t : manifest->startup) tasks.insert(manifest->name + ":" + t.id);
    // An eager bundle's load is a task of the launch too (docs/startup.md).
    if (manifest->activation == atrium::Activation::kEager) tasks.insert(manifest->name + ":@load");
  }
  for (const auto& [task, ms] : budget.tasks) {
    if (!tasks.contains(task)) {
      return budget_file + ":/tasks/" + task + ": no baseline bundle declares startup task '" +
             task + "' (the app's tasks: " + join(tasks) + ")";
    }
  }
  return "";
}

int Usage(const char* problem = nullptr) {
  if (problem != nullptr) std::fprintf(stderr, "atrium profile: %s\n", problem);
  std::fprintf(
      stderr,
      "usage: atrium profile <app-dir> [options]\n"
      "  --runs N            launches to measure, 1..10000 (default 10)\n"
      "  --out DIR           where traces and reports go (default ./atrium-profile)\n"
      "  --budget F          budgets file; exceeded -> exit status 3\n"
      "  --baseline F        compare with a saved baseline; regression -> exit 3\n"
      "  --tolerance P       allowed regression in percent, 0..1000 (default 10, plus 2 ms)\n"
      "  --save-baseline F   write this profile's aggregate as a baseline\n"
      "  --keep-data         keep the data dir the runs shared (path printed)\n"
      "  --run-timeout S     kill a run after S seconds, at least 1 (default 300)\n"
      "exit status: 0 ok, 1 a run or a file failed, 2 usage, 3 over budget/baseline\n");
  return 2;
}

struct Options {
  std::string app_dir;
  int runs = 10;
  std::string out = "atrium-profile";
  std::string budget;
  std::string baseline;
  double tolerance = 10;
  std::string save_baseline;
  bool keep_data = false;
  int run_timeout_s = 300;
};

struct RunOutcome {
  bool exited = false;
  int exit_status = -1;
  int signal = 0;
  bool timed_out = false;
  std::string error;        // fork / exec / pipe problem
  std::string stderr_tail;  // last kStderrTailBytes of its stderr
};

// Runs `exe` with `args`, stdin/stdout on /dev/null and stderr captured.
RunOutcome RunChild(const std::string& exe, const std::vector<std::string>& args, int timeout_s) {
  RunOutcome out;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    out.error = std::string("pipe: ") + std::strerror(errno);
    return out;
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    out.error = std::string("fork: ") + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return out;
  }
  if (pid == 0) {
    int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
    }
    ::dup2(fds[1], 2);
    ::execv(exe.c_str(), argv.data());
    const char* what = std::strerror(errno);
    (void)!::write(2, "cannot execute ", 15);
    (void)!::write(2, exe.c_str(), exe.size());
    (void)!::write(2, ": ", 2);
    (void)!::write(2, what, std::strlen(what));
    (void)!::write(2, "\n", 1);
    ::_exit(127);
  }
  ::close(fds[1]);
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  auto remaining_ms = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::max<int64_t>(0, left.count()));
  };
  bool open = true;
  char buf[4096];
  while (open && remaining_ms() > 0) {
    pollfd p{fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, std::min(remaining_ms(), 1000));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      open = false;
      break;
    }
    out.stderr_tail.append(buf, static_cast<size_t>(n));
    if (out.stderr_tail.size() > 2 * kStderrTailBytes)
      out.stderr_tail.erase(0, out.stderr_tail.size() - kStderrTailBytes);
  }
  ::close(fds[0]);
  int status = 0;
  while (true) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      out.error = std::string("waitpid: ") + std::strerror(errno);
      return out;
    }
    if (remaining_ms() == 0) {
      out.timed_out = true;
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (out.stderr_tail.size() > kStderrTailBytes)
    out.stderr_tail.erase(0, out.stderr_tail.size() - kStderrTailBytes);
  if (WIFEXITED(status)) {
    out.exited = true;
    out.exit_status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out.signal = WTERMSIG(status);
  }
  return out;
}

// The last lines of a child's stderr, indented, control characters replaced.
std::string Tail(const std::string& text) {
  std::string s = text;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  size_t start = s.size();
  for (int lines = 0; start > 0 && lines < kStderrTailLines;) {
    --start;
    if (s[start] == '\n' && ++lines == kStderrTailLines) {
      ++start;
      break;
    }
  }
  std::string out = "    | ";
  for (size_t i = start; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\n    | ";
    } else if (c == '\t' || c >= 0x20) {
      out += static_cast<char>(c);
    } else {
      out += '?';
    }
  }
  return out + "\n";
}

// Writes `data` to `path` through a temporary file and a rename.
bool WriteFileAtomic(const std::string& path, const std::string& data, std::string* error) {
  std::string temp = path + ".tmp";
  FILE* f = std::fopen(temp.c_str(), "wb");
  if (f == nullptr) {
    *error = path + ": cannot create: " + std::strerror(errno);
    return false;
  }
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    *error = path + ": cannot write: " + std::strerror(errno);
    std::remove(temp.c_str());
    return false;
  }
  return true;
}

bool ParseOptions(int argc, char** argv, Options* o, int* status) {
  po::options_description desc;
  bool help = false;
  desc.add_options()("app", po::value(&o->app_dir))("runs", po::value(&o->runs))(
      "out", po::value(&o->out))("budget", po::value(&o->budget))(
      "baseline", po::value(&o->baseline))("tolerance", po::value(&o->tolerance))(
      "save-baseline", po::value(&o->save_baseline))("keep-data", po::bool_switch(&o->keep_data))(
      "run-timeout", po::value(&o->run_timeout_s))("help,h", po::bool_switch(&help));
  po::positional_options_description pos;
  pos.add("app", 1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    *status = Usage(e.what());
    return false;
  }
  if (help) {
    Usage();
    *status = 0;
    return false;
  }
  const char* problem = nullptr;
  if (o->app_dir.empty()) problem = "missing <app-dir>";
  if (o->runs < 1 || o->runs > 10000) problem = "--runs must be between 1 and 10000";
  if (!(o->tolerance >= 0) || o->tolerance > 1000) problem = "--tolerance must be 0..1000 (%)";
  if (o->run_timeout_s < 1) problem = "--run-timeout must be at least 1 (seconds)";
  if (o->out.empty()) problem = "--out must not be empty";
  if (problem != nullptr) {
    *status = Usage(problem);
    return false;
  }
  return true;
}

// Removes run-<n>.json files a previous profile left in `dir`.
void RemoveStaleTraces(const fs::path& dir) {
  static const std::regex kTrace(R"(run-[0-9]+\.json(\.tmp)?)");
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (std::regex_match(it->path().filename().string(), kTrace)) fs::remove(it->path(), ec);
  }
}

}  // namespace

int ProfileMain(int argc, char** argv) {
  Options o;
  int status = 0;
  if (!ParseOptions(argc, argv, &o, &status)) return status;

  std::error_code ec;
  const fs::path app_dir = fs::absolute(o.app_dir, ec).lexically_normal();
  if (!fs::is_regular_file(app_dir / "app.json", ec))
    return Fail((app_dir / "app.json").string() + ": no app here (cannot find app.json)");

  // Inputs first: a typo in a budgets file should not cost N launches.
  std::optional<prof::Budget> budget;
  if (!o.budget.empty()) {
    auto b = prof::LoadBudget(o.budget);
    if (!b.ok()) return Fail(b.error().ToString());
    budget = *b;
  }
  std::optional<prof::Baseline> baseline;
  if (!o.baseline.empty()) {
    auto b = prof::LoadBaseline(o.baseline);
    if (!b.ok()) return Fail(b.error().ToString());
    baseline = *b;
  }
  if (budget || baseline) {
    auto app = atrium::LoadAppDescriptorFile((app_dir / "app.json").string());
    if (!app.ok()) return Fail(app.error().ToString());
    // A baseline of another app compares nothing: refused before any run.
    if (baseline && baseline->app != app->id) {
      return Fail(o.baseline + ":/app: a baseline of app '" + baseline->app + "', not '" + app->id +
                  "' (" + (app_dir / "app.json").string() + ")");
    }
    // A budget for a stage or task the app does not have would only be
    // found missing after the runs.
    if (budget) {
      std::string problem = CheckBudgetNames(*budget, o.budget, app_dir, *app);
      if (!problem.empty()) return Fail(problem);
    }
  }

  const fs::path out_dir = fs::absolute(o.out, ec).lexically_normal();
  fs::create_directories(out_dir, ec);
  if (!fs::is_directory(out_dir, ec)) return Fail(out_dir.string() + ": cannot create directory");
  RemoveStaleTraces(out_dir);

  const char* tmp_root = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp_root != nullptr && *tmp_root ? tmp_root : "/tmp") + "/atrium-profile-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    return Fail("cannot create a temporary directory in " + fs::path(tmpl).parent_path().string() +
                ": " + std::strerror(errno));
  const fs::path scratch = tmpl;
  const std::string data_dir = (scratch / "data").string();

  std::string exe = "/proc/self/exe";
  if (const char* r = std::getenv("ATRIUM_PROFILE_RUNNER_FOR_TESTING"); r != nullptr && *r) exe = r;

  const bool tty = ::isatty(2) == 1;
  std::vector<prof::RunTrace> traces;
  int failed = 0;
  for (int i = 0; i < o.runs; ++i) {
    const std::string trace_path = (out_dir / ("run-" + std::to_string(i) + ".json")).string();
    if (tty) std::fprintf(stderr, "\r\033[Krun %d/%d ...", i + 1, o.runs);
    auto t0 = Clock::now();
    RunOutcome r = RunChild(
        exe, {"run", app_dir.string(), "--data-dir", data_dir, "--trace", trace_path, "--quiet"},
        o.run_timeout_s);
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::string problem;
    if (!r.error.empty()) {
      problem = r.error;
    } else if (r.timed_out) {
      problem = "killed after " + std::to_string(o.run_timeout_s) + " s (--run-timeout)";
    } else if (!r.exited) {
      problem = std::string("killed by signal ") + std::to_string(r.signal) + " (" +
                strsignal(r.signal) + ")";
    } else if (r.exit_status != 0) {
      problem = "exit status " + std::to_string(r.exit_status);
    }
    std::optional<prof::RunTrace> trace;
    if (problem.empty()) {
      auto t = prof::LoadTrace(trace_path);
      if (!t.ok()) {
        problem = "no usable trace: " + t.error().ToString();
      } else if (t->result != "ok") {
        problem = "the launch reports " + t->result;
      } else {
        trace = std::move(*t);
      }
    }
    if (!problem.empty()) {
      ++failed;
      std::fprintf(stderr, "%srun %d/%d failed: %s\n", tty ? "\r\033[K" : "", i + 1, o.runs,
                   problem.c_str());
      if (!r.stderr_tail.empty()) std::fputs(Tail(r.stderr_tail).c_str(), stderr);
      continue;
    }
    if (tty) {
      std::fprintf(stderr, "\r\033[Krun %d/%d launch %.1f ms", i + 1, o.runs, trace->launch_ms);
    } else {
      std::fprintf(stderr, "run %d/%d: launch %.1f ms (%.2f s)\n", i + 1, o.runs, trace->launch_ms,
                   secs);
    }
    traces.push_back(std::move(*trace));
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%d run(s): %zu ok, %d failed\n", o.runs, traces.size(), failed);

  if (o.keep_data) {
    std::fprintf(stderr, "data dir kept: %s\n", data_dir.c_str());
  } else {
    fs::remove_all(scratch, ec);
  }
  if (traces.empty()) return Fail("no run succeeded; nothing to report");

  auto profile = prof::Analyze(traces);
  if (!profile.ok()) return Fail(profile.error().ToString());

  std::vector<prof::Violation> violations;
  std::string verdicts;
  if (budget) {
    auto v = prof::CheckBudget(*profile, *budget);
    verdicts += "\nbudget (" + std::string(prof::MetricName(budget->metric)) + ", " + o.budget +
                "): " + (v.empty() ? "ok" : std::to_string(v.size()) + " violation(s)") + "\n";
    for (const auto& x : v) verdicts += "  " + x.ToString() + "\n";
    violations.insert(violations.end(), v.begin(), v.end());
  }
  if (baseline) {
    if (baseline->app != profile->app)
      return Fail(o.baseline + ": a baseline of app '" + baseline->app + "', not '" + profile->app +
                  "'");
    std::vector<std::string> notes;
    prof::CompareOptions options;
    options.tolerance_pct = o.tolerance;
    auto v = prof::CompareToBaseline(*profile, *baseline, options, &notes);
    char head[160];
    std::snprintf(head, sizeof head, "baseline (%s, +%g%% +%g ms): ", o.baseline.c_str(),
                  options.tolerance_pct, options.slack_ms);
    verdicts += std::string("\n") + head +
                (v.empty() ? "ok" : std::to_string(v.size()) + " regression(s)") + "\n";
    for (const auto& x : v) verdicts += "  " + x.ToString() + "\n";
    for (const auto& n : notes) verdicts += "  note: " + n + "\n";
    violations.insert(violations.end(), v.begin(), v.end());
  }

  std::string summary = prof::SummaryText(*profile) + verdicts;
  std::string error;
  const std::string summary_path = (out_dir / "summary.txt").string();
  const std::string report_path = (out_dir / "report.html").string();
  if (!WriteFileAtomic(summary_path, summary, &error) ||
      !WriteFileAtomic(report_path, prof::ReportHtml(*profile, traces, violations), &error))
    return Fail(error);
  std::fputs(summary.c_str(), stdout);

  int rc = failed > 0 ? 1 : violations.empty() ? 0 : 3;
  if (!o.save_baseline.empty()) {
    if (failed > 0) {
      std::fprintf(stderr, "atrium profile: not saving a baseline: %d run(s) failed\n", failed);
    } else if (!WriteFileAtomic(o.save_baseline, prof::BaselineJson(*profile), &error)) {
      std::fprintf(stderr, "atrium profile: %s\n", error.c_str());
      rc = 1;
    } else {
      std::printf("\nbaseline saved: %s\n", o.save_baseline.c_str());
    }
  }
  std::printf("\nreport: %s\n", report_path.c_str());
  std::fflush(stdout);
  return rc;
}
