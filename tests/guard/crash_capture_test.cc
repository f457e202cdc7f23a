// Crash capture: each crash runs in a forked child that installs the
// handlers and crashes; the parent checks how the child died and parses the
// crash file. Parser tests feed hostile bytes.
#include "atrium/crash_capture.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "atrium/guard/test_hooks.h"
#include "atrium/thread_activity.h"
#include "gtest/gtest.h"

namespace atrium {
namespace {

#if defined(ATRIUM_TEST_SANITIZED)
#define SKIP_UNDER_SANITIZERS() GTEST_SKIP() << "sanitizers own the crash signals"
#else
#define SKIP_UNDER_SANITIZERS() (void)0
#endif

constexpr uintptr_t kSegvAddress = 0x40;

std::string TempPath(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("atrium_crash_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::string SelfExe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

struct ChildOptions {
  bool foreground = true;
  std::string artifact;
  void (*hook)() = nullptr;
  CrashBinding binding;
};

ChildOptions Background() {
  ChildOptions o;
  o.foreground = false;
  return o;
}
ChildOptions WithPatch(std::string patch) {
  ChildOptions o;
  o.artifact = std::move(patch);
  return o;
}
ChildOptions WithHook(void (*hook)()) {
  ChildOptions o;
  o.hook = hook;
  return o;
}

// Forks a child that installs crash capture into `file` and runs `crash`;
// returns the child's wait status.
int RunCrashChild(void (*crash)(), const std::string& file, const ChildOptions& opts = {}) {
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);  // a hang in the handler dies with SIGALRM
    if (!CrashCapture::Install(file, opts.binding).ok()) _exit(90);
    CrashCapture::SetForeground(opts.foreground);
    internal::SetCrashHookForTesting(opts.hook);
    SetCurrentThreadName("crashy-main");
    ActivityScope bundle(ActivityField::kBundle, "com.test.crashy");
    ActivityScope task(ActivityField::kTask, "com.test.crashy:boom");
    ActivityScope patch(ActivityField::kArtifact, opts.artifact);
    crash();
    _exit(91);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

__attribute__((noinline)) void CrashSegvA() {
  volatile uintptr_t addr = kSegvAddress;
  *reinterpret_cast<volatile int*>(addr) = 1;
}
__attribute__((noinline)) void CrashSegvB() {
  volatile uintptr_t addr = kSegvAddress;
  *reinterpret_cast<volatile int*>(addr) = 2;
}
__attribute__((noinline)) void CrashAbort() { std::abort(); }
__attribute__((noinline)) void CrashFpe() {
  volatile int zero = 0;
  volatile int seven = 7;  // not 1: GCC turns 1 / x into compares
  volatile int x = seven / zero;
  (void)x;
}
__attribute__((noinline)) void CrashIll() { __builtin_trap(); }

volatile char* g_bus_page = nullptr;
__attribute__((noinline)) void CrashBus() {
  std::string path = TempPath("bus_file");
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ftruncate(fd, 4096) != 0) _exit(92);
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED || ftruncate(fd, 0) != 0) _exit(93);
  g_bus_page = static_cast<volatile char*>(p);
  g_bus_page[0] = 1;
}

__attribute__((noinline)) void Thrower() { throw std::runtime_error("boom from crashy"); }
__attribute__((noinline)) void NoexceptCaller() noexcept { Thrower(); }
void CrashTerminate() { NoexceptCaller(); }

volatile bool g_keep_recursing = true;
__attribute__((noinline)) int Recurse(int depth) {
  volatile char pad[512];
  pad[0] = static_cast<char>(depth);
  if (!g_keep_recursing) return pad[0];
  return Recurse(depth + 1) + pad[0];
}
void CrashStackOverflow() { Recurse(0); }

void CrashOnOtherThread() {
  std::thread t([] {
    CrashCapture::PrepareThread();
    SetCurrentThreadName("io-7");
    ActivityScope bundle(ActivityField::kBundle, "com.test.worker");
    CrashSegvA();
  });
  t.join();
}

void SegvHook() {
  volatile uintptr_t addr = 0x8;
  *reinterpret_cast<volatile int*>(addr) = 3;
}

CrashRecord ExpectCrash(void (*crash)(), int signo, const std::string& name,
                        const ChildOptions& opts = {}) {
  std::string file = TempPath(name);
  int status = RunCrashChild(crash, file, opts);
  EXPECT_TRUE(WIFSIGNALED(status)) << "status " << status;
  if (WIFSIGNALED(status)) {
    EXPECT_EQ(WTERMSIG(status), signo);
  }
  auto r = ReadCrashFile(file);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
  if (!r.ok()) return {};
  CrashRecord rec = *r;
  EXPECT_EQ(rec.signal, signo);
  EXPECT_EQ(rec.bundle, "com.test.crashy");
  EXPECT_EQ(rec.task, "com.test.crashy:boom");
  EXPECT_EQ(rec.thread, "crashy-main");
  EXPECT_EQ(rec.foreground, opts.foreground);
  EXPECT_FALSE(rec.partial);
  EXPECT_GE(rec.frames.size(), 3u);
  // Some frame lies in this test binary, and maps back into it here.
  const std::string exe = SelfExe();
  bool in_exe = false;
  for (const CrashFrame& f : rec.frames) {
    if (f.module < 0 || rec.modules[f.module].path != exe) continue;
    in_exe = true;
    Dl_info self{}, info{};
    EXPECT_TRUE(dladdr(reinterpret_cast<void*>(&ExpectCrash), &self));
    EXPECT_TRUE(dladdr(reinterpret_cast<void*>(f.address), &info));  // fork: same layout
    EXPECT_EQ(info.dli_fbase, self.dli_fbase);
  }
  EXPECT_TRUE(in_exe);
  return rec;
}

TEST(CrashCaptureTest, TheRecordCarriesTheLaunchItWasInstalledFor) {
  SKIP_UNDER_SANITIZERS();
  ChildOptions opts;
  opts.binding = {42, 0x0123456789abcdefull};
  CrashRecord rec = ExpectCrash(CrashSegvA, SIGSEGV, "bound", opts);
  EXPECT_EQ(rec.launch_id, 42u);
  EXPECT_EQ(rec.nonce, 0x0123456789abcdefull);
}

TEST(CrashCaptureTest, SegvRecordsFaultAddressAndActivity) {
  SKIP_UNDER_SANITIZERS();
  CrashRecord rec = ExpectCrash(CrashSegvA, SIGSEGV, "segv");
  EXPECT_EQ(rec.fault_address, kSegvAddress);
  EXPECT_EQ(rec.code, SEGV_MAPERR);
  EXPECT_EQ(rec.pid > 0, true);
  EXPECT_GT(rec.time_sec, 0);
  CrashReport report = Symbolize(rec, {std::filesystem::path(SelfExe()).parent_path().string()});
  EXPECT_EQ(report.kind, CrashKind::kNative);
  EXPECT_TRUE(report.foreground);
  ASSERT_FALSE(report.frames.empty());
  EXPECT_EQ(report.frames[0].module, SelfExe());  // frame 0 is the faulting PC
  EXPECT_TRUE(report.frames[0].bundle_library);
  EXPECT_EQ(report.signature, CrashSignature(rec));
}

TEST(CrashCaptureTest, Abort) {
  SKIP_UNDER_SANITIZERS();
  CrashRecord rec = ExpectCrash(CrashAbort, SIGABRT, "abort", Background());
  EXPECT_EQ(rec.fault_address, 0u);
  EXPECT_FALSE(rec.from_terminate);
}

TEST(CrashCaptureTest, IntegerDivisionByZero) {
  SKIP_UNDER_SANITIZERS();
  CrashRecord rec = ExpectCrash(CrashFpe, SIGFPE, "fpe");
  EXPECT_EQ(rec.code, FPE_INTDIV);
}

#if defined(__x86_64__)
TEST(CrashCaptureTest, IllegalInstruction) {
  SKIP_UNDER_SANITIZERS();
  ExpectCrash(CrashIll, SIGILL, "ill");
}
#endif

TEST(CrashCaptureTest, BusErrorOnTruncatedMapping) {
  SKIP_UNDER_SANITIZERS();
  CrashRecord rec = ExpectCrash(CrashBus, SIGBUS, "bus");
  EXPECT_NE(rec.fault_address, 0u);
  EXPECT_EQ(rec.code, BUS_ADRERR);
}

TEST(CrashCaptureTest, UncaughtExceptionInNoexcept) {
  SKIP_UNDER_SANITIZERS();
  CrashRecord rec = ExpectCrash(CrashTerminate, SIGABRT, "terminate");
  EXPECT_TRUE(rec.from_terminate);
  EXPECT_NE(rec.what.find("runtime_error"), std::string::npos) << rec.what;
  EXPECT_NE(rec.what.find("boom from crashy"), std::string::npos) << rec.what;
}

TEST(CrashCaptureTest, StackOverflowUsesAlternateStack) {
  SKIP_UNDER_SANITIZERS();
  CrashRecord rec = ExpectCrash(CrashStackOverflow, SIGSEGV, "overflow");
  EXPECT_NE(rec.fault_address, 0u);
}

TEST(CrashCaptureTest, CrashOnAnotherThreadRecordsThatThread) {
  SKIP_UNDER_SANITIZERS();
  std::string file = TempPath("thread");
  int status = RunCrashChild(CrashOnOtherThread, file);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  auto r = ReadCrashFile(file);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->thread, "io-7");
  EXPECT_EQ(r->bundle, "com.test.worker");
  EXPECT_EQ(r->task, "");
}

TEST(CrashCaptureTest, LuaWhenAHotpatchIsCurrent) {
  SKIP_UNDER_SANITIZERS();
  CrashRecord rec = ExpectCrash(CrashAbort, SIGABRT, "lua", WithPatch("lua_patch:patch-42"));
  EXPECT_EQ(rec.artifact, "lua_patch:patch-42");
  EXPECT_EQ(Symbolize(rec).kind, CrashKind::kLua);
}

TEST(CrashCaptureTest, SignatureIsStableAndSiteSpecific) {
  SKIP_UNDER_SANITIZERS();
  std::string sigs[2];
  for (int i = 0; i < 2; ++i) {
    sigs[i] = CrashSignature(ExpectCrash(CrashSegvA, SIGSEGV, "same" + std::to_string(i)));
  }
  EXPECT_EQ(sigs[0], sigs[1]);
  EXPECT_EQ(sigs[0].size(), 16u);
  for (int i = 0; i < 1; ++i) {
    EXPECT_NE(CrashSignature(ExpectCrash(CrashSegvB, SIGSEGV, "other")), sigs[0]);
  }
  // Different signal, same process layout: different signature.
  EXPECT_NE(CrashSignature(ExpectCrash(CrashAbort, SIGABRT, "abort2")), sigs[0]);
}

// A crash inside the handler must not hang or loop: the process dies by a
// signal and the file holds the phase-one record or fails its checksum.
void ExpectSurvivableHandlerCrash(void (*crash)(), const std::string& name, int first_signal) {
  std::string file = TempPath(name);
  int status = RunCrashChild(crash, file, WithHook(SegvHook));
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_NE(WTERMSIG(status), SIGALRM) << "handler hung";
  auto r = ReadCrashFile(file);
  if (r.ok()) {
    EXPECT_TRUE(r->partial);
    EXPECT_EQ(r->signal, first_signal);
    EXPECT_EQ(r->bundle, "com.test.crashy");
  } else {
    EXPECT_EQ(r.error().code, ErrorCode::kCorrupt) << r.error().ToString();
  }
}

TEST(CrashCaptureTest, CrashInsideHandlerAfterAbort) {
  SKIP_UNDER_SANITIZERS();
  ExpectSurvivableHandlerCrash(CrashAbort, "nested_abort", SIGABRT);
}

TEST(CrashCaptureTest, CrashInsideHandlerAfterSegv) {
  SKIP_UNDER_SANITIZERS();
  ExpectSurvivableHandlerCrash(CrashSegvA, "nested_segv", SIGSEGV);
}

TEST(CrashCaptureTest, SecondInstallFails) {
  SKIP_UNDER_SANITIZERS();
  pid_t pid = fork();
  if (pid == 0) {
    std::string file = TempPath("twice");
    bool first = CrashCapture::Install(file).ok();
    Status second = CrashCapture::Install(file);
    _exit(first && !second.ok() && second.error().code == ErrorCode::kState ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// ---- Capturing a live thread's stack ----------------------------------------
// In this process, without sanitizers skipping: a capture is not fatal.

using namespace std::chrono_literals;

// Where BlockedInKnownFunction's call returns to: a frame of every capture
// of a thread blocked there. The executable is not linked with -rdynamic,
// so dladdr cannot name its functions; the frame is found by address.
std::atomic<uintptr_t> g_return_into_blocked{0};

struct BlockState {
  std::mutex mu;
  std::condition_variable cv;
  bool waiting = false;
  bool release = false;
};

__attribute__((noinline)) void WaitForRelease(BlockState* b) {
  g_return_into_blocked.store(reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
  std::unique_lock<std::mutex> lock(b->mu);
  b->waiting = true;
  b->cv.notify_all();
  b->cv.wait(lock, [b] { return b->release; });
}

__attribute__((noinline)) void BlockedInKnownFunction(BlockState* b) {
  WaitForRelease(b);
  asm volatile("" ::: "memory");  // not a tail call: the return address stays
}

// A thread with a known activity, blocked in BlockedInKnownFunction until
// destroyed. `block_request`: it blocks the stack-request signal.
class BlockedThread {
 public:
  explicit BlockedThread(bool block_request = false) {
    thread_ = std::thread([this, block_request] {
      if (block_request) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGRTMIN + 5);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
      }
      SetCurrentThreadName("blocked-1");
      ActivityScope bundle(ActivityField::kBundle, "com.test.blocked");
      ActivityScope task(ActivityField::kTask, "com.test.blocked:wait");
      ActivityScope patch(ActivityField::kArtifact, "lua_patch:patch-7");
      ActivityScope app(ActivityField::kMicroApp, "wallet");
      tid_ = gettid();
      BlockedInKnownFunction(&state_);
    });
    std::unique_lock<std::mutex> lock(state_.mu);
    state_.cv.wait(lock, [this] { return state_.waiting; });
  }
  ~BlockedThread() {
    {
      std::lock_guard<std::mutex> lock(state_.mu);
      state_.release = true;
    }
    state_.cv.notify_all();
    thread_.join();
  }
  pid_t tid() const { return tid_.load(); }

 private:
  BlockState state_;
  std::atomic<pid_t> tid_{0};
  std::thread thread_;
};

// The frame that returns into BlockedInKnownFunction, or null.
const CrashFrame* BlockedFrame(const CrashRecord& rec) {
  for (const CrashFrame& f : rec.frames) {
    if (f.address == g_return_into_blocked.load()) return &f;
  }
  return nullptr;
}

TEST(CaptureThreadStackTest, BlockedThreadsFramesAndActivity) {
  BlockedThread blocked;
  auto r = CaptureThreadStack(blocked.tid(), 10s);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const CrashRecord& rec = *r;
  EXPECT_EQ(rec.signal, 0);
  EXPECT_EQ(rec.code, 0);
  EXPECT_EQ(rec.fault_address, 0u);
  EXPECT_EQ(rec.tid, blocked.tid());
  EXPECT_EQ(rec.pid, getpid());
  EXPECT_GT(rec.time_sec, 0);
  EXPECT_FALSE(rec.partial);
  EXPECT_EQ(rec.thread, "blocked-1");
  EXPECT_EQ(rec.bundle, "com.test.blocked");
  EXPECT_EQ(rec.task, "com.test.blocked:wait");
  EXPECT_EQ(rec.artifact, "lua_patch:patch-7");
  EXPECT_EQ(rec.micro_app, "wallet");
  ASSERT_GE(rec.frames.size(), 3u);

  // The return into BlockedInKnownFunction, mapped to this executable.
  const CrashFrame* frame = BlockedFrame(rec);
  ASSERT_NE(frame, nullptr);
  ASSERT_GE(frame->module, 0);
  EXPECT_EQ(rec.modules[static_cast<size_t>(frame->module)].path, SelfExe());
  Dl_info self{};
  ASSERT_TRUE(dladdr(reinterpret_cast<void*>(&BlockedInKnownFunction), &self));
  EXPECT_EQ(frame->offset, frame->address - reinterpret_cast<uintptr_t>(self.dli_fbase));

  CrashReport report = Symbolize(rec);
  ASSERT_EQ(report.frames.size(), rec.frames.size());
  // The handler's frames (in this executable: atrium_core is linked in) are
  // dropped: the stack starts where the thread was interrupted, in the
  // C runtime's wait.
  EXPECT_NE(report.frames[0].module, SelfExe());
  bool in_wait = false;
  for (const CrashReportFrame& f : report.frames) {
    if (f.symbol.find("pthread_cond_wait") != std::string::npos ||
        f.symbol.find("condition_variable::wait") != std::string::npos) {
      in_wait = true;
    }
  }
  EXPECT_TRUE(in_wait);
  EXPECT_EQ(report.signature, CrashSignature(rec));
  EXPECT_EQ(report.signature.size(), 16u);
}

TEST(CaptureThreadStackTest, RepeatableAndStable) {
  BlockedThread blocked;
  std::string signature;
  for (int i = 0; i < 20; ++i) {
    auto r = CaptureThreadStack(blocked.tid(), 10s);
    ASSERT_TRUE(r.ok()) << "capture " << i << ": " << r.error().ToString();
    EXPECT_EQ(r->tid, blocked.tid());
    EXPECT_EQ(r->bundle, "com.test.blocked");
    EXPECT_NE(BlockedFrame(*r), nullptr) << "capture " << i;
    if (i == 0) signature = CrashSignature(*r);
    EXPECT_EQ(CrashSignature(*r), signature) << "capture " << i;
  }
}

TEST(CaptureThreadStackTest, ConcurrentCallersAreServedOneAtATime) {
  BlockedThread a, b;
  std::atomic<int> ok{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      const pid_t tid = c % 2 == 0 ? a.tid() : b.tid();
      for (int i = 0; i < 5; ++i) {
        auto r = CaptureThreadStack(tid, 10s);
        if (r.ok() && r->tid == tid && BlockedFrame(*r) != nullptr) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(ok.load(), 20);
}

TEST(CaptureThreadStackTest, CallingThreadCanCaptureItself) {
  ActivityScope bundle(ActivityField::kBundle, "com.test.self");
  auto r = CaptureThreadStack(gettid(), 10s);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->tid, gettid());
  EXPECT_EQ(r->bundle, "com.test.self");
  EXPECT_FALSE(r->frames.empty());
}

TEST(CaptureThreadStackTest, ThreadThatDoesNotExistIsNotFound) {
  // Thread ids are below pid_max, so pid_max names no thread (a joined
  // thread's tid would not do: its task can outlive the join for a moment).
  std::ifstream pid_max_file("/proc/sys/kernel/pid_max");
  long pid_max = 0;
  ASSERT_TRUE(pid_max_file >> pid_max);
  const std::atomic<pid_t> gone{static_cast<pid_t>(pid_max)};
  auto r = CaptureThreadStack(gone.load(), 1s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound) << r.error().ToString();
  EXPECT_NE(r.error().message.find(std::to_string(gone.load())), std::string::npos);

  auto bad = CaptureThreadStack(0, 1s);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TEST(CaptureThreadStackTest, ThreadThatDoesNotAnswerTimesOutAndLaterCapturesWork) {
  {
    BlockedThread deaf(/*block_request=*/true);
    auto r = CaptureThreadStack(deaf.tid(), 50ms);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kState);
    EXPECT_EQ(r.error().message,
              "thread " + std::to_string(deaf.tid()) + " did not answer within 50 ms");
  }  // the thread ends with the request pending: nothing is written for it
  BlockedThread blocked;
  auto r = CaptureThreadStack(blocked.tid(), 10s);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->tid, blocked.tid());
  EXPECT_NE(BlockedFrame(*r), nullptr);
}

// Frames of a module not loaded in this process are named from the file's
// own symbol table; hostile module paths give no name and no harm.
TEST(SymbolizeTest, NamesFramesFromTheModulesSymbolTable) {
  const std::string lib = std::string(ATRIUM_TEST_BUNDLES_DIR) + "/staged/libfixture_staged.so";
  uint64_t entry_offset = 0;
  {
    void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(h, nullptr) << dlerror();
    void* entry = dlsym(h, "atrium_bundle_entry");
    Dl_info info{};
    ASSERT_NE(entry, nullptr);
    ASSERT_NE(dladdr(entry, &info), 0);
    entry_offset = reinterpret_cast<uintptr_t>(entry) - reinterpret_cast<uintptr_t>(info.dli_fbase);
    dlclose(h);
  }
  char tmpl[] = "/tmp/atrium-symbolize-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string copy = dir + "/libcopy.so";  // same bytes, never loaded
  std::filesystem::copy_file(lib, copy);
  const std::string truncated = dir + "/libtruncated.so";
  {
    std::ifstream in(lib, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  }
  CrashRecord record;
  record.signal = SIGSEGV;
  for (const std::string& path : {copy, truncated, std::string("/dev/zero"), dir}) {
    record.modules.push_back({path, 0x7f0000000000});
  }
  for (int m = 0; m < 4; ++m) {
    // frames[0] is the faulting PC itself (no return-address adjustment).
    record.frames.push_back({0x7f0000000000 + entry_offset, m, entry_offset});
  }
  CrashReport report = Symbolize(record, {dir});
  ASSERT_EQ(report.frames.size(), 4u);
  EXPECT_EQ(report.frames[0].symbol, "atrium_bundle_entry");
  EXPECT_TRUE(report.frames[0].bundle_library);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(report.frames[i].symbol, "") << report.frames[i].module;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace atrium
