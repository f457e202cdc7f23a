#include "atrium/guard/guarded_launch.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <utility>

#include "atrium/base/log.h"
#include "crash_file.h"
#include "launch_log.h"
#include "watchdog.h"

namespace atrium::internal {

namespace fs = std::filesystem;

namespace {

std::string CrashFilePath(const std::string& data_dir) {
  return (fs::path(data_dir) / "crash.rec").string();
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

// "libwallet_bill.so+0x1234 Fault()" for a report frame.
std::string FrameText(const CrashReportFrame& f) {
  std::string out;
  if (f.module.empty()) {
    out = Hex(f.address);
  } else {
    out = fs::path(f.module).filename().string() + "+" + Hex(f.offset);
  }
  if (!f.symbol.empty()) out += " " + f.symbol;
  return out;
}

// The startup task id without its "bundle:" prefix (the pipeline's
// activity record qualifies it).
std::string BareTask(const CrashRecord& r) {
  if (!r.bundle.empty() && r.task.rfind(r.bundle + ":", 0) == 0) {
    return r.task.substr(r.bundle.size() + 1);
  }
  return r.task;
}

// "com.wallet.bill:register_routes" / "com.wallet.bill" / "" from the activity.
std::string WhereText(const CrashRecord& r) {
  std::string where = r.bundle;
  const std::string task = BareTask(r);
  if (!task.empty()) where += (where.empty() ? "" : ":") + task;
  if (!r.artifact.empty()) where += (where.empty() ? "" : " in ") + r.artifact;
  return where;
}

// A crash or hang record as a stored report (activity, frames, signature,
// kind) with its blame, given the dynamic artifacts of the launch it ended
// and their directories (parallel; "" when unknown). Blame, in order: the
// artifact whose files hold the faulting frame; the hotpatch running on the
// thread; the native update of the bundle running on it; the artifact
// holding any frame.
StoredCrashReport Attribute(const CrashRecord& rec, const std::vector<ArtifactRef>& artifacts,
                            const std::vector<std::string>& dirs) {
  std::vector<std::string> known_dirs;
  for (const std::string& d : dirs) {
    if (!d.empty()) known_dirs.push_back(d);
  }
  const CrashReport report = Symbolize(rec, known_dirs);
  StoredCrashReport out;
  out.kind = report.kind == CrashKind::kLua ? "lua" : "native";
  out.signal = rec.signal;
  out.signature = report.signature;
  out.thread = rec.thread;
  out.bundle = rec.bundle;
  out.task = BareTask(rec);
  out.artifact = rec.artifact;
  out.micro_app = rec.micro_app;
  // Foreground: the launch was not yet good, or micro-app code was running
  // on the thread (a page the user has open).
  out.foreground = rec.foreground || !rec.micro_app.empty();
  for (const CrashReportFrame& f : report.frames) out.frames.push_back(FrameText(f));
  auto artifact_of_frame = [&](const CrashReportFrame& f) -> std::optional<ArtifactRef> {
    for (size_t i = 0; !f.module.empty() && i < dirs.size() && i < artifacts.size(); ++i) {
      if (!dirs[i].empty() && f.module.rfind(dirs[i] + "/", 0) == 0) return artifacts[i];
    }
    return std::nullopt;
  };
  auto in_launch = [&](const char* kind, const std::string& id) -> std::optional<ArtifactRef> {
    for (const ArtifactRef& a : artifacts) {
      if (!id.empty() && a.kind == kind && a.id == id) return a;
    }
    return std::nullopt;
  };
  if (!report.frames.empty()) out.blamed = artifact_of_frame(report.frames.front());
  // The artifact whose code ran on the thread ("kind:id"; a bare id is a
  // hotpatch of a record written before artifacts were named by kind).
  if (!out.blamed && !rec.artifact.empty()) {
    const size_t colon = rec.artifact.find(':');
    out.blamed = colon == std::string::npos ? in_launch("lua_patch", rec.artifact)
                                            : in_launch(rec.artifact.substr(0, colon).c_str(),
                                                        rec.artifact.substr(colon + 1));
  }
  if (!out.blamed) out.blamed = in_launch("native_bundle", rec.bundle);
  for (size_t i = 0; !out.blamed && i < report.frames.size(); ++i) {
    out.blamed = artifact_of_frame(report.frames[i]);
  }
  return out;
}

}  // namespace

std::string SignalName(int signo) {
  switch (signo) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "signal " + std::to_string(signo);
  }
}

namespace {}  // namespace

std::unique_ptr<GuardedLaunch> GuardedLaunch::Begin(GuardedLaunchOptions options,
                                                    ArtifactStore& store) {
  std::unique_ptr<GuardedLaunch> g(new GuardedLaunch());
  g->options_ = std::move(options);
  const std::string db_path = (fs::path(g->options_.data_dir) / "state.db").string();
  if (g->options_.clock == nullptr) g->options_.clock = &RealClock();
  LaunchLogOptions log_options;
  log_options.now_ms = [clock = g->options_.clock] { return clock->NowUnixMs(); };
  LaunchLogOpen opened = OpenForLaunch(db_path, std::move(log_options));
  g->log_ = std::move(opened.log);
  if (!g->options_.store_trouble.empty()) {
    g->decision_ = LaunchPolicy::SafeMode(g->options_.store_trouble);
  } else if (g->log_ == nullptr) {
    g->decision_ = LaunchPolicy::SafeMode(opened.safe_mode_reason);
  }
  g->ReadPreviousCrash(store);
  if (!g->decision_.safe_mode) g->Decide();
  if (g->decision_.level != RecoveryLevel::kNone || g->decision_.safe_mode) {
    Log(LogLevel::kWarning, "",
        std::string(g->decision_.safe_mode ? "launch guard (safe mode): " : "launch guard: ") +
            "level " + std::to_string(static_cast<int>(g->decision_.level)) + ": " +
            g->decision_.reason);
  }
  if (g->decision_.consecutive_failures > 0 || g->decision_.safe_mode) g->CheckIntegrity(store);
  g->Act();
  if (g->decision_.level == RecoveryLevel::kNone) g->RetryDisabled();
  g->active_ = g->ActiveArtifacts(&g->artifact_dirs_);
  if (g->log_ != nullptr) {
    auto id = g->log_->BeginLaunch(g->options_.app_version, g->active_,
                                   static_cast<int>(g->decision_.level));
    if (id.ok()) {
      g->launch_id_ = *id;
    } else {
      Log(LogLevel::kError, "", "launch guard: cannot record the launch: " + id.error().ToString());
    }
  }
  if (g->options_.install_crash_capture) {
    CrashBinding binding;
    binding.launch_id = static_cast<uint64_t>(g->launch_id_);
    if (g->log_ != nullptr) {
      if (auto nonce = g->log_->CrashNonce(); nonce.ok()) binding.nonce = *nonce;
    }
    Status installed = CrashCapture::Install(CrashFilePath(g->options_.data_dir), binding);
    if (!installed.ok() && installed.error().code == ErrorCode::kState) {
      CrashCapture::Bind(binding);  // installed by an earlier launch of this process
    } else if (!installed.ok()) {
      Log(LogLevel::kError, "",
          "launch guard: crash capture not installed: " + installed.error().ToString());
    }
  }
  CrashCapture::SetForeground(true);
  return g;
}

GuardedLaunch::~GuardedLaunch() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  if (marker_.joinable()) marker_.join();
  watchdog_.reset();
}

