#include "device_facts.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <string>

#include "atrium/base/hash.h"

namespace atrium::config {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

int64_t EnvInt(const char* name, int64_t fallback) {
  const std::string v = Env(name);
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  return !v.empty() && ec == std::errc() && p == v.data() + v.size() && n >= 0 ? n : fallback;
}

}  // namespace

void ReadDeviceFacts(DeviceContext* c) {
  struct utsname u {};
  if (::uname(&u) == 0) {
    c->os = u.sysname;
    std::transform(c->os.begin(), c->os.end(), c->os.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  }
  std::string locale = Env("LC_ALL");
  if (locale.empty()) locale = Env("LC_MESSAGES");
  if (locale.empty()) locale = Env("LANG");
  locale = locale.substr(0, locale.find_first_of(".@"));
  if (locale == "C" || locale == "POSIX") locale.clear();
  c->locale = locale;
  if (const size_t us = locale.find('_'); us != std::string::npos) {
    c->country = locale.substr(us + 1);
    std::transform(c->country.begin(), c->country.end(), c->country.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  }
  std::ifstream product("/sys/devices/virtual/dmi/id/product_name");
  std::string model;
  if (product && std::getline(product, model)) c->model = Trim(model);
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) c->memory_mb = static_cast<int64_t>(pages) * page / (1024 * 1024);
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  c->cores = cores > 0 ? cores : 1;

  if (std::string v = Env("ATRIUM_DEVICE_OS"); !v.empty()) c->os = v;
  if (std::string v = Env("ATRIUM_DEVICE_LOCALE"); !v.empty()) c->locale = v;
  if (std::string v = Env("ATRIUM_DEVICE_COUNTRY"); !v.empty()) c->country = v;
  if (std::string v = Env("ATRIUM_DEVICE_MODEL"); !v.empty()) c->model = v;
  c->memory_mb = EnvInt("ATRIUM_DEVICE_MEMORY_MB", c->memory_mb);
  c->cores = EnvInt("ATRIUM_DEVICE_CORES", c->cores);
}

uint64_t ContextFingerprint(const DeviceContext& c) {
  std::string s;
  auto add = [&](std::string_view v) { s.append(std::to_string(v.size())).append(":").append(v); };
  add(c.app_id);
  add(c.app_version ? c.app_version->ToString() : "");
  add(c.device_id);
  add(c.os);
  add(c.locale);
  add(c.country);
  add(c.model);
  add(std::to_string(c.memory_mb));
  add(std::to_string(c.cores));
  for (const auto& [k, v] : c.signals) {
    add(k);
    add(v);
  }
  return ::atrium::internal::Hash64(s);
}

}  // namespace atrium::config
