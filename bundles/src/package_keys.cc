// Release keys for packages: the hex key files `atrium keygen` writes
// (PREFIX.pub: 64 hex characters; PREFIX.key: 128, seed || public key) and
// key ids. The same files sign hotpatches (hotpatch/src/patch_package.cc has
// its own copy of the hex decoding, private to that layer).
//
// Concurrency: pure functions (libsodium initialised once).
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "atrium/base/hex.h"
#include "atrium/package.h"
#include "package_format.h"

namespace atrium {
namespace {

using internal::DecodeHex;

constexpr size_t kMaxKeyFileBytes = 1024;

std::string_view TrimTrailingSpace(std::string_view s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Decodes exactly out_len bytes from 2*out_len hex characters.
Error KeyError(std::string_view source, std::string message) {
  Error e = MakeError(ErrorCode::kInvalidArgument, std::move(message));
  e.file = std::string(source);
  return e;
}

Result<std::string> ReadKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    Error e =
        MakeError(ErrorCode::kIo, std::string("cannot open key file: ") + std::strerror(errno));
    e.file = path;
    return e;
  }
  std::string text;
  struct stat st;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  char buffer[512];
  while (ok && text.size() <= kMaxKeyFileBytes) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  if (!ok || text.size() > kMaxKeyFileBytes) {
    Error e =
        MakeError(ErrorCode::kIo, "not a readable key file (a regular file of at most 1 KiB)");
    e.file = path;
    sodium_memzero(text.data(), text.size());
    return e;
  }
  return text;
}

}  // namespace

namespace internal {
Status CheckSecretKey(const SecretKey& key, std::string_view source) {
  EnsureSodium();
  // seed || public key: re-derive the pair from the seed to catch damage.
  uint8_t pk[crypto_sign_PUBLICKEYBYTES];
  uint8_t check[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, check, key.data());
  const bool consistent = sodium_memcmp(check, key.data(), sizeof(check)) == 0;
  sodium_memzero(check, sizeof(check));
  if (!consistent) {
    return KeyError(source,
                    "not a usable Ed25519 secret key: its public half does not match "
                    "its seed (damaged, or not set)");
  }
  return Status::Ok();
}
}  // namespace internal

KeyId KeyIdOf(const PublicKey& key) {
  internal::Digest d =
      internal::Sha256(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
  KeyId id;
  std::memcpy(id.data(), d.data(), id.size());
  return id;
}

std::string KeyIdHex(const KeyId& id) { return internal::HexOf(id.data(), id.size()); }

PublicKey PublicKeyOf(const SecretKey& key) {
  PublicKey pk;
  std::memcpy(pk.data(), key.data() + crypto_sign_SEEDBYTES, pk.size());
  return pk;
}

Result<PublicKey> ParsePublicKeyHex(std::string_view hex, std::string_view source) {
  internal::EnsureSodium();
  PublicKey key;
  if (!DecodeHex(TrimTrailingSpace(hex), key.data(), key.size())) {
    return KeyError(source, "not an Ed25519 public key: expected " +
                                std::to_string(2 * key.size()) +
                                " hex characters (a PREFIX.pub file from `atrium keygen`)");
  }
  return key;
}

Result<SecretKey> ParseSecretKeyHex(std::string_view hex, std::string_view source) {
  internal::EnsureSodium();
  SecretKey key;
  if (!DecodeHex(TrimTrailingSpace(hex), key.data(), key.size())) {
    sodium_memzero(key.data(), key.size());
    return KeyError(source, "not an Ed25519 secret key: expected " +
                                std::to_string(2 * key.size()) +
                                " hex characters (a PREFIX.key file from `atrium keygen`)");
  }
  if (Status s = internal::CheckSecretKey(key, source); !s.ok()) {
    sodium_memzero(key.data(), key.size());
    return s.error();
  }
  return key;
}

Result<PublicKey> ReadPublicKeyFile(const std::string& path) {
  Result<std::string> text = ReadKeyFile(path);
  if (!text.ok()) return std::move(text).take_error();
  return ParsePublicKeyHex(*text, path);
}

Result<SecretKey> ReadSecretKeyFile(const std::string& path) {
  Result<std::string> text = ReadKeyFile(path);
  if (!text.ok()) return std::move(text).take_error();
  Result<SecretKey> key = ParseSecretKeyHex(*text, path);
  sodium_memzero(text->data(), text->size());
  return key;
}

}  // namespace atrium
