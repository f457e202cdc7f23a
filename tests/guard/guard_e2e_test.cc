// The launch guard end to end: the built sample wallet and the fault
// packages of com.wallet.bill (samples/faults), each launch a real `atrium
// run` child process. A case installs one bad update, launches until the
// app is good again (at most kMaxLaunches), and checks the exact sequence of
// exits, recovery levels and outcomes, what the guard did and recorded, that
// the bundles' private data survived, and that the next launch is normal.
//
// Each case has its own temp dir: <tmp>/app (a copy of the built wallet with
// a fast launch_guard config), <tmp>/data (the data dir) and <tmp>/logs (the
// children's stdout and stderr, printed when an expectation fails).
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "atrium/artifact_store.h"
#include "atrium/launch_guard.h"
#include "atrium/private_store.h"
#include "gtest/gtest.h"

extern char** environ;

namespace atrium {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxLaunches = 6;
constexpr int kHangExitStatus = 70;
// Not an expectation: a child still running after this long is killed so a
// broken guard (a hang nobody ends) fails the case instead of the whole run.
constexpr auto kChildLimit = std::chrono::seconds(120);
constexpr char kBill[] = "com.wallet.bill";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// How a child process ended.
struct ChildExit {
  int status = 0;  // waitpid status
  bool killed_by_test = false;
  std::string out, err;  // what it printed

  bool Exited(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
  bool Signaled(int sig) const { return WIFSIGNALED(status) && WTERMSIG(status) == sig; }
  // "exit 0", "SIGSEGV", "killed by the test (still running after 120 s)".
  std::string Describe() const {
    if (killed_by_test) return "killed by the test (still running after 120 s)";
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
      switch (WTERMSIG(status)) {
        case SIGSEGV:
          return "SIGSEGV";
        case SIGABRT:
          return "SIGABRT";
        case SIGILL:
          return "SIGILL";
        case SIGBUS:
          return "SIGBUS";
        case SIGFPE:
          return "SIGFPE";
        case SIGKILL:
          return "SIGKILL";
        case SIGTERM:
          return "SIGTERM";
        default:
          return "signal " + std::to_string(WTERMSIG(status));
      }
    }
    return "wait status " + std::to_string(status);
  }
  std::string Output() const { return "--- stdout:\n" + out + "--- stderr:\n" + err; }
};

// Runs the atrium CLI with `args`, its stdout and stderr going to
// <log_dir>/<n>-<label>.{out,err}.
ChildExit RunCli(const std::vector<std::string>& args, const std::string& log_dir,
                 const std::string& label) {
  static int serial = 0;
  const std::string base = log_dir + "/" + std::to_string(++serial) + "-" + label;
  std::vector<std::string> argv_text = {ATRIUM_CLI};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, (base + ".out").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, (base + ".err").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // In a sanitizer build the crash signals must reach the guard's handlers,
  // and a process the watchdog ends with live threads is no leak.
  std::vector<std::string> env_text;
  const std::string sanitizer_options = "handle_segv=0:handle_sigill=0:handle_abort=0";
  bool asan = false, tsan = false;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string v = *e;
    if (v.starts_with("ASAN_OPTIONS=")) {
      v += ":" + sanitizer_options + ":detect_leaks=0";
      asan = true;
    } else if (v.starts_with("TSAN_OPTIONS=")) {
      v += ":" + sanitizer_options;
      tsan = true;
    }
    env_text.push_back(std::move(v));
  }
  if (!asan) env_text.push_back("ASAN_OPTIONS=" + sanitizer_options + ":detect_leaks=0");
  if (!tsan) env_text.push_back("TSAN_OPTIONS=" + sanitizer_options);
  std::vector<char*> env;
  for (auto& e : env_text) env.push_back(e.data());
  env.push_back(nullptr);

