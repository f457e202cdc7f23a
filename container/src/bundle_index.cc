#include "bundle_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "atrium/base/file_util.h"

namespace atrium::internal {
namespace {

constexpr char kMagic[8] = {'A', 'T', 'R', 'I', 'D', 'X', '0', '1'};
constexpr size_t kHeaderSize = 96;
constexpr size_t kRecordSize = 64;
constexpr size_t kProviderSize = 12;
constexpr size_t kAppSize = 28;

enum RecordFlags : uint8_t { kEager = 1, kBaseline = 2, kBroken = 4, kHasStartup = 8 };

// app.json "startup" as canonical JSON text ("" when it is all defaults),
// read back with ParseStartupConfig.
std::string StartupConfigText(const StartupConfig& c) {
  if (c == StartupConfig{}) return {};
  namespace json = boost::json;
  json::object o;
  if (!c.stages.empty()) {
    json::array stages;
    for (const auto& s : c.stages) stages.emplace_back(s);
    o["stages"] = std::move(stages);
  }
  if (!c.pools.empty()) {
    json::object pools;
    for (const PoolDecl& p : c.pools) {
      json::object po;
      if (p.threads > 0) po["threads"] = p.threads;
      if (!p.priority.empty()) po["priority"] = p.priority;
      if (p.queue_limit > 0) po["queue_limit"] = p.queue_limit;
      if (p.held_until_idle >= 0) po["held_until_idle"] = p.held_until_idle == 1;
      pools[p.name] = std::move(po);
    }
    o["pools"] = std::move(pools);
  }
  if (c.max_threads > 0) o["max_threads"] = c.max_threads;
  if (c.bundle_task_quota > 0) o["bundle_task_quota"] = c.bundle_task_quota;
  if (!c.critical.empty()) {
    json::array critical;
    for (const auto& s : c.critical) critical.emplace_back(s);
    o["critical"] = std::move(critical);
  }
  return json::serialize(o);
}

uint32_t Get32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t Get64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
void Put32(std::string& out, size_t at, uint32_t v) { std::memcpy(out.data() + at, &v, 4); }
void Put64(std::string& out, size_t at, uint64_t v) { std::memcpy(out.data() + at, &v, 8); }
void Append32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }

// String pool with de-duplication (names recur in deps/providers).
class StringPool {
 public:
  std::pair<uint32_t, uint32_t> Add(std::string_view s) {
    auto it = seen_.find(std::string(s));
    if (it != seen_.end()) return {it->second, static_cast<uint32_t>(s.size())};
    uint32_t off = static_cast<uint32_t>(data_.size());
    data_.append(s);
    seen_.emplace(std::string(s), off);
    return {off, static_cast<uint32_t>(s.size())};
  }
  const std::string& data() const { return data_; }

 private:
  std::string data_;
  std::map<std::string, uint32_t> seen_;
};

void AppendStr(std::string& out, StringPool& pool, std::string_view s) {
  auto [off, len] = pool.Add(s);
  Append32(out, off);
  Append32(out, len);
}

Error Corrupt(const std::string& path, uint64_t offset, std::string what) {
  Error e = MakeError(ErrorCode::kCorrupt, "bundle index: " + what);
  e.file = path;
  e.offset = offset;
  return e;
}

}  // namespace

uint64_t IndexChecksum(std::string_view image) {
  // Fletcher-style sums over 8-byte words in 8 independent lanes, then
  // mixed: fast enough to check the whole index at every open. The lanes are
  // four 2 x 64-bit vectors (SSE2, every x86-64; GCC/Clang vector
  // extensions elsewhere): 5x the scalar loop on the 255 KB index of the
  // 1,000-bundle synthetic app, same sums. Everything but the checksum field
  // itself (bytes 24..31).
  typedef uint64_t Lanes __attribute__((vector_size(16)));
  Lanes va[4] = {}, vb[4] = {};
  uint64_t a[8], b[8];
  auto sum = [&](std::string_view part) {
    const char* p = part.data();
    size_t n = part.size();
    for (; n >= 64; p += 64, n -= 64) {
      for (int k = 0; k < 4; ++k) {
        Lanes w;
        std::memcpy(&w, p + 16 * k, 16);
        va[k] += w;
        vb[k] += va[k];
      }
    }
    std::memcpy(a, va, sizeof a);
    std::memcpy(b, vb, sizeof b);
    uint64_t tail[8] = {0};
    std::memcpy(tail, p, n);
    for (int k = 0; k < 8; ++k) {
      a[k] += tail[k] ^ (n << 56);
      b[k] += a[k];
    }
    std::memcpy(va, a, sizeof a);
    std::memcpy(vb, b, sizeof b);
  };
  sum(image.substr(0, 24));
  sum(image.substr(32, kHeaderSize - 32));
  sum(image.substr(kHeaderSize));
  return Hash64(std::string_view(reinterpret_cast<const char*>(a), sizeof a),
                Hash64(std::string_view(reinterpret_cast<const char*>(b), sizeof b), image.size()));
}