std::vector<ArtifactRef> GuardedLaunch::ActiveArtifacts(std::vector<std::string>* dirs) {
  std::vector<ArtifactRef> out;
  dirs->clear();
  for (DynamicLayer* layer : options_.layers) {
    if (auto list = layer->ListActive(); list.ok()) {
      for (ActiveArtifact& a : *list) {
        out.push_back(std::move(a.ref));
        dirs->push_back(std::move(a.dir));
      }
    }
  }
  return out;
}

std::optional<ArtifactRef> GuardedLaunch::BlameBundle(const std::string& bundle) const {
  for (const ArtifactRef& a : active_) {
    if (a.kind == "native_bundle" && a.id == bundle) return a;
  }
  return std::nullopt;
}

void GuardedLaunch::ReadPreviousCrash(ArtifactStore& store) {
  const std::string path = CrashFilePath(options_.data_dir);
  Result<CrashRecord> crash = ReadCrashFile(path);
  if (!crash.ok() && crash.error().code == ErrorCode::kNotFound) {
    // No crash: a launch still running was killed before it was marked.
    if (log_ != nullptr) (void)log_->CloseStaleLaunches();
    return;
  }
  if (!crash.ok() && crash.error().code == ErrorCode::kIo) {
    // Not a regular file (a FIFO, a symlink, a directory...): unread, so no
    // evidence of a crash. Set aside; Install makes a new one.
    std::string what = "set aside crash.rec as crash.rec.rejected: " + crash.error().ToString();
    if (std::string failed = MoveCrashFileAside(path, ".rejected"); !failed.empty()) {
      what += " (" + failed + ")";
    }
    Record(0, what, "the crash file must be a regular file of this data directory");
    if (log_ != nullptr) (void)log_->CloseStaleLaunches();
    return;
  }
  if (log_ == nullptr) return;  // safe mode: nowhere to record it
  auto previous = log_->Recent(1);
  std::optional<LaunchRecord> last;
  if (previous.ok() && !previous->empty()) last = previous->front();
  if (crash.ok()) {
    // Bound to this data dir's last launch, or not evidence against it.
    auto nonce = log_->CrashNonce();
    const bool ours = nonce.ok() && crash->nonce == *nonce && last &&
                      crash->launch_id == static_cast<uint64_t>(last->id);
    if (!ours) {
      std::string what =
          "ignored a crash record of launch " + std::to_string(crash->launch_id) + " of " +
          (nonce.ok() && crash->nonce == *nonce ? std::string("this data directory")
                                                : "another data directory") +
          " (the last launch here is " + (last ? std::to_string(last->id) : std::string("none")) +
          "); kept as crash.rec.foreign";
      if (std::string failed = MoveCrashFileAside(path, ".foreign"); !failed.empty()) {
        what += " (" + failed + ")";
      }
      Record(0, what, "a crash record counts only for the launch that wrote it");
      (void)log_->CloseStaleLaunches();
      return;
    }
  }
  // The previous launch's artifacts and their directories (to blame frames).
  std::vector<ArtifactRef> artifacts = last ? last->active_artifacts : std::vector<ArtifactRef>{};
  std::vector<std::string> dirs;
  if (auto records = store.List(); records.ok()) {
    for (const ArtifactRef& a : artifacts) {
      std::string dir;
      for (const ArtifactRecord& r : *records) {
        if (ArtifactKindName(r.kind) == a.kind && r.id == a.id && r.version == a.version)
          dir = r.dir;
      }
      dirs.push_back(dir);
    }
  }
  if (!crash.ok()) {
    // Unreadable (torn, truncated, tampered): the launch still crashed.
    const std::string reason = "crash record unreadable: " + crash.error().ToString();
    (void)MoveCrashFileAside(path, ".corrupt");
    if (last && last->outcome == LaunchOutcome::kRunning) {
      (void)log_->CloseStaleLaunches(StaleCrash{reason, std::nullopt, ""});
    }
    Log(LogLevel::kWarning, "", "launch guard: " + reason);
    return;
  }
  const CrashRecord& rec = *crash;
  StoredCrashReport stored = Attribute(rec, artifacts, dirs);
  const std::optional<ArtifactRef> blamed = stored.blamed;
  std::string reason = rec.from_exit        ? std::string("exit() or quick_exit() called")
                       : rec.from_terminate ? std::string("std::terminate")
                                            : SignalName(rec.signal);
  if (rec.from_exit) stored.kind = "exit";
  if (rec.from_terminate && !rec.what.empty()) reason += " (" + rec.what + ")";  // not for exit
  if (rec.signal == SIGSEGV || rec.signal == SIGBUS) reason += " at " + Hex(rec.fault_address);
  const std::string where = WhereText(rec);
  if (!where.empty()) reason += " in " + where;
  if (!rec.thread.empty()) reason += " (thread " + rec.thread + ")";
  if (!stored.foreground) reason += " in the background";
  if (rec.partial) reason += " (partial record: the crash handler did not finish; no frames)";
  stored.time_ms = rec.time_sec * 1000 + rec.time_nsec / 1'000'000;
  stored.summary = reason;
  const std::string signature = stored.signature;

  if (last && last->outcome == LaunchOutcome::kRunning) {
    (void)log_->CloseStaleLaunches(StaleCrash{reason, blamed, signature, stored.time_ms});
    stored.launch_id = last->id;
  } else if (last && last->outcome == LaunchOutcome::kGood) {
    (void)log_->AttachCrashAfterGood(last->id, reason, blamed, signature);
    stored.launch_id = last->id;
  } else if (last) {
    stored.launch_id = last->id;  // already ended (e.g. a hang recorded, then the kill crashed)
  }
  if (stored.launch_id != 0) {
    auto added = log_->AddCrashReport(std::move(stored));
    if (!added.ok()) {
      Log(LogLevel::kError, "",
          "launch guard: cannot store the crash report: " + added.error().ToString());
    }
  }
  std::error_code ec;
  fs::remove(path, ec);
}