  ChildExit result;
  pid_t pid = -1;
  int rc = posix_spawn(&pid, ATRIUM_CLI, &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn " << ATRIUM_CLI << ": " << std::strerror(rc);
    result.status = 0x7f00;  // "exit 127"
    return result;
  }
  const auto deadline = std::chrono::steady_clock::now() + kChildLimit;
  for (;;) {
    pid_t r = waitpid(pid, &result.status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      ADD_FAILURE() << "waitpid: " << std::strerror(errno);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline && !result.killed_by_test) {
      kill(pid, SIGKILL);
      result.killed_by_test = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  result.out = ReadFile(base + ".out");
  result.err = ReadFile(base + ".err");
  return result;
}

// The address of `symbol` (from .dynsym) as an offset in the ELF64 file at
// `path`, through the PT_LOAD segment that holds it.
std::optional<uint64_t> DynamicSymbolFileOffset(const std::string& path,
                                                const std::string& symbol) {
  const std::string image = ReadFile(path);
  auto at = [&](uint64_t offset, uint64_t size) -> const char* {
    if (offset > image.size() || size > image.size() - offset) return nullptr;
    return image.data() + offset;
  };
  Elf64_Ehdr eh;
  const char* p = at(0, sizeof eh);
  if (p == nullptr) return std::nullopt;
  std::memcpy(&eh, p, sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_phentsize != sizeof(Elf64_Phdr)) {
    return std::nullopt;
  }
  auto section = [&](uint64_t i) -> std::optional<Elf64_Shdr> {
    const char* s = at(eh.e_shoff + i * sizeof(Elf64_Shdr), sizeof(Elf64_Shdr));
    if (s == nullptr) return std::nullopt;
    Elf64_Shdr sh;
    std::memcpy(&sh, s, sizeof sh);
    return sh;
  };
  std::optional<uint64_t> vaddr;
  for (uint64_t i = 0; i < eh.e_shnum && !vaddr; ++i) {
    auto dynsym = section(i);
    if (!dynsym || dynsym->sh_type != SHT_DYNSYM) continue;
    auto dynstr = section(dynsym->sh_link);
    if (!dynstr) return std::nullopt;
    for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= dynsym->sh_size; off += sizeof(Elf64_Sym)) {
      const char* s = at(dynsym->sh_offset + off, sizeof(Elf64_Sym));
      if (s == nullptr) return std::nullopt;
      Elf64_Sym sym;
      std::memcpy(&sym, s, sizeof sym);
      if (sym.st_name >= dynstr->sh_size || sym.st_value == 0) continue;
      const char* name = at(dynstr->sh_offset + sym.st_name, 1);
      if (name == nullptr) return std::nullopt;
      const size_t max_len = dynstr->sh_size - sym.st_name;
      if (std::string(name, strnlen(name, max_len)) == symbol) {
        vaddr = sym.st_value;
        break;
      }
    }
  }
  if (!vaddr) return std::nullopt;
  for (uint64_t i = 0; i < eh.e_phnum; ++i) {
    const char* s = at(eh.e_phoff + i * sizeof(Elf64_Phdr), sizeof(Elf64_Phdr));
    if (s == nullptr) return std::nullopt;
    Elf64_Phdr ph;
    std::memcpy(&ph, s, sizeof ph);
    if (ph.p_type == PT_LOAD && *vaddr >= ph.p_vaddr && *vaddr < ph.p_vaddr + ph.p_filesz) {
      return *vaddr - ph.p_vaddr + ph.p_offset;
    }
  }
  return std::nullopt;
}

// One `atrium run` of a case, with what its launch record said.
struct Launch {
  ChildExit exit;
  std::optional<LaunchRecord> record;  // the newest launch after it (refreshed later)
};

// "SIGSEGV L0 crashed": exit, recovery level, outcome (" +crash" when the
// process crashed after the launch was marked good).
std::string Summary(const Launch& l) {
  std::string s = l.exit.Describe();
  if (!l.record) return s + " (no launch record)";
  s += " L" + std::to_string(l.record->level) + " " + LaunchOutcomeName(l.record->outcome);
  if (l.record->crashed_after_good) s += " +crash";
  return s;
}

std::string Summaries(const std::vector<Launch>& launches) {
  std::string s;
  for (const auto& l : launches) s += (s.empty() ? "" : "; ") + Summary(l);
  return s;
}

class GuardE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "atrium-guard-e2e-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << "mkdtemp: " << std::strerror(errno);
    root_ = tmpl;
    app_ = root_ + "/app";
    data_ = root_ + "/data";
    logs_ = root_ + "/logs";
    fs::create_directories(logs_);
    const std::string built = std::string(ATRIUM_SAMPLES_DIR) + "/wallet";
    ASSERT_TRUE(fs::exists(built + "/app.json")) << built << " is not built (target sample_wallet)";
    fs::copy(built, app_, fs::copy_options::recursive);

