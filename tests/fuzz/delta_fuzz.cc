// libFuzzer target for ApplyDelta (bundles/src/delta.h) against a fixed old
// file. Each input is applied twice: as is, and (when it is long enough to
// have a header) with the old size and hash fields overwritten by the fixed
// old file's, so that mutants get past the base check into the streams.
// Invariants checked on every input:
// 1. A result has the size and XXH64 the delta's header records.
// 2. An error has a message, a parse / validation / base / corruption code
//    and an offset inside the input.
// Seeds: tests/fuzz/corpus/delta/, deltas from FuzzOld() to a few edited
// copies with every method (plus header_start.bin, a header cut short).
// Regenerate the deltas after a format change with (one command line):
//   ATRIUM_DELTA_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/delta
//   build/tests/fuzz/delta_fuzz_replay --mutations 0 tests/fuzz/corpus/delta
//
// Concurrency: libFuzzer calls LLVMFuzzerTestOneInput from one thread.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "delta.h"

namespace {

namespace delta = atrium::delta;

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "delta_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

// 3 KiB of text-like and binary-like bytes; the base every seed is made for.
const std::string& FuzzOld() {
  static const std::string* old = [] {
    auto* s = new std::string;
    uint32_t x = 12345;
    while (s->size() < 3072) {
      x = x * 1103515245 + 12345;
      if ((x >> 16) % 4 == 0) {
        s->append("function f() { return 42; }\n");
      } else {
        s->push_back(static_cast<char>(x >> 24));
      }
    }
    s->resize(3072);
    return s;
  }();
  return *old;
}

void Check(std::string_view input) {
  atrium::Result<std::string> out = delta::ApplyDelta(FuzzOld(), input);
  if (out.ok()) {
    atrium::Result<delta::DeltaInfo> info = delta::ReadDeltaInfo(input);
    Require(info.ok(), "an applied delta has a readable header");
    Require(out->size() == info->new_size, "result has the recorded size");
    Require(delta::HashOf(*out) == info->new_hash, "result has the recorded hash");
    return;
  }
  const atrium::Error& e = out.error();
  Require(!e.message.empty(), "error has a message");
  Require(e.code == atrium::ErrorCode::kParse || e.code == atrium::ErrorCode::kValidation ||
              e.code == atrium::ErrorCode::kInvalidArgument ||
              e.code == atrium::ErrorCode::kCorrupt,
          "error code is parse, validation, invalid argument (base) or corrupt");
  Require(e.offset.has_value() && *e.offset <= input.size(), "error offset lies inside the input");
}

void WriteSeeds(const std::string& dir) {
  const std::string& old = FuzzOld();
  std::string edited = old;
  edited.insert(1000, "a few inserted bytes");
  edited.replace(2500, 4, "\x01\x02\x03\x04", 4);
  std::string shifted = old.substr(0, 1500);
  for (size_t i = 1500; i < old.size(); ++i)
    shifted.push_back(static_cast<char>(old[i] + (i % 16 == 0)));
  struct Seed {
    const char* name;
    const std::string* new_bytes;
    delta::Method method;
  };
  const std::string empty;
  for (const Seed& s : {Seed{"patch_from_edited", &edited, delta::Method::kPatchFrom},
                        Seed{"patch_from_empty_new", &empty, delta::Method::kPatchFrom},
                        Seed{"suffix_array_edited", &edited, delta::Method::kSuffixArray},
                        Seed{"suffix_array_shifted", &shifted, delta::Method::kSuffixArray},
                        Seed{"runs_shifted", &shifted, delta::Method::kSuffixArrayRuns},
                        Seed{"runs_edited", &edited, delta::Method::kSuffixArrayRuns}}) {
    atrium::Result<std::string> d = delta::EncodeDelta(old, *s.new_bytes, {.method = s.method});
    Require(d.ok(), "seed encodes");
    std::ofstream(dir + "/" + s.name + ".atdl", std::ios::binary) << *d;
    std::printf("wrote %s/%s.atdl (%zu bytes)\n", dir.c_str(), s.name, d->size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (const char* dir = std::getenv("ATRIUM_DELTA_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Check(input);
  if (size >= delta::kHeaderSize) {
    std::string based(input);
    const uint64_t old_size = FuzzOld().size();
    for (int i = 0; i < 8; ++i) based[8 + i] = static_cast<char>(old_size >> (8 * i));
    const delta::Digest hash = delta::HashOf(FuzzOld());
    for (int i = 0; i < 8; ++i) based[24 + i] = static_cast<char>(hash >> (8 * i));
    Check(based);
  }
  return 0;
}
