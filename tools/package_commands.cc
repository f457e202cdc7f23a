// `atrium pack | verify | inspect | unpack` (see package_commands.h).
//
// Concurrency: single-threaded; called from main().
#include "package_commands.h"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/package.h"

namespace po = boost::program_options;

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Mb(uint64_t bytes) { return static_cast<double>(bytes) / 1e6; }

// MB/s, without dividing by (almost) zero.
double Rate(uint64_t bytes, double seconds) {
  return Mb(bytes) / (seconds > 1e-6 ? seconds : 1e-6);
}

int Fail(const char* command, const std::string& message) {
  std::fprintf(stderr, "atrium %s: %s\n", command, message.c_str());
  return 1;
}

int Fail(const char* command, const atrium::Error& error) {
  return Fail(command, error.ToString());
}

bool ParseArgs(int argc, char** argv, const po::options_description& options,
               const po::positional_options_description& positional, const char* command) {
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(),
              vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "atrium %s: %s\n", command, e.what());
    return false;
  }
  return true;
}

// Loads every --pubkey file; false (after printing) when one fails.
bool LoadPublicKeys(const std::vector<std::string>& paths, const char* command,
                    std::vector<atrium::PublicKey>* keys) {
  for (const std::string& path : paths) {
    auto key = atrium::ReadPublicKeyFile(path);
    if (!key.ok()) {
      Fail(command, key.error());
      return false;
    }
    keys->push_back(*key);
  }
  return true;
}

std::string Hex(const uint8_t* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xF];
  }
  return out;
}

// Text from a package, made safe for a terminal (no escape sequences).
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 && c != '\n' && c != '\t') || u == 0x7F ? '?' : c;
  }
  return out;
}

double Ratio(uint64_t size, uint64_t compressed) {
  return compressed == 0 ? 0.0 : static_cast<double>(size) / static_cast<double>(compressed);
}

// Progress on a terminal: one line, redrawn at most every 100 ms.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  void Update(const atrium::PackProgress& p) {
    if (!enabled_) return;
    auto now = Clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100) && p.done_bytes != p.total_bytes) {
      return;
    }
    last_ = now;
    drawn_ = true;
    const double pct = p.total_bytes == 0 ? 100.0 : 100.0 * p.done_bytes / p.total_bytes;
    std::string path(p.current_path.substr(0, 48));
    std::fprintf(stderr, "\r\033[K  packing %5.1f%%  %8.1f / %.1f MB  %s", pct, Mb(p.done_bytes),
                 Mb(p.total_bytes), Printable(path).c_str());
    std::fflush(stderr);
  }
  void Finish() {
    if (enabled_ && drawn_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point last_;
};

void PrintEntries(const atrium::PackageInfo& info, size_t limit) {
  std::printf("  %-4s %12s %12s  %-16s  %s\n", "mode", "size", "compressed", "sha256", "path");
  size_t shown = 0;
  for (const atrium::PackEntryInfo& e : info.entries) {
    if (shown++ == limit) {
      std::printf("  ... and %zu more (atrium inspect lists them all)\n",
                  info.entries.size() - limit);
      break;
    }
    std::printf("  %-4s %12llu %12llu  %-16s  %s\n", e.executable ? "0755" : "0644",
                static_cast<unsigned long long>(e.size),
                static_cast<unsigned long long>(e.compressed_size), Hex(e.sha256.data(), 8).c_str(),
                Printable(e.path).c_str());
  }
}

}  // namespace

