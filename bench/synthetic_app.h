// SyntheticApp: writes a super-app folder of N generated bundles, for
// benchmarks and load tests (`atrium-synth` is its command line; the bench
// calls it directly).
//
// Layout written under `out_dir`:
//   app.json                     id com.synthetic.app<N>, home "home",
//                                baseline = every bundle directory
//   bundles/b<NNNN>/bundle.json  name com.synthetic.b<NNNN>, version 1.0.0
//   bundles/b<NNNN>/lib<name>.so a *copy* of the generic synthetic bundle
//                                (glibc shares one mapping between hard
//                                links, since dlopen dedups by inode)
//
// Bundles 0..M-1 are the launch's needed set:
//  1. b0000 is eager, declares micro-app "home" (native, entry "Main") and
//     requires b0001..b0003; bundle i requires 3i+1..3i+3 (those < M), so
//     every needed bundle is reached through a tree of "^1.0.0" requires.
//  2. Needed bundles other than b0000 are lazy and declare no micro-app.
// Bundles M..N-1 are never needed by the launch:
//  3. lazy, micro-app "app<NNNN>" (native, entry "Main");
//  4. each requires 0-3 distinct earlier unneeded bundles, drawn from a
//     generator seeded by `seed`, so the index holds real edges and the same
//     seed always writes the same app.
// Every bundle provides "<name>.Service" (see synthetic_service.h). Every
// manifest is checked with the strict parser before it is written; app.json
// is written last, so an interrupted run leaves no openable app.
//
// Concurrency: WriteSyntheticApp touches only `out_dir`; calls on distinct
// directories may run concurrently.
#ifndef ATRIUM_BENCH_SYNTHETIC_APP_H_
#define ATRIUM_BENCH_SYNTHETIC_APP_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "atrium/result.h"

namespace atrium::bench {

struct SyntheticAppSpec {
  std::string out_dir;
  uint32_t bundles = 0;  // N installed bundles, 1..9999
  uint32_t needed = 0;   // M bundles the launch needs, 1..N
  std::string library;   // the generic synthetic bundle library to copy
  uint64_t seed = 1;
  // Remove app.json and bundles/ left in out_dir by an earlier run (nothing
  // else); without it a non-empty out_dir is an error.
  bool replace = false;
};

struct SyntheticBundle {
  std::string name;     // com.synthetic.b0042
  std::string dir;      // absolute, normalized
  std::string library;  // absolute path of the library copy
  bool needed = false;
  bool eager = false;
  std::vector<uint32_t> requires_;  // indices into SyntheticApp::bundles
};

struct SyntheticApp {
  std::string dir;  // absolute, normalized
  std::string id;
  std::vector<SyntheticBundle> bundles;
};

// Called after each bundle is written with (written, total).
using SyntheticProgress = std::function<void(uint32_t done, uint32_t total)>;

Result<SyntheticApp> WriteSyntheticApp(const SyntheticAppSpec& spec,
                                       const SyntheticProgress& progress = {});

}  // namespace atrium::bench

#endif  // ATRIUM_BENCH_SYNTHETIC_APP_H_