std::string BundleIndex::Build(uint64_t fingerprint, const AppDescriptor& app,
                               const std::vector<IndexInput>& inputs) {
  const uint32_t n = static_cast<uint32_t>(inputs.size());
  // Resolve the bundles whose manifest is valid.
  std::vector<const Manifest*> valid;
  std::vector<uint32_t> valid_to_input;
  for (uint32_t i = 0; i < n; ++i) {
    if (inputs[i].error.empty()) {
      valid.push_back(&inputs[i].manifest);
      valid_to_input.push_back(i);
    }
  }
  ResolveResult resolved = Resolve(valid);
  std::vector<ResolveResult::PerBundle> per(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (!inputs[i].error.empty()) {
      per[i].resolution = Resolution::kUnresolved;
      per[i].reason = "invalid manifest: " + inputs[i].error;
    }
  }
  for (size_t v = 0; v < valid.size(); ++v) {
    per[valid_to_input[v]] = resolved.bundles[v];
    for (uint32_t& d : per[valid_to_input[v]].deps) d = valid_to_input[d];
  }
  auto name_of = [&](uint32_t i) -> std::string_view {
    return inputs[i].error.empty() ? std::string_view(inputs[i].manifest.name)
                                   : std::string_view(inputs[i].fallback_name);
  };

  StringPool pool;
  std::string out(kHeaderSize, '\0');
  // Records.
  const uint32_t records_off = static_cast<uint32_t>(out.size());
  std::vector<uint32_t> deps;
  for (uint32_t i = 0; i < n; ++i) {
    const IndexInput& in = inputs[i];
    const bool ok = in.error.empty();
    AppendStr(out, pool, name_of(i));
    AppendStr(out, pool, ok ? in.manifest.version.ToString() : std::string());
    AppendStr(out, pool, in.dir);
    AppendStr(out, pool, ok ? in.manifest.library : std::string());
    AppendStr(out, pool, std::string_view());
    AppendStr(out, pool, per[i].reason);
    uint8_t flags = 0;
    if (ok && in.manifest.activation == Activation::kEager) flags |= kEager;
    if (in.baseline) flags |= kBaseline;
    if (ok && !in.manifest.startup.empty()) flags |= kHasStartup;
    if (!ok) flags |= kBroken;
    out.push_back(static_cast<char>(flags));
    out.push_back(static_cast<char>(per[i].resolution));
    out.append(2, '\0');
    Append32(out, static_cast<uint32_t>(deps.size()));
    Append32(out, static_cast<uint32_t>(per[i].deps.size()));
    Append32(out, 0);
    deps.insert(deps.end(), per[i].deps.begin(), per[i].deps.end());
  }
  const uint32_t deps_off = static_cast<uint32_t>(out.size());
  for (uint32_t d : deps) Append32(out, d);
  // Names.
  std::vector<uint32_t> names(n);
  for (uint32_t i = 0; i < n; ++i) names[i] = i;
  std::sort(names.begin(), names.end(), [&](uint32_t a, uint32_t b) {
    if (name_of(a) != name_of(b)) return name_of(a) < name_of(b);
    // Same name: the chosen (resolved/unresolved) version before superseded ones.
    return per[a].resolution != Resolution::kSuperseded &&
           per[b].resolution == Resolution::kSuperseded;
  });
  const uint32_t names_off = static_cast<uint32_t>(out.size());
  for (uint32_t i : names) Append32(out, i);
  // Providers.
  struct Prov {
    std::string_view iface;
    uint32_t record;
  };
  std::vector<Prov> provs;
  for (uint32_t i = 0; i < n; ++i) {
    if (!inputs[i].error.empty()) continue;
    for (const auto& p : inputs[i].manifest.provides) provs.push_back({p.interface_id, i});
  }
  std::sort(provs.begin(), provs.end(), [&](const Prov& a, const Prov& b) {
    if (a.iface != b.iface) return a.iface < b.iface;
    bool ra = per[a.record].resolution == Resolution::kResolved;
    bool rb = per[b.record].resolution == Resolution::kResolved;
    if (ra != rb) return ra;
    return inputs[b.record].manifest.version < inputs[a.record].manifest.version;
  });
  const uint32_t providers_off = static_cast<uint32_t>(out.size());
  for (const Prov& p : provs) {
    AppendStr(out, pool, p.iface);
    Append32(out, p.record);
  }
  // Apps (of chosen bundles only; the resolver made ids unique among resolved).
  struct App {
    const MicroAppDecl* decl;
    uint32_t record;
  };
  std::vector<App> apps;
  for (uint32_t i = 0; i < n; ++i) {
    if (!inputs[i].error.empty() || per[i].resolution == Resolution::kSuperseded) continue;
    for (const auto& a : inputs[i].manifest.micro_apps) apps.push_back({&a, i});
  }
  std::stable_sort(apps.begin(), apps.end(), [&](const App& a, const App& b) {
    if (a.decl->id != b.decl->id) return a.decl->id < b.decl->id;
    return per[a.record].resolution == Resolution::kResolved &&
           per[b.record].resolution != Resolution::kResolved;
  });
  const uint32_t apps_off = static_cast<uint32_t>(out.size());
  for (const App& a : apps) {
    AppendStr(out, pool, a.decl->id);
    Append32(out, a.record);
    AppendStr(out, pool, a.decl->type);
    AppendStr(out, pool, a.decl->entry);
  }
  const uint32_t order_off = static_cast<uint32_t>(out.size());
  for (uint32_t v : resolved.load_order) Append32(out, valid_to_input[v]);
  std::string app_blob = app.id + '\0' + app.version.ToString() + '\0' + app.name + '\0' +
                         app.home + '\0' + std::to_string(app.release_keys.size());
  for (const auto& k : app.release_keys) app_blob += '\0' + k;
  // The layers' sections (validated JSON text, never a NUL), so an Open
  // that reuses the index does not parse app.json for them.
  app_blob += '\0' + std::to_string(app.sections.size());
  for (const auto& [name, text] : app.sections) app_blob += '\0' + name + '\0' + text;
  app_blob += '\0' + StartupConfigText(app.startup);
  for (const auto& b : app.baseline) app_blob += '\0' + b;
  auto [app_off, app_len] = pool.Add(app_blob);
  const uint32_t strings_off = static_cast<uint32_t>(out.size());
  out += pool.data();
  Put32(out, 80, app_off);
  Put32(out, 84, app_len);

  std::memcpy(out.data(), kMagic, 8);
  Put32(out, 8, kFormatVersion);
  Put32(out, 12, n);
  Put64(out, 16, fingerprint);
  Put32(out, 32, records_off);
  Put32(out, 36, deps_off);
  Put32(out, 40, static_cast<uint32_t>(deps.size()));
  Put32(out, 44, names_off);
  Put32(out, 48, providers_off);
  Put32(out, 52, static_cast<uint32_t>(provs.size()));
  Put32(out, 56, apps_off);
  Put32(out, 60, static_cast<uint32_t>(apps.size()));
  Put32(out, 64, order_off);
  Put32(out, 68, static_cast<uint32_t>(resolved.load_order.size()));
  Put32(out, 72, strings_off);
  Put32(out, 76, static_cast<uint32_t>(pool.data().size()));
  Put64(out, 24, IndexChecksum(out));
  return out;
}