    // A fast guard: good 300 ms after idle, a hang after 1.5 s in one task.
    boost::json::value app = boost::json::parse(ReadFile(app_ + "/app.json"));
    app.as_object()["launch_guard"] = boost::json::parse(
        R"({"quiet_period_ms": 300,
            "watchdog": {"first_frame_ms": 20000, "main_loop_blocked_ms": 1500}})");
    std::ofstream(app_ + "/app.json", std::ios::trunc) << boost::json::serialize(app) << "\n";
  }

  void TearDown() override {
    if (HasFailure()) {
      std::printf("launches: %s\nlogs and data kept in %s\n", Summaries(launches_).c_str(),
                  root_.c_str());
      return;
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::string StateDb() const { return data_ + "/state.db"; }
  std::string PrivateDb(const std::string& bundle) const {
    return data_ + "/private/" + bundle + ".db";
  }
  static std::string Package(const std::string& name) {
    return std::string(ATRIUM_SAMPLES_DIR) + "/wallet-faults/" + name + ".atb";
  }

  LaunchHistory History() {
    auto h = ReadLaunchHistory(StateDb(), 50);
    EXPECT_TRUE(h.ok()) << h.error().ToString();
    return h.ok() ? *h : LaunchHistory{};
  }

  // Fills each launch's record from the newest history (outcomes are final
  // only once the next launch has closed a crashed one).
  void RefreshRecords() {
    LaunchHistory h = History();
    for (Launch& l : launches_) {
      if (!l.record) continue;
      for (const LaunchRecord& r : h.launches) {
        if (r.id == l.record->id) l.record = r;
      }
    }
  }

  // One `atrium run`; its launch record is the newest one if it is new.
  const Launch& RunApp() {
    Launch l;
    const int64_t newest_before = LatestLaunchId();
    l.exit = RunCli({"run", app_, "--data-dir", data_, "--quiet"}, logs_,
                    "run" + std::to_string(launches_.size()));
    LaunchHistory h = History();
    if (!h.launches.empty() && h.launches.front().id != newest_before) {
      l.record = h.launches.front();
    }
    launches_.push_back(std::move(l));
    RefreshRecords();
    return launches_.back();
  }

  int64_t LatestLaunchId() {
    if (!fs::exists(StateDb())) return 0;
    LaunchHistory h = History();
    return h.launches.empty() ? 0 : h.launches.front().id;
  }

  // A good launch: exit 0, level 0, outcome good.
  void ExpectNormalLaunch(const char* what) {
    SCOPED_TRACE(what);
    const Launch& l = RunApp();
    EXPECT_TRUE(l.exit.Exited(0)) << Summary(l) << "\n" << l.exit.Output();
    EXPECT_TRUE(l.record.has_value()) << "no launch record\n" << l.exit.Output();
    if (!l.record) return;
    EXPECT_EQ(l.record->level, 0) << Summary(l) << "\n" << l.exit.Output();
    EXPECT_EQ(l.record->outcome, LaunchOutcome::kGood) << Summary(l) << "\n" << l.exit.Output();
  }

  // Launch 0 (creates the data dir and the bundles' private stores), then a
  // marker in the bill bundle's private store and the account balance.
  void FirstLaunchAndMarker() {
    ExpectNormalLaunch("launch 0 (baseline)");
    std::random_device rd;
    marker_ = "marker-" + std::to_string(rd()) + "-" + std::to_string(rd());
    auto bill = PrivateStore::Open(PrivateDb(kBill));
    ASSERT_TRUE(bill.ok()) << bill.error().ToString();
    ASSERT_TRUE((*bill)->Put("guard_e2e_marker", marker_).ok());
    auto account = PrivateStore::Open(PrivateDb("com.wallet.account"));
    ASSERT_TRUE(account.ok()) << account.error().ToString();
    auto balance = (*account)->Get("balance_cents");
    ASSERT_TRUE(balance.ok()) << balance.error().ToString();
    balance_ = *balance;
  }

  void Install(const std::string& package) {
    ASSERT_TRUE(fs::exists(Package(package)))
        << Package(package) << " is not built (target sample_wallet_faults)";
    ChildExit e = RunCli({"install", app_, Package(package), "--data-dir", data_}, logs_,
                         "install-" + package);
    ASSERT_TRUE(e.Exited(0)) << e.Describe() << "\n" << e.Output();
  }

  // Launches until a launch exits 0 and is good, at most kMaxLaunches;
  // returns those launches.
  std::vector<Launch> LaunchUntilGood() {
    const size_t first = launches_.size();
    for (int i = 0; i < kMaxLaunches; ++i) {
      const Launch& l = RunApp();
      if (l.exit.Exited(0) && l.record && l.record->outcome == LaunchOutcome::kGood) break;
      if (l.exit.killed_by_test) break;  // a hang nobody ended: more launches would hang too
    }
    RefreshRecords();
    return {launches_.begin() + static_cast<ptrdiff_t>(first), launches_.end()};
  }

  std::optional<ArtifactRecord> Artifact(const std::string& id, const std::string& version) {
    auto store = ArtifactStore::Open({data_, {}, "com.test.app"});
    EXPECT_TRUE(store.ok()) << store.error().ToString();
    if (!store.ok()) return std::nullopt;
    auto list = (*store)->List();
    EXPECT_TRUE(list.ok()) << list.error().ToString();
    if (!list.ok()) return std::nullopt;
    for (const ArtifactRecord& r : *list) {
      if (r.kind == ArtifactKind::kNativeBundle && r.id == id && r.version == version) return r;
    }
    return std::nullopt;
  }

  // `version` of the bill bundle is disabled with a reason and the guard
  // says so in a level-1 action; returns the reason.
  std::string ExpectBillDisabled(const std::string& version) {
    std::optional<ArtifactRecord> r = Artifact(kBill, version);
    EXPECT_TRUE(r.has_value()) << kBill << "@" << version << " is not in the artifact store";
    if (!r) return "";
    EXPECT_EQ(r->state, ArtifactState::kDisabled) << ArtifactStateName(r->state);
    EXPECT_FALSE(r->reason.empty());
    const std::string ref = std::string(kBill) + "@" + version;
    LaunchHistory h = History();
    bool acted = false;
    std::string actions;
    for (const GuardAction& a : h.actions) {
      actions += "  L" + std::to_string(a.level) + " " + a.what + " (" + a.why + ")\n";
      acted |= a.level == 1 && a.what.find(ref) != std::string::npos;
    }
    EXPECT_TRUE(acted) << "no level-1 guard action names " << ref << "; actions:\n" << actions;
    return r->reason;
  }

  std::vector<StoredCrashReport> CrashReports() {
    auto r = ReadCrashReports(StateDb(), 50);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : std::vector<StoredCrashReport>{};
  }

  // The bundles' private data survived and the next launch is normal.
  void ExpectDataKeptAndNormalLaunch() {
    {
      auto bill = PrivateStore::Open(PrivateDb(kBill));
      ASSERT_TRUE(bill.ok()) << bill.error().ToString();
      auto marker = (*bill)->Get("guard_e2e_marker");
      ASSERT_TRUE(marker.ok()) << marker.error().ToString();
      EXPECT_EQ(*marker, std::optional<std::string>(marker_)) << "bill's private store lost data";
      // Launches never debit the account (only opening the bill page does).
      auto account = PrivateStore::Open(PrivateDb("com.wallet.account"));
      ASSERT_TRUE(account.ok()) << account.error().ToString();
      auto balance = (*account)->Get("balance_cents");
      ASSERT_TRUE(balance.ok()) << balance.error().ToString();
      EXPECT_EQ(*balance, balance_) << "account's private store changed";
    }
    ExpectNormalLaunch("the launch after recovery");
  }

  // The whole case's launches, for failure messages.
  std::string Trace() const { return "launches: " + Summaries(launches_); }

  // Checks a crash that the guard answers by disabling the update at once:
  // `exit` on the first launch, good at level 1 on the next.
  void CheckForegroundCrash(const std::string& package, const std::string& version, int sig,
                            const char* sig_name, bool first_launch = true) {
    if (first_launch) {
      ASSERT_NO_FATAL_FAILURE(FirstLaunchAndMarker());
    }
    ASSERT_NO_FATAL_FAILURE(Install(package));
    std::vector<Launch> seq = LaunchUntilGood();
    SCOPED_TRACE(Trace());
    EXPECT_EQ(Summaries(seq), std::string(sig_name) + " L0 crashed; exit 0 L1 good");
    ASSERT_FALSE(seq.empty());
    EXPECT_TRUE(seq[0].exit.Signaled(sig)) << seq[0].exit.Describe() << "\n"
                                           << seq[0].exit.Output();
    if (seq.size() >= 2) {
      EXPECT_TRUE(seq[1].exit.Exited(0)) << seq[1].exit.Output();
      EXPECT_EQ(seq.size(), 2u) << "recovery took more than one launch";
    }
    if (seq[0].record) {
      EXPECT_EQ(seq[0].record->outcome, LaunchOutcome::kCrashed);
      EXPECT_EQ(seq[0].record->blamed,
                std::optional<ArtifactRef>(ArtifactRef{"native_bundle", kBill, version}))
          << (seq[0].record->blamed ? ArtifactRefText(*seq[0].record->blamed) : "not blamed");
    }
    ExpectBillDisabled(version);

    std::vector<StoredCrashReport> reports = CrashReports();
    int native = 0;
    for (const auto& r : reports) native += r.kind == "native";
    EXPECT_EQ(native, 1);
    ASSERT_FALSE(reports.empty()) << "no crash report";
    const StoredCrashReport& r = reports.front();
    EXPECT_EQ(r.kind, "native");
    EXPECT_EQ(r.signal, sig);
    EXPECT_EQ(r.bundle, kBill) << r.summary;
    EXPECT_EQ(r.task, "register_routes") << r.summary;
    EXPECT_TRUE(r.foreground) << r.summary;

    ExpectDataKeptAndNormalLaunch();
  }

  std::string root_, app_, data_, logs_;
  std::string marker_;
  std::optional<std::string> balance_;
  std::vector<Launch> launches_;
};

TEST_F(GuardE2eTest, SegvInStartupTaskDisablesTheUpdate) {
  CheckForegroundCrash("bill-segv", "1.1.1", SIGSEGV, "SIGSEGV");
}

TEST_F(GuardE2eTest, AbortInStartupTaskDisablesTheUpdate) {
  CheckForegroundCrash("bill-abort", "1.1.2", SIGABRT, "SIGABRT");
}

// Before: crash.rec as a FIFO hung every start, as a dangling symlink made a
// file at its target, as a directory switched capture off on every launch.
TEST_F(GuardE2eTest, ACrashFileThatIsNotAFileNeitherHangsNorTurnsCaptureOff) {
  ASSERT_NO_FATAL_FAILURE(FirstLaunchAndMarker());
  const std::string rec = data_ + "/crash.rec", outside = root_ + "/outside.rec";
  const std::pair<const char*, std::function<void()>> cases[] = {
      {"fifo", [&] { ASSERT_EQ(mkfifo(rec.c_str(), 0600), 0); }},
      {"dangling symlink", [&] { fs::create_symlink(outside, rec); }},
      {"directory", [&] { fs::create_directories(rec + "/sub"); }},
  };
  for (const auto& [name, make] : cases) {
    fs::remove_all(rec);
    make();
    ExpectNormalLaunch(name);  // exit 0, level 0, good: no hang, no strike
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(rec))) << name;
    EXPECT_TRUE(fs::exists(fs::symlink_status(rec + ".rejected"))) << name;
  }
  EXPECT_FALSE(fs::exists(outside));
  // Capture is on: a real crash is recorded, blamed and recovered from.
  CheckForegroundCrash("bill-segv", "1.1.1", SIGSEGV, "SIGSEGV", /*first_launch=*/false);
}

