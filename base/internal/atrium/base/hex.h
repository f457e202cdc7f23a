// Hex text: lowercase digits of bytes (hashes, key ids) and of 64-bit
// values. Pure functions.
#ifndef ATRIUM_BASE_HEX_H_
#define ATRIUM_BASE_HEX_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace atrium::internal {

// Two lowercase hex digits per byte.
std::string HexOf(const void* bytes, size_t n);
// 16 lowercase hex digits, zero-padded ("00000000deadbeef").
std::string HexU64(uint64_t v);
// Decodes exactly `out_len` bytes from 2 * out_len hex digits (either case);
// false on any other length or a non-hex character.
bool DecodeHex(std::string_view hex, uint8_t* out, size_t out_len);

}  // namespace atrium::internal

#endif  // ATRIUM_BASE_HEX_H_
