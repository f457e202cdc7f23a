// `atrium diff | apply` (see delta_commands.h).
//
// Concurrency: single-threaded; called from main().
#include "delta_commands.h"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/delta_package.h"
#include "atrium/package.h"

namespace po = boost::program_options;

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Kb(uint64_t bytes) { return static_cast<double>(bytes) / 1e3; }

double Percent(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

int Fail(const char* command, const std::string& message) {
  std::fprintf(stderr, "atrium %s: %s\n", command, message.c_str());
  return 1;
}

bool ParseArgs(int argc, char** argv, const po::options_description& options,
               const po::positional_options_description& positional, const char* command) {
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(),
              vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "atrium %s: %s\n", command, e.what());
    return false;
  }
  return true;
}

// Text from a package, made safe for a terminal (no escape sequences).
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7F ? '?' : c;
  }
  return out;
}

// Progress on a terminal: one line, redrawn at most every 100 ms.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  void Update(const atrium::DiffProgress& p) {
    if (!enabled_) return;
    auto now = Clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    drawn_ = true;
    std::string path(p.current_path.substr(0, 56));
    std::fprintf(stderr, "\r\033[K  diffing %zu/%zu  %s", p.done_entries + 1, p.total_entries,
                 Printable(path).c_str());
    std::fflush(stderr);
  }
  void Finish() {
    if (enabled_ && drawn_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point last_;
};

}  // namespace

int DiffMain(int argc, char** argv) {
  std::string base, target, out;
  int level = 0;
  po::options_description options;
  options.add_options()("base", po::value(&base))("target", po::value(&target))(
      "out,o", po::value(&out))("level", po::value(&level));
  po::positional_options_description positional;
  positional.add("base", 1).add("target", 1);
  if (!ParseArgs(argc, argv, options, positional, "diff") || base.empty() || target.empty() ||
      out.empty()) {
    std::fprintf(stderr,
                 "usage: atrium diff OLD.atb NEW.atb -o X.atd [--level 1..19]\n"
                 "  a delta package that rebuilds NEW.atb from OLD.atb (atrium apply);\n"
                 "  --level: the zstd level NEW.atb was packed with, if known\n");
    return 2;
  }
  atrium::DiffOptions opts;
  opts.target_level = level;
  ProgressLine progress(::isatty(STDERR_FILENO) != 0);
  opts.progress = [&progress](const atrium::DiffProgress& p) { progress.Update(p); };
  const auto t0 = Clock::now();
  auto stats = atrium::DiffPackages(base, target, out, opts);
  const auto t1 = Clock::now();
  progress.Finish();
  if (!stats.ok()) return Fail("diff", stats.error().ToString());

  std::printf("diff %s %s -> %s: %s\n", Printable(stats->id).c_str(),
              Printable(stats->base_version).c_str(), Printable(stats->target_version).c_str(),
              out.c_str());
  std::printf("  %-5s %12s %12s %12s %5s  %s\n", "op", "size", "frame", "stored", "level",
              "path [base]");
  for (const atrium::DeltaEntryStats& e : stats->entries) {
    std::string level_text = e.op == atrium::DeltaOp::kDelta ? std::to_string(e.level) : "-";
    std::string path = Printable(e.path);
    if (!e.base_path.empty() && e.base_path != e.path) path += " [" + Printable(e.base_path) + "]";
    std::printf("  %-5s %12llu %12llu %12llu %5s  %s\n", atrium::DeltaOpName(e.op),
                static_cast<unsigned long long>(e.size),
                static_cast<unsigned long long>(e.frame_size),
                static_cast<unsigned long long>(e.stored_size), level_text.c_str(), path.c_str());
  }
  std::printf(
      "  %zu entries: %zu same, %zu delta, %zu full; %zu base entries unused\n"
      "  %s: %.1f KB, %.1f%% of %s (%.1f KB); %.2f s\n",
      stats->entries.size(), stats->same, stats->delta, stats->full, stats->dropped, out.c_str(),
      Kb(stats->delta_size), Percent(stats->delta_size, stats->target_size), target.c_str(),
      Kb(stats->target_size), Seconds(t0, t1));
  return 0;
}

int ApplyMain(int argc, char** argv) {
  std::string base, atd, out;
  std::vector<std::string> pubkeys;
  po::options_description options;
  options.add_options()("base", po::value(&base))("delta", po::value(&atd))(
      "out,o", po::value(&out))("pubkey",
                                po::value<std::vector<std::string>>(&pubkeys)->composing());
  po::positional_options_description positional;
  positional.add("base", 1).add("delta", 1);
  if (!ParseArgs(argc, argv, options, positional, "apply") || base.empty() || atd.empty() ||
      out.empty() || pubkeys.empty()) {
    std::fprintf(
        stderr,
        "usage: atrium apply OLD.atb X.atd --pubkey P.pub [--pubkey Q.pub ...] -o NEW.atb\n"
        "  rebuilds the package X.atd describes from OLD.atb and checks its signature\n"
        "  and every entry before renaming it into place\n");
    return 2;
  }
  std::vector<atrium::PublicKey> keys;
  for (const std::string& path : pubkeys) {
    auto key = atrium::ReadPublicKeyFile(path);
    if (!key.ok()) return Fail("apply", key.error().ToString());
    keys.push_back(*key);
  }
  const auto t0 = Clock::now();
  auto stats = atrium::ApplyDeltaPackage(base, atd, keys, out);
  const auto t1 = Clock::now();
  if (!stats.ok()) return Fail("apply", stats.error().ToString());
  std::printf(
      "applied %s to %s -> %s: %s %s, signed by key %s, verified\n"
      "  %zu same, %zu delta, %zu full; %.1f KB delta -> %.1f KB package in %.2f s\n",
      atd.c_str(), base.c_str(), out.c_str(), Printable(stats->id).c_str(),
      Printable(stats->version).c_str(), atrium::KeyIdHex(stats->key_id).c_str(), stats->same,
      stats->delta, stats->full, Kb(stats->delta_size), Kb(stats->target_size), Seconds(t0, t1));
  return 0;
}
