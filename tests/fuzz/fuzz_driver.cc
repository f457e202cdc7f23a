// A libFuzzer-compatible driver for compilers without libFuzzer: it replays a
// seed corpus and a fixed, deterministic set of mutations of every seed
// through LLVMFuzzerTestOneInput, so each fuzz target runs as an ordinary
// ctest (`<name>_fuzz_replay`) in every build, sanitized ones included.
//
//   <name>_fuzz_replay [--mutations N] <corpus-dir | file>...
//
// For each seed (files sorted by path) the target gets:
//   1. the seed itself;
//   2. every prefix of it (up to kMaxPrefixes), which finds offset and
//      end-of-input mistakes;
//   3. N mutants, each 1..4 stacked edits drawn from a PRNG seeded by the
//      seed's file name and the mutant's index: bit flips, byte overwrites,
//      insertion of interesting bytes and tokens (NUL, 0xFF, bad UTF-8,
//      quotes, escapes, brackets, huge numbers, "%zz", ".."), erasures,
//      truncations, duplicated chunks, byte swaps and splices with other
//      seeds.
// The same build gives the same inputs on every run; a failure reproduces.
//
// Every input is passed in a heap buffer of exactly its size, so a sanitizer
// catches a read past its end. When the target crashes (abort, failed check,
// sanitizer report, segfault) the driver writes the input to
// `<name>.crash-input` in the working directory and names the seed and
// mutant; `<name>_fuzz_replay --mutations 0 <name>.crash-input` replays it.
//
// Concurrency: single-threaded, like libFuzzer's default mode.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);
// Present when a sanitizer runtime is linked in (ASan, UBSan, TSan).
extern "C" __attribute__((weak)) void __sanitizer_set_death_callback(void (*callback)(void));

namespace {

namespace fs = std::filesystem;

using Bytes = std::vector<uint8_t>;

constexpr size_t kMaxPrefixes = 4096;
constexpr size_t kMaxInputBytes = 1 << 20;

// Tokens that tend to break text parsers: JSON, semver, URLs, UTF-8.
constexpr std::string_view kInteresting[] = {
    {"\0", 1},
    "\xff",
    "\x7f",
    "\x80",
    "\x01",
    "\t",
    "\n",
    "\r",
    " ",
    "\"",
    "\\",
    "'",
    "/",
    "//",
    ".",
    "..",
    "../",
    "-",
    "+",
    "*",
    "^",
    "~",
    "<",
    ">",
    "=",
    "<=",
    ">=",
    "||",
    "x",
    "X",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "?",
    "#",
    "&",
    "%",
    "%00",
    "%zz",
    "%2F",
    "%f",
    "0",
    "-0",
    "00",
    "1e999",
    "-1",
    "4294967296",
    "9223372036854775808",
    "18446744073709551616",
    "99999999999999999999999",
    "0.0.0",
    "1.2.3-",
    "1.2.3+",
    "null",
    "true",
    "false",
    "[]",
    "{}",
    "\"\"",
    "\\u0000",
    "\\ud800",
    "\\uDFFF",
    "\\x",
    "\xc0\x80",
    "\xc3",
    "\xe2\x82",
    "\xed\xa0\x80",
    "\xf4\x90\x80\x80",
    "\xef\xbb\xbf",
    "atrium://",
    "atrium://app/",
};

// splitmix64: tiny, fast and identical everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform-enough value in [0, n); n > 0.
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }

 private:
  uint64_t state_;
};

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

struct Seed {
  std::string path;
  std::string name;  // file name: what the mutant PRNG is keyed on
  Bytes bytes;
};

void InsertBytes(Bytes* b, size_t at, std::string_view s) {
  b->insert(b->begin() + static_cast<std::ptrdiff_t>(at), s.begin(), s.end());
}