TEST_F(GuardE2eTest, HungMainLoopIsRecordedAndTheUpdateDisabled) {
  ASSERT_NO_FATAL_FAILURE(FirstLaunchAndMarker());
  ASSERT_NO_FATAL_FAILURE(Install("bill-hang"));
  std::vector<Launch> seq = LaunchUntilGood();
  SCOPED_TRACE(Trace());
  EXPECT_EQ(Summaries(seq), "exit 70 L0 hung; exit 0 L1 good");
  ASSERT_FALSE(seq.empty());
  EXPECT_TRUE(seq[0].exit.Exited(kHangExitStatus)) << seq[0].exit.Describe() << "\n"
                                                   << seq[0].exit.Output();
  ExpectBillDisabled("1.1.3");

  std::vector<StoredCrashReport> reports = CrashReports();
  ASSERT_FALSE(reports.empty()) << "no hang report";
  EXPECT_EQ(reports.front().kind, "hang");
  EXPECT_EQ(reports.front().bundle, kBill) << reports.front().summary;
  EXPECT_EQ(reports.front().task, "block_main") << reports.front().summary;

  ExpectDataKeptAndNormalLaunch();
}

TEST_F(GuardE2eTest, LibraryCorruptedOnDiskFailsTheIntegrityCheck) {
  ASSERT_NO_FATAL_FAILURE(FirstLaunchAndMarker());
  ASSERT_NO_FATAL_FAILURE(Install("bill-ok"));
  ExpectNormalLaunch("the launch with bill 1.1.0");
  std::optional<ArtifactRecord> ok = Artifact(kBill, "1.1.0");
  ASSERT_TRUE(ok.has_value()) << "bill 1.1.0 is not in the artifact store";
  EXPECT_EQ(ok->state, ArtifactState::kActive) << ArtifactStateName(ok->state);

  // ud2 over the start of wallet_bill_route_table, which register_routes calls.
  std::string library;
  for (const auto& e : fs::directory_iterator(ok->dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("lib") && name.ends_with(".so")) library = e.path().string();
  }
  ASSERT_FALSE(library.empty()) << "no lib*.so in " << ok->dir;
  std::optional<uint64_t> offset = DynamicSymbolFileOffset(library, "wallet_bill_route_table");
  ASSERT_TRUE(offset.has_value()) << "wallet_bill_route_table not found in " << library;
  fs::permissions(library, fs::perms::owner_write, fs::perm_options::add);
  {
    std::fstream f(library, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.is_open()) << library;
    f.seekp(static_cast<std::streamoff>(*offset));
    for (int i = 0; i < 8; ++i) f.write("\x0f\x0b", 2);
    ASSERT_TRUE(f.good()) << "writing " << library;
  }

  std::vector<Launch> seq = LaunchUntilGood();
  SCOPED_TRACE(Trace());
  EXPECT_EQ(Summaries(seq), "SIGILL L0 crashed; exit 0 L1 good");
  ASSERT_FALSE(seq.empty());
  EXPECT_TRUE(seq[0].exit.Signaled(SIGILL)) << seq[0].exit.Describe() << "\n"
                                            << seq[0].exit.Output();
  const std::string reason = ExpectBillDisabled("1.1.0");
  EXPECT_NE(reason.find("integrity"), std::string::npos) << reason;
  std::vector<StoredCrashReport> reports = CrashReports();
  ASSERT_FALSE(reports.empty()) << "no crash report";
  EXPECT_EQ(reports.front().signal, SIGILL) << reports.front().summary;

  ExpectDataKeptAndNormalLaunch();
}

