// The delta engine (delta.h): the suffix-array matcher, the stream writers
// and the bounds-checked decoder.
#include "delta.h"

#include <divsufsort.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "atrium/base/hex.h"

namespace atrium::delta {
namespace {

constexpr char kMagic[4] = {'A', 'T', 'D', 'L'};
constexpr uint8_t kFormatVersion = 1;

// A zstd block decodes to at most 128 KiB and occupies at least 4 bytes (a
// 3-byte header and one byte of payload), so no frame decodes to more than
// this many times its own size. A frame claiming more is rejected before
// anything is allocated for it.
constexpr uint64_t kZstdMaxExpansion = 32 * 1024;

// Largest encoding of one varint and of one control record.
constexpr uint64_t kMaxVarintBytes = 10;
constexpr uint64_t kMaxRecordBytes = 3 * kMaxVarintBytes;

// A new exact match replaces the current alignment only when it covers more
// than this many bytes beyond what the current alignment already matches.
constexpr int64_t kMatchGain = 8;

// zstd's largest window on 64-bit builds (ZSTD_WINDOWLOG_MAX_64), enough for
// an old and a new file of kMaxFileSize each.
constexpr int kMaxWindowLog = 31;

using Bytes = const uint8_t*;
using ::atrium::internal::HexU64;

Bytes Data(std::string_view s) { return reinterpret_cast<Bytes>(s.data()); }

Error DeltaError(ErrorCode code, uint64_t offset, std::string message) {
  Error e = MakeError(code, std::move(message));
  e.offset = offset;
  return e;
}

std::string Str(uint64_t v) { return std::to_string(v); }

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads the varint at data[*pos]; false when it is truncated or does not fit
// 64 bits.
bool GetVarint(std::string_view data, size_t* pos, uint64_t* value) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= data.size()) return false;
    const uint8_t b = static_cast<uint8_t>(data[(*pos)++]);
    if (shift == 63 && b > 1) return false;
    v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      *value = v;
      return true;
    }
  }
  return false;
}

uint64_t Zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t Unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// ---------------------------------------------------------------------------
// zstd streams

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};
using CCtxPtr = std::unique_ptr<ZSTD_CCtx, CCtxFree>;
using DCtxPtr = std::unique_ptr<ZSTD_DCtx, DCtxFree>;

// Smallest window that reaches back over `bytes` bytes.
int WindowLogFor(uint64_t bytes) {
  int log = 10;  // ZSTD_WINDOWLOG_MIN
  while (log < kMaxWindowLog && (uint64_t{1} << log) < bytes) ++log;
  return log;
}