void MutateOnce(Bytes* b, const std::vector<Seed>& seeds, Rng* rng) {
  const size_t n = b->size();
  switch (rng->Below(10)) {
    case 0:  // flip one bit
      if (n > 0) (*b)[rng->Below(n)] ^= static_cast<uint8_t>(1u << rng->Below(8));
      break;
    case 1:  // overwrite one byte with an arbitrary value
      if (n > 0) (*b)[rng->Below(n)] = static_cast<uint8_t>(rng->Next());
      break;
    case 2:
    case 3: {  // insert an interesting token
      std::string_view tok = kInteresting[rng->Below(std::size(kInteresting))];
      InsertBytes(b, rng->Below(n + 1), tok);
      break;
    }
    case 4: {  // overwrite with an interesting token
      std::string_view tok = kInteresting[rng->Below(std::size(kInteresting))];
      if (n == 0) {
        InsertBytes(b, 0, tok);
        break;
      }
      size_t at = rng->Below(n);
      size_t len = std::min(tok.size(), n - at);
      std::memcpy(b->data() + at, tok.data(), len);
      break;
    }
    case 5: {  // erase a range
      if (n == 0) break;
      size_t at = rng->Below(n);
      size_t len = 1 + rng->Below(std::min<size_t>(n - at, 16));
      b->erase(b->begin() + static_cast<std::ptrdiff_t>(at),
               b->begin() + static_cast<std::ptrdiff_t>(at + len));
      break;
    }
    case 6:  // truncate
      b->resize(n == 0 ? 0 : rng->Below(n));
      break;
    case 7: {  // duplicate a chunk somewhere else
      if (n == 0) break;
      size_t from = rng->Below(n);
      size_t len = 1 + rng->Below(std::min<size_t>(n - from, 32));
      Bytes chunk(b->begin() + static_cast<std::ptrdiff_t>(from),
                  b->begin() + static_cast<std::ptrdiff_t>(from + len));
      size_t to = rng->Below(n + 1);
      b->insert(b->begin() + static_cast<std::ptrdiff_t>(to), chunk.begin(), chunk.end());
      break;
    }
    case 8:  // swap two bytes
      if (n > 1) std::swap((*b)[rng->Below(n)], (*b)[rng->Below(n)]);
      break;
    case 9: {  // splice: our head + another seed's tail
      const Bytes& other = seeds[rng->Below(seeds.size())].bytes;
      size_t cut = rng->Below(n + 1);
      size_t from = rng->Below(other.size() + 1);
      b->resize(cut);
      b->insert(b->end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
      break;
    }
  }
  if (b->size() > kMaxInputBytes) b->resize(kMaxInputBytes);
}

// What is being run right now, for the crash handler. Written only by the
// main thread between inputs; the handler only reads it.
struct Current {
  const uint8_t* data = nullptr;
  size_t size = 0;
  const char* seed_path = "";
  long mutant = -1;  // -1: the seed itself, -2: a prefix
  size_t prefix_len = 0;
  char artifact[1024] = {};
};
Current g_current;

void WriteStr(int fd, const char* s) {
  ssize_t ignored = write(fd, s, std::strlen(s));
  (void)ignored;
}

void WriteNum(int fd, unsigned long v) {
  char buf[24];
  int i = sizeof(buf);
  buf[--i] = '\0';
  do {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && i > 0);
  WriteStr(fd, buf + i);
}

// Async-signal-safe (write(2), open(2), no allocation): saves the input the
// target is running on, if any, and says where it came from.
void ReportCurrentInput() {
  if (g_current.data == nullptr) return;  // not inside the target
  int fd = open(g_current.artifact, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    ssize_t ignored = write(fd, g_current.data, g_current.size);
    (void)ignored;
    close(fd);
  }
  WriteStr(2, "\nfuzz replay: target failed on ");
  if (g_current.mutant >= 0) {
    WriteStr(2, "mutant ");
    WriteNum(2, static_cast<unsigned long>(g_current.mutant));
    WriteStr(2, " of ");
  } else if (g_current.mutant == -2) {
    WriteStr(2, "the ");
    WriteNum(2, g_current.prefix_len);
    WriteStr(2, "-byte prefix of ");
  }
  WriteStr(2, "seed ");
  WriteStr(2, g_current.seed_path);
  WriteStr(2, " (");
  WriteNum(2, g_current.size);
  WriteStr(2, " bytes); input saved to ");
  WriteStr(2, g_current.artifact);
  WriteStr(2, "\n");
}

void OnCrash(int sig) {
  ReportCurrentInput();
  signal(sig, SIG_DFL);
  raise(sig);
}

void InstallCrashHandlers() {
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) signal(sig, OnCrash);
  // A sanitizer report exits without a signal; its runtime calls this instead.
  if (__sanitizer_set_death_callback != nullptr) {
    __sanitizer_set_death_callback(ReportCurrentInput);
  }
}