int PackMain(int argc, char** argv) {
  std::string dir, key_path, out_path, kind_name = "native_bundle", id, version, manifest;
  std::vector<std::string> apps;
  int level = 3;
  po::options_description options;
  options.add_options()("dir", po::value(&dir))("key", po::value(&key_path))(
      "out,o", po::value(&out_path))("kind", po::value(&kind_name))("level", po::value(&level))(
      "id", po::value(&id))("version", po::value(&version))("manifest", po::value(&manifest))(
      "app", po::value<std::vector<std::string>>(&apps)->composing());
  po::positional_options_description positional;
  positional.add("dir", 1);
  if (!ParseArgs(argc, argv, options, positional, "pack") || dir.empty() || key_path.empty() ||
      out_path.empty() || apps.empty()) {
    std::fprintf(stderr,
                 "usage: atrium pack <dir> --key K.key --app APP -o X.atb [--kind KIND]\n"
                 "                   [--level 1..19] [--id ID] [--version V]\n"
                 "                   [--manifest artifact.json]\n"
                 "  APP: the apps the package is for, signed with it: an app id\n"
                 "       (com.wallet.app), a family (com.wallet.*) or '*' for any app;\n"
                 "       repeat --app for several. Other apps refuse to install it.\n"
                 "  KIND: native_bundle (default; manifest bundle.json), h5_package,\n"
                 "        hcf_templates, lua_patch, config_set (manifest --manifest, default\n"
                 "        artifact.json, with \"id\" and \"version\")\n");
    return 2;
  }
  auto kind = atrium::ParseArtifactKind(kind_name);
  if (!kind) return Fail("pack", "unknown --kind '" + kind_name + "'");
  auto key = atrium::ReadSecretKeyFile(key_path);
  if (!key.ok()) return Fail("pack", key.error());

  atrium::PackOptions opts;
  opts.kind = *kind;
  opts.id = id;
  opts.version = version;
  opts.manifest_name = manifest;
  opts.apps = apps;
  opts.secret_key = *key;
  opts.zstd_level = level;
  ProgressLine progress(::isatty(STDERR_FILENO) != 0);
  opts.progress = [&progress](const atrium::PackProgress& p) { progress.Update(p); };

  const auto t0 = Clock::now();
  auto stats = atrium::PackDirectory(dir, opts, out_path);
  const auto t1 = Clock::now();
  progress.Finish();
  opts.secret_key.fill(0);
  key->fill(0);
  if (!stats.ok()) return Fail("pack", stats.error());

  auto reader = atrium::PackageReader::Open(out_path);
  if (!reader.ok())
    return Fail("pack", "wrote a package that does not open: " + reader.error().ToString());
  const atrium::PackageInfo& info = (*reader)->info();
  std::printf("packed %s -> %s\n  %s %s (%s), for %s, signed by key %s\n", dir.c_str(),
              out_path.c_str(), stats->id.c_str(), stats->version.c_str(),
              atrium::ArtifactKindName(*kind), atrium::AppListText(stats->apps).c_str(),
              atrium::KeyIdHex(stats->key_id).c_str());
  PrintEntries(info, 30);
  const double seconds = Seconds(t0, t1);
  std::printf(
      "  %zu entries, %.1f MB -> %.1f MB compressed (ratio %.2fx), file %.1f MB, "
      "%.2f s, %.1f MB/s\n",
      stats->entries, Mb(stats->total_size), Mb(stats->compressed_size),
      Ratio(stats->total_size, stats->compressed_size), Mb(stats->file_size), seconds,
      Rate(stats->total_size, seconds));
  return 0;
}

int VerifyMain(int argc, char** argv) {
  std::string path, app;
  std::vector<std::string> pubkeys;
  po::options_description options;
  options.add_options()("package", po::value(&path))(
      "pubkey", po::value<std::vector<std::string>>(&pubkeys)->composing())("app", po::value(&app));
  po::positional_options_description positional;
  positional.add("package", 1);
  if (!ParseArgs(argc, argv, options, positional, "verify") || path.empty() || pubkeys.empty()) {
    std::fprintf(stderr,
                 "usage: atrium verify X.atb --pubkey P.pub [--pubkey Q.pub ...] [--app APP]\n"
                 "  checks the signature and every entry's SHA-256 (and, with --app, that\n"
                 "  the package is for that app id); exit 0 when all hold\n");
    return 2;
  }
  std::vector<atrium::PublicKey> keys;
  if (!LoadPublicKeys(pubkeys, "verify", &keys)) return 1;
  const auto t0 = Clock::now();
  auto reader = atrium::PackageReader::Open(path);
  if (!reader.ok()) return Fail("verify", reader.error());
  if (auto s = (*reader)->Verify(keys); !s.ok()) return Fail("verify", s.error());
  if (!app.empty()) {
    if (auto s = (*reader)->CheckApp(app); !s.ok()) return Fail("verify", s.error());
  }
  if (auto s = (*reader)->VerifyAllEntries(); !s.ok()) return Fail("verify", s.error());
  const double seconds = Seconds(t0, Clock::now());
  const atrium::PackageInfo& info = (*reader)->info();
  std::printf(
      "%s: OK: %s %s (%s), for %s, signed by key %s; %zu entries, %.1f MB checked in %.2f s "
      "(%.1f MB/s)\n",
      path.c_str(), info.id.c_str(), info.version.c_str(), atrium::ArtifactKindName(info.kind),
      atrium::AppListText(info.apps).c_str(), atrium::KeyIdHex(info.signer_key_id).c_str(),
      info.entries.size(), Mb(info.total_size), seconds, Rate(info.total_size, seconds));
  return 0;
}

