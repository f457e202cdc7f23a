// PNG screenshots in the tests: the chunks (ReadPng) and the pixels
// (DecodePixels: 8-bit RGB or RGBA, not interlaced, as Chromium writes
// them), decoded here so a test can check what a page looked like, not
// only that a file was written. Needs zlib.
#ifndef ATRIUM_TESTS_TESTING_PNG_H_
#define ATRIUM_TESTS_TESTING_PNG_H_

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace atrium::testing {

inline uint32_t Be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

struct Png {
  uint32_t width = 0, height = 0;
  int bit_depth = 0, colour_type = 0, interlace = 0;
  std::string idat;
};

inline bool ReadPng(const std::string& bytes, Png* png, std::string* why) {
  static const unsigned char kSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 33 || std::memcmp(bytes.data(), kSig, 8) != 0) {
    *why = "not a PNG";
    return false;
  }
  size_t at = 8;
  while (at + 12 <= bytes.size()) {
    auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    uint32_t len = Be32(p);
    std::string type(bytes.data() + at + 4, 4);
    if (at + 12 + len > bytes.size()) break;
    const unsigned char* data = p + 8;
    if (type == "IHDR") {
      png->width = Be32(data);
      png->height = Be32(data + 4);
      png->bit_depth = data[8];
      png->colour_type = data[9];
      png->interlace = data[12];
    } else if (type == "IDAT") {
      png->idat.append(reinterpret_cast<const char*>(data), len);
    } else if (type == "IEND") {
      return true;
    }
    at += 12 + len;
  }
  *why = "truncated PNG";
  return false;
}

// Decodes 8-bit RGB / RGBA, non-interlaced, into 0xRRGGBB pixels, row by
// row.
inline bool DecodePixels(const Png& png, std::vector<uint32_t>* pixels, std::string* why) {
  int channels = png.colour_type == 2 ? 3 : png.colour_type == 6 ? 4 : 0;
  if (channels == 0 || png.bit_depth != 8 || png.interlace != 0) {
    *why = "unexpected PNG format (colour type " + std::to_string(png.colour_type) + ", depth " +
           std::to_string(png.bit_depth) + ")";
    return false;
  }
  size_t stride = size_t{png.width} * channels;
  std::vector<unsigned char> raw((stride + 1) * png.height);
  uLongf raw_len = raw.size();
  if (uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(png.idat.data()),
                 png.idat.size()) != Z_OK ||
      raw_len != raw.size()) {
    *why = "IDAT does not inflate to the image size";
    return false;
  }
  std::vector<unsigned char> prev(stride, 0), cur(stride);
  for (uint32_t y = 0; y < png.height; ++y) {
    const unsigned char* line = raw.data() + y * (stride + 1);
    int filter = line[0];
    for (size_t i = 0; i < stride; ++i) {
      int a = i >= size_t(channels) ? cur[i - channels] : 0;
      int b = prev[i];
      int c = i >= size_t(channels) ? prev[i - channels] : 0;
      int x = line[1 + i];
      switch (filter) {
        case 0:
          break;
        case 1:
          x += a;
          break;
        case 2:
          x += b;
          break;
        case 3:
          x += (a + b) / 2;
          break;
        case 4: {
          int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
          x += (pa <= pb && pa <= pc) ? a : pb <= pc ? b : c;
          break;
        }
        default:
          *why = "bad PNG filter " + std::to_string(filter);
          return false;
      }
      cur[i] = static_cast<unsigned char>(x);
    }
    for (uint32_t px = 0; px < png.width; ++px) {
      const unsigned char* q = cur.data() + size_t{px} * channels;
      pixels->push_back((uint32_t{q[0]} << 16) | (uint32_t{q[1]} << 8) | q[2]);
    }
    prev.swap(cur);
  }
  return true;
}

}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_TESTING_PNG_H_
