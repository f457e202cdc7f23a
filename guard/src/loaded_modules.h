// The modules loaded in this process (dl_iterate_phdr), for the crash
// handler's module table and the symbolizer. Not async-signal-safe: called
// outside the handler.
#ifndef ATRIUM_GUARD_SRC_LOADED_MODULES_H_
#define ATRIUM_GUARD_SRC_LOADED_MODULES_H_

#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace atrium::internal {

inline std::string SelfExePath() {
  char buf[4096] = {};
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// Calls fn(path, bias, start, end) for every loaded module.
template <typename Fn>
void ForEachModule(Fn fn) {
  struct Ctx {
    Fn* fn;
    std::string exe;
  } ctx{&fn, SelfExePath()};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        auto* c = static_cast<Ctx*>(data);
        uintptr_t lo = UINTPTR_MAX, hi = 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD) continue;
          lo = std::min<uintptr_t>(lo, info->dlpi_addr + ph.p_vaddr);
          hi = std::max<uintptr_t>(hi, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
        }
        if (hi == 0) return 0;
        const char* name = info->dlpi_name;
        std::string path = (name && name[0]) ? std::string(name) : c->exe;
        (*c->fn)(path, static_cast<uintptr_t>(info->dlpi_addr), lo, hi);
        return 0;
      },
      &ctx);
}

}  // namespace atrium::internal

#endif  // ATRIUM_GUARD_SRC_LOADED_MODULES_H_