TEST_F(GuardE2eTest, PersistentBackgroundCrashAfterGoodLaunchDisablesTheUpdate) {
  ASSERT_NO_FATAL_FAILURE(FirstLaunchAndMarker());
  ASSERT_NO_FATAL_FAILURE(Install("bill-bgcrash"));
  std::vector<Launch> seq = LaunchUntilGood();
  SCOPED_TRACE(Trace());
  // Each crashing launch was good first; a one-time background crash is not
  // acted on, the same one on two consecutive launches is.
  EXPECT_EQ(Summaries(seq), "SIGSEGV L0 good +crash; SIGSEGV L0 good +crash; exit 0 L1 good");
  ASSERT_FALSE(seq.empty());
  EXPECT_TRUE(seq[0].exit.Signaled(SIGSEGV)) << seq[0].exit.Describe() << "\n"
                                             << seq[0].exit.Output();
  ExpectBillDisabled("1.1.4");

  std::vector<StoredCrashReport> reports = CrashReports();
  EXPECT_EQ(reports.size(), 2u);
  ASSERT_FALSE(reports.empty()) << "no crash report";
  for (const auto& r : reports) {
    EXPECT_FALSE(r.foreground) << r.summary;
    EXPECT_EQ(r.task, "late_crash") << r.summary;
  }
  EXPECT_TRUE(reports.front().persistent) << reports.front().summary;

  ExpectDataKeptAndNormalLaunch();
}

}  // namespace
}  // namespace atrium
