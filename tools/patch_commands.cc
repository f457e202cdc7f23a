// `atrium keygen` and `atrium patch sign` (see patch_commands.h).
//
// A patch ships as a signed package of kind lua_patch, like every artifact:
// `atrium patch sign <dir> --key K.key` is `atrium pack <dir> --kind
// lua_patch --key K.key -o <dir>.atb` (the package format's signing, key
// reading and the hotpatch layer's check of patch.json).
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
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "package_commands.h"

namespace po = boost::program_options;

namespace {

// Prints "atrium <command>: <message>" and returns exit status 1.
int Fail(const char* command, const std::string& message) {
  std::fprintf(stderr, "atrium %s: %s\n", command, message.c_str());
  return 1;
}

std::string Errno(int err) { return std::strerror(err); }

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

std::string ToHex(const unsigned char* bytes, size_t len) {
  std::string hex(2 * len + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes, len);
  hex.pop_back();
  return hex;
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

// The app a patch directory's patch.json targets (/targets/app), which `patch
// sign` names as the package's app. Pack checks the rest of patch.json.
std::optional<std::string> PatchAppId(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    *error = path + ": cannot read";
    return std::nullopt;
  }
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(text.str(), ec);
  const boost::json::object* obj = ec ? nullptr : doc.if_object();
  const boost::json::value* targets = obj != nullptr ? obj->if_contains("targets") : nullptr;
  const boost::json::value* app = targets != nullptr && targets->is_object()
                                      ? targets->get_object().if_contains("app")
                                      : nullptr;
  if (app == nullptr || !app->is_string()) {
    *error = path + ": no string /targets/app to name the app the package is for; give --app";
    return std::nullopt;
  }
  return std::string(app->get_string());
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
  std::string dir, key_path, out_path;
  std::vector<std::string> apps;
  po::options_description options;
  options.add_options()("dir", po::value(&dir))("key", po::value(&key_path))(
      "out,o", po::value(&out_path))("app", po::value<std::vector<std::string>>(&apps));
  po::positional_options_description positional;
  positional.add("dir", 1);
  po::variables_map vm;
  if (!ParseArgs(argc, argv, options, positional, &vm, "patch sign") || dir.empty() ||
      key_path.empty()) {
    std::fprintf(stderr,
                 "usage: atrium patch sign <dir> --key PREFIX.key [-o X.atb] [--app APP ...]\n"
                 "  packs the patch directory into a signed lua_patch package (default\n"
                 "  <dir>.atb) for the app its patch.json /targets/app names (or the --app\n"
                 "  patterns); the same as atrium pack <dir> --kind lua_patch --app ...\n");
    return 2;
  }
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (out_path.empty()) out_path = dir + ".atb";
  if (apps.empty()) {
    std::string error;
    auto app = PatchAppId(dir + "/patch.json", &error);
    if (!app) return Fail("patch sign", error);
    apps.push_back(*app);
  }
  std::vector<std::string> args = {"pack",  dir,      "--kind", "lua_patch",
                                   "--key", key_path, "-o",     out_path};
  for (const std::string& a : apps) {
    args.push_back("--app");
    args.push_back(a);
  }
  std::vector<char*> pack_argv;
  for (std::string& a : args) pack_argv.push_back(a.data());
  return PackMain(static_cast<int>(pack_argv.size()), pack_argv.data());
}