// Appends one stream: the varint size of a zstd frame holding `src`
// (compressed with `prefix` as content-only dictionary), then the frame. An
// empty `src` is the size 0 and no frame.
Status AppendStream(ZSTD_CCtx* cctx, std::string_view src, std::string_view prefix, int level,
                    std::string* out) {
  if (src.empty()) {
    PutVarint(*out, 0);
    return Status::Ok();
  }
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  const size_t window = WindowLogFor(src.size() + prefix.size());
  for (auto [param, value] :
       {std::pair{ZSTD_c_compressionLevel, level},
        std::pair{ZSTD_c_windowLog, static_cast<int>(window)},
        std::pair{ZSTD_c_enableLongDistanceMatching, 1}, std::pair{ZSTD_c_contentSizeFlag, 1},
        std::pair{ZSTD_c_checksumFlag, 0}, std::pair{ZSTD_c_dictIDFlag, 0}}) {
    const size_t r = ZSTD_CCtx_setParameter(cctx, param, value);
    if (ZSTD_isError(r)) {
      return MakeError(
          ErrorCode::kInternal,
          std::string("zstd rejected a compression parameter: ") + ZSTD_getErrorName(r));
    }
  }
  if (!prefix.empty()) {
    const size_t r = ZSTD_CCtx_refPrefix(cctx, prefix.data(), prefix.size());
    if (ZSTD_isError(r)) {
      return MakeError(ErrorCode::kInternal, std::string("zstd rejected the old file as prefix: ") +
                                                 ZSTD_getErrorName(r));
    }
  }
  std::string frame(ZSTD_compressBound(src.size()), '\0');
  const size_t n = ZSTD_compress2(cctx, frame.data(), frame.size(), src.data(), src.size());
  if (ZSTD_isError(n)) {
    return MakeError(ErrorCode::kInternal,
                     std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  PutVarint(*out, n);
  out->append(frame.data(), n);
  return Status::Ok();
}

// One stream of a delta being read: where its frame is and what it decodes to.
struct Frame {
  const char* name = "";
  size_t offset = 0;       // of the stream's size varint in the delta
  std::string_view bytes;  // the frame; empty for an empty stream
  uint64_t content_size = 0;
};

// Reads the stream at delta[*pos] and checks its frame without decoding it:
// one zstd frame exactly filling the stored size, recording a content size
// of at most `max_content` bytes (and of no more than a frame that size can
// hold).
Result<Frame> NextFrame(std::string_view delta, size_t* pos, const char* name,
                        uint64_t max_content) {
  Frame f;
  f.name = name;
  f.offset = *pos;
  const std::string prefix = std::string(name) + " stream: ";
  uint64_t size = 0;
  if (!GetVarint(delta, pos, &size)) {
    return DeltaError(ErrorCode::kParse, f.offset,
                      prefix + "size is truncated or longer than 64 bits");
  }
  if (size > delta.size() - *pos) {
    return DeltaError(ErrorCode::kParse, f.offset,
                      prefix + "size " + Str(size) + " runs past the end of the delta (" +
                          Str(delta.size() - *pos) + " bytes left)");
  }
  f.bytes = delta.substr(*pos, size);
  *pos += size;
  if (size == 0) return f;
  const unsigned long long content = ZSTD_getFrameContentSize(f.bytes.data(), f.bytes.size());
  if (content == ZSTD_CONTENTSIZE_ERROR) {
    return DeltaError(ErrorCode::kParse, f.offset, prefix + "not a zstd frame");
  }
  if (content == ZSTD_CONTENTSIZE_UNKNOWN) {
    return DeltaError(ErrorCode::kParse, f.offset,
                      prefix + "zstd frame does not record its content size");
  }
  const size_t frame_size = ZSTD_findFrameCompressedSize(f.bytes.data(), f.bytes.size());
  if (ZSTD_isError(frame_size) || frame_size != size) {
    return DeltaError(ErrorCode::kParse, f.offset,
                      prefix + "is not exactly one zstd frame of " + Str(size) + " bytes");
  }
  if (content == 0) {
    return DeltaError(ErrorCode::kParse, f.offset,
                      prefix + "zstd frame of no content (an empty stream has size 0)");
  }
  if (content > max_content || content / kZstdMaxExpansion > size) {
    return DeltaError(ErrorCode::kParse, f.offset,
                      prefix + "zstd frame claims " + Str(content) + " bytes, more than " +
                          Str(std::min<uint64_t>(max_content, size * kZstdMaxExpansion)) +
                          " possible");
  }
  f.content_size = content;
  return f;
}

// Decodes `f` into dst[0..f.content_size).
Status Decompress(ZSTD_DCtx* dctx, const Frame& f, std::string_view prefix, uint8_t* dst) {
  if (f.content_size == 0) return Status::Ok();
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
  if (!prefix.empty()) {
    const size_t r = ZSTD_DCtx_refPrefix(dctx, prefix.data(), prefix.size());
    if (ZSTD_isError(r)) {
      return MakeError(ErrorCode::kInternal, std::string("zstd rejected the old file as prefix: ") +
                                                 ZSTD_getErrorName(r));
    }
  }
  const size_t n = ZSTD_decompressDCtx(dctx, dst, f.content_size, f.bytes.data(), f.bytes.size());
  if (ZSTD_isError(n)) {
    return DeltaError(ErrorCode::kParse, f.offset,
                      std::string(f.name) + " stream: zstd: " + ZSTD_getErrorName(n));
  }
  if (n != f.content_size) {
    return DeltaError(ErrorCode::kParse, f.offset,
                      std::string(f.name) + " stream: decoded " + Str(n) +
                          " bytes, the frame says " + Str(f.content_size));
  }
  return Status::Ok();
}

// An uninitialised byte buffer (every byte is written before it is read).
struct Buffer {
  std::unique_ptr<uint8_t[]> bytes;
  uint64_t size = 0;
  explicit Buffer(uint64_t n) : bytes(std::make_unique_for_overwrite<uint8_t[]>(n)), size(n) {}
  std::string_view view() const { return {reinterpret_cast<const char*>(bytes.get()), size}; }
};

Result<Buffer> DecompressToBuffer(ZSTD_DCtx* dctx, const Frame& f, std::string_view prefix) {
  Buffer b(f.content_size);
  if (Status s = Decompress(dctx, f, prefix, b.bytes.get()); !s.ok()) return s.error();
  return b;
}

// ---------------------------------------------------------------------------
// Suffix-array matching

// Length of the common prefix of a[0..n) and b[0..n).
inline int64_t CommonPrefix(Bytes a, Bytes b, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    if (x != y) {
      if constexpr (std::endian::native == std::endian::little) {
        return i + (std::countr_zero(x ^ y) >> 3);
      } else {
        return i + (std::countl_zero(x ^ y) >> 3);
      }
    }
  }
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// The suffix array of the old file and longest-match queries against it.
class SuffixIndex {
 public:
  static Result<SuffixIndex> Build(std::string_view old) {
    SuffixIndex index(old);
    if (!old.empty() &&
        divsufsort(index.old_, index.sa_.data(), static_cast<saidx_t>(old.size())) != 0) {
      return MakeError(ErrorCode::kInternal, "divsufsort failed on the old file (out of memory?)");
    }
    return index;
  }

  // The length of the longest prefix of q[0..qn) found in the old file, and
  // in *pos where it starts there (0 when nothing matches).
  int64_t LongestMatch(Bytes q, int64_t qn, int64_t* pos) const {
    // sa_[lo] < q <= sa_[hi] (sentinels -1 and size_), with llcp and rlcp
    // the common prefix lengths of q with each; every suffix between them
    // shares at least the smaller of the two with q.
    int64_t lo = -1, hi = size_, llcp = 0, rlcp = 0;
    while (hi - lo > 1) {
      const int64_t mid = lo + (hi - lo) / 2;
      const int64_t s = sa_[mid];
      const int64_t known = std::min(llcp, rlcp);
      const int64_t limit = std::min(qn, size_ - s);
      const int64_t l = known + CommonPrefix(q + known, old_ + s + known, limit - known);
      const bool q_first = l == qn || (l < size_ - s && q[l] < old_[s + l]);
      if (q_first) {
        hi = mid;
        rlcp = l;
      } else {
        lo = mid;
        llcp = l;
      }
    }
    if (lo >= 0 && (hi >= size_ || llcp >= rlcp)) {
      *pos = sa_[lo];
      return llcp;
    }
    *pos = hi < size_ ? sa_[hi] : 0;
    return hi < size_ ? rlcp : 0;
  }

 private:
  explicit SuffixIndex(std::string_view old)
      : old_(Data(old)), size_(static_cast<int64_t>(old.size())), sa_(old.size()) {}

  Bytes old_;
  int64_t size_;
  std::vector<saidx_t> sa_;
};

struct Record {
  uint64_t add = 0;
  uint64_t copy = 0;
  int64_t seek = 0;
};

// The control records turning old into new_bytes: bsdiff's greedy scan.
// Walking the new file, an exact match found through the suffix array
// replaces the current alignment (old offset - new offset) once it covers
// more than kMatchGain bytes beyond what the current alignment matches there.
// The stretch between two accepted matches is then split: the previous
// match extended forward and the next one extended backward as approximate
// matches (as long as at least half their bytes agree) become add bytes,
// whatever is left between them copy (extra) bytes.
std::vector<Record> Match(const SuffixIndex& index, std::string_view old_bytes,
                          std::string_view new_bytes) {
  const Bytes o = Data(old_bytes);
  const Bytes n = Data(new_bytes);
  const int64_t old_size = static_cast<int64_t>(old_bytes.size());
  const int64_t new_size = static_cast<int64_t>(new_bytes.size());
  auto agrees = [&](int64_t new_pos, int64_t offset) {
    const int64_t p = new_pos + offset;
    return p >= 0 && p < old_size && o[p] == n[new_pos];
  };

  std::vector<Record> records;
  int64_t scan = 0, len = 0, pos = 0;
  int64_t last_scan = 0, last_pos = 0, last_offset = 0;
  while (scan < new_size) {
    // Bytes of new[scan, scan + len) the current alignment already matches.
    int64_t aligned = 0;
    scan += len;
    int64_t counted = scan;
    for (; scan < new_size; ++scan) {
      len = index.LongestMatch(n + scan, new_size - scan, &pos);
      for (; counted < scan + len; ++counted) {
        if (agrees(counted, last_offset)) ++aligned;
      }
      if ((len == aligned && len != 0) || len > aligned + kMatchGain) break;
      if (agrees(scan, last_offset)) --aligned;
    }
    if (len == aligned && scan != new_size) continue;  // the alignment goes on

    // Forward extension of the previous match: the prefix of new[last_scan,
    // scan) where matches minus mismatches, at last_pos, peaks.
    int64_t forward = 0;
    for (int64_t i = 0, same = 0, best = 0; last_scan + i < scan && last_pos + i < old_size;) {
      if (o[last_pos + i] == n[last_scan + i]) ++same;
      ++i;
      if (2 * same - i > 2 * best - forward) {
        best = same;
        forward = i;
      }
    }
    // Backward extension of the new match, likewise.
    int64_t backward = 0;
    if (scan < new_size) {
      for (int64_t i = 1, same = 0, best = 0; scan >= last_scan + i && pos >= i; ++i) {
        if (o[pos - i] == n[scan - i]) ++same;
        if (2 * same - i > 2 * best - backward) {
          best = same;
          backward = i;
        }
      }
    }
    // Where the two extensions overlap, split them where the forward one
    // matches best relative to the backward one.
    if (last_scan + forward > scan - backward) {
      const int64_t overlap = (last_scan + forward) - (scan - backward);
      int64_t score = 0, best = 0, split = 0;
      for (int64_t i = 0; i < overlap; ++i) {
        if (n[last_scan + forward - overlap + i] == o[last_pos + forward - overlap + i]) ++score;
        if (n[scan - backward + i] == o[pos - backward + i]) --score;
        if (score > best) {
          best = score;
          split = i + 1;
        }
      }
      forward += split - overlap;
      backward -= split;
    }

    Record r;
    r.add = static_cast<uint64_t>(forward);
    r.copy = static_cast<uint64_t>((scan - backward) - (last_scan + forward));
    r.seek = scan < new_size ? (pos - backward) - (last_pos + forward) : 0;
    if (r.add == 0 && r.copy == 0 && !records.empty()) {
      records.back().seek += r.seek;  // a pure seek joins the previous record
    } else {
      records.push_back(r);
    }
    last_scan = scan - backward;
    last_pos = pos - backward;
    last_offset = pos - scan;
  }
  return records;
}

// ---------------------------------------------------------------------------
// Writing deltas

struct Hashes {
  Digest old_hash, new_hash;
};

std::string Header(Method method, std::string_view old_bytes, std::string_view new_bytes,
                   const Hashes& hashes) {
  std::string out(kMagic, sizeof kMagic);
  out.push_back(static_cast<char>(kFormatVersion));
  out.push_back(static_cast<char>(method));
  out.append(2, '\0');
  PutU64(out, old_bytes.size());
  PutU64(out, new_bytes.size());
  PutU64(out, hashes.old_hash);
  PutU64(out, hashes.new_hash);
  return out;
}

Result<std::string> EncodePatchFrom(ZSTD_CCtx* cctx, std::string_view old_bytes,
                                    std::string_view new_bytes, const Hashes& hashes, int level) {
  std::string out = Header(Method::kPatchFrom, old_bytes, new_bytes, hashes);
  if (Status s = AppendStream(cctx, new_bytes, old_bytes, level, &out); !s.ok()) return s.error();
  return out;
}

// Encodes with the suffix-array method in each of `methods` (kSuffixArray,
// kSuffixArrayRuns); returns the smallest.
Result<std::string> EncodeSuffixArray(ZSTD_CCtx* cctx, std::string_view old_bytes,
                                      std::string_view new_bytes, const Hashes& hashes, int level,
                                      const std::vector<Method>& methods) {
  Result<SuffixIndex> index = SuffixIndex::Build(old_bytes);
  if (!index.ok()) return index.error();
  const std::vector<Record> records = Match(*index, old_bytes, new_bytes);

  std::string control, diff, extra;
  diff.reserve(new_bytes.size());
  uint64_t old_pos = 0, new_pos = 0;
  for (const Record& r : records) {
    PutVarint(control, r.add);
    PutVarint(control, r.copy);
    PutVarint(control, Zigzag(r.seek));
    for (uint64_t i = 0; i < r.add; ++i) {
      diff.push_back(static_cast<char>(new_bytes[new_pos + i] - old_bytes[old_pos + i]));
    }
    new_pos += r.add;
    old_pos += r.add;
    extra.append(new_bytes.substr(new_pos, r.copy));
    new_pos += r.copy;
    old_pos += r.seek;
  }
  ATRIUM_CHECK(new_pos == new_bytes.size(), "control records do not cover the new file");

  std::string control_stream, extra_stream;
  if (Status s = AppendStream(cctx, control, {}, level, &control_stream); !s.ok()) {
    return s.error();
  }
  if (Status s = AppendStream(cctx, extra, old_bytes, level, &extra_stream); !s.ok()) {
    return s.error();
  }

  std::string best;
  for (Method method : methods) {
    std::string out = Header(method, old_bytes, new_bytes, hashes);
    out += control_stream;
    if (method == Method::kSuffixArray) {
      if (Status s = AppendStream(cctx, diff, {}, level, &out); !s.ok()) return s.error();
    } else {
      std::string zero_runs, nonzero_runs, nonzero;
      for (size_t i = 0; i < diff.size();) {
        size_t j = i;
        while (j < diff.size() && diff[j] == 0) ++j;
        size_t k = j;
        while (k < diff.size() && diff[k] != 0) ++k;
        PutVarint(zero_runs, j - i);
        PutVarint(nonzero_runs, k - j);
        nonzero.append(diff, j, k - j);
        i = k;
      }
      for (const std::string* s : {&zero_runs, &nonzero_runs, &nonzero}) {
        if (Status st = AppendStream(cctx, *s, {}, level, &out); !st.ok()) return st.error();
      }
    }
    out += extra_stream;
    if (best.empty() || out.size() < best.size()) best = std::move(out);
  }
  return best;
}

// ---------------------------------------------------------------------------
// Applying deltas

// new[i] = old[i] + diff[i] (mod 256), 16 bytes at a time.
void AddBytes(uint8_t* __restrict out, const uint8_t* __restrict old,
              const uint8_t* __restrict diff, uint64_t n) {
  using V = uint8_t __attribute__((vector_size(16)));
  uint64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    V a, b;
    std::memcpy(&a, old + i, 16);
    std::memcpy(&b, diff + i, 16);
    a += b;
    std::memcpy(out + i, &a, 16);
  }
  for (; i < n; ++i) out[i] = static_cast<uint8_t>(old[i] + diff[i]);
}

Status CheckNewHash(std::string_view out, const DeltaInfo& info) {
  const Digest got = HashOf(out);
  if (got != info.new_hash) {
    return DeltaError(ErrorCode::kCorrupt, 32,
                      "applying the delta gave a file with xxh64 " + HexU64(got) +
                          ", the delta expects " + HexU64(info.new_hash) +
                          " (the delta is corrupt)");
  }
  return Status::Ok();
}

Status CheckAtEnd(std::string_view delta, size_t pos) {
  if (pos != delta.size()) {
    return DeltaError(ErrorCode::kParse, pos,
                      Str(delta.size() - pos) + " bytes after the last stream of the delta");
  }
  return Status::Ok();
}

Result<std::string> ApplyPatchFrom(ZSTD_DCtx* dctx, std::string_view old_bytes,
                                   std::string_view delta, const DeltaInfo& info) {
  size_t pos = kHeaderSize;
  Result<Frame> frame = NextFrame(delta, &pos, "new file", info.new_size);
  if (!frame.ok()) return frame.error();
  if (Status s = CheckAtEnd(delta, pos); !s.ok()) return s.error();
  if (frame->content_size != info.new_size) {
    return DeltaError(ErrorCode::kParse, frame->offset,
                      "new file stream: holds " + Str(frame->content_size) +
                          " bytes, the header says the new file has " + Str(info.new_size));
  }
  std::string out(info.new_size, '\0');
  if (Status s = Decompress(dctx, *frame, old_bytes, reinterpret_cast<uint8_t*>(out.data()));
      !s.ok()) {
    return s.error();
  }
  return out;
}

// Decodes and checks every control record against the old and new sizes;
// `diff_size` and `extra_size` receive the add and copy totals.
Result<std::vector<Record>> ReadRecords(std::string_view control, const Frame& frame,
                                        const DeltaInfo& info) {
  std::vector<Record> records;
  records.reserve(control.size() / 3);
  uint64_t cursor = 0, produced = 0;
  size_t pos = 0;
  while (pos < control.size()) {
    const size_t at = pos;
    const std::string where = "control record " + Str(records.size()) + " (decoded offset " +
                              Str(at) + " of the control stream): ";
    auto fail = [&](const std::string& what) {
      return DeltaError(ErrorCode::kValidation, frame.offset, where + what);
    };
    Record r;
    uint64_t seek = 0;
    if (!GetVarint(control, &pos, &r.add) || !GetVarint(control, &pos, &r.copy) ||
        !GetVarint(control, &pos, &seek)) {
      return DeltaError(ErrorCode::kParse, frame.offset,
                        where + "truncated, or a value longer than 64 bits");
    }
    r.seek = Unzigzag(seek);
    if (!records.empty() && r.add == 0 && r.copy == 0) {
      return fail("adds and copies nothing (only the first record may be a pure seek)");
    }
    if (r.add > info.new_size - produced) {
      return fail("add length " + Str(r.add) + " at new offset " + Str(produced) +
                  " runs past the new size " + Str(info.new_size));
    }
    if (r.add > info.old_size - cursor) {
      return fail("add length " + Str(r.add) + " at old offset " + Str(cursor) +
                  " reads past the old size " + Str(info.old_size));
    }
    produced += r.add;
    cursor += r.add;
    if (r.copy > info.new_size - produced) {
      return fail("copy length " + Str(r.copy) + " at new offset " + Str(produced) +
                  " runs past the new size " + Str(info.new_size));
    }
    produced += r.copy;
    const uint64_t distance =
        r.seek < 0 ? uint64_t{0} - static_cast<uint64_t>(r.seek) : static_cast<uint64_t>(r.seek);
    if (r.seek < 0 ? distance > cursor : distance > info.old_size - cursor) {
      return fail("seek " + std::to_string(r.seek) + " from old offset " + Str(cursor) +
                  " leaves the old file (size " + Str(info.old_size) + ")");
    }
    cursor = r.seek < 0 ? cursor - distance : cursor + distance;
    records.push_back(r);
  }
  if (produced != info.new_size) {
    return DeltaError(ErrorCode::kValidation, frame.offset,
                      "control records produce " + Str(produced) +
                          " bytes, the header says the new file has " + Str(info.new_size));
  }
  return records;
}

// Rebuilds the diff stream of method 3 from its zero runs, non-zero runs and
// non-zero bytes into diff[0..diff_size).
Status JoinRuns(std::string_view zero_runs, const Frame& zero_frame, std::string_view nonzero_runs,
                const Frame& nonzero_frame, std::string_view nonzero, const Frame& bytes_frame,
                uint8_t* diff, uint64_t diff_size) {
  size_t zp = 0, np = 0;
  uint64_t filled = 0, used = 0;
  while (zp < zero_runs.size()) {
    const size_t zero_at = zp, nonzero_at = np;
    uint64_t zeros = 0, others = 0;
    if (!GetVarint(zero_runs, &zp, &zeros)) {
      return DeltaError(ErrorCode::kParse, zero_frame.offset,
                        "zero runs stream: value at decoded offset " + Str(zero_at) +
                            " is truncated or longer than 64 bits");
    }
    if (np >= nonzero_runs.size()) {
      return DeltaError(ErrorCode::kValidation, nonzero_frame.offset,
                        "non-zero runs stream: ends before the zero runs stream (at decoded "
                        "offset " +
                            Str(zero_at) + " there)");
    }
    if (!GetVarint(nonzero_runs, &np, &others)) {
      return DeltaError(ErrorCode::kParse, nonzero_frame.offset,
                        "non-zero runs stream: value at decoded offset " + Str(nonzero_at) +
                            " is truncated or longer than 64 bits");
    }
    if (zeros > diff_size - filled) {
      return DeltaError(ErrorCode::kValidation, zero_frame.offset,
                        "zero runs stream: run of " + Str(zeros) + " at decoded offset " +
                            Str(zero_at) + " runs past the diff size " + Str(diff_size));
    }
    std::memset(diff + filled, 0, zeros);
    filled += zeros;
    if (others > diff_size - filled || others > nonzero.size() - used) {
      return DeltaError(ErrorCode::kValidation, nonzero_frame.offset,
                        "non-zero runs stream: run of " + Str(others) + " at decoded offset " +
                            Str(nonzero_at) + " runs past the diff size " + Str(diff_size) +
                            " or the " + Str(nonzero.size()) + " non-zero bytes");
    }
    std::memcpy(diff + filled, nonzero.data() + used, others);
    filled += others;
    used += others;
  }
  if (np != nonzero_runs.size()) {
    return DeltaError(ErrorCode::kValidation, nonzero_frame.offset,
                      "non-zero runs stream: longer than the zero runs stream");
  }
  if (filled != diff_size) {
    return DeltaError(ErrorCode::kValidation, zero_frame.offset,
                      "zero runs stream: runs cover " + Str(filled) +
                          " diff bytes, the control records add " + Str(diff_size));
  }
  if (used != nonzero.size()) {
    return DeltaError(ErrorCode::kValidation, bytes_frame.offset,
                      "non-zero bytes stream: runs use " + Str(used) + " of its " +
                          Str(nonzero.size()) + " bytes");
  }
  return Status::Ok();
}

Result<std::string> ApplySuffixArray(ZSTD_DCtx* dctx, std::string_view old_bytes,
                                     std::string_view delta, const DeltaInfo& info) {
  const bool runs = info.method == Method::kSuffixArrayRuns;
  const uint64_t max_varints = kMaxVarintBytes * (info.new_size + 1);
  size_t pos = kHeaderSize;
  std::vector<Frame> frames;
  auto next = [&](const char* name, uint64_t max_content) -> Status {
    Result<Frame> f = NextFrame(delta, &pos, name, max_content);
    if (!f.ok()) return f.error();
    frames.push_back(*f);
    return Status::Ok();
  };
  // Every record but the first produces at least one byte.
  Status s = next("control", kMaxRecordBytes * (info.new_size + 1));
  if (s.ok() && !runs) s = next("diff", info.new_size);
  if (s.ok() && runs) s = next("zero runs", max_varints);
  if (s.ok() && runs) s = next("non-zero runs", max_varints);
  if (s.ok() && runs) s = next("non-zero bytes", info.new_size);
  if (s.ok()) s = next("extra", info.new_size);
  if (s.ok()) s = CheckAtEnd(delta, pos);
  if (!s.ok()) return s.error();
  const Frame& control_frame = frames.front();
  const Frame& extra_frame = frames.back();

  Result<Buffer> control = DecompressToBuffer(dctx, control_frame, {});
  if (!control.ok()) return control.error();
  Result<std::vector<Record>> records = ReadRecords(control->view(), control_frame, info);
  if (!records.ok()) return records.error();
  uint64_t diff_size = 0;
  for (const Record& r : *records) diff_size += r.add;
  const uint64_t extra_size = info.new_size - diff_size;
  if (extra_frame.content_size != extra_size) {
    return DeltaError(ErrorCode::kValidation, extra_frame.offset,
                      "extra stream: holds " + Str(extra_frame.content_size) +
                          " bytes, the control records copy " + Str(extra_size));
  }

  Buffer diff(diff_size);
  if (!runs) {
    const Frame& f = frames[1];
    if (f.content_size != diff_size) {
      return DeltaError(ErrorCode::kValidation, f.offset,
                        "diff stream: holds " + Str(f.content_size) +
                            " bytes, the control records add " + Str(diff_size));
    }
    if (Status d = Decompress(dctx, f, {}, diff.bytes.get()); !d.ok()) return d.error();
  } else {
    Result<Buffer> zero_runs = DecompressToBuffer(dctx, frames[1], {});
    if (!zero_runs.ok()) return zero_runs.error();
    Result<Buffer> nonzero_runs = DecompressToBuffer(dctx, frames[2], {});
    if (!nonzero_runs.ok()) return nonzero_runs.error();
    if (frames[3].content_size > diff_size) {
      return DeltaError(ErrorCode::kValidation, frames[3].offset,
                        "non-zero bytes stream: holds " + Str(frames[3].content_size) +
                            " bytes, more than the " + Str(diff_size) + " the records add");
    }
    Result<Buffer> nonzero = DecompressToBuffer(dctx, frames[3], {});
    if (!nonzero.ok()) return nonzero.error();
    if (Status j = JoinRuns(zero_runs->view(), frames[1], nonzero_runs->view(), frames[2],
                            nonzero->view(), frames[3], diff.bytes.get(), diff_size);
        !j.ok()) {
      return j.error();
    }
  }
  Result<Buffer> extra = DecompressToBuffer(dctx, extra_frame, old_bytes);
  if (!extra.ok()) return extra.error();

  // Every record was checked against the sizes above.
  std::string out(info.new_size, '\0');
  uint8_t* dst = reinterpret_cast<uint8_t*>(out.data());
  const Bytes old = Data(old_bytes);
  const uint8_t* d = diff.bytes.get();
  const uint8_t* e = extra->bytes.get();
  uint64_t cursor = 0;
  for (const Record& r : *records) {
    AddBytes(dst, old + cursor, d, r.add);
    dst += r.add;
    d += r.add;
    cursor += r.add;
    std::memcpy(dst, e, r.copy);
    dst += r.copy;
    e += r.copy;
    cursor += static_cast<uint64_t>(r.seek);  // wraps back for negative seeks
  }
  return out;
}

}  // namespace

