// Crash capture: the part of the launch guard that records a native crash
// so the next launch can say what crashed and where.
//
// At startup the guard reads the previous launch's crash file
// (ReadCrashFile), turns it into a report (Symbolize, CrashSignature), and
// only then calls CrashCapture::Install, which truncates the file and keeps
// it open. On SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT or std::terminate the
// handler writes one binary record into that file with async-signal-safe
// code only (static buffers, pwrite, no malloc, no locks), then restores the
// default action and re-raises, so the process dies with the original signal.
//
// The record holds the signal, si_code, fault address, pid/tid, time, the
// foreground flag, the faulting thread's ThreadActivity (thread name,
// bundle, startup task, hotpatch, micro-app) and up to kMaxCrashFrames
// return addresses, each already mapped to a module + offset using a module
// table snapshotted outside the handler (Install / RefreshModules), so the
// record stays meaningful in a later process with a different ASLR layout.
//
// The handler writes in two phases: first a record without a backtrace
// (flag `partial`), then the full record. A crash inside the handler (a
// re-entry) is not handled again: the handler restores SIG_DFL and
// re-raises at once. The file then holds the phase-one record, or a torn
// one that fails its checksum.
//
// Concurrency: Install / PrepareThread / RefreshModules are called from
// normal (non-signal) context; Install once, early, on the main thread.
// SetForeground may be called from any thread. ReadCrashFile, Symbolize and
// CrashSignature are plain functions on value types. When two threads crash
// at once, the first one writes the record and the other waits for the
// process to die. CaptureThreadStack may be called from any thread; calls
// are serialized.
#ifndef ATRIUM_CRASH_CAPTURE_H_
#define ATRIUM_CRASH_CAPTURE_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

inline constexpr int kMaxCrashFrames = 64;
inline constexpr int kMaxCrashModules = 24;

// One return address; `module` indexes CrashRecord::modules, -1 when the
// address was in no module known to the module table.
struct CrashFrame {
  uint64_t address = 0;
  int module = -1;
  uint64_t offset = 0;  // address - module load bias
};

struct CrashModule {
  std::string path;
  uint64_t base = 0;  // load bias in the crashed process
};

// A parsed crash file.
struct CrashRecord {
  int signal = 0;              // 0: a live thread's stack (CaptureThreadStack)
  int code = 0;                // si_code
  uint64_t fault_address = 0;  // si_addr for fault signals, else 0
  int pid = 0;
  int tid = 0;
  int64_t time_sec = 0;  // CLOCK_REALTIME
  int64_t time_nsec = 0;
  bool foreground = false;
  bool from_terminate = false;  // std::terminate (recorded as SIGABRT)
  bool partial = false;         // handler did not finish: no backtrace
  bool from_exit = false;       // exit()/quick_exit() while a bundle ran (signal 0)
  uint64_t launch_id = 0;       // CrashBinding of the process that wrote it
  uint64_t nonce = 0;
  std::string thread, bundle, task, artifact, micro_app;  // artifact: "kind:id"
  // CaptureThreadStack only: the bundle the thread was waiting for while
  // another thread started or stopped it ("" when not waiting).
  std::string waiting_for;
  std::string what;                // std::terminate: exception type and what(), if any
  std::vector<CrashFrame> frames;  // frames[0] is the faulting PC when known
  std::vector<CrashModule> modules;
};

struct CrashReportFrame {
  uint64_t address = 0;         // in the crashed process
  std::string module;           // module path, "" when unknown
  uint64_t offset = 0;          // from the module's load bias
  std::string symbol;           // demangled, "" when unknown
  bool bundle_library = false;  // module lies under one of the bundle dirs
};

enum class CrashKind { kNative, kLua };

struct CrashReport {
  CrashRecord record;
  std::vector<CrashReportFrame> frames;
  CrashKind kind = CrashKind::kNative;
  bool foreground = false;
  std::string signature;  // CrashSignature(record)
};