void GuardedLaunch::Decide() {
  auto history = log_->Recent(50);
  if (!history.ok()) {
    decision_ = LaunchPolicy::SafeMode(history.error().ToString());
    return;
  }
  decision_ = LaunchPolicy(options_.config).Decide(*history);
  newest_launch_ = history->empty() ? 0 : history->front().id;
  for (const LaunchRecord& r : *history) {
    if (r.outcome != LaunchOutcome::kGood) continue;
    last_good_artifacts_ = r.active_artifacts;
    last_good_resolved_ = r.resolved;
    break;
  }
}

void GuardedLaunch::StartWatchdog(Scheduler& scheduler,
                                  std::function<std::optional<WatchedWork>()> oldest_watched) {
  if (watchdog_ != nullptr) return;
  const LaunchGuardConfig& c = options_.config;
  if (c.first_frame_limit.count() == 0 && c.main_loop_blocked_limit.count() == 0) return;
  WatchdogOptions w;
  w.first_frame_limit = c.first_frame_limit;
  w.main_loop_blocked_limit = c.main_loop_blocked_limit;
  w.main_task_running_since_ns = [&scheduler] { return scheduler.MainTaskRunningSinceNs(); };
  w.first_frame_reached = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    // Only a launch that was started can be late; the host may open a
    // container and start it later (the limit then counts from Start).
    return first_frame_.load() || !started_;
  };
  w.main_tid = [&scheduler] { return scheduler.main_thread_tid(); };
  w.oldest_watched = std::move(oldest_watched);
  w.on_hang = [this](const HangInfo& hang) {
    RecordHang(hang);
    if (options_.on_hang) {
      options_.on_hang();
    } else {
      std::fflush(nullptr);
      std::_Exit(kHangExitStatus);
    }
  };
  watchdog_ = std::make_unique<Watchdog>(std::move(w));
}

