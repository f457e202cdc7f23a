// `atrium keygen` and `atrium patch sign` (see patch_commands.h).
//
// The signed message is the one patch_package.h defines:
//   "atrium-patch-v1\n" + u64le(len(patch.json)) + patch.json
//   + u64le(len(source)) + source
// where source is the file the manifest's top-level "source" string names
// ("patch.lua" when it names none). The manifest is only parsed far enough to
// find that name; validating it is the runtime's job (`atrium patch apply`),
// and the same size limits as the runtime's apply here (64 KiB manifest,
// 256 KiB source), so whatever is signed can also be loaded.
//
// Concurrency: single-threaded; called from main().
#include "patch_commands.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace po = boost::program_options;

namespace {

constexpr std::string_view kSignedMagic = "atrium-patch-v1\n";
constexpr size_t kMaxManifestBytes = 64 * 1024;
constexpr size_t kMaxSourceBytes = 256 * 1024;
constexpr size_t kMaxKeyFileBytes = 1024;
constexpr size_t kMaxSourceNameLength = 128;

// Prints "atrium <command>: <message>" and returns exit status 1.
int Fail(const char* command, const std::string& message) {
  std::fprintf(stderr, "atrium %s: %s\n", command, message.c_str());
  return 1;
}

std::string Errno(int err) { return std::strerror(err); }

// Reads `path` into *out; false with *error set when it cannot be read or
// is larger than `limit` bytes.
bool ReadLimited(const std::string& path, size_t limit, std::string* out, std::string* error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    *error = path + ": cannot open: " + Errno(errno);
    return false;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    *error = path + ": not a regular file";
    return false;
  }
  out->clear();
  char buffer[16384];
  while (out->size() <= limit) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = path + ": cannot read: " + Errno(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out->append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  if (out->size() > limit) {
    *error = path + ": larger than the " + std::to_string(limit / 1024) + " KiB limit";
    return false;
  }
  return true;
}

// Writes all of `data` to `fd`, then fsyncs it.
bool WriteAllAndSync(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    done += static_cast<size_t>(n);
  }
  return ::fsync(fd) == 0;
}

// Creates `path`, which must not exist, with `mode` and contents `data`.
bool WriteNewFile(const std::string& path, std::string_view data, mode_t mode, std::string* error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    *error = path + ": cannot create: " + Errno(errno);
    return false;
  }
  // Exactly `mode`, whatever the umask says (it may only have made it stricter).
  bool ok = ::fchmod(fd, mode) == 0 && WriteAllAndSync(fd, data);
  int err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(path.c_str());
    *error = path + ": cannot write: " + Errno(err);
  }
  return ok;
}

// Replaces `dir`/`name` with `data` by way of a fsync'd temporary file.
bool ReplaceFile(const std::string& dir, const std::string& name, std::string_view data,
                 std::string* error) {
  const std::string path = dir + "/" + name;
  std::string temp = dir + "/." + name + ".XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0) {
    *error = path + ": cannot create a temporary file: " + Errno(errno);
    return false;
  }
  bool ok = ::fchmod(fd, 0644) == 0 && WriteAllAndSync(fd, data);
  int err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && ::rename(temp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(temp.c_str());
    *error = path + ": cannot write: " + Errno(err);
    return false;
  }
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return true;
}

std::string ToHex(const unsigned char* bytes, size_t len) {
  std::string hex(2 * len + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes, len);
  hex.pop_back();
  return hex;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Decodes exactly out_len bytes from 2*out_len hex characters.
bool FromHex(std::string_view hex, unsigned char* out, size_t out_len) {
  if (hex.size() != 2 * out_len) return false;
  for (char c : hex) {
    bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!digit) return false;
  }
  size_t written = 0;
  return sodium_hex2bin(out, out_len, hex.data(), hex.size(), nullptr, &written, nullptr) == 0 &&
         written == out_len;
}

void AppendU64Le(std::string* out, uint64_t n) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
}

// The source file the manifest names, or an error. Same rule as the
// runtime's loader: the top-level "source" string, else "patch.lua".
std::optional<std::string> SourceName(std::string_view manifest, const std::string& path,
                                      std::string* error) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (manifest.substr(0, kBom.size()) == kBom) manifest.remove_prefix(kBom.size());
  boost::json::error_code ec;
  boost::json::monotonic_resource arena;
  boost::json::value doc = boost::json::parse(manifest, ec, &arena);
  if (ec) {
    *error = path + ": not valid JSON: " + ec.message();
    return std::nullopt;
  }
  std::string name = "patch.lua";
  if (const boost::json::object* root = doc.if_object()) {
    if (const boost::json::value* source = root->if_contains("source")) {
      if (source->is_string()) name = std::string(source->get_string());
    }
  }
  bool plain = !name.empty() && name.size() <= kMaxSourceNameLength && name != "." &&
               name != ".." && name != "patch.json" && name != "patch.sig";
  for (char c : name) {
    plain = plain && c != '/' && c != '\\' && static_cast<unsigned char>(c) >= 0x20 && c != 0x7F;
  }
  if (!plain) {
    *error = path + ":/source: '" + name + "' is not a plain file name in the package directory";
    return std::nullopt;
  }
  return name;
}