Status BundleIndex::Write(const std::string& path, uint64_t fingerprint, const AppDescriptor& app,
                          const std::vector<IndexInput>& inputs) {
  std::string image = Build(fingerprint, app, inputs);
  return internal::AtomicWriteFile(path, image);
}

Result<BundleIndex> BundleIndex::Read(const std::string& path, uint64_t fingerprint) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Error e = MakeError(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                        std::string("cannot open bundle index: ") + std::strerror(errno));
    e.file = path;
    return e;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size > (1ll << 31)) {
    ::close(fd);
    return Corrupt(path, 0, "unreadable or larger than 2 GiB");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < kHeaderSize) {
    ::close(fd);
    return Corrupt(path, size, "truncated header");
  }
  // One read() into memory, then the checksum over data the copy left in
  // the CPU's cache: less than a populated private mapping, its page faults
  // and its munmap cost (Open of the 1,000-bundle synthetic app's 255 KB
  // index: 0.30 -> 0.16 ms median; the mapping was used above 64 KiB).
  std::shared_ptr<char[]> buffer(new char[size]);
  size_t done = 0;
  while (done < size) {
    ssize_t r = ::read(fd, buffer.get() + done, size - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    done += static_cast<size_t>(r);
  }
  ::close(fd);
  if (done != size) return Corrupt(path, done, "short read");
  return Adopt(std::shared_ptr<const char>(buffer, buffer.get()), size, fingerprint, path);
}