void GuardedLaunch::RecordHang(const HangInfo& hang) {
  StoredCrashReport stored;
  std::string reason = hang.reason;
  std::vector<ArtifactRef> active;
  std::vector<std::string> dirs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    active = active_;
    dirs = artifact_dirs_;
  }
  if (hang.stack) {
    stored = Attribute(*hang.stack, active, dirs);
    const std::string where = WhereText(*hang.stack);
    if (!where.empty()) reason += " in " + where;
    // Waiting for a bundle another thread starts or stops: the hang is that
    // bundle's (its update, if it is one), not the waiter's.
    if (const std::string& bundle = hang.stack->waiting_for; !bundle.empty()) {
      reason += ", waiting for bundle " + bundle + " (started or stopped by another thread)";
      stored.blamed.reset();
      for (const ArtifactRef& a : active) {
        if (a.kind == "native_bundle" && a.id == bundle) stored.blamed = a;
      }
    }
  } else if (!hang.capture_error.empty()) {
    reason += " (main thread stack not captured: " + hang.capture_error + ")";
  }
  stored.kind = "hang";
  stored.signal = 0;
  stored.foreground = !good_.load();
  const std::optional<ArtifactRef> blamed = stored.blamed;
  stored.summary = reason;
  stored.launch_id = launch_id_;
  Log(LogLevel::kError, "", "launch guard: hang: " + reason);
  if (log_ == nullptr || launch_id_ == 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ended_) {
      (void)log_->MarkFailed(launch_id_, LaunchOutcome::kHung, reason, blamed, stored.signature);
      ended_ = true;
    } else if (good_.load()) {
      (void)log_->AttachCrashAfterGood(launch_id_, reason, blamed, stored.signature);
    }
  }
  (void)log_->AddCrashReport(std::move(stored));
}

