// delta_bench: the delta engine (bundles/src/delta.h) against bsdiff 4.3
// (Debian's bsdiff package), measured in the same run on the same pairs.
//
//   delta_bench [--quick] [--json=PATH] [--data=DIR] [--no-fetch] [--keep]
//
// Pairs (old -> new):
//  - libcrypto.so.3, libssl.so.3 (libssl3 3.0.20-1~deb12u2 -> 3.0.22-1~deb12u2)
//    and libcurl.so.4.8.0 (libcurl4 7.88.1-10+deb12u5 -> +deb12u15): fetched
//    once by bench/fetch_delta_pairs.sh into DIR (default
//    <build>/bench-data); skipped, saying so, when they cannot be fetched
//    (or are missing with --no-fetch), and always with --quick;
//  - a sample bundle library built twice by CMake with one function body
//    changed (bench/delta_sample_bundle.cc), stripped;
//  - an H5-like asset tree (HTML, JS, CSS, PNG-like files, about 2 MB,
//    generated deterministically), a few files edited, one replaced, one
//    added; the files are concatenated tar-style into one pair.
// For each pair: the size of our delta (EncodeDelta picking the smallest
// method), of a plain zstd patch-from delta (our kPatchFrom method) and of
// the bsdiff patch, as % of the new file; and the time to apply, as CPU
// time (so that other processes on a busy machine do not inflate it; wall
// clock goes to the JSON): ours is ApplyDelta in this process (hashing both
// files included), median of N; bspatch has no library in Debian, so it
// runs as a process writing to /dev/null (its CPU time from wait4), and its
// in-process time is estimated as
//   median(bspatch on the pair) - median(bspatch on a 1-byte pair)
//                               - median(reading old file + patch in-process)
// i.e. without process start-up, dynamic linking and file reading. Samples
// of ours and bspatch are interleaved. Targets (not asserted): our delta no
// larger than bsdiff's on every pair, apply at least 3x faster than bspatch.
// The exit code is 0 unless the bench itself could not run.
//
// Single-threaded; bsdiff and bspatch run as child processes.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "bench_util.h"
#include "delta.h"

extern char** environ;

namespace fs = std::filesystem;

#ifndef ATRIUM_DELTA_SAMPLE_OLD
#error "ATRIUM_DELTA_SAMPLE_OLD must name the first build of the sample bundle library"
#endif

namespace atrium::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kSizeTarget = 1.0;     // ours / bsdiff
constexpr double kSpeedupTarget = 3.0;  // bspatch / ours

struct BenchConfig {
  bool quick = false;
  bool fetch = true;
  bool keep = false;
  std::string json_path;
  std::string data_dir = ATRIUM_DELTA_BENCH_DATA_DIR;
  int apply_samples = 21;
  int bspatch_samples = 11;
};

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) Fail("cannot write " + path.string());
}

double ThreadCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Runs argv[0] (looked up on PATH) with stdout and stderr to /dev/null;
// true when it exits 0. *cpu_ms gets the child's user + system time.
bool Run(const std::vector<std::string>& args, double* cpu_ms = nullptr) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return false;
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid) return false;
  if (cpu_ms != nullptr) {
    *cpu_ms = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
              (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

struct Timing {
  double cpu_ms = 0, wall_ms = 0;
};

// The child's CPU time and the wall-clock time of running `args`.
Timing TimedRun(const std::vector<std::string>& args) {
  Timing t;
  const auto t0 = Clock::now();
  if (!Run(args, &t.cpu_ms)) Fail("command failed: " + args[0] + " " + args[1]);
  t.wall_ms = Ms(t0, Clock::now());
  return t;
}

struct Pair {
  std::string name;
  std::string old_bytes, new_bytes;
};

// ---------------------------------------------------------------------------
// Pairs

// The real libraries; empty (with a message) when not available.
std::vector<Pair> RealPairs(const BenchConfig& config) {
  if (config.quick) {
    std::printf("--quick: generated pairs only (the real library pairs are skipped)\n");
    return {};
  }
  struct Spec {
    const char* file;
    const char* old_dir;
    const char* new_dir;
  };
  static constexpr Spec kSpecs[] = {
      {"libcrypto.so.3", "libssl3_3.0.20-1~deb12u2", "libssl3_3.0.22-1~deb12u2"},
      {"libssl.so.3", "libssl3_3.0.20-1~deb12u2", "libssl3_3.0.22-1~deb12u2"},
      {"libcurl.so.4.8.0", "libcurl4_7.88.1-10+deb12u5", "libcurl4_7.88.1-10+deb12u15"},
  };
  const fs::path dir = config.data_dir;
  auto path = [&](const char* pkg, const char* file) {
    return dir / pkg / "usr/lib/x86_64-linux-gnu" / file;
  };
  auto all_present = [&] {
    for (const Spec& s : kSpecs) {
      if (!fs::exists(path(s.old_dir, s.file)) || !fs::exists(path(s.new_dir, s.file))) {
        return false;
      }
    }
    return true;
  };
  if (!all_present() && config.fetch) {
    std::printf("fetching the Debian packages into %s (bench/fetch_delta_pairs.sh)...\n",
                dir.c_str());
    std::fflush(stdout);
    if (!Run({"sh", ATRIUM_FETCH_DELTA_PAIRS, dir.string()})) {
      std::printf("  fetch failed (no network or apt sources without these versions?)\n");
    }
  }
  std::vector<Pair> pairs;
  for (const Spec& s : kSpecs) {
    const fs::path o = path(s.old_dir, s.file), n = path(s.new_dir, s.file);
    if (!fs::exists(o) || !fs::exists(n)) {
      std::printf(
          "skipping %s: %s or %s missing (run bench/fetch_delta_pairs.sh %s with "
          "network)\n",
          s.file, o.c_str(), n.c_str(), dir.c_str());
      continue;
    }
    pairs.push_back({s.file, ReadFile(o), ReadFile(n)});
  }
  return pairs;
}

Pair SampleBundlePair() {
  return {"sample bundle .so (1 fn changed)", ReadFile(ATRIUM_DELTA_SAMPLE_OLD),
          ReadFile(ATRIUM_DELTA_SAMPLE_NEW)};
}

// Deterministic text in the style of `kind` (html, js, css).
std::string TextFile(std::mt19937& rng, const std::string& kind, size_t size) {
  static const std::vector<std::string> kHtml = {"<div class=\"card\">",
                                                 "</div>",
                                                 "<p>",
                                                 "</p>",
                                                 "<span class=\"price\">",
                                                 "</span>",
                                                 "<a href=\"/bill/",
                                                 "\">",
                                                 "</a>",
                                                 "<li>",
                                                 "</li>",
                                                 "Transfer",
                                                 "Balance",
                                                 "Account",
                                                 "Pay now",
                                                 "\n  ",
                                                 "<img src=\"img/",
                                                 ".png\" alt=\"\">",
                                                 "&nbsp;",
                                                 "<h2>",
                                                 "</h2>"};
  static const std::vector<std::string> kJs = {"function ",
                                               "const ",
                                               "let ",
                                               "return ",
                                               "=>",
                                               "{",
                                               "}",
                                               "(",
                                               ")",
                                               ";",
                                               "await ",
                                               "fetch(",
                                               "'/api/v1/",
                                               "JSON.parse(",
                                               "this.state.",
                                               "if (",
                                               " === ",
                                               "null",
                                               "\n",
                                               "document.querySelector(",
                                               "addEventListener('click', ",
                                               "amount",
                                               "account",
                                               "render"};
  static const std::vector<std::string> kCss = {".card",
                                                " {",
                                                "}\n",
                                                "  color: #",
                                                "  margin: ",
                                                "px;\n",
                                                "  display: flex;\n",
                                                "  font-size: ",
                                                "rem;\n",
                                                ".price",
                                                ":hover",
                                                "  background: #",
                                                "  padding: 0 ",
                                                "@media (max-width: 600px)",
                                                ".list li",
                                                "  border-radius: "};
  const std::vector<std::string>& words = kind == "html" ? kHtml : kind == "js" ? kJs : kCss;
  std::string out;
  while (out.size() < size) {
    out += words[rng() % words.size()];
    if (rng() % 5 == 0) out += std::to_string(rng() % 1000);
  }
  out.resize(size);
  return out;
}

// PNG-like: a PNG signature and chunk names around incompressible data.
std::string PngFile(std::mt19937& rng, size_t size) {
  std::string out = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
  out.append("\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0", 13);
  out += "IDAT";
  while (out.size() + 12 < size) out.push_back(static_cast<char>(rng()));
  out += std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12);
  return out;
}

// An H5 app's asset tree, and the next version of it, each concatenated as
// "path\0size\0bytes" records in path order.
Pair H5TreePair() {
  std::mt19937 rng(20240601);
  std::map<std::string, std::string> files;
  files["index.html"] = TextFile(rng, "html", 30'000);
  for (int i = 0; i < 20; ++i) {
    files["pages/page" + std::to_string(i) + ".html"] =
        TextFile(rng, "html", 20'000 + rng() % 40'000);
  }
  for (int i = 0; i < 10; ++i) {
    files["js/chunk" + std::to_string(i) + ".js"] = TextFile(rng, "js", 50'000 + rng() % 50'000);
  }
  for (int i = 0; i < 5; ++i) {
    files["css/style" + std::to_string(i) + ".css"] = TextFile(rng, "css", 20'000);
  }
  for (int i = 0; i < 12; ++i) {
    files["img/icon" + std::to_string(i) + ".png"] = PngFile(rng, 30'000 + rng() % 40'000);
  }
  std::map<std::string, std::string> next = files;
  next["pages/page3.html"].insert(5000, "<p>New terms of service apply from June.</p>\n");
  next["pages/page7.html"].replace(12'000, 200, TextFile(rng, "html", 260));
  next["js/chunk2.js"].insert(30'000, TextFile(rng, "js", 3000));
  next["js/chunk5.js"].erase(10'000, 1500);
  next["css/style1.css"].replace(800, 20, "  color: #ff3366;\n");
  next["img/icon4.png"] = PngFile(rng, 41'000);
  next["pages/promo.html"] = TextFile(rng, "html", 15'000);
  auto join = [](const std::map<std::string, std::string>& tree) {
    std::string out;
    for (const auto& [path, bytes] : tree) {
      out += path;
      out.push_back('\0');
      out += std::to_string(bytes.size());
      out.push_back('\0');
      out += bytes;
    }
    return out;
  };
  return {"h5 asset tree (tar-like)", join(files), join(next)};
}

// ---------------------------------------------------------------------------
// Measuring

struct Row {
  std::string pair;
  uint64_t new_size = 0;
  std::string method;              // what EncodeDelta chose
  std::optional<uint64_t> bsdiff;  // unset without bsdiff
  uint64_t patch_from = 0;
  uint64_t ours = 0;
  double encode_s = 0, bsdiff_encode_s = 0;
  double apply_ms = 0;  // CPU time
  double apply_wall_ms = 0;
  std::optional<double> bspatch_ms;  // in-process estimate, CPU time
  double bspatch_process_ms = 0;     // the whole process, CPU time
  double bspatch_process_wall_ms = 0;
  double Pct(uint64_t bytes) const { return new_size ? 100.0 * bytes / new_size : 0; }
  std::optional<double> SizeRatio() const {
    if (!bsdiff || *bsdiff == 0) return std::nullopt;
    return static_cast<double>(ours) / *bsdiff;
  }
  std::optional<double> Speedup() const {
    if (!bspatch_ms || apply_ms <= 0) return std::nullopt;
    return *bspatch_ms / apply_ms;
  }
};

struct Baselines {
  bool have_bsdiff = false;
  double bspatch_trivial_ms = 0;  // bspatch on a 1-byte pair, to /dev/null: CPU time
  double bspatch_trivial_wall_ms = 0;
};

Baselines MeasureBaselines(const fs::path& work, const BenchConfig& config) {
  Baselines b;
  const fs::path o = work / "trivial.old", n = work / "trivial.new", p = work / "trivial.bsdiff";
  WriteFile(o, "a");
  WriteFile(n, "b");
  b.have_bsdiff = Run({"bsdiff", o.string(), n.string(), p.string()}) &&
                  Run({"bspatch", o.string(), "/dev/null", p.string()});
  if (!b.have_bsdiff) {
    std::printf("bsdiff/bspatch not found on PATH: bsdiff columns are n/a (apt install bsdiff)\n");
    return b;
  }
  std::vector<double> cpu, wall;
  for (int i = 0; i < 2 * config.bspatch_samples + 1; ++i) {
    const Timing t = TimedRun({"bspatch", o.string(), "/dev/null", p.string()});
    cpu.push_back(t.cpu_ms);
    wall.push_back(t.wall_ms);
  }
  b.bspatch_trivial_ms = Median(cpu);
  b.bspatch_trivial_wall_ms = Median(wall);
  return b;
}

Row Measure(const Pair& pair, const fs::path& work, const Baselines& base,
            const BenchConfig& config) {
  Row row;
  row.pair = pair.name;
  row.new_size = pair.new_bytes.size();
  std::printf("  %s: %zu -> %zu bytes\n", pair.name.c_str(), pair.old_bytes.size(),
              pair.new_bytes.size());
  std::fflush(stdout);

  const auto e0 = Clock::now();
  const std::string delta = Must(delta::EncodeDelta(pair.old_bytes, pair.new_bytes), "EncodeDelta");
  row.encode_s = Ms(e0, Clock::now()) / 1000;
  row.ours = delta.size();
  row.method = delta::MethodName(Must(delta::ReadDeltaInfo(delta), "ReadDeltaInfo").method);
  row.patch_from = Must(delta::EncodeDelta(pair.old_bytes, pair.new_bytes,
                                           {.method = delta::Method::kPatchFrom}),
                        "EncodeDelta(patch-from)")
                       .size();
  if (Must(delta::ApplyDelta(pair.old_bytes, delta), "ApplyDelta") != pair.new_bytes) {
    Fail("ApplyDelta on " + pair.name + " gave different bytes");
  }

  const fs::path o = work / "old", n = work / "new", p = work / "patch";
  if (base.have_bsdiff) {
    WriteFile(o, pair.old_bytes);
    WriteFile(n, pair.new_bytes);
    row.bsdiff_encode_s = TimedRun({"bsdiff", o.string(), n.string(), p.string()}).wall_ms / 1000;
    row.bsdiff = fs::file_size(p);
    const fs::path check = work / "check";
    if (!Run({"bspatch", o.string(), check.string(), p.string()}) ||
        ReadFile(check) != pair.new_bytes) {
      Fail("bspatch did not reproduce " + pair.name);
    }
  }

  auto ours = [&] {
    Timing t;
    const auto t0 = Clock::now();
    const double c0 = ThreadCpuMs();
    Result<std::string> out = delta::ApplyDelta(pair.old_bytes, delta);
    t.cpu_ms = ThreadCpuMs() - c0;
    t.wall_ms = Ms(t0, Clock::now());
    if (!out.ok()) Fail("ApplyDelta: " + out.error().ToString());
    benchmark::DoNotOptimize(out->data());
    return t;
  };
  // What bspatch does besides patching that ApplyDelta does not: read the
  // old file and the patch.
  auto read_inputs = [&] {
    const double c0 = ThreadCpuMs();
    std::string a = ReadFile(o), b = ReadFile(p);
    benchmark::DoNotOptimize(a.data());
    benchmark::DoNotOptimize(b.data());
    return ThreadCpuMs() - c0;
  };
  std::vector<double> ours_cpu, ours_wall, bspatch_cpu, bspatch_wall, read_cpu;
  ours();  // warm-up
  for (int i = 0; i < config.apply_samples; ++i) {
    const Timing t = ours();
    ours_cpu.push_back(t.cpu_ms);
    ours_wall.push_back(t.wall_ms);
    if (base.have_bsdiff && i < config.bspatch_samples) {
      read_cpu.push_back(read_inputs());
      const Timing b = TimedRun({"bspatch", o.string(), "/dev/null", p.string()});
      bspatch_cpu.push_back(b.cpu_ms);
      bspatch_wall.push_back(b.wall_ms);
    }
  }
  row.apply_ms = Median(ours_cpu);
  row.apply_wall_ms = Median(ours_wall);
  if (base.have_bsdiff) {
    row.bspatch_process_ms = Median(bspatch_cpu);
    row.bspatch_process_wall_ms = Median(bspatch_wall);
    row.bspatch_ms = row.bspatch_process_ms - base.bspatch_trivial_ms - Median(read_cpu);
  }
  return row;
}

// ---------------------------------------------------------------------------
// Output

std::string Opt(const std::optional<double>& v, const char* format) {
  if (!v) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, format, *v);
  return buf;
}

void PrintTable(const std::vector<Row>& rows, const Baselines& base) {
  std::printf("\n%-34s %10s %-18s %8s %8s %8s %8s %9s %9s %8s  %s\n", "pair", "new bytes",
              "ours: method", "bsdiff%", "p-from%", "ours%", "ours/bsd", "apply ms", "bspatch ms",
              "speedup", "targets");
  std::printf("%s\n", std::string(140, '-').c_str());
  for (const Row& r : rows) {
    const auto ratio = r.SizeRatio();
    const auto speedup = r.Speedup();
    const bool size_ok = ratio && *ratio <= kSizeTarget;
    const bool speed_ok = speedup && *speedup >= kSpeedupTarget;
    std::printf(
        "%-34s %10llu %-18s %8s %8.2f %8.2f %8s %9.2f %9s %8s  size %s, apply %s\n", r.pair.c_str(),
        static_cast<unsigned long long>(r.new_size), r.method.c_str(),
        Opt(r.bsdiff ? std::optional<double>(r.Pct(*r.bsdiff)) : std::nullopt, "%.2f").c_str(),
        r.Pct(r.patch_from), r.Pct(r.ours), Opt(ratio, "%.3f").c_str(), r.apply_ms,
        Opt(r.bspatch_ms, "%.2f").c_str(), Opt(speedup, "%.1fx").c_str(),
        !ratio    ? "n/a"
        : size_ok ? "PASS"
                  : "MISS",
        !speedup   ? "n/a"
        : speed_ok ? "PASS"
                   : "MISS");
  }
  std::printf(
      "\nsizes: %% of the new file. ours: EncodeDelta (smallest method); p-from: zstd patch-from "
      "alone.\napply, CPU time (medians; a busy machine does not inflate them; wall clock in "
      "--json): ours = ApplyDelta in-process,\n  XXH64 of old and new included; bspatch = the "
      "process (to /dev/null) minus a 1-byte-pair bspatch run (%.2f ms:\n  start-up, dynamic "
      "linking) minus reading old file + patch in-process.\n",
      base.bspatch_trivial_ms);
  std::printf("encode s (ours / bsdiff):");
  for (const Row& r : rows)
    std::printf(" %s %.2f/%.2f;", r.pair.c_str(), r.encode_s, r.bsdiff_encode_s);
  std::printf(
      "\ntargets: ours/bsdiff <= %.2f and speedup >= %.1fx on every pair (informational; "
      "1-minute load average now %.2f)\n",
      kSizeTarget, kSpeedupTarget, LoadAverage());
}

void WriteJson(const std::string& path, const BenchConfig& config, const std::vector<Row>& rows,
               const Baselines& base, double load_before) {
  boost::json::array pairs;
  for (const Row& r : rows) {
    boost::json::object o{{"pair", r.pair},
                          {"new_bytes", r.new_size},
                          {"method", r.method},
                          {"ours_bytes", r.ours},
                          {"patch_from_bytes", r.patch_from},
                          {"encode_s", r.encode_s},
                          {"apply_cpu_ms", r.apply_ms},
                          {"apply_wall_ms", r.apply_wall_ms}};
    if (r.bsdiff) {
      o["bsdiff_bytes"] = *r.bsdiff;
      o["size_ratio"] = *r.SizeRatio();
      o["bsdiff_encode_s"] = r.bsdiff_encode_s;
      o["bspatch_process_cpu_ms"] = r.bspatch_process_ms;
      o["bspatch_process_wall_ms"] = r.bspatch_process_wall_ms;
      o["bspatch_in_process_cpu_ms"] = *r.bspatch_ms;
      o["speedup"] = r.Speedup() ? *r.Speedup() : 0.0;
    }
    pairs.push_back(std::move(o));
  }
  boost::json::object root{{"quick", config.quick},
                           {"apply_samples", config.apply_samples},
                           {"bspatch_samples", config.bspatch_samples},
                           {"bspatch_trivial_cpu_ms", base.bspatch_trivial_ms},
                           {"bspatch_trivial_wall_ms", base.bspatch_trivial_wall_ms},
                           {"usable_cpus", UsableCpus().size()},
                           {"loadavg_before", load_before},
                           {"loadavg_after", LoadAverage()},
                           {"pairs", std::move(pairs)}};
  WriteJsonFile(path, root);
}

int Usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: delta_bench [--quick] [--json=PATH] [--data=DIR] [--no-fetch] [--keep]\n"
               "  --quick     generated pairs only, few samples (smoke test; numbers are noise)\n"
               "  --data=DIR  cache of the fetched Debian packages (default %s)\n"
               "  --no-fetch  do not run bench/fetch_delta_pairs.sh when pairs are missing\n"
               "  --keep      keep the temp dir with the files given to bsdiff/bspatch\n",
               ATRIUM_DELTA_BENCH_DATA_DIR);
  return code;
}

int Main(int argc, char** argv) {
  BenchName() = "delta_bench";
  BenchConfig config;
  for (int i = 1; i < argc; ++i) {
    const CommonArg common =
        TakeCommonArg(argc, argv, &i, &config.quick, &config.json_path, &config.keep);
    if (common == CommonArg::kHelp) return Usage(0);
    if (common == CommonArg::kTaken) continue;
    const std::string_view a = argv[i];
    if (a == "--no-fetch") {
      config.fetch = false;
    } else if (a.starts_with("--data=")) {
      config.data_dir = std::string(a.substr(7));
    } else {
      std::fprintf(stderr, "delta_bench: unknown argument '%s'\n", argv[i]);
      return Usage(2);
    }
  }
  if (config.quick) {
    config.apply_samples = 3;
    config.bspatch_samples = 3;
  }
  const double load_before = PrintMachine();

  std::string pattern = (fs::temp_directory_path() / "atrium-delta-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) Fail("cannot create a temp dir from " + pattern);
  const fs::path work = pattern;

  std::vector<Pair> pairs = RealPairs(config);
  pairs.push_back(SampleBundlePair());
  pairs.push_back(H5TreePair());
  const Baselines base = MeasureBaselines(work, config);
  std::printf("measuring %zu pairs (apply: %d samples ours, %d bspatch)\n", pairs.size(),
              config.apply_samples, config.bspatch_samples);
  std::vector<Row> rows;
  for (const Pair& p : pairs) rows.push_back(Measure(p, work, base, config));
  PrintTable(rows, base);
  if (!config.json_path.empty()) {
    WriteJson(config.json_path, config, rows, base, load_before);
    std::printf("wrote %s\n", config.json_path.c_str());
  }
  if (config.keep) {
    std::printf("kept %s\n", work.c_str());
  } else {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  return 0;
}

}  // namespace
}  // namespace atrium::bench

int main(int argc, char** argv) { return atrium::bench::Main(argc, argv); }
