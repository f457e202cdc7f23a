// Crash capture: signal/terminate handlers (async-signal-safe part), the
// stack-request handler behind CaptureThreadStack, and the exit handler.
// See atrium/crash_capture.h; the symbolizer and signature:
// crash_symbolize.cc.
//
// The record layout: crash_record_format.h; the reader: crash_file.cc.
#include "atrium/crash_capture.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iterator>
#include <map>
#include <mutex>
#include <thread>
#include <typeinfo>

#include "atrium/guard/test_hooks.h"
#include "atrium/thread_activity.h"
#include "crash_file.h"
#include "crash_record_format.h"
#include "loaded_modules.h"

namespace atrium {
namespace {

using namespace crash_format;  // NOLINT: the layout constants

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

// ---- Module table: written outside the handler, read inside it. ----------
// Two buffers; RefreshModules fills the inactive one under g_modules_mu and
// publishes it. A handler reading while two refreshes race may see a
// half-written table: the worst outcome is a frame without a module.
struct ModuleEntry {
  uintptr_t start, end, bias;
  char path[kPathLen];
};
struct ModuleTable {
  int count;
  ModuleEntry entries[256];
};
ModuleTable g_tables[2];
std::atomic<int> g_active_table{-1};
std::mutex& ModulesMutex() {
  static auto* mu = new std::mutex;
  return *mu;
}

// ---- Handler state (all static, trivially constructed). -------------------
int g_fd = -1;
std::atomic<uint64_t> g_launch_id{0}, g_nonce{0};  // CrashBinding (Install, Bind)
std::atomic<bool> g_installed{false};
std::atomic<bool> g_foreground{false};
std::atomic<pid_t> g_owner{0};  // tid of the thread writing the record
std::atomic<void (*)()> g_hook{nullptr};
alignas(8) unsigned char g_buf[kMaxRecord];
void* g_backtrace[kMaxCrashFrames + 16];

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

template <typename T>
void Put(size_t off, T v) {
  std::memcpy(g_buf + off, &v, sizeof(v));
}

void PutText(size_t off, size_t cap, const char* s, size_t max_in) {
  size_t n = 0;
  while (n + 1 < cap && n < max_in && s[n] != '\0') ++n;
  std::memcpy(g_buf + off, s, n);
  std::memset(g_buf + off + n, 0, cap - n);
}

// The record being built (frames + the modules they reference).
struct Frames {
  int count = 0;
  int modules = 0;
  const ModuleEntry* module_of[kMaxCrashModules] = {};
};

// Maps `addr` to the module of the active table that holds it: returns the
// module's index in `f`'s list (added there on first use) and sets `offset`
// from its load bias; -1 when no module holds it or the list is full.
// Async-signal-safe; shared by the crash handler and CaptureThreadStack.
int ModuleIndex(Frames* f, uintptr_t addr, uint64_t* offset) {
  int index = -1;
  *offset = 0;
  int t = g_active_table.load(std::memory_order_acquire);
  if (t < 0) return -1;
  const ModuleTable& table = g_tables[t];
  for (int i = 0; i < table.count && i < 256; ++i) {
    const ModuleEntry& e = table.entries[i];
    if (addr < e.start || addr >= e.end) continue;
    for (int m = 0; m < f->modules; ++m) {
      if (f->module_of[m] == &e) index = m;
    }
    if (index < 0 && f->modules < kMaxCrashModules) {
      index = f->modules;
      f->module_of[f->modules++] = &e;
    }
    if (index >= 0) *offset = addr - e.bias;
    break;
  }
  return index;
}

// Where the interrupted thread's frames start in a backtrace taken inside a
// signal handler: just below `pc` (the interrupted PC from the ucontext),
// so the handler's own frames and the signal trampoline are dropped; -1
// when `pc` is 0 or not in the backtrace.
int FirstFrameBelow(void* const* backtrace, int n, uintptr_t pc) {
  if (pc == 0) return -1;
  for (int i = 0; i < n; ++i) {
    if (reinterpret_cast<uintptr_t>(backtrace[i]) == pc) return i + 1;
  }
  return -1;
}

// The thread's name for a record: its ThreadActivity name, else the
// kernel's (PR_GET_NAME). Async-signal-safe.
void ThreadNameOf(const ThreadActivity* a, char (&name)[17]) {
  std::memset(name, 0, sizeof(name));
  if (a->thread[0] != '\0') {
    std::memcpy(name, a->thread, std::min(sizeof(a->thread), sizeof(name) - 1));
  } else {
    prctl(PR_GET_NAME, name, 0, 0, 0);
  }
}

void AddFrame(Frames* f, uintptr_t addr) {
  if (f->count >= kMaxCrashFrames) return;
  uint64_t offset = 0;
  const int index = ModuleIndex(f, addr, &offset);
  size_t off = kFixedSize + kFrameSize * static_cast<size_t>(f->count);
  Put<uint64_t>(off, addr);
  Put<uint64_t>(off + 8, offset);
  Put<int32_t>(off + 16, index);
  Put<uint32_t>(off + 20, 0);
  ++f->count;
}

void WriteAll(const unsigned char* p, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = pwrite(g_fd, p + done, n - done, static_cast<off_t>(done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    done += static_cast<size_t>(w);
  }
}

// Finishes the record in g_buf (module table, header, checksum) and writes it.
void Commit(const Frames& f, uint32_t flags) {
  Put<uint32_t>(56, flags);
  Put<uint16_t>(60, static_cast<uint16_t>(f.count));
  Put<uint16_t>(62, static_cast<uint16_t>(f.modules));
  size_t off = kFixedSize + kFrameSize * static_cast<size_t>(f.count);
  for (int m = 0; m < f.modules; ++m) {
    Put<uint64_t>(off, f.module_of[m]->bias);
    PutText(off + 8, kPathLen, f.module_of[m]->path, kPathLen);
    off += kModuleSize;
  }
  std::memcpy(g_buf, kMagic, 4);
  Put<uint32_t>(4, kVersion);
  Put<uint32_t>(8, static_cast<uint32_t>(off));
  Put<uint32_t>(12, Crc32(g_buf + kHeaderSize, off - kHeaderSize));
  WriteAll(g_buf, off);
}

// Builds and writes the record. `pc` is the faulting PC (0 if unknown);
// `skip` is how many backtrace frames belong to the handler when `pc` is 0.
__attribute__((noinline)) void Capture(int signo, int code, uintptr_t fault, uintptr_t pc,
                                       uint32_t kind_flag, const char* what, int skip) {
  if (g_fd < 0) return;
  std::memset(g_buf, 0, kFixedSize);
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  Put<int32_t>(16, signo);
  Put<int32_t>(20, code);
  Put<uint64_t>(24, fault);
  Put<int32_t>(32, static_cast<int32_t>(getpid()));
  Put<int32_t>(36, static_cast<int32_t>(Tid()));
  Put<int64_t>(40, ts.tv_sec);
  Put<int64_t>(48, ts.tv_nsec);
  Put<uint64_t>(kLaunchIdOff, g_launch_id.load(std::memory_order_relaxed));
  Put<uint64_t>(kNonceOff, g_nonce.load(std::memory_order_relaxed));
  const ThreadActivity* a = CurrentThreadActivity();
  char name[17];
  ThreadNameOf(a, name);
  PutText(kThreadOff, kThreadLen, name, 16);
  PutText(kBundleOff, kTextLen, a->bundle, sizeof(a->bundle));
  PutText(kTaskOff, kTextLen, a->task, sizeof(a->task));
  PutText(kArtifactOff, kTextLen, a->artifact, sizeof(a->artifact));
  PutText(kMicroAppOff, kMicroAppLen, a->micro_app, sizeof(a->micro_app));
  if (what) PutText(kWhatOff, kWhatLen, what, kWhatLen);
  uint32_t flags = 0;
  if (g_foreground.load(std::memory_order_relaxed)) flags |= kFlagForeground;
  flags |= kind_flag;  // kFlagTerminate, kFlagExit or 0

  // Phase 1: no backtrace (unwinding a smashed stack may fault).
  Frames f;
  if (pc != 0) AddFrame(&f, pc);
  Commit(f, flags | kFlagPartial);

  if (auto hook = g_hook.load(std::memory_order_relaxed)) hook();

  // Phase 2: the full record. backtrace() was warmed up by Install.
  int n = backtrace(g_backtrace, static_cast<int>(std::size(g_backtrace)));
  int start = std::min(skip, n);
  if (pc != 0) {
    start = FirstFrameBelow(g_backtrace, n, pc);
    if (start < 0) start = n;  // keep only frame 0 unless the signal frame is found
  }
  for (int i = start; i < n; ++i) AddFrame(&f, reinterpret_cast<uintptr_t>(g_backtrace[i]));
  Commit(f, flags);
  fsync(g_fd);
}

[[noreturn]] void DieWith(int signo) {
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sigaction(signo, &sa, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  raise(signo);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  _exit(128 + signo);
}

// Returns when this thread owns the crash record. A re-entry (crash
// in the handler) dies at once; another thread's concurrent crash waits for
// the owner to kill the process, then dies itself.
void AcquireOrDie(int signo) {
  pid_t tid = Tid();
  pid_t expected = 0;
  if (g_owner.compare_exchange_strong(expected, tid)) return;
  if (expected != tid) {
    for (int i = 0; i < 100; ++i) {
      timespec d{0, 50 * 1000 * 1000};
      nanosleep(&d, nullptr);
    }
  }
  DieWith(signo);
}

uintptr_t PcOf(void* ucontext) {
  if (!ucontext) return 0;
  auto* uc = static_cast<ucontext_t*>(ucontext);
#if defined(__x86_64__)
  return static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  return static_cast<uintptr_t>(uc->uc_mcontext.pc);
#else
  (void)uc;
  return 0;
#endif
}

void OnSignal(int signo, siginfo_t* info, void* ucontext) {
  AcquireOrDie(signo);
  uintptr_t fault = 0;
  int code = info ? info->si_code : 0;
  if (info && code > 0 && signo != SIGABRT) fault = reinterpret_cast<uintptr_t>(info->si_addr);
  Capture(signo, code, fault, PcOf(ucontext), 0, nullptr, 2);
  DieWith(signo);
}

// Not a signal context: may rethrow to read what(), but still avoids the heap.
void OnTerminate() {
  AcquireOrDie(SIGABRT);
  char what[kWhatLen] = {};
  size_t n = 0;
  auto append = [&](const char* s) {
    while (s && *s && n + 1 < sizeof(what)) what[n++] = *s++;
  };
  if (const std::type_info* t = abi::__cxa_current_exception_type()) {
    append(t->name());
    try {
      throw;
    } catch (const std::exception& e) {
      append(": ");
      append(e.what());
    } catch (...) {
    }
  }
  Capture(SIGABRT, 0, 0, 0, kFlagTerminate, what, 2);
  DieWith(SIGABRT);
}

// exit() or quick_exit() called while a bundle's code runs on this thread
// (its Start, a startup task, a micro-app): recorded so the next launch
// blames it instead of seeing a clean exit. The host's own exit (no bundle
// on the thread) writes nothing. A record being written by a crashing
// thread is left alone.
void OnExit() {
  const ThreadActivity* a = CurrentThreadActivity();
  if (a == nullptr || a->bundle[0] == '\0') return;
  pid_t expected = 0;
  if (!g_owner.compare_exchange_strong(expected, Tid())) return;
  Capture(0, 0, 0, 0, kFlagExit, "exit() or quick_exit() called", 2);
}

struct AltStack {
  void* mem = nullptr;
  size_t size = 0;
  ~AltStack() {
    if (!mem) return;
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
    munmap(mem, size);
  }
};

// ---- Stack requests (CaptureThreadStack). ---------------------------------
// One request at a time (StackRequestMutex). g_stack_state is kStackIdle,
// the target's tid (requested), kStackWriting or kStackDone. The requester
// moves it from idle/done to the target's tid and signals the thread; the
// handler answers only if it wins tid -> kStackWriting with its own tid, so
// a late signal (after the requester gave up), a stray one, or one reaching
// another thread writes nothing.
//  1. g_stack is written only in state kStackWriting, by that one handler.
//  2. g_stack is read by the requester only after it saw kStackDone.
//  3. A requester that times out takes tid -> kStackIdle back; if the
//     handler is already writing, the state stays kStackWriting and the
//     next request waits for kStackDone first.
constexpr pid_t kStackIdle = 0, kStackWriting = -1, kStackDone = -2;

struct StackSnapshot {
  pid_t tid;
  uintptr_t pc;  // interrupted PC, 0 if unknown
  int depth;
  void* backtrace[kMaxCrashFrames + 16];
  timespec time;
  char thread[17];
  ThreadActivity activity;
};

std::atomic<pid_t> g_stack_state{kStackIdle};
StackSnapshot g_stack;

std::mutex& StackRequestMutex() {
  static auto* mu = new std::mutex;
  return *mu;
}

// Frames the stack-request handler puts in its backtrace above the
// interrupted code, when the interrupted PC is not found in it.
constexpr int kStackHandlerFrames = 2;

void OnStackRequest(int, siginfo_t*, void* ucontext) {
  const int saved_errno = errno;
  const pid_t tid = Tid();
  pid_t expected = tid;
  if (g_stack_state.compare_exchange_strong(expected, kStackWriting, std::memory_order_acq_rel)) {
    g_stack.tid = tid;
    g_stack.pc = PcOf(ucontext);
    clock_gettime(CLOCK_REALTIME, &g_stack.time);
    // backtrace() was warmed up by Install or CaptureThreadStack.
    g_stack.depth = backtrace(g_stack.backtrace, static_cast<int>(std::size(g_stack.backtrace)));
    const ThreadActivity* a = CurrentThreadActivity();
    std::memcpy(&g_stack.activity, a, sizeof(ThreadActivity));
    ThreadNameOf(a, g_stack.thread);
    g_stack_state.store(kStackDone, std::memory_order_release);
  }
  errno = saved_errno;
}

// The signal of stack requests; its handler is installed on first use.
int StackRequestSignal() {
  static const int signo = [] {
    const int sig = SIGRTMIN + 5;
    void* warm[4];
    backtrace(warm, 4);  // loads libgcc_s now, not in the handler
    struct sigaction sa {};
    sa.sa_sigaction = OnStackRequest;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
    return sig;
  }();
  return signo;
}

// Polls g_stack_state every millisecond until `pred` holds or `deadline` passes.
template <typename Pred>
bool PollStackState(const Pred& pred, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (pred(g_stack_state.load(std::memory_order_acquire))) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// The record of the answered request in g_stack (state kStackDone).
CrashRecord StackRecord() {
  CrashRecord r;
  r.signal = 0;
  r.pid = static_cast<int>(getpid());
  r.tid = static_cast<int>(g_stack.tid);
  r.time_sec = g_stack.time.tv_sec;
  r.time_nsec = g_stack.time.tv_nsec;
  r.foreground = g_foreground.load(std::memory_order_relaxed);
  auto text = [](const char* p, size_t cap) { return std::string(p, strnlen(p, cap)); };
  r.thread = text(g_stack.thread, sizeof(g_stack.thread));
  r.bundle = text(g_stack.activity.bundle, sizeof(g_stack.activity.bundle));
  r.task = text(g_stack.activity.task, sizeof(g_stack.activity.task));
  r.artifact = text(g_stack.activity.artifact, sizeof(g_stack.activity.artifact));
  r.micro_app = text(g_stack.activity.micro_app, sizeof(g_stack.activity.micro_app));
  r.waiting_for = text(g_stack.activity.waiting_for, sizeof(g_stack.activity.waiting_for));

  const int n =
      std::max(0, std::min(g_stack.depth, static_cast<int>(std::size(g_stack.backtrace))));
  int start = FirstFrameBelow(g_stack.backtrace, n, g_stack.pc);
  std::vector<uintptr_t> addresses;
  if (start >= 0) {
    addresses.push_back(g_stack.pc);
  } else {
    start = std::min(kStackHandlerFrames, n);
  }
  for (int i = start; i < n; ++i) {
    addresses.push_back(reinterpret_cast<uintptr_t>(g_stack.backtrace[i]));
  }
  if (addresses.size() > static_cast<size_t>(kMaxCrashFrames)) addresses.resize(kMaxCrashFrames);

  // Same mapping as the crash handler's, under the lock that keeps the
  // table's entries from being rewritten meanwhile.
  std::lock_guard<std::mutex> lock(ModulesMutex());
  Frames f;
  for (uintptr_t addr : addresses) {
    CrashFrame frame;
    frame.address = addr;
    frame.module = ModuleIndex(&f, addr, &frame.offset);
    r.frames.push_back(frame);
  }
  for (int m = 0; m < f.modules; ++m) {
    CrashModule mod;
    mod.path = f.module_of[m]->path;
    mod.base = f.module_of[m]->bias;
    r.modules.push_back(std::move(mod));
  }
  return r;
}

}  // namespace

Status CrashCapture::Install(const std::string& crash_file_path, CrashBinding binding) {
  if (g_installed.exchange(true)) {
    return MakeError(ErrorCode::kState, "crash capture is already installed");
  }
  Result<int> opened = internal::OpenCrashFileForRecords(crash_file_path);
  if (!opened.ok()) {
    g_installed = false;
    return opened.error();
  }
  const int fd = *opened;
  Bind(binding);
  g_fd = fd;
  RefreshModules();
  void* warm[4];
  backtrace(warm, 4);  // loads libgcc_s now, not in the handler
  PrepareThread();
  for (int signo : kSignals) {
    struct sigaction sa {};
    sa.sa_sigaction = OnSignal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(signo, &sa, nullptr);
  }
  std::set_terminate(OnTerminate);
  static const bool exit_handlers = [] {  // once per process, even after a test reset
    std::atexit(OnExit);
    std::at_quick_exit(OnExit);
    return true;
  }();
  (void)exit_handlers;
  return Status::Ok();
}

void CrashCapture::PrepareThread() {
  thread_local AltStack alt;
  CurrentThreadActivity();  // allocate the thread's record outside the handler
  if (alt.mem) return;
  size_t size = 64 * 1024;
  long min = sysconf(_SC_SIGSTKSZ);
  if (min > 0) size = std::max(size, static_cast<size_t>(min) * 4);
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;
  stack_t ss{};
  ss.ss_sp = mem;
  ss.ss_size = size;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(mem, size);
    return;
  }
  alt.mem = mem;
  alt.size = size;
}

void CrashCapture::RefreshModules() {
  std::lock_guard<std::mutex> lock(ModulesMutex());
  int next = g_active_table.load() == 0 ? 1 : 0;
  ModuleTable& t = g_tables[next];
  t.count = 0;
  internal::ForEachModule([&](const std::string& path, uintptr_t bias, uintptr_t lo, uintptr_t hi) {
    if (t.count >= static_cast<int>(std::size(t.entries))) return;
    ModuleEntry& e = t.entries[t.count++];
    e.start = lo;
    e.end = hi;
    e.bias = bias;
    size_t n = std::min(path.size(), kPathLen - 1);
    std::memcpy(e.path, path.data(), n);
    e.path[n] = '\0';
  });
  g_active_table.store(next, std::memory_order_release);
}

void CrashCapture::Bind(CrashBinding binding) {
  g_launch_id.store(binding.launch_id, std::memory_order_relaxed);
  g_nonce.store(binding.nonce, std::memory_order_relaxed);
}

void CrashCapture::SetForeground(bool foreground) { g_foreground.store(foreground); }

Result<CrashRecord> CaptureThreadStack(pid_t tid, std::chrono::milliseconds timeout) {
  if (tid <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid thread id " + std::to_string(tid));
  }
  const int signo = StackRequestSignal();
  if (g_active_table.load(std::memory_order_acquire) < 0) CrashCapture::RefreshModules();
  std::lock_guard<std::mutex> lock(StackRequestMutex());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // A handler of an earlier, timed-out request may still be writing.
  if (!PollStackState([](pid_t s) { return s != kStackWriting; }, deadline)) {
    return MakeError(ErrorCode::kState, "thread " + std::to_string(tid) +
                                            " did not answer within " +
                                            std::to_string(timeout.count()) +
                                            " ms (an earlier stack capture is still running)");
  }
  g_stack_state.store(tid, std::memory_order_release);
  if (syscall(SYS_tgkill, getpid(), tid, signo) != 0) {
    const int err = errno;
    g_stack_state.store(kStackIdle, std::memory_order_release);
    if (err == ESRCH) {
      return MakeError(ErrorCode::kNotFound,
                       "no thread " + std::to_string(tid) + " in this process");
    }
    return MakeError(ErrorCode::kInternal,
                     "tgkill(" + std::to_string(tid) + "): " + std::strerror(err));
  }
  if (!PollStackState([](pid_t s) { return s == kStackDone; }, deadline)) {
    pid_t expected = tid;
    // Taking the request back fails only when the handler has started
    // writing: wait a little for it, else leave it for the next request.
    if (g_stack_state.compare_exchange_strong(expected, kStackIdle) ||
        !PollStackState([](pid_t s) { return s == kStackDone; },
                        std::chrono::steady_clock::now() + std::chrono::milliseconds(100))) {
      return MakeError(ErrorCode::kState, "thread " + std::to_string(tid) +
                                              " did not answer within " +
                                              std::to_string(timeout.count()) + " ms");
    }
  }
  CrashRecord record = StackRecord();
  g_stack_state.store(kStackIdle, std::memory_order_release);
  return record;
}

}  // namespace atrium

namespace atrium::internal {
void SetCrashHookForTesting(void (*hook)()) { g_hook.store(hook); }

void ResetCrashCaptureForTesting() {
  if (g_fd >= 0) ::close(g_fd);
  g_fd = -1;
  g_installed = false;
}
}  // namespace atrium::internal