void GuardedLaunch::OnStartCalled() {
  std::lock_guard<std::mutex> lock(mu_);
  started_ = true;
}

void GuardedLaunch::OnFirstFrame() { first_frame_.store(true); }

void GuardedLaunch::OnIdle() {
  first_frame_.store(true);
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_ || ended_) return;
  idle_ = true;
  // The quiet period starts now, not when the marker thread gets to run.
  const int64_t deadline_ns =
      options_.clock->SteadyNs() +
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.config.quiet_period).count();
  marker_ = std::thread([this, deadline_ns] { MarkerLoop(deadline_ns); });
}

void GuardedLaunch::MarkerLoop(int64_t deadline_ns) {
  std::unique_lock<std::mutex> lock(mu_);
  const Clock& clock = *options_.clock;
  if (&clock == &RealClock()) {
    const std::chrono::steady_clock::time_point deadline{std::chrono::nanoseconds(deadline_ns)};
    cv_.wait_until(lock, deadline, [this] { return closing_ || ended_; });
  } else {
    // An injected clock moves only when a test steps it and calls
    // ClockAdvanced().
    cv_.wait(lock, [&] { return closing_ || ended_ || clock.SteadyNs() >= deadline_ns; });
  }
  if (closing_ || ended_) return;  // Close marks it, or it failed meanwhile
  ended_ = true;
  if (log_ != nullptr && launch_id_ != 0) {
    if (Status s = log_->MarkGood(launch_id_, resolved_); !s.ok()) {
      Log(LogLevel::kError, "",
          "launch guard: cannot mark the launch good: " + s.error().ToString());
    }
  }
  good_.store(true);
  CrashCapture::SetForeground(false);
  if (LogEnabled(LogLevel::kInfo)) Log(LogLevel::kInfo, "", "launch guard: launch good");
}

void GuardedLaunch::ClockAdvanced() {
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
}

void GuardedLaunch::OnLaunchFailed(const std::string& reason, const std::string& bundle) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ended_) return;
  ended_ = true;
  if (log_ != nullptr && launch_id_ != 0) {
    (void)log_->MarkFailed(launch_id_, LaunchOutcome::kRequiredTaskFailed, reason,
                           BlameBundle(bundle));
  }
}

std::optional<ArtifactRef> GuardedLaunch::BlameNewest(
    const std::vector<std::string>& bundles) const {
  std::optional<ArtifactRef> any;
  for (const std::string& b : bundles) {
    std::optional<ArtifactRef> a = BlameBundle(b);
    if (!a) continue;
    if (std::find(last_good_artifacts_.begin(), last_good_artifacts_.end(), *a) ==
        last_good_artifacts_.end()) {
      return a;
    }
    if (!any) any = a;
  }
  return any;
}

