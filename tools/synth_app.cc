// atrium-synth: writes a synthetic super-app for benchmarks and load tests.
//
//   atrium-synth <out-dir> --bundles N --needed M [--library PATH] [--seed S] [--force]
//
// N bundles are installed, M of them are needed by the launch (see
// bench/synthetic_app.h for the exact shape). Each bundle gets its own copy
// of the generic synthetic bundle library (default: the one this build made).
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <string>

#include "synthetic_app.h"

namespace po = boost::program_options;

#ifndef ATRIUM_SYNTHETIC_BUNDLE_LIBRARY
#error "ATRIUM_SYNTHETIC_BUNDLE_LIBRARY must name the generic synthetic bundle library"
#endif

int main(int argc, char** argv) {
  atrium::bench::SyntheticAppSpec spec;
  spec.library = ATRIUM_SYNTHETIC_BUNDLE_LIBRARY;
  po::options_description desc(
      "usage: atrium-synth <out-dir> --bundles N --needed M [options]\n"
      "Writes a synthetic app: app.json and bundles/bNNNN/{bundle.json, lib*.so}");
  desc.add_options()("help,h", "show this help")("bundles", po::value(&spec.bundles)->required(),
                                                 "N: bundles installed (1..9999)")(
      "needed", po::value(&spec.needed)->required(), "M: bundles the launch needs (1..N)")(
      "library", po::value(&spec.library),
      "generic synthetic bundle library to copy (default: this build's)")(
      "seed", po::value(&spec.seed)->default_value(1), "seed of the unneeded bundles' requires")(
      "force", po::bool_switch(&spec.replace),
      "replace app.json and bundles/ written by an earlier run");
  po::options_description hidden;
  hidden.add_options()("out-dir", po::value(&spec.out_dir)->required());
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("out-dir", 1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "atrium-synth: %s\n", e.what());
    std::cerr << desc << "\n";
    return 2;
  }

  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  auto progress = [&](uint32_t done, uint32_t total) {
    if (!tty) return;
    std::printf("\r[%" PRIu32 "/%" PRIu32 "]", done, total);
    std::fflush(stdout);
  };
  auto app = atrium::bench::WriteSyntheticApp(spec, progress);
  if (tty) std::printf("\n");
  if (!app.ok()) {
    std::fprintf(stderr, "atrium-synth: %s\n", app.error().ToString().c_str());
    return 1;
  }
  std::printf("wrote %s: app %s, %zu bundles, %" PRIu32 " needed by the launch\n", app->dir.c_str(),
              app->id.c_str(), app->bundles.size(), spec.needed);
  return 0;
}