const char* MethodName(Method method) {
  switch (method) {
    case Method::kPatchFrom:
      return "patch-from";
    case Method::kSuffixArray:
      return "suffix-array";
    case Method::kSuffixArrayRuns:
      return "suffix-array+runs";
  }
  return "unknown";
}

Digest HashOf(std::string_view bytes) {
  // XXH64 as its specification defines it (github.com/Cyan4973/xxHash,
  // doc/xxhash_spec.md), seed 0; zstd's frame checksum is its low 32 bits.
  constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull, kP2 = 0xC2B2AE3D27D4EB4Full,
                     kP3 = 0x165667B19E3779F9ull, kP4 = 0x85EBCA77C2B2AE63ull,
                     kP5 = 0x27D4EB2F165667C5ull;
  auto read64 = [](Bytes p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    return v;
  };
  auto read32 = [](Bytes p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
    return uint64_t{v};
  };
  auto round = [](uint64_t acc, uint64_t lane) { return std::rotl(acc + lane * kP2, 31) * kP1; };
  auto merge = [&](uint64_t acc, uint64_t v) { return (acc ^ round(0, v)) * kP1 + kP4; };
  Bytes p = Data(bytes);
  const Bytes end = p + bytes.size();
  uint64_t h;
  if (bytes.size() >= 32) {
    uint64_t v1 = kP1 + kP2, v2 = kP2, v3 = 0, v4 = 0 - kP1;
    for (; end - p >= 32; p += 32) {
      v1 = round(v1, read64(p));
      v2 = round(v2, read64(p + 8));
      v3 = round(v3, read64(p + 16));
      v4 = round(v4, read64(p + 24));
    }
    h = std::rotl(v1, 1) + std::rotl(v2, 7) + std::rotl(v3, 12) + std::rotl(v4, 18);
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = kP5;
  }
  h += bytes.size();
  for (; end - p >= 8; p += 8) h = std::rotl(h ^ round(0, read64(p)), 27) * kP1 + kP4;
  if (end - p >= 4) {
    h = std::rotl(h ^ (read32(p) * kP1), 23) * kP2 + kP3;
    p += 4;
  }
  for (; p < end; ++p) h = std::rotl(h ^ (*p * kP5), 11) * kP1;
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

Result<std::string> EncodeDelta(std::string_view old_bytes, std::string_view new_bytes,
                                const DeltaOptions& options) {
  for (auto [what, size] :
       {std::pair{"old", old_bytes.size()}, std::pair{"new", new_bytes.size()}}) {
    if (size > kMaxFileSize) {
      return MakeError(ErrorCode::kInvalidArgument, std::string(what) + " file has " + Str(size) +
                                                        " bytes; a delta covers at most " +
                                                        Str(kMaxFileSize));
    }
  }
  if (options.level < 1 || options.level > ZSTD_maxCLevel()) {
    return MakeError(ErrorCode::kInvalidArgument, "zstd level " + std::to_string(options.level) +
                                                      " is outside 1.." +
                                                      std::to_string(ZSTD_maxCLevel()));
  }
  const Hashes hashes{HashOf(old_bytes), HashOf(new_bytes)};
  CCtxPtr cctx(ZSTD_createCCtx());
  if (cctx == nullptr) return MakeError(ErrorCode::kInternal, "cannot create a zstd context");

  std::string best;
  if (!options.method || *options.method == Method::kPatchFrom) {
    Result<std::string> d =
        EncodePatchFrom(cctx.get(), old_bytes, new_bytes, hashes, options.level);
    if (!d.ok()) return d.error();
    best = std::move(*d);
  }
  std::vector<Method> sa_methods;
  if (!options.method || *options.method == Method::kSuffixArray) {
    sa_methods.push_back(Method::kSuffixArray);
  }
  if (!options.method || *options.method == Method::kSuffixArrayRuns) {
    sa_methods.push_back(Method::kSuffixArrayRuns);
  }
  if (!sa_methods.empty()) {
    Result<std::string> d =
        EncodeSuffixArray(cctx.get(), old_bytes, new_bytes, hashes, options.level, sa_methods);
    if (!d.ok()) return d.error();
    if (best.empty() || d->size() < best.size()) best = std::move(*d);
  }
  return best;
}

Result<DeltaInfo> ReadDeltaInfo(std::string_view delta) {
  if (delta.size() < kHeaderSize) {
    return DeltaError(ErrorCode::kParse, delta.size(),
                      "delta is truncated: " + Str(delta.size()) + " bytes, its header alone has " +
                          Str(kHeaderSize));
  }
  if (std::memcmp(delta.data(), kMagic, sizeof kMagic) != 0) {
    return DeltaError(ErrorCode::kParse, 0, "not a delta (no \"ATDL\" magic)");
  }
  const uint8_t version = static_cast<uint8_t>(delta[4]);
  if (version != kFormatVersion) {
    return DeltaError(ErrorCode::kParse, 4,
                      "delta format version " + Str(version) + " is not supported (only " +
                          Str(kFormatVersion) + ")");
  }
  const uint8_t method = static_cast<uint8_t>(delta[5]);
  if (method < 1 || method > 3) {
    return DeltaError(ErrorCode::kParse, 5, "unknown delta method " + Str(method));
  }
  if (delta[6] != 0 || delta[7] != 0) {
    return DeltaError(ErrorCode::kParse, 6, "reserved header bytes are not zero");
  }
  DeltaInfo info;
  info.method = static_cast<Method>(method);
  info.old_size = GetU64(delta.data() + 8);
  info.new_size = GetU64(delta.data() + 16);
  for (auto [offset, what, size] :
       {std::tuple{8, "old", info.old_size}, std::tuple{16, "new", info.new_size}}) {
    if (size > kMaxFileSize) {
      return DeltaError(
          ErrorCode::kParse, offset,
          std::string(what) + " size " + Str(size) + " is over the limit of " + Str(kMaxFileSize));
    }
  }
  info.old_hash = GetU64(delta.data() + 24);
  info.new_hash = GetU64(delta.data() + 32);
  return info;
}

Result<std::string> ApplyDelta(std::string_view old_bytes, std::string_view delta) {
  Result<DeltaInfo> info = ReadDeltaInfo(delta);
  if (!info.ok()) return info.error();
  if (old_bytes.size() != info->old_size) {
    return DeltaError(ErrorCode::kInvalidArgument, 8,
                      "delta is for a different base: expected " + Str(info->old_size) +
                          " bytes, the old file has " + Str(old_bytes.size()));
  }
  if (const Digest got = HashOf(old_bytes); got != info->old_hash) {
    return DeltaError(ErrorCode::kInvalidArgument, 24,
                      "delta is for a different base: expected xxh64 " + HexU64(info->old_hash) +
                          ", the old file has " + HexU64(got));
  }
  DCtxPtr dctx(ZSTD_createDCtx());
  if (dctx == nullptr) return MakeError(ErrorCode::kInternal, "cannot create a zstd context");
  Result<std::string> out = info->method == Method::kPatchFrom
                                ? ApplyPatchFrom(dctx.get(), old_bytes, delta, *info)
                                : ApplySuffixArray(dctx.get(), old_bytes, delta, *info);
  if (!out.ok()) return out;
  if (Status s = CheckNewHash(*out, *info); !s.ok()) return s.error();
  return out;
}

}  // namespace atrium::delta