bool ParseArgs(int argc, char** argv, const po::options_description& options,
               const po::positional_options_description& positional, po::variables_map* vm,
               const char* command) {
  try {
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(),
              *vm);
    po::notify(*vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "atrium %s: %s\n", command, e.what());
    return false;
  }
  return true;
}

bool InitSodium(const char* command) {
  if (sodium_init() < 0) {
    Fail(command, "libsodium failed to initialise");
    return false;
  }
  return true;
}

}  // namespace

int KeygenMain(int argc, char** argv) {
  std::string prefix;
  po::options_description options;
  options.add_options()("out", po::value(&prefix));
  po::variables_map vm;
  if (!ParseArgs(argc, argv, options, {}, &vm, "keygen") || prefix.empty()) {
    std::fprintf(stderr,
                 "usage: atrium keygen --out PREFIX\n"
                 "  writes PREFIX.pub (give it to the app as a trusted key) and PREFIX.key\n"
                 "  (secret, mode 0600; keep it off developer machines)\n");
    return 2;
  }
  if (!InitSodium("keygen")) return 1;
  const std::string pub_path = prefix + ".pub";
  const std::string key_path = prefix + ".key";
  for (const std::string& path : {pub_path, key_path}) {
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      return Fail("keygen", path + " already exists; not overwriting a key");
    }
  }

  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  if (crypto_sign_keypair(pk, sk) != 0) return Fail("keygen", "crypto_sign_keypair failed");
  std::string secret_hex = ToHex(sk, sizeof(sk)) + "\n";
  sodium_memzero(sk, sizeof(sk));
  const std::string public_hex = ToHex(pk, sizeof(pk));

  std::string error;
  bool ok = WriteNewFile(key_path, secret_hex, 0600, &error);
  sodium_memzero(secret_hex.data(), secret_hex.size());
  if (!ok) return Fail("keygen", error);
  if (!WriteNewFile(pub_path, public_hex + "\n", 0644, &error)) {
    ::unlink(key_path.c_str());
    return Fail("keygen", error);
  }
  std::printf("wrote %s (secret key, mode 0600)\nwrote %s\npublic key: %s\n", key_path.c_str(),
              pub_path.c_str(), public_hex.c_str());
  return 0;
}

int PatchSignMain(int argc, char** argv) {
  std::string dir;
  std::string key_path;
  po::options_description options;
  options.add_options()("dir", po::value(&dir))("key", po::value(&key_path));
  po::positional_options_description positional;
  positional.add("dir", 1);
  po::variables_map vm;
  if (!ParseArgs(argc, argv, options, positional, &vm, "patch sign") || dir.empty() ||
      key_path.empty()) {
    std::fprintf(stderr,
                 "usage: atrium patch sign <dir> --key PREFIX.key\n"
                 "  signs <dir>/patch.json and the source it names into <dir>/patch.sig\n");
    return 2;
  }
  if (!InitSodium("patch sign")) return 1;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();

  std::string error;
  std::string key_text;
  if (!ReadLimited(key_path, kMaxKeyFileBytes, &key_text, &error)) {
    return Fail("patch sign", error);
  }
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  bool decoded = FromHex(Trim(key_text), sk, sizeof(sk));
  sodium_memzero(key_text.data(), key_text.size());
  if (!decoded) {
    return Fail("patch sign", key_path + ": not a secret key (expected " +
                                  std::to_string(2 * crypto_sign_SECRETKEYBYTES) +
                                  " hex characters, as `atrium keygen` writes)");
  }
  // seed || public key: re-derive from the seed to catch a damaged key file.
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char check[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, check, sk);
  bool consistent = sodium_memcmp(check, sk, sizeof(sk)) == 0;
  sodium_memzero(check, sizeof(check));
  if (!consistent) {
    sodium_memzero(sk, sizeof(sk));
    return Fail("patch sign", key_path + ": damaged secret key (its public half does not match)");
  }
  struct stat key_stat;
  if (::stat(key_path.c_str(), &key_stat) == 0 && (key_stat.st_mode & 0077) != 0) {
    std::fprintf(stderr, "atrium patch sign: warning: %s is readable by other users\n",
                 key_path.c_str());
  }

  const std::string manifest_path = dir + "/patch.json";
  std::string manifest;
  std::string source;
  std::optional<std::string> source_name;
  bool read = ReadLimited(manifest_path, kMaxManifestBytes, &manifest, &error) &&
              (source_name = SourceName(manifest, manifest_path, &error)) &&
              ReadLimited(dir + "/" + *source_name, kMaxSourceBytes, &source, &error);
  if (!read) {
    sodium_memzero(sk, sizeof(sk));
    return Fail("patch sign", error);
  }

  std::string message(kSignedMagic);
  AppendU64Le(&message, manifest.size());
  message += manifest;
  AppendU64Le(&message, source.size());
  message += source;
  unsigned char signature[crypto_sign_BYTES];
  crypto_sign_detached(signature, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), sk);
  sodium_memzero(sk, sizeof(sk));

  if (!ReplaceFile(dir, "patch.sig", ToHex(signature, sizeof(signature)) + "\n", &error)) {
    return Fail("patch sign", error);
  }
  std::printf(
      "signed %s: patch.json (%zu bytes) + %s (%zu bytes)\nwrote %s/patch.sig "
      "(public key %s)\n",
      dir.c_str(), manifest.size(), source_name->c_str(), source.size(), dir.c_str(),
      ToHex(pk, sizeof(pk)).c_str());
  return 0;
}