int InspectMain(int argc, char** argv) {
  std::string path;
  std::vector<std::string> pubkeys;
  po::options_description options;
  options.add_options()("package", po::value(&path))(
      "pubkey", po::value<std::vector<std::string>>(&pubkeys)->composing());
  po::positional_options_description positional;
  positional.add("package", 1);
  if (!ParseArgs(argc, argv, options, positional, "inspect") || path.empty()) {
    std::fprintf(stderr, "usage: atrium inspect X.atb [--pubkey P.pub]\n");
    return 2;
  }
  std::vector<atrium::PublicKey> keys;
  if (!LoadPublicKeys(pubkeys, "inspect", &keys)) return 1;
  auto reader = atrium::PackageReader::Open(path);
  if (!reader.ok()) return Fail("inspect", reader.error());
  const atrium::PackageInfo& info = (*reader)->info();
  std::string signature = "not checked (no --pubkey)";
  int rc = 0;
  if (!keys.empty()) {
    if (auto s = (*reader)->Verify(keys); s.ok()) {
      signature = "valid (key " + atrium::KeyIdHex(info.signer_key_id) + ")";
    } else {
      signature = "INVALID: " + s.error().ToString();
      rc = 1;
    }
  }
  uint64_t compressed = 0;
  for (const auto& e : info.entries) compressed += e.compressed_size;
  std::printf("file       %s (%llu bytes)\n", path.c_str(),
              static_cast<unsigned long long>(info.file_size));
  std::printf("format     ATB1 version %u, flags 0x%08x\n", info.format_version, info.flags);
  std::printf("kind       %s\nid         %s\nversion    %s\n", atrium::ArtifactKindName(info.kind),
              info.id.c_str(), info.version.c_str());
  std::printf("apps       %s\n", info.apps.empty()
                                     ? "none named (format 1): every app refuses to install it"
                                     : Printable(atrium::AppListText(info.apps)).c_str());
  std::printf(
      "sections   header 0+%llu, apps %llu+%llu, index %llu+%llu, manifest %llu+%llu, "
      "data %llu+%llu, signature %llu+%llu\n",
      static_cast<unsigned long long>(info.header_size),
      static_cast<unsigned long long>(info.apps_offset),
      static_cast<unsigned long long>(info.apps_size),
      static_cast<unsigned long long>(info.index_offset),
      static_cast<unsigned long long>(info.index_size),
      static_cast<unsigned long long>(info.manifest_offset),
      static_cast<unsigned long long>(info.manifest_size),
      static_cast<unsigned long long>(info.data_offset),
      static_cast<unsigned long long>(info.data_size),
      static_cast<unsigned long long>(info.signature_offset),
      static_cast<unsigned long long>(info.signature_size));
  std::printf("entries    %zu, %.1f MB, %.1f MB compressed (ratio %.2fx)\n", info.entries.size(),
              Mb(info.total_size), Mb(compressed), Ratio(info.total_size, compressed));
  std::printf("signed by  key %s (claimed)\nsignature  %s\n",
              atrium::KeyIdHex(info.signer_key_id).c_str(), signature.c_str());
  std::printf("manifest   %s:\n", Printable(info.manifest_entry).c_str());
  std::string manifest = Printable(info.manifest);
  while (!manifest.empty() && manifest.back() == '\n') manifest.pop_back();
  std::printf("%s\n", manifest.c_str());
  std::printf("entries:\n");
  PrintEntries(info, info.entries.size());
  return rc;
}

int UnpackMain(int argc, char** argv) {
  std::string path, out_dir;
  std::vector<std::string> pubkeys;
  po::options_description options;
  options.add_options()("package", po::value(&path))("out,o", po::value(&out_dir))(
      "pubkey", po::value<std::vector<std::string>>(&pubkeys)->composing());
  po::positional_options_description positional;
  positional.add("package", 1);
  if (!ParseArgs(argc, argv, options, positional, "unpack") || path.empty() || out_dir.empty() ||
      pubkeys.empty()) {
    std::fprintf(stderr,
                 "usage: atrium unpack X.atb --pubkey P.pub -o DIR\n"
                 "  verifies the signature, then writes every entry (hash-checked) into DIR,\n"
                 "  which must be new or empty\n");
    return 2;
  }
  std::vector<atrium::PublicKey> keys;
  if (!LoadPublicKeys(pubkeys, "unpack", &keys)) return 1;
  const auto t0 = Clock::now();
  auto reader = atrium::PackageReader::Open(path);
  if (!reader.ok()) return Fail("unpack", reader.error());
  if (auto s = (*reader)->Verify(keys); !s.ok()) return Fail("unpack", s.error());
  if (auto s = (*reader)->ExtractTo(out_dir); !s.ok()) return Fail("unpack", s.error());
  const double seconds = Seconds(t0, Clock::now());
  const atrium::PackageInfo& info = (*reader)->info();
  std::printf("unpacked %s %s (%s): %zu entries, %.1f MB into %s in %.2f s (%.1f MB/s)\n",
              info.id.c_str(), info.version.c_str(), atrium::ArtifactKindName(info.kind),
              info.entries.size(), Mb(info.total_size), out_dir.c_str(), seconds,
              Rate(info.total_size, seconds));
  return 0;
}