Result<BundleIndex> BundleIndex::FromImage(std::string_view image, uint64_t fingerprint,
                                           const std::string& path) {
  std::shared_ptr<char[]> buffer(new char[image.size() == 0 ? 1 : image.size()]);
  std::memcpy(buffer.get(), image.data(), image.size());
  return Adopt(std::shared_ptr<const char>(buffer, buffer.get()), image.size(), fingerprint, path);
}

Result<BundleIndex> BundleIndex::Adopt(std::shared_ptr<const char> buffer, size_t size,
                                       uint64_t fingerprint, const std::string& path) {
  std::string_view image(buffer.get(), size);
  if (size < kHeaderSize) return Corrupt(path, size, "truncated header");
  auto* p = reinterpret_cast<const unsigned char*>(image.data());
  if (std::memcmp(p, kMagic, 8) != 0) return Corrupt(path, 0, "bad magic");
  if (Get32(p + 8) != kFormatVersion) {
    Error e = MakeError(ErrorCode::kState, "bundle index format " + std::to_string(Get32(p + 8)) +
                                               ", expected " + std::to_string(kFormatVersion));
    e.file = path;
    e.offset = 8;
    return e;
  }
  if (IndexChecksum(image) != Get64(p + 24)) {
    return Corrupt(path, 24, "checksum mismatch");
  }
  if (Get64(p + 16) != fingerprint) {
    Error e = MakeError(ErrorCode::kState, "bundle index is for another app descriptor");
    e.file = path;
    e.offset = 16;
    return e;
  }
  BundleIndex idx;
  const uint32_t n = Get32(p + 12);
  auto section = [&](size_t hdr, uint64_t count, size_t elem) -> bool {
    uint64_t off = Get32(p + hdr);
    return off >= kHeaderSize && off % 4 == 0 && off + count * elem <= size;
  };
  if (!section(32, n, kRecordSize)) return Corrupt(path, 32, "records out of bounds");
  if (!section(36, Get32(p + 40), 4)) return Corrupt(path, 36, "deps out of bounds");
  if (!section(44, n, 4)) return Corrupt(path, 44, "names out of bounds");
  if (!section(48, Get32(p + 52), kProviderSize))
    return Corrupt(path, 48, "providers out of bounds");
  if (!section(56, Get32(p + 60), kAppSize)) return Corrupt(path, 56, "apps out of bounds");
  if (!section(64, Get32(p + 68), 4)) return Corrupt(path, 64, "order out of bounds");
  uint64_t soff = Get32(p + 72), slen = Get32(p + 76);
  if (soff < kHeaderSize || soff + slen > size) return Corrupt(path, 72, "strings out of bounds");

  idx.count_ = n;
  idx.records_ = p + Get32(p + 32);
  idx.deps_ = reinterpret_cast<const uint32_t*>(p + Get32(p + 36));
  idx.deps_count_ = Get32(p + 40);
  idx.names_ = {reinterpret_cast<const uint32_t*>(p + Get32(p + 44)), n};
  idx.providers_ = p + Get32(p + 48);
  idx.provider_count_ = Get32(p + 52);
  idx.apps_ = p + Get32(p + 56);
  idx.app_count_ = Get32(p + 60);
  idx.order_ = {reinterpret_cast<const uint32_t*>(p + Get32(p + 64)), Get32(p + 68)};
  idx.strings_ = std::string_view(image.data() + soff, slen);
  if (uint64_t{Get32(p + 80)} + Get32(p + 84) > slen) {
    return Corrupt(path, 80, "app descriptor out of bounds");
  }
  idx.app_blob_ = idx.strings_.substr(Get32(p + 80), Get32(p + 84));

  // Bounds of every string and index (cheap: a few thousand comparisons).
  auto str_ok = [&](const unsigned char* s) { return uint64_t{Get32(s)} + Get32(s + 4) <= slen; };
  for (uint32_t i = 0; i < n; ++i) {
    const unsigned char* r = idx.records_ + size_t{i} * kRecordSize;
    for (int f = 0; f < 6; ++f) {
      if (!str_ok(r + f * 8)) {
        return Corrupt(path, static_cast<uint64_t>(r - p) + f * 8,
                       "string out of bounds in record " + std::to_string(i));
      }
    }
    if (r[49] > 2) return Corrupt(path, static_cast<uint64_t>(r - p) + 49, "bad resolution");
    if (uint64_t{Get32(r + 52)} + Get32(r + 56) > idx.deps_count_) {
      return Corrupt(path, static_cast<uint64_t>(r - p) + 52, "deps out of bounds");
    }
  }
  for (uint32_t i = 0; i < idx.deps_count_; ++i) {
    if (idx.deps_[i] >= n) return Corrupt(path, Get32(p + 36) + 4ull * i, "bad dependency index");
  }
  for (uint32_t v : idx.names_) {
    if (v >= n) return Corrupt(path, Get32(p + 44), "bad name index");
  }
  for (uint32_t v : idx.order_) {
    if (v >= n) return Corrupt(path, Get32(p + 64), "bad order index");
  }
  for (uint32_t i = 0; i < idx.provider_count_; ++i) {
    const unsigned char* e = idx.providers_ + size_t{i} * kProviderSize;
    if (!str_ok(e) || Get32(e + 8) >= n) return Corrupt(path, e - p, "bad provider entry");
  }
  for (uint32_t i = 0; i < idx.app_count_; ++i) {
    const unsigned char* e = idx.apps_ + size_t{i} * kAppSize;
    if (!str_ok(e) || Get32(e + 8) >= n || !str_ok(e + 12) || !str_ok(e + 20)) {
      return Corrupt(path, e - p, "bad micro-app entry");
    }
  }
  idx.image_ = std::move(buffer);  // heap buffer: the pointers above stay valid
  idx.image_size_ = size;
  return idx;
}