void GuardedLaunch::OnResolution(std::vector<std::string> resolved,
                                 const std::vector<UnresolvedBundle>& unresolved) {
  std::lock_guard<std::mutex> lock(mu_);
  resolved_ = std::move(resolved);
  if (ended_ || log_ == nullptr || launch_id_ == 0) return;
  std::string lost;
  std::optional<ArtifactRef> blamed;
  for (const UnresolvedBundle& u : unresolved) {
    if (std::find(last_good_resolved_.begin(), last_good_resolved_.end(), u.name) ==
        last_good_resolved_.end()) {
      continue;
    }
    lost += (lost.empty() ? "" : "; ") + u.name + " (" + u.reason + ")";
    if (!blamed) {
      std::vector<std::string> suspects = u.required;
      suspects.push_back(u.name);
      blamed = BlameNewest(suspects);
    }
  }
  if (lost.empty()) return;
  ended_ = true;
  const std::string reason =
      "bundles that resolved at the last good launch no longer resolve: " + lost;
  Log(LogLevel::kError, "", "launch guard: " + reason);
  (void)log_->MarkFailed(launch_id_, LaunchOutcome::kIncomplete, reason, blamed);
}

void GuardedLaunch::OnHomeFailed(const std::string& reason,
                                 const std::vector<std::string>& suspects) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ended_ || log_ == nullptr || launch_id_ == 0) return;
  ended_ = true;
  (void)log_->MarkFailed(launch_id_, LaunchOutcome::kIncomplete,
                         "the home micro-app did not open: " + reason, BlameNewest(suspects));
}

void GuardedLaunch::OnArtifactsChanged() {
  std::vector<std::string> dirs;
  std::vector<ArtifactRef> now = ActiveArtifacts(&dirs);
  std::lock_guard<std::mutex> lock(mu_);
  active_ = std::move(now);
  artifact_dirs_ = std::move(dirs);
  if (log_ == nullptr || launch_id_ == 0) return;
  if (Status s = log_->UpdateArtifacts(launch_id_, active_); !s.ok()) {
    Log(LogLevel::kError, "",
        "launch guard: cannot record the launch's artifacts: " + s.error().ToString());
  }
}

void GuardedLaunch::OnBundleFailed(const std::string& bundle, const std::string& task,
                                   const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (log_ == nullptr || launch_id_ == 0) return;
  const std::string summary = "bundle " + bundle + " failed: " + reason;
  const std::optional<ArtifactRef> blamed = BlameBundle(bundle);
  if (Status s = log_->NoteBundleFailure(launch_id_, summary, blamed); !s.ok()) {
    Log(LogLevel::kError, bundle,
        "launch guard: cannot record a failed bundle: " + s.error().ToString());
    return;
  }
  StoredCrashReport report;
  report.launch_id = launch_id_;
  report.time_ms = options_.clock->NowUnixMs();
  report.kind = "failure";
  report.bundle = bundle;
  report.task = task.rfind(bundle + ":", 0) == 0 ? task.substr(bundle.size() + 1) : task;
  report.foreground = true;
  report.summary = summary;
  report.blamed = blamed;
  (void)log_->AddCrashReport(std::move(report));
}

void GuardedLaunch::Close() {
  if (watchdog_ != nullptr) watchdog_->Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    if (!ended_ && log_ != nullptr && launch_id_ != 0) {
      if (idle_) {
        // Reached idle and exited cleanly before the quiet period ended.
        if (log_->MarkGood(launch_id_, resolved_).ok()) good_.store(true);
      } else if (!started_) {
        (void)log_->Discard(launch_id_);  // opened, never launched
      } else {
        // Started, closed before idle without a failure: not a verdict
        // either way; discarded rather than counted as killed.
        (void)log_->Discard(launch_id_);
      }
    }
    ended_ = true;
  }
  cv_.notify_all();
  if (marker_.joinable()) marker_.join();
}

}  // namespace atrium::internal