void RunOne(const Bytes& input) {
  // Exactly-sized heap copy: a read one past the end is a sanitizer report.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[input.size() + (input.empty() ? 1 : 0)]);
  if (!input.empty()) std::memcpy(copy.get(), input.data(), input.size());
  g_current.data = copy.get();
  g_current.size = input.size();
  LLVMFuzzerTestOneInput(copy.get(), input.size());
  g_current.data = nullptr;
}

bool ReadFile(const fs::path& path, Bytes* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

int Usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--mutations N] <corpus-dir | file>...\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);

  long mutations = 10000;
  std::vector<fs::path> roots;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--mutations" && i + 1 < argc) {
      char* end = nullptr;
      mutations = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || mutations < 0) return Usage(argv[0]);
    } else if (arg.starts_with("-")) {
      return Usage(argv[0]);
    } else {
      roots.emplace_back(arg);
    }
  }
  if (roots.empty()) return Usage(argv[0]);

  std::vector<Seed> seeds;
  for (const fs::path& root : roots) {
    std::error_code ec;
    std::vector<fs::path> files;
    if (fs::is_directory(root, ec)) {
      for (const auto& entry : fs::directory_iterator(root, ec)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      if (ec) {
        std::fprintf(stderr, "fuzz replay: cannot list %s: %s\n", root.c_str(),
                     ec.message().c_str());
        return 1;
      }
      if (files.empty()) {
        std::fprintf(stderr, "fuzz replay: seed corpus %s is empty\n", root.c_str());
        return 1;
      }
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(root);
    }
    for (const fs::path& file : files) {
      Seed seed{file.string(), file.filename().string(), {}};
      if (!ReadFile(file, &seed.bytes)) {
        std::fprintf(stderr, "fuzz replay: cannot read %s\n", file.c_str());
        return 1;
      }
      seeds.push_back(std::move(seed));
    }
  }

  std::string name = fs::path(argv[0]).filename().string();
  if (name.ends_with("_replay")) name.resize(name.size() - 7);
  std::snprintf(g_current.artifact, sizeof(g_current.artifact), "%s.crash-input", name.c_str());
  InstallCrashHandlers();

  size_t inputs = 0;
  for (const Seed& seed : seeds) {
    g_current.seed_path = seed.path.c_str();
    g_current.mutant = -1;
    RunOne(seed.bytes);
    ++inputs;

    g_current.mutant = -2;
    const size_t prefixes = std::min(seed.bytes.size(), kMaxPrefixes);
    for (size_t len = 0; len < prefixes; ++len) {
      g_current.prefix_len = len;
      RunOne(Bytes(seed.bytes.begin(), seed.bytes.begin() + static_cast<std::ptrdiff_t>(len)));
      ++inputs;
    }

    const uint64_t key = Fnv1a(seed.name);
    Bytes mutant;
    for (long m = 0; m < mutations; ++m) {
      Rng rng(key ^ (static_cast<uint64_t>(m) * 0x2545f4914f6cdd1dull));
      mutant = seed.bytes;
      const size_t edits = 1 + rng.Below(4);
      for (size_t e = 0; e < edits; ++e) MutateOnce(&mutant, seeds, &rng);
      g_current.mutant = m;
      RunOne(mutant);
      ++inputs;
    }
  }
  std::printf("%s: %zu inputs (%zu seeds, their prefixes, %ld mutants each), no failure\n",
              name.c_str(), inputs, seeds.size(), mutations);
  return 0;
}