BundleIndex::BundleView BundleIndex::bundle(uint32_t i) const {
  ATRIUM_CHECK(i < count_, "bundle index out of range");
  const unsigned char* r = records_ + size_t{i} * kRecordSize;
  auto str = [&](int f) { return strings_.substr(Get32(r + f * 8), Get32(r + f * 8 + 4)); };
  BundleView v;
  v.name = str(0);
  v.version = str(1);
  v.dir = str(2);
  v.library = str(3);
  v.reason = str(5);
  v.eager = r[48] & kEager;
  v.baseline = r[48] & kBaseline;
  v.broken = r[48] & kBroken;
  v.has_startup = r[48] & kHasStartup;
  v.resolution = static_cast<Resolution>(r[49]);
  v.deps = {deps_ + Get32(r + 52), Get32(r + 56)};
  return v;
}

bool BundleIndex::IsEager(uint32_t i) const {
  ATRIUM_CHECK(i < count_, "bundle index out of range");
  return records_[size_t{i} * kRecordSize + 48] & kEager;
}

namespace {

// Reads the app blob's NUL-separated fields in order (BundleIndex::app).
class BlobCursor {
 public:
  explicit BlobCursor(std::string_view blob) : rest_(blob) {}
  std::optional<std::string_view> Next() {
    if (done_) return std::nullopt;
    const size_t nul = rest_.find('\0');
    std::string_view part = rest_.substr(0, nul);
    if (nul == std::string_view::npos) {
      done_ = true;
    } else {
      rest_.remove_prefix(nul + 1);
    }
    return part;
  }
  // A count field (at most 6 digits).
  std::optional<size_t> Count() {
    auto text = Next();
    if (!text || text->empty() || text->size() > 6) return std::nullopt;
    size_t n = 0;
    for (char c : *text) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + static_cast<size_t>(c - '0');
    }
    return n;
  }
  // The fields left, split (the baseline dirs), reserved at once.
  std::vector<std::string> Rest() {
    std::vector<std::string> out;
    if (done_) return out;
    out.reserve(static_cast<size_t>(std::count(rest_.begin(), rest_.end(), '\0')) + 1);
    while (auto part = Next()) out.emplace_back(*part);
    return out;
  }

