// update_bench: what an update costs on the wire and in time, each figure
// against a baseline measured in the same run over the same loopback HTTP
// server (atrium's StaticServer): plain libcurl GETs of the same files, the
// least any client could do without verifying anything.
//
//   update_bench [--quick]
//
//  1. A check with nothing new (TufClient::Refresh on trusted metadata: the
//     root probe and timestamp.json): bytes over the wire against the size
//     of timestamp.json, time against one curl GET of timestamp.json.
//  2. A full cycle of 50 targets from an empty client: refresh, find and
//     download-and-verify every target, against curl GETs of the same four
//     metadata files and 50 target files.
//  3. The sample wallet's bill update (1.0.3 -> 1.1.0, and the synthetic
//     bundle between two builds when the samples are not built): delta
//     bytes against full package bytes.
// Wall-clock medians over repetitions. Exit code 0 unless the bench could
// not run.
#include <curl/curl.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "atrium/dynamic/release_repository.h"
#include "atrium/dynamic/static_server.h"
#include "atrium/dynamic/tuf_client.h"
#include "atrium/package.h"

namespace {

namespace fs = std::filesystem;
using namespace atrium;
using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

size_t Discard(char*, size_t size, size_t n, void* user) {
  *static_cast<uint64_t*>(user) += size * n;
  return size * n;
}

// Plain GETs on one keep-alive handle: bytes received.
uint64_t CurlGetAll(CURL* curl, const std::string& base, const std::vector<std::string>& paths) {
  uint64_t bytes = 0;
  for (const std::string& p : paths) {
    curl_easy_setopt(curl, CURLOPT_URL, (base + "/" + p).c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Discard);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &bytes);
    curl_easy_perform(curl);
  }
  return bytes;
}

bool Die(const char* what, const Error& e) {
  std::fprintf(stderr, "update_bench: %s: %s\n", what, e.ToString().c_str());
  return false;
}

// A config_set package of `i` (a small config set), signed with `key`.
std::string PackConfig(const std::string& dir, int i, const SecretKey& key) {
  const std::string src = dir + "/src-" + std::to_string(i);
  fs::create_directories(src);
  std::ofstream(src + "/config.json")
      << R"({"id": "com.bench.cfg)" << i << R"(", "version": "1.0.0", "parameters": {"app": {)"
      << R"("k": {"type": "string", "default": ")" << std::string(2000, 'a' + i % 26) << R"("}}}})";
  PackOptions o;
  o.apps = {"*"};  // any app: the bench is not about app scope
  o.kind = ArtifactKind::kConfigSet;
  o.secret_key = key;
  const std::string out = dir + "/cfg" + std::to_string(i) + ".atb";
  auto r = PackDirectory(src, o, out);
  if (!r.ok()) Die("pack", r.error());
  return out;
}

