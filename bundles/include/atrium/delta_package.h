// Delta packages (.atd): what an update ships when the device already holds
// the previous version of a signed package (.atb). `DiffPackages` compares a
// base package with a target package and writes, for each target entry, the
// cheapest way to rebuild its zstd frame from the base: copy an identical
// base frame, apply a binary delta to a base entry's content and recompress
// it at the level the target was packed with, or store the frame in full.
// The target's header, index, manifest and signature travel verbatim, so
// `ApplyDeltaPackage` rebuilds the target byte for byte and checks it
// against the target's own signature and hashes before anything uses it.
// The byte layout is specified in docs/package.md ("Delta packages").
//
//   auto stats = atrium::DiffPackages("greeter-1.0.atb", "greeter-1.1.atb",
//                                     "greeter-1.0-1.1.atd");
//   auto applied = atrium::ApplyDeltaPackage("greeter-1.0.atb", "greeter-1.0-1.1.atd",
//                                            trusted_keys, "greeter-1.1.atb");
//   if (!applied.ok()) { /* fetch the full greeter-1.1.atb instead */ }
//
// Trust: nothing in a .atd is trusted. Apply first checks the embedded
// target signature with `trusted_keys` (so every size, path and hash it then
// acts on is the signer's), then that the base is the file the delta was made
// from, rebuilds each frame and compares it with the target index, and
// finally opens the rebuilt file with PackageReader, verifies its signature
// and every entry. A rebuilt frame can legitimately differ when this build's
// zstd compresses differently from the one that wrote the target; the error
// says so, and the caller falls back to downloading the full package.
//
// Files: the output is written to `<out>.tmp` beside the target, fsync'd,
// verified, renamed over `<out>` and the directory fsync'd. On any failure
// the temporary file is removed and `<out>` is left as it was; the base is
// only read. One call per output path at a time (a stale `<out>.tmp` from a
// crash is replaced).
//
// Concurrency: the free functions are thread-safe and keep no shared state;
// the progress callback runs on the caller's thread.
#ifndef ATRIUM_DELTA_PACKAGE_H_
#define ATRIUM_DELTA_PACKAGE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/export.h"
#include "atrium/package.h"
#include "atrium/result.h"

namespace atrium {

// How a .atd rebuilds one target entry's frame. The values are the op byte.
enum class DeltaOp : uint8_t {
  kSame = 1,   // the base entry's frame is the target's frame: copied
  kDelta = 2,  // a binary delta of the base entry's content, recompressed
  kFull = 3,   // the target frame, stored in the .atd
};
// "same", "delta", "full".
ATRIUM_EXPORT const char* DeltaOpName(DeltaOp op);

struct DeltaEntryStats {
  std::string path;  // target entry
  DeltaOp op = DeltaOp::kFull;
  std::string base_path;     // same, delta: the base entry it is made from
  uint64_t size = 0;         // uncompressed bytes of the target entry
  uint64_t frame_size = 0;   // bytes of its frame in the target package
  uint64_t stored_size = 0;  // bytes the op carries in the .atd (its payload)
  int level = 0;             // delta: the zstd level the frame is rebuilt at
};

struct DeltaStats {
  std::string id;
  std::string base_version;
  std::string target_version;
  std::vector<DeltaEntryStats> entries;  // the target's, in index order
  size_t same = 0, delta = 0, full = 0;  // entries per op
  size_t dropped = 0;                    // base entries no op uses
  uint64_t base_size = 0;                // the base .atb, bytes
  uint64_t target_size = 0;              // the target .atb
  uint64_t delta_size = 0;               // the .atd
};

struct DiffProgress {
  size_t done_entries = 0;
  size_t total_entries = 0;
  std::string_view current_path;  // target entry being diffed
};

struct DiffOptions {
  // The zstd level the target was packed with, when known (1..19); 0: found
  // by recompressing each changed entry until its frame matches (the level
  // found for one entry is tried first for the next).
  int target_level = 0;
  // Called on the caller's thread before each entry; may be empty.
  std::function<void(const DiffProgress&)> progress;
};

// Writes a delta package at `out_atd` that rebuilds `target_atb` from
// `base_atb`. Both packages are opened and the entries read are checked
// against their hashes; signatures are not checked here (apply does).
// kInvalidArgument when the output would replace an input, kIo and the
// package reader's errors otherwise. Written atomically like the target.
ATRIUM_EXPORT Result<DeltaStats> DiffPackages(const std::string& base_atb,
                                              const std::string& target_atb,
                                              const std::string& out_atd,
                                              const DiffOptions& options = {});

struct ApplyStats {
  std::string id;
  std::string version;                   // of the rebuilt package
  KeyId key_id{};                        // that signed it (verified)
  size_t same = 0, delta = 0, full = 0;  // entries per op
  uint64_t delta_size = 0;               // the .atd, bytes
  uint64_t target_size = 0;              // the rebuilt .atb
};

// Rebuilds the target package of `atd` from `base_atb` into `out_atb` (see
// the file comment for the checks and the file handling). Errors name the
// .atd and a byte offset in it, or the rebuilt entry; kInvalidArgument for no
// keys, a wrong base or an output that would replace an input; kCorrupt when
// the .atd or a rebuilt frame fails a check (the message says when falling
// back to the full package is the way out); kIo.
ATRIUM_EXPORT Result<ApplyStats> ApplyDeltaPackage(const std::string& base_atb,
                                                   const std::string& atd,
                                                   std::span<const PublicKey> trusted_keys,
                                                   const std::string& out_atb);

}  // namespace atrium

#endif  // ATRIUM_DELTA_PACKAGE_H_