 private:
  std::string_view rest_;
  bool done_ = false;
};

Error CorruptApp(const std::string& what) {
  return MakeError(ErrorCode::kCorrupt, "bundle index: " + what);
}

}  // namespace

// Fields, NUL-separated: id, version, name, home, key count, keys...,
// section count, (section name, section text)..., startup config, baseline
// dirs...
Result<AppDescriptor> BundleIndex::app(bool with_baseline) const {
  BlobCursor cursor(app_blob_);
  std::optional<std::string_view> id = cursor.Next(), version_text = cursor.Next(),
                                  name = cursor.Next(), home = cursor.Next();
  if (!home) return CorruptApp("no app descriptor");
  AppDescriptor app;
  app.id = std::string(*id);
  auto version = Version::Parse(*version_text);
  if (!version.ok()) return CorruptApp("bad app version");
  app.version = std::move(version).value();
  app.name = std::string(*name);
  app.home = std::string(*home);
  const std::optional<size_t> keys = cursor.Count();
  if (!keys) return CorruptApp("bad key list");
  for (size_t i = 0; i < *keys; ++i) {
    auto key = cursor.Next();
    if (!key) return CorruptApp("bad key list");
    app.release_keys.emplace_back(*key);
  }
  const std::optional<size_t> sections = cursor.Count();
  if (!sections) return CorruptApp("bad section list");
  for (size_t i = 0; i < *sections; ++i) {
    auto section = cursor.Next();
    auto text = cursor.Next();
    if (!text) return CorruptApp("bad section list");
    app.sections.emplace(std::string(*section), std::string(*text));
  }
  auto startup_text = cursor.Next();
  if (!startup_text) return CorruptApp("no startup config");
  if (!startup_text->empty()) {
    auto startup = ParseStartupConfig(*startup_text, "bundle index: app startup");
    if (!startup.ok()) return CorruptApp("bad startup config: " + startup.error().message);
    app.startup = std::move(startup).value();
  }
  if (with_baseline) app.baseline = cursor.Rest();
  return app;
}

Result<std::vector<std::string>> BundleIndex::baseline() const {
  BlobCursor cursor(app_blob_);
  for (int i = 0; i < 4; ++i) {
    if (!cursor.Next()) return CorruptApp("no app descriptor");
  }
  const std::optional<size_t> keys = cursor.Count();
  if (!keys) return CorruptApp("bad key list");
  for (size_t i = 0; i < *keys; ++i) {
    if (!cursor.Next()) return CorruptApp("bad key list");
  }
  const std::optional<size_t> sections = cursor.Count();
  if (!sections) return CorruptApp("bad section list");
  for (size_t i = 0; i < 2 * *sections; ++i) {
    if (!cursor.Next()) return CorruptApp("bad section list");
  }
  if (!cursor.Next()) return CorruptApp("no startup config");
  return cursor.Rest();
}

std::optional<uint32_t> BundleIndex::FindBundle(std::string_view name) const {
  auto it =
      std::lower_bound(names_.begin(), names_.end(), name,
                       [&](uint32_t i, std::string_view key) { return bundle(i).name < key; });
  if (it == names_.end() || bundle(*it).name != name) return std::nullopt;
  return *it;
}

std::optional<uint32_t> BundleIndex::FindProvider(std::string_view interface_id) const {
  auto key_at = [&](uint32_t i) {
    const unsigned char* e = providers_ + size_t{i} * kProviderSize;
    return strings_.substr(Get32(e), Get32(e + 4));
  };
  uint32_t lo = 0, hi = provider_count_;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (key_at(mid) < interface_id)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == provider_count_ || key_at(lo) != interface_id) return std::nullopt;
  return Get32(providers_ + size_t{lo} * kProviderSize + 8);
}

std::optional<BundleIndex::AppView> BundleIndex::FindApp(std::string_view app_id) const {
  auto at = [&](uint32_t i) { return apps_ + size_t{i} * kAppSize; };
  auto str = [&](const unsigned char* s) { return strings_.substr(Get32(s), Get32(s + 4)); };
  uint32_t lo = 0, hi = app_count_;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (str(at(mid)) < app_id)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == app_count_ || str(at(lo)) != app_id) return std::nullopt;
  const unsigned char* e = at(lo);
  return AppView{str(e), str(e + 12), str(e + 20), Get32(e + 8)};
}

}  // namespace atrium::internal