// What ties a crash record to the launch that wrote it: the launch guard's
// id of the launch and a random number of its data directory (kept in
// state.db). The next launch ignores, and reports, a record whose binding is
// not its data dir's last launch: a crash file copied from another data dir
// or left from an older launch is not evidence against this one.
struct CrashBinding {
  uint64_t launch_id = 0;
  uint64_t nonce = 0;
};

class ATRIUM_EXPORT CrashCapture {
 public:
  // Opens (creating, truncating) `crash_file_path`, snapshots the module
  // table, warms up backtrace(), gives the calling thread an alternate
  // signal stack and installs the signal and terminate handlers, and an
  // atexit / at_quick_exit handler that records an exit() or quick_exit()
  // called while a bundle's code runs on the calling thread (its
  // ThreadActivity names a bundle; the host's own exit records nothing;
  // _exit() cannot be seen). Records
  // carry `binding`. The path must be a regular file with one link, or
  // absent: a symlink (never followed), FIFO, directory, device or a hard
  // link is renamed to "<path>.rejected" and a new file created in its place.
  // A second call fails with kState.
  static Status Install(const std::string& crash_file_path, CrashBinding binding = {});

  // The binding of records written from now on: a later launch in a
  // process whose capture is already installed (its records go to the file
  // Install opened; a reader of another data dir ignores them as foreign).
  static void Bind(CrashBinding binding);

  // Gives the calling thread an alternate signal stack (so a stack overflow
  // can be recorded) and allocates its ThreadActivity. Scheduler threads
  // call it when they start; idempotent.
  static void PrepareThread();

  // Re-snapshots the module table; the container calls it after dlopen so
  // frames in bundle libraries map to module + offset.
  static void RefreshModules();

  // Whether the app is in the foreground (launch not yet good, or a
  // micro-app open). Read by the handler.
  static void SetForeground(bool foreground);
};

// Records the stack of thread `tid` of this process while the process goes
// on (the hang watchdog's view of a blocked main thread). Sends the thread
// a real-time signal (SIGRTMIN + 5, its handler installed on first use)
// whose async-signal-safe handler copies its backtrace and ThreadActivity
// into a static snapshot, and waits up to `timeout` for the answer. The
// record is shaped like a crash's: signal 0, frames[0] the interrupted PC,
// the handler's own frames dropped, frames mapped to module + offset with
// the module table (snapshotted on first use when Install has not run), so
// Symbolize and CrashSignature work on it. It is not written to the crash
// file. One capture runs at a time; concurrent callers wait.
// kNotFound: no thread `tid` in this process. kState: the thread did not
// answer within `timeout` (it blocks the signal, or is stuck in the kernel).
ATRIUM_EXPORT Result<CrashRecord> CaptureThreadStack(pid_t tid, std::chrono::milliseconds timeout);

// Parses a crash file strictly. An empty or missing file is kNotFound (no
// crash); anything malformed is kCorrupt with the file and byte offset. A
// path that is not a regular file with one link (a symlink, which is not
// followed; a FIFO, which is never waited on; a directory; a hard link) is
// kIo, unread: no evidence of a crash.
ATRIUM_EXPORT Result<CrashRecord> ReadCrashFile(const std::string& path);
// Same, over bytes already in memory (`path` only names them in errors).
ATRIUM_EXPORT Result<CrashRecord> ParseCrashRecord(const std::string& bytes,
                                                   const std::string& path);

// Resolves symbols (dladdr on the module's current load address when the
// module is loaded in this process), classifies native/Lua and marks frames
// in modules under `bundle_dirs`.
ATRIUM_EXPORT CrashReport Symbolize(const CrashRecord& record,
                                    const std::vector<std::string>& bundle_dirs = {});

// Stable across runs and ASLR: a hash of the signal and the first frames as
// (module basename + offset), the handler's own frames and leading frames in
// the C/C++ runtime excluded (a captured stack's futex and condition-variable
// frames too). 16 hex digits.
ATRIUM_EXPORT std::string CrashSignature(const CrashRecord& record);

}  // namespace atrium

#endif  // ATRIUM_CRASH_CAPTURE_H_
