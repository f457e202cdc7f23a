// Tests of the delta engine (bundles/src/delta.h): round trips with every
// method on edge cases, random edits and a real ELF library; and hostile
// deltas (every truncation, flipped bytes, a wrong base, hand-made streams
// with out-of-range control values and lying zstd frames), which must give
// an error naming an offset, never a crash or a wrong file.
#include "delta.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace atrium::delta {
namespace {

constexpr Method kAllMethods[] = {Method::kPatchFrom, Method::kSuffixArray,
                                  Method::kSuffixArrayRuns};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Text-like bytes: words from a small vocabulary, so that there is
// something to compress and to match.
std::string TextBytes(size_t n, uint32_t seed) {
  static constexpr const char* kWords[] = {
      "bundle ",   "atrium ", "delta ", "{\"id\": ", "42, ",
      "function ", "return ", "\n",     "const ",    "x = y + 1;"};
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n) s += kWords[rng() % std::size(kWords)];
  s.resize(n);
  return s;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Encodes with `method` (unset: the smallest), checks the header and that
// the delta applies back to new_bytes; returns the delta.
std::string RoundTrip(std::string_view old_bytes, std::string_view new_bytes,
                      std::optional<Method> method) {
  Result<std::string> delta = EncodeDelta(old_bytes, new_bytes, {.method = method});
  EXPECT_TRUE(delta.ok()) << delta.error().ToString();
  if (!delta.ok()) return {};
  Result<DeltaInfo> info = ReadDeltaInfo(*delta);
  EXPECT_TRUE(info.ok()) << info.error().ToString();
  if (method) {
    EXPECT_EQ(info->method, *method);
  }
  EXPECT_EQ(info->old_size, old_bytes.size());
  EXPECT_EQ(info->new_size, new_bytes.size());
  EXPECT_EQ(info->old_hash, HashOf(old_bytes));
  EXPECT_EQ(info->new_hash, HashOf(new_bytes));
  Result<std::string> applied = ApplyDelta(old_bytes, *delta);
  EXPECT_TRUE(applied.ok()) << (method ? MethodName(*method) : "auto") << ": "
                            << applied.error().ToString();
  if (applied.ok()) {
    EXPECT_TRUE(*applied == new_bytes)
        << (method ? MethodName(*method) : "auto") << ": applying gave different bytes";
  }
  return *delta;
}

// Every method, and the automatic choice, which must be the smallest.
void RoundTripAll(std::string_view old_bytes, std::string_view new_bytes) {
  size_t smallest = SIZE_MAX;
  for (Method m : kAllMethods)
    smallest = std::min(smallest, RoundTrip(old_bytes, new_bytes, m).size());
  EXPECT_EQ(RoundTrip(old_bytes, new_bytes, std::nullopt).size(), smallest);
}

TEST(DeltaRoundTrip, EdgeCases) {
  const std::string some = TextBytes(5000, 1);
  {
    SCOPED_TRACE("identical");
    RoundTripAll(some, some);
  }
  {
    SCOPED_TRACE("empty old");
    RoundTripAll("", some);
  }
  {
    SCOPED_TRACE("empty new");
    RoundTripAll(some, "");
  }
  {
    SCOPED_TRACE("both empty");
    RoundTripAll("", "");
  }
  {
    SCOPED_TRACE("one byte each");
    RoundTripAll("a", "b");
  }
  {
    SCOPED_TRACE("unrelated");
    RoundTripAll(RandomBytes(3000, 2), RandomBytes(4000, 3));
  }
  {
    SCOPED_TRACE("zeros, one byte changed");
    std::string zeros(200'000, '\0');
    std::string changed = zeros;
    changed[123'456] = 7;
    RoundTripAll(zeros, changed);
  }
  {
    SCOPED_TRACE("short repeating pattern, shifted");
    std::string pattern;
    while (pattern.size() < 100'000) pattern += "abcab";
    RoundTripAll(pattern, "x" + pattern.substr(0, 90'000) + "yz");
  }
}

TEST(DeltaRoundTrip, IdenticalFilesGiveATinyDelta) {
  const std::string bytes = RandomBytes(100'000, 4);
  EXPECT_LT(RoundTrip(bytes, bytes, std::nullopt).size(), kHeaderSize + 40);
}

// Random data with one edit at the start, middle or end; and many edits.
TEST(DeltaRoundTrip, RandomEdits) {
  const std::string old_bytes = RandomBytes(64 * 1024, 5);
  const std::string chunk = RandomBytes(300, 6);
  for (size_t at : {size_t{0}, old_bytes.size() / 2, old_bytes.size()}) {
    SCOPED_TRACE("edit at " + std::to_string(at));
    std::string inserted = old_bytes;
    inserted.insert(at, chunk);
    RoundTripAll(old_bytes, inserted);
    std::string deleted = old_bytes;
    deleted.erase(std::min(at, old_bytes.size() - 300), 300);
    RoundTripAll(old_bytes, deleted);
    std::string replaced = old_bytes;
    replaced.replace(std::min(at, old_bytes.size() - 300), 300, chunk);
    RoundTripAll(old_bytes, replaced);
    // A small delta: the edit, not the file.
    EXPECT_LT(RoundTrip(old_bytes, replaced, std::nullopt).size(), kHeaderSize + 600);
  }
  std::mt19937 rng(7);
  std::string many = old_bytes;
  for (int i = 0; i < 200; ++i) {
    const size_t at = rng() % many.size();
    switch (rng() % 3) {
      case 0:
        many.insert(at, chunk.substr(0, rng() % 40));
        break;
      case 1:
        many.erase(at, rng() % 40);
        break;
      default:
        many[at] = static_cast<char>(rng());
    }
  }
  SCOPED_TRACE("200 random edits");
  RoundTripAll(old_bytes, many);
}

// What a rebuild does to a library: code inserted in the middle, and every
// 32-bit word after it that looks like an offset into the file moved along.
std::string Rebuilt(std::string_view elf) {
  const size_t at = elf.size() / 2 & ~size_t{15};
  std::string out(elf.substr(0, at));
  out += RandomBytes(48, 8);
  const size_t shift = 48;
  for (size_t i = at; i < elf.size(); i += 4) {
    uint32_t word = 0;
    const size_t n = std::min<size_t>(4, elf.size() - i);
    std::memcpy(&word, elf.data() + i, n);
    if (n == 4 && word >= at && word < elf.size()) word += shift;
    out.append(reinterpret_cast<const char*>(&word), n);
  }
  return out;
}

void CheckElfPair(const std::string& elf, bool suffix_array_wins) {
  ASSERT_GT(elf.size(), 4096u);
  ASSERT_EQ(elf.substr(0, 4),
            "\x7f"
            "ELF");
  const std::string rebuilt = Rebuilt(elf);
  RoundTripAll(elf, rebuilt);
  const size_t patch_from = RoundTrip(elf, rebuilt, Method::kPatchFrom).size();
  const size_t suffix_array = std::min(RoundTrip(elf, rebuilt, Method::kSuffixArray).size(),
                                       RoundTrip(elf, rebuilt, Method::kSuffixArrayRuns).size());
  // The case the suffix-array method exists for. Which method wins depends
  // on the compiled bytes: checked on the optimized build only (sanitizer
  // builds are -O0 and instrumented, another kind of binary).
#if !defined(ATRIUM_TEST_SANITIZED)
  const bool check_winner = suffix_array_wins;
#else
  const bool check_winner = false;
#endif
  if (check_winner) {
    EXPECT_LT(suffix_array, patch_from);
  }
  EXPECT_LT(suffix_array, rebuilt.size() / 10);
}

// A shipped, optimized, stripped library whose bytes do not depend on this
// tree's compiler, linker or flags (libuv, which every build links): the case
// the suffix-array method exists for, so it must win.
TEST(DeltaRoundTrip, SystemLibraryRebuilt) {
  const std::string path = "/usr/lib/x86_64-linux-gnu/libuv.so.1";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is not installed";
  CheckElfPair(ReadFile(path), /*suffix_array_wins=*/true);
}

// One of this tree's bundle libraries. Which method wins depends on how it
// was built (with full debug information the suffix array wins; with line
// tables only, as CI builds it, the .so is a quarter of the size and
// patch-from wins by a few bytes): both deltas must stay tiny.
TEST(DeltaRoundTrip, FixtureLibraryRebuilt) {
  const std::string path = std::string(ATRIUM_TEST_BUNDLES_DIR) + "/greeter/libfixture_greeter.so";
  if (!std::filesystem::exists(path)) {
    GTEST_SKIP() << path << " is not built (build the fixture_bundles target)";
  }
  CheckElfPair(ReadFile(path), /*suffix_array_wins=*/false);
}

TEST(DeltaRoundTrip, OwnExecutableRebuilt) {
  // The first 256 KiB of this test's own ELF image: always there. Which
  // method wins depends on the build (in an ASan build the window is mostly
  // tables with few offset-like words, and the pair nearly identical).
  CheckElfPair(ReadFile("/proc/self/exe").substr(0, 256 * 1024), /*suffix_array_wins=*/false);
}

TEST(DeltaRoundTrip, TextEdits) {
  const std::string old_bytes = TextBytes(100'000, 9);
  std::string new_bytes = old_bytes;
  new_bytes.insert(50'000, "a new paragraph in the middle\n");
  new_bytes.erase(10'000, 777);
  new_bytes.replace(80'000, 5, "HELLO");
  RoundTripAll(old_bytes, new_bytes);
}

TEST(DeltaRoundTrip, DeterministicEncoding) {
  const std::string old_bytes = RandomBytes(20'000, 10);
  std::string new_bytes = old_bytes;
  new_bytes.insert(5000, "inserted");
  for (Method m : kAllMethods) {
    EXPECT_EQ(*EncodeDelta(old_bytes, new_bytes, {.method = m}),
              *EncodeDelta(old_bytes, new_bytes, {.method = m}));
  }
}

// HashOf is XXH64: zstd's frame checksum is its low 32 bits.
TEST(DeltaHash, IsXxh64) {
  EXPECT_EQ(HashOf(""), 0xEF46DB3751D8E999ull);
  const std::string bytes = RandomBytes(300, 13);
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)));
  for (size_t n = 0; n <= bytes.size(); ++n) {
    std::string frame(ZSTD_compressBound(n), '\0');
    frame.resize(ZSTD_compress2(c, frame.data(), frame.size(), bytes.data(), n));
    uint32_t checksum = 0;
    std::memcpy(&checksum, frame.data() + frame.size() - 4, 4);
    EXPECT_EQ(static_cast<uint32_t>(HashOf(std::string_view(bytes).substr(0, n))), checksum)
        << "length " << n;
  }
  ZSTD_freeCCtx(c);
}

TEST(DeltaEncode, RejectsBadLevel) {
  for (int level : {0, -1, 23}) {
    Result<std::string> d = EncodeDelta("a", "b", {.method = std::nullopt, .level = level});
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(d.error().message.find("level"), std::string::npos);
  }
  EXPECT_TRUE(EncodeDelta("a", "b", {.method = std::nullopt, .level = 1}).ok());
}

// ---------------------------------------------------------------------------
// Hostile deltas

// An error that names an offset inside the delta and says something.
void ExpectLocatedError(const Result<std::string>& r, size_t delta_size, const std::string& what) {
  ASSERT_FALSE(r.ok()) << what << ": applied";
  EXPECT_FALSE(r.error().message.empty()) << what;
  ASSERT_TRUE(r.error().offset.has_value()) << what << ": " << r.error().ToString();
  EXPECT_LE(*r.error().offset, delta_size) << what << ": " << r.error().ToString();
}

struct HostileFixture {
  std::string old_bytes = TextBytes(6000, 11);
  std::string new_bytes;
  HostileFixture() {
    new_bytes = old_bytes;
    new_bytes.insert(3000, RandomBytes(100, 12));
    new_bytes[100] ^= 1;
    new_bytes[5500] ^= 0x40;
  }
};

TEST(DeltaHostile, EveryTruncationFails) {
  HostileFixture fx;
  for (Method m : kAllMethods) {
    SCOPED_TRACE(MethodName(m));
    const std::string delta = RoundTrip(fx.old_bytes, fx.new_bytes, m);
    for (size_t n = 0; n < delta.size(); ++n) {
      ExpectLocatedError(ApplyDelta(fx.old_bytes, std::string_view(delta).substr(0, n)), n,
                         "truncated to " + std::to_string(n));
    }
  }
}

TEST(DeltaHostile, FlippedBytesFailOrGiveTheRightFile) {
  HostileFixture fx;
  for (Method m : kAllMethods) {
    SCOPED_TRACE(MethodName(m));
    const std::string delta = RoundTrip(fx.old_bytes, fx.new_bytes, m);
    int accepted = 0;
    for (size_t i = 0; i < delta.size(); ++i) {
      for (uint8_t mask : {0x01, 0x80, 0xff}) {
        std::string bad = delta;
        bad[i] = static_cast<char>(bad[i] ^ mask);
        Result<std::string> r = ApplyDelta(fx.old_bytes, bad);
        if (r.ok()) {
          // Only possible where zstd ignores the bits (e.g. a frame's window
          // size, unused in one-shot decoding); the new hash still matched.
          EXPECT_TRUE(*r == fx.new_bytes) << "flip at " << i << " gave a wrong file";
          ++accepted;
        } else {
          ExpectLocatedError(r, bad.size(), "flip at " + std::to_string(i));
          if (i >= 24 && i < 32) {
            EXPECT_NE(r.error().message.find("different base"), std::string::npos);
          }
        }
      }
    }
    EXPECT_LT(accepted, 8) << "too many flipped deltas still applied";
  }
}

TEST(DeltaHostile, WrongBase) {
  HostileFixture fx;
  for (Method m : kAllMethods) {
    const std::string delta = RoundTrip(fx.old_bytes, fx.new_bytes, m);
    std::string other = fx.old_bytes;
    other[10] ^= 1;
    Result<std::string> r = ApplyDelta(other, delta);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("delta is for a different base: expected xxh64 "),
              std::string::npos)
        << r.error().message;
    EXPECT_EQ(r.error().offset, 24u);
    r = ApplyDelta(fx.old_bytes + "x", delta);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("different base"), std::string::npos);
    EXPECT_EQ(r.error().offset, 8u);
  }
}

TEST(DeltaHostile, BadHeaders) {
  HostileFixture fx;
  const std::string good = RoundTrip(fx.old_bytes, fx.new_bytes, Method::kSuffixArray);
  struct Case {
    size_t at;
    uint8_t value;
    size_t offset;
    const char* says;
  };
  for (const Case& c : {Case{0, 'X', 0, "magic"}, Case{4, 2, 4, "version"}, Case{5, 0, 5, "method"},
                        Case{5, 4, 5, "method"}, Case{6, 1, 6, "reserved"},
                        Case{15, 1, 8, "old size"}, Case{23, 0x80, 16, "new size"}}) {
    std::string bad = good;
    bad[c.at] = static_cast<char>(c.value);
    Result<std::string> r = ApplyDelta(fx.old_bytes, bad);
    ASSERT_FALSE(r.ok()) << c.says;
    EXPECT_EQ(r.error().offset, c.offset) << r.error().ToString();
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << r.error().ToString();
    EXPECT_FALSE(ReadDeltaInfo(bad).ok());
  }
}

// Hand-made deltas: a header for (old, new) and arbitrary streams.
class DeltaWriter {
 public:
  DeltaWriter(Method method, std::string_view old_bytes, std::string_view new_bytes)
      : out_("ATDL") {
    out_.push_back(1);
    out_.push_back(static_cast<char>(method));
    out_.append(2, '\0');
    PutU64(old_bytes.size());
    PutU64(new_bytes.size());
    PutU64(HashOf(old_bytes));
    PutU64(HashOf(new_bytes));
  }
  // A stream of `content` (zstd frame; size 0 for empty content).
  DeltaWriter& Stream(std::string_view content, std::string_view prefix = {}) {
    if (content.empty()) return Raw(std::string(1, '\0'));
    std::string frame(ZSTD_compressBound(content.size()), '\0');
    ZSTD_CCtx* c = ZSTD_createCCtx();
    if (!prefix.empty()) ZSTD_CCtx_refPrefix(c, prefix.data(), prefix.size());
    frame.resize(ZSTD_compress2(c, frame.data(), frame.size(), content.data(), content.size()));
    ZSTD_freeCCtx(c);
    return Frame(frame);
  }
  // A stream holding `frame` as is.
  DeltaWriter& Frame(std::string_view frame) {
    Varint(frame.size());
    out_ += frame;
    return *this;
  }
  DeltaWriter& Raw(std::string_view bytes) {
    out_ += bytes;
    return *this;
  }
  DeltaWriter& Varint(uint64_t v) {
    out_ += VarintBytes(v);
    return *this;
  }
  static std::string VarintBytes(uint64_t v) {
    std::string s;
    while (v >= 0x80) {
      s.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    s.push_back(static_cast<char>(v));
    return s;
  }
  static std::string Control(std::initializer_list<std::array<int64_t, 3>> records) {
    std::string s;
    for (const auto& [add, copy, seek] : records) {
      s += VarintBytes(static_cast<uint64_t>(add));
      s += VarintBytes(static_cast<uint64_t>(copy));
      s += VarintBytes((static_cast<uint64_t>(seek) << 1) ^ static_cast<uint64_t>(seek >> 63));
    }
    return s;
  }
  const std::string& bytes() const { return out_; }

 private:
  void PutU64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string out_;
};

// Applies `delta` to `old_bytes`; expects an error whose message contains
// `says` and whose offset is `offset`.
void ExpectRejected(std::string_view old_bytes, const std::string& delta, const std::string& says,
                    size_t offset) {
  Result<std::string> r = ApplyDelta(old_bytes, delta);
  ASSERT_FALSE(r.ok()) << says << ": applied";
  EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().ToString();
  EXPECT_EQ(r.error().offset, offset) << r.error().ToString();
}

TEST(DeltaHostile, HandMadeDeltasApply) {
  // The writer itself is right: a valid hand-made delta of each method.
  const std::string old_bytes = "0123456789abcdef";
  const std::string new_bytes = "0123XY6789abcdefZZ";
  const std::string control = DeltaWriter::Control({{16, 2, 0}});
  std::string diff(16, '\0');
  diff[4] = static_cast<char>('X' - '4');
  diff[5] = static_cast<char>('Y' - '5');
  Result<std::string> r =
      ApplyDelta(old_bytes, DeltaWriter(Method::kSuffixArray, old_bytes, new_bytes)
                                .Stream(control)
                                .Stream(diff)
                                .Stream("ZZ", old_bytes)
                                .bytes());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(*r, new_bytes);
  const std::string zero_runs = DeltaWriter::VarintBytes(4) + DeltaWriter::VarintBytes(10);
  const std::string nonzero_runs = DeltaWriter::VarintBytes(2) + DeltaWriter::VarintBytes(0);
  r = ApplyDelta(old_bytes, DeltaWriter(Method::kSuffixArrayRuns, old_bytes, new_bytes)
                                .Stream(control)
                                .Stream(zero_runs)
                                .Stream(nonzero_runs)
                                .Stream(diff.substr(4, 2))
                                .Stream("ZZ")
                                .bytes());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(*r, new_bytes);
  r = ApplyDelta(old_bytes,
                 DeltaWriter(Method::kPatchFrom, old_bytes, new_bytes).Stream(new_bytes).bytes());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(*r, new_bytes);
}

// old 16 bytes, new 20: suffix-array deltas with the given streams.
struct SmallPair {
  const std::string old_bytes = "0123456789abcdef";
  const std::string new_bytes = std::string(20, 'n');
  std::string Sa(const std::string& control, const std::string& diff,
                 const std::string& extra) const {
    return DeltaWriter(Method::kSuffixArray, old_bytes, new_bytes)
        .Stream(control)
        .Stream(diff)
        .Stream(extra)
        .bytes();
  }
  // Where the stream after `control` and `diff` starts.
  size_t After(const std::string& control, const std::string& diff = {}) const {
    DeltaWriter w(Method::kSuffixArray, old_bytes, new_bytes);
    w.Stream(control);
    if (!diff.empty()) w.Stream(diff);
    return w.bytes().size();
  }
};

TEST(DeltaHostile, ControlValuesOutOfRange) {
  const SmallPair p;
  using W = DeltaWriter;
  const std::string d16(16, '\0'), e20(20, 'e');
  // Errors in records point at the control stream, right after the header.
  const size_t at = kHeaderSize;
  ExpectRejected(p.old_bytes, p.Sa(W::Control({{17, 3, 0}}), std::string(17, '\0'), "eee"),
                 "reads past the old size", at);
  ExpectRejected(p.old_bytes, p.Sa(W::Control({{16, 5, 0}}), d16, "eeeee"),
                 "runs past the new size", at);
  for (int64_t seek : {int64_t{-1}, int64_t{17}, INT64_MAX, INT64_MIN, INT64_MIN + 1}) {
    ExpectRejected(p.old_bytes, p.Sa(W::Control({{0, 1, seek}, {0, 19, 0}}), "", e20),
                   "leaves the old file", at);
  }
  ExpectRejected(p.old_bytes, p.Sa(W::Control({{0, UINT32_MAX, 0}}), "", e20),
                 "runs past the new size", at);
  ExpectRejected(p.old_bytes, p.Sa(W::Control({{-1, 0, 0}}), "", e20), "runs past the new size",
                 at);
  ExpectRejected(p.old_bytes, p.Sa(W::Control({{16, 2, 0}}), d16, "ee"),
                 "control records produce 18 bytes", at);
  ExpectRejected(p.old_bytes, p.Sa(W::Control({{0, 0, 3}, {0, 0, 0}, {0, 20, 0}}), "", e20),
                 "adds and copies nothing", at);
  ExpectRejected(p.old_bytes, p.Sa(std::string(11, '\xff'), d16, "eeee"), "longer than 64 bits",
                 at);
  ExpectRejected(p.old_bytes, p.Sa(W::Control({{16, 4, 0}}).substr(0, 2), d16, "eeee"), "truncated",
                 at);
  // A seek back and forth inside the old file is fine.
  const std::string back_and_forth = W::Control({{0, 1, 16}, {0, 1, -16}, {16, 2, 0}});
  Result<std::string> r =
      ApplyDelta(p.old_bytes, p.Sa(back_and_forth, std::string(16, 'n'), "nnnn"));
  EXPECT_FALSE(r.ok());  // the diff is not the right one: the new hash catches it
  EXPECT_EQ(r.error().code, ErrorCode::kCorrupt) << r.error().ToString();
}

TEST(DeltaHostile, StreamsThatDisagreeWithTheRecords) {
  const SmallPair p;
  const std::string control = DeltaWriter::Control({{16, 4, 0}});
  const std::string d16(16, '\0');
  ExpectRejected(p.old_bytes, p.Sa(control, d16.substr(0, 15), "eeee"),
                 "diff stream: holds 15 bytes, the control records add 16", p.After(control));
  ExpectRejected(p.old_bytes, p.Sa(control, d16, "eee"),
                 "extra stream: holds 3 bytes, the control records copy 4", p.After(control, d16));
  ExpectRejected(p.old_bytes, p.Sa(control, d16, "eeeee"), "extra stream: holds 5 bytes",
                 p.After(control, d16));
  // Bytes after the last stream.
  ExpectRejected(p.old_bytes, p.Sa(control, d16, "eeee") + "x", "bytes after the last stream",
                 p.Sa(control, d16, "eeee").size());
  // A stream size running past the end.
  std::string cut = p.Sa(control, d16, "eeee");
  cut.pop_back();
  ExpectRejected(p.old_bytes, cut, "runs past the end of the delta", p.After(control, d16));
  // Not a zstd frame; an empty frame; two frames in one stream.
  const std::string frame =
      DeltaWriter(Method::kSuffixArray, "", "").Stream(control).bytes().substr(kHeaderSize + 1);
  ExpectRejected(
      p.old_bytes,
      DeltaWriter(Method::kSuffixArray, p.old_bytes, p.new_bytes).Frame("not a zstd frame").bytes(),
      "not a zstd frame", kHeaderSize);
  std::string empty_frame(ZSTD_compressBound(0), '\0');
  empty_frame.resize(ZSTD_compress(empty_frame.data(), empty_frame.size(), "", 0, 1));
  ExpectRejected(
      p.old_bytes,
      DeltaWriter(Method::kSuffixArray, p.old_bytes, p.new_bytes).Frame(empty_frame).bytes(),
      "no content", kHeaderSize);
  ExpectRejected(
      p.old_bytes,
      DeltaWriter(Method::kSuffixArray, p.old_bytes, p.new_bytes).Frame(frame + frame).bytes(),
      "not exactly one zstd frame", kHeaderSize);
}

// A zstd frame recording `content_size` that holds one RLE block of
// `rle_bytes` copies of 'z'.
std::string RleFrame(uint64_t content_size, uint32_t rle_bytes) {
  std::string f = "\x28\xb5\x2f\xfd";
  f.push_back(static_cast<char>(0xe0));  // single segment, 8-byte content size
  for (int i = 0; i < 8; ++i) f.push_back(static_cast<char>(content_size >> (8 * i)));
  const uint32_t block = (rle_bytes << 3) | (1 << 1) | 1;  // last block, RLE
  for (int i = 0; i < 3; ++i) f.push_back(static_cast<char>(block >> (8 * i)));
  f.push_back('z');
  return f;
}

TEST(DeltaHostile, FramesThatLieAboutTheirSize) {
  const std::string old_bytes = "0123456789abcdef";
  const std::string big_new(1000, 'z');
  // Sanity: the hand-made frame is a valid frame.
  std::string out(100, '\0');
  ASSERT_EQ(
      ZSTD_decompress(out.data(), out.size(), RleFrame(100, 100).data(), RleFrame(100, 100).size()),
      100u);
  Result<std::string> r = ApplyDelta(
      old_bytes,
      DeltaWriter(Method::kPatchFrom, old_bytes, big_new).Frame(RleFrame(1000, 1000)).bytes());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(*r, big_new);

  // Claims far more than a 17-byte frame can hold: refused before allocating.
  std::string delta = DeltaWriter(Method::kPatchFrom, old_bytes, "").bytes();
  // Header saying the new file has kMaxFileSize bytes.
  for (int i = 0; i < 8; ++i) delta[16 + i] = static_cast<char>(kMaxFileSize >> (8 * i));
  delta +=
      DeltaWriter::VarintBytes(RleFrame(kMaxFileSize, 1000).size()) + RleFrame(kMaxFileSize, 1000);
  ExpectRejected(old_bytes, delta, "more than", kHeaderSize);
  // Claims more than the header's new size.
  ExpectRejected(
      old_bytes,
      DeltaWriter(Method::kPatchFrom, old_bytes, big_new).Frame(RleFrame(1001, 1000)).bytes(),
      "more than 1000 possible", kHeaderSize);
  // Claims less than the header's new size.
  ExpectRejected(
      old_bytes,
      DeltaWriter(Method::kPatchFrom, old_bytes, big_new).Frame(RleFrame(999, 999)).bytes(),
      "holds 999 bytes", kHeaderSize);
  // Claims the right size but holds less: zstd notices.
  r = ApplyDelta(
      old_bytes,
      DeltaWriter(Method::kPatchFrom, old_bytes, big_new).Frame(RleFrame(1000, 600)).bytes());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, kHeaderSize) << r.error().ToString();
  // In a suffix-array delta: a control stream claiming gigabytes.
  ExpectRejected(old_bytes,
                 DeltaWriter(Method::kSuffixArray, old_bytes, big_new)
                     .Frame(RleFrame(uint64_t{1} << 40, 1000))
                     .bytes(),
                 "control stream: zstd frame claims", kHeaderSize);
}

TEST(DeltaHostile, RunsThatDisagree) {
  const std::string old_bytes = "0123456789abcdef";
  const std::string new_bytes = "0123XY6789abcdefZZ";
  const std::string control = DeltaWriter::Control({{16, 2, 0}});
  const std::string two = "\x10\x20";
  auto runs = [&](const std::string& zero, const std::string& nonzero, const std::string& bytes) {
    return DeltaWriter(Method::kSuffixArrayRuns, old_bytes, new_bytes)
        .Stream(control)
        .Stream(zero)
        .Stream(nonzero)
        .Stream(bytes)
        .Stream("ZZ")
        .bytes();
  };
  auto v = [](std::initializer_list<uint64_t> values) {
    std::string s;
    for (uint64_t x : values) s += DeltaWriter::VarintBytes(x);
    return s;
  };
  const size_t zero_at =
      DeltaWriter(Method::kSuffixArrayRuns, old_bytes, new_bytes).Stream(control).bytes().size();
  const size_t nonzero_at = DeltaWriter(Method::kSuffixArrayRuns, old_bytes, new_bytes)
                                .Stream(control)
                                .Stream(v({4, 10}))
                                .bytes()
                                .size();
  ExpectRejected(old_bytes, runs(v({4, 11}), v({2, 0}), two), "runs past the diff size", zero_at);
  ExpectRejected(old_bytes, runs(v({4, 9}), v({2, 0}), two), "runs cover 15 diff bytes", zero_at);
  ExpectRejected(old_bytes, runs(v({4, 10}), v({3, 0}), two), "non-zero runs stream: run of 3",
                 nonzero_at);
  ExpectRejected(old_bytes, runs(v({4, 10}), v({2}), two), "ends before the zero runs", nonzero_at);
  ExpectRejected(old_bytes, runs(v({4, 10}), v({2, 0, 0}), two), "longer than the zero runs",
                 nonzero_at);
  ExpectRejected(old_bytes, runs(v({4, 10}), v({1, 0}), two), "runs cover 15", zero_at);
  ExpectRejected(old_bytes, runs(v({3, 12}), v({1, 0}), two), "runs use 1 of its 2 bytes",
                 DeltaWriter(Method::kSuffixArrayRuns, old_bytes, new_bytes)
                     .Stream(control)
                     .Stream(v({3, 12}))
                     .Stream(v({1, 0}))
                     .bytes()
                     .size());
  ExpectRejected(old_bytes, runs(std::string(11, '\xff'), v({2, 0}), two), "zero runs stream",
                 zero_at);
}

}  // namespace
}  // namespace atrium::delta