std::vector<std::string> MetadataPaths(const std::string& repo) {
  std::vector<std::string> out;
  for (const char* f : {"timestamp.json"}) out.push_back(std::string("metadata/") + f);
  for (const auto& e : fs::directory_iterator(repo + "/metadata")) {
    const std::string name = e.path().filename().string();
    if (name.find(".snapshot.json") != std::string::npos ||
        name.find(".targets.json") != std::string::npos) {
      out.push_back("metadata/" + name);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int reps = quick ? 3 : 15;
  if (sodium_init() < 0) return 1;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  char tmpl[] = "/tmp/atrium-update-bench-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string repo = dir + "/repo";
  SecretKey key{};
  PublicKey pub{};
  crypto_sign_keypair(pub.data(), key.data());
  if (Status s = ReleaseRepository::Init(repo, {}, {}); !s.ok()) return Die("init", s.error()), 1;
  {
    auto r = ReleaseRepository::Open(repo, {});
    if (!r.ok()) return Die("open", r.error()), 1;
    for (int i = 0; i < 50; ++i) {
      auto added = (*r)->Add(PackConfig(dir, i, key), {});
      if (!added.ok()) return Die("add", added.error()), 1;
    }
    auto p = (*r)->Publish();
    if (!p.ok()) return Die("publish", p.error()), 1;
  }
  StaticServerOptions so;
  so.root = repo;
  auto server = StaticServer::Start(so);
  if (!server.ok()) return Die("serve", server.error()), 1;
  const std::string url = (*server)->url();
  CURL* curl = curl_easy_init();

  auto open_client = [&](const std::string& meta) {
    TufClientOptions o;
    o.metadata_dir = meta;
    o.metadata_url = url + "/metadata";
    o.target_url = url + "/targets";
    return std::move(TufClient::Open(o)).value();
  };

  // 1. A check with nothing new.
  const std::string meta = dir + "/meta";
  if (Status s = TufClient::Init(meta, repo + "/metadata/1.root.json"); !s.ok()) {
    return Die("tuf init", s.error()), 1;
  }
  if (Status s = open_client(meta)->Refresh(); !s.ok()) return Die("refresh", s.error()), 1;
  std::vector<double> check_ms, curl_ts_ms;
  uint64_t check_bytes = 0, check_requests = 0;
  for (int i = 0; i < reps; ++i) {
    auto t = Clock::now();
    auto c = open_client(meta);
    if (Status s = c->Refresh(); !s.ok()) return Die("refresh", s.error()), 1;
    check_ms.push_back(MsSince(t));
    check_bytes = c->bytes_received();
    check_requests = c->requests();
    t = Clock::now();
    CurlGetAll(curl, url, {"metadata/timestamp.json"});
    curl_ts_ms.push_back(MsSince(t));
  }
  const uint64_t ts_size = fs::file_size(repo + "/metadata/timestamp.json");
  std::printf(
      "1. check with nothing new: %llu bytes in %llu requests (timestamp.json is %llu "
      "bytes: %.2fx), %.3f ms vs curl GET of timestamp.json %.3f ms (%.2fx)\n",
      static_cast<unsigned long long>(check_bytes), static_cast<unsigned long long>(check_requests),
      static_cast<unsigned long long>(ts_size),
      static_cast<double>(check_bytes) / static_cast<double>(ts_size), Median(check_ms),
      Median(curl_ts_ms), Median(check_ms) / Median(curl_ts_ms));

  // 2. A full cycle of 50 targets from an empty client.
  std::vector<std::string> files = MetadataPaths(repo);
  std::vector<std::string> target_files;
  for (const auto& e : fs::recursive_directory_iterator(repo + "/targets")) {
    if (e.is_regular_file()) {
      target_files.push_back("targets/" + fs::relative(e.path(), repo + "/targets").string());
    }
  }
  files.insert(files.end(), target_files.begin(), target_files.end());
  std::vector<double> cycle_ms, curl_all_ms;
  uint64_t cycle_bytes = 0, curl_bytes = 0;
  for (int i = 0; i < std::max(3, reps / 3); ++i) {
    const std::string m = dir + "/cycle-meta-" + std::to_string(i);
    const std::string dl = dir + "/cycle-dl-" + std::to_string(i);
    (void)TufClient::Init(m, repo + "/metadata/1.root.json");
    auto t = Clock::now();
    auto c = open_client(m);
    auto all = c->AllTargets();
    if (!all.ok()) return Die("targets", all.error()), 1;
    for (const TufTarget& target : *all) {
      auto got = c->Download(target, dl);
      if (!got.ok()) return Die("download", got.error()), 1;
    }
    cycle_ms.push_back(MsSince(t));
    cycle_bytes = c->bytes_received();
    t = Clock::now();
    curl_bytes = CurlGetAll(curl, url, files);
    curl_all_ms.push_back(MsSince(t));
  }
  std::printf(
      "2. full cycle, 50 targets: %.3f ms, %llu bytes vs curl GETs of the same %zu files "
      "%.3f ms, %llu bytes (%.2fx time, %.3fx bytes)\n",
      Median(cycle_ms), static_cast<unsigned long long>(cycle_bytes), files.size(),
      Median(curl_all_ms), static_cast<unsigned long long>(curl_bytes),
      Median(cycle_ms) / Median(curl_all_ms),
      static_cast<double>(cycle_bytes) / static_cast<double>(curl_bytes));

  // 3. Delta against full bytes for the sample's bill update.
  const std::string samples = std::string(ATRIUM_BINARY_DIR) + "/samples";
  const std::string base = samples + "/wallet/packages/bill.atb";
  const std::string next = samples + "/wallet-faults/bill-ok.atb";
  if (fs::exists(base) && fs::exists(next)) {
    const std::string r2 = dir + "/repo2";
    (void)ReleaseRepository::Init(r2, {}, {});
    auto r = ReleaseRepository::Open(r2, {});
    (void)(*r)->Add(base, {});
    auto added = (*r)->Add(next, {});
    if (added.ok() && !added->deltas.empty()) {
      std::printf(
          "3. sample bill 1.0.3 -> 1.1.0: delta %llu bytes vs full package %llu bytes "
          "(%.3fx)%s\n",
          static_cast<unsigned long long>(added->deltas[0].length),
          static_cast<unsigned long long>(added->length),
          static_cast<double>(added->deltas[0].length) / static_cast<double>(added->length),
          added->deltas[0].kept ? "" : " (dropped: not smaller)");
    }
  } else {
    std::printf("3. sample packages not built (%s): skipped\n", samples.c_str());
  }
  curl_easy_cleanup(curl);
  server->reset();
  fs::remove_all(dir);
  return 0;
}
