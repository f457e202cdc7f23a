// Crash reports at the next launch: frames symbolized (dladdr for modules
// loaded here, the module file's own ELF symbol table otherwise) and the
// signature stable across runs and ASLR. See atrium/crash_capture.h.
#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "atrium/crash_capture.h"
#include "loaded_modules.h"

namespace atrium {

namespace {

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool IsSystemModule(const std::string& base) {
  for (const char* p : {"libc.so", "libstdc++.so", "libgcc_s.so", "libpthread.so", "ld-linux"}) {
    if (base.rfind(p, 0) == 0) return true;
  }
  return false;
}

// Function symbols of an ELF64 file from its .symtab (or .dynsym when
// stripped), sorted by address, for symbolizing frames of modules not loaded
// in this process (or with hidden symbols dladdr cannot name). Reads only
// regular files up to 512 MiB; any malformed header or out-of-bounds table
// yields no symbols.
struct ElfSymbol {
  uint64_t value = 0;
  uint64_t size = 0;
  std::string name;
};

std::vector<ElfSymbol> ReadElfFunctions(const std::string& path) {
  std::vector<ElfSymbol> out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size < static_cast<off_t>(sizeof(Elf64_Ehdr)) || st.st_size > (off_t{512} << 20)) {
    ::close(fd);
    return out;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return out;
  const auto* base = static_cast<const unsigned char*>(map);
  auto in_file = [&](uint64_t off, uint64_t len) { return off <= size && len <= size - off; };
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
      eh->e_shentsize == sizeof(Elf64_Shdr) && eh->e_shnum > 0 &&
      in_file(eh->e_shoff, uint64_t{eh->e_shnum} * sizeof(Elf64_Shdr))) {
    const auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
    for (uint32_t want : {uint32_t{SHT_SYMTAB}, uint32_t{SHT_DYNSYM}}) {
      for (uint16_t i = 0; i < eh->e_shnum && out.empty(); ++i) {
        if (sh[i].sh_type != want || sh[i].sh_entsize != sizeof(Elf64_Sym) ||
            sh[i].sh_link >= eh->e_shnum || !in_file(sh[i].sh_offset, sh[i].sh_size)) {
          continue;
        }
        const Elf64_Shdr& strtab = sh[sh[i].sh_link];
        if (!in_file(strtab.sh_offset, strtab.sh_size)) continue;
        const auto* syms = reinterpret_cast<const Elf64_Sym*>(base + sh[i].sh_offset);
        const size_t count = sh[i].sh_size / sizeof(Elf64_Sym);
        const char* names = reinterpret_cast<const char*>(base + strtab.sh_offset);
        for (size_t k = 0; k < count; ++k) {
          const Elf64_Sym& sym = syms[k];
          if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_value == 0 || sym.st_size == 0 ||
              sym.st_name >= strtab.sh_size) {
            continue;
          }
          const size_t max = strtab.sh_size - sym.st_name;
          const size_t len = strnlen(names + sym.st_name, max);
          if (len == max || len == 0) continue;  // not NUL-terminated inside the table
          out.push_back({sym.st_value, sym.st_size, std::string(names + sym.st_name, len)});
        }
      }
      if (!out.empty()) break;
    }
  }
  ::munmap(map, size);
  std::sort(out.begin(), out.end(),
            [](const ElfSymbol& a, const ElfSymbol& b) { return a.value < b.value; });
  return out;
}

// The demangled name of the function of `symbols` holding `offset`, or "".
std::string ElfFunctionAt(const std::vector<ElfSymbol>& symbols, uint64_t offset) {
  auto it = std::upper_bound(symbols.begin(), symbols.end(), offset,
                             [](uint64_t v, const ElfSymbol& s) { return v < s.value; });
  if (it == symbols.begin()) return {};
  --it;
  if (offset >= it->value + it->size) return {};
  int status = 0;
  char* demangled = abi::__cxa_demangle(it->name.c_str(), nullptr, nullptr, &status);
  std::string name = (status == 0 && demangled) ? demangled : it->name;
  std::free(demangled);
  return name;
}

}  // namespace

CrashReport Symbolize(const CrashRecord& record, const std::vector<std::string>& bundle_dirs) {
  CrashReport report;
  report.record = record;
  report.foreground = record.foreground;
  report.signature = CrashSignature(record);
  // Where each module is loaded in this process, by path.
  std::vector<std::pair<std::string, uintptr_t>> loaded;
  internal::ForEachModule([&](const std::string& path, uintptr_t bias, uintptr_t, uintptr_t) {
    loaded.emplace_back(path, bias);
  });
  std::map<std::string, std::vector<ElfSymbol>> elf_symbols;  // by module path
  // A dynamic artifact running in the process runs in the Lua sandbox.
  bool lua = !record.artifact.empty();
  for (size_t i = 0; i < record.frames.size(); ++i) {
    const CrashFrame& f = record.frames[i];
    CrashReportFrame out;
    out.address = f.address;
    if (f.module >= 0 && static_cast<size_t>(f.module) < record.modules.size()) {
      out.module = record.modules[static_cast<size_t>(f.module)].path;
      out.offset = f.offset;
      std::string base = Basename(out.module);
      if (base.rfind("liblua", 0) == 0 || base.find("luajit") != std::string::npos) lua = true;
      for (const std::string& dir : bundle_dirs) {
        if (!dir.empty() && out.module.rfind(dir.back() == '/' ? dir : dir + "/", 0) == 0) {
          out.bundle_library = true;
        }
      }
      for (const auto& [path, bias] : loaded) {
        if (path != out.module) continue;
        // Return addresses point after the call; look up the call itself.
        uintptr_t addr = bias + f.offset - (i > 0 ? 1 : 0);
        Dl_info info{};
        if (dladdr(reinterpret_cast<void*>(addr), &info) && info.dli_sname) {
          int status = 0;
          char* demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
          out.symbol = (status == 0 && demangled) ? demangled : info.dli_sname;
          std::free(demangled);
        }
        break;
      }
      if (out.symbol.empty() && f.offset > 0) {
        // Not loaded here, or a hidden symbol: the file's own symbol table.
        auto cached = elf_symbols.find(out.module);
        if (cached == elf_symbols.end()) {
          cached = elf_symbols.emplace(out.module, ReadElfFunctions(out.module)).first;
        }
        out.symbol = ElfFunctionAt(cached->second, f.offset - (i > 0 ? 1 : 0));
      }
    }
    report.frames.push_back(std::move(out));
  }
  report.kind = lua ? CrashKind::kLua : CrashKind::kNative;
  return report;
}

std::string CrashSignature(const CrashRecord& record) {
  constexpr size_t kSignatureFrames = 8;
  std::string key = "sig=" + std::to_string(record.signal);
  if (record.from_terminate) key += ";terminate";
  // Skip leading frames inside the C/C++ runtime (raise, abort, the unwinder)
  // so the signature names the application's crash site.
  size_t first = 0;
  while (first < record.frames.size()) {
    const CrashFrame& f = record.frames[first];
    if (f.module < 0 || !IsSystemModule(Basename(record.modules[f.module].path))) break;
    ++first;
  }
  if (first == record.frames.size()) first = 0;
  for (size_t i = first; i < record.frames.size() && i < first + kSignatureFrames; ++i) {
    const CrashFrame& f = record.frames[i];
    char buf[64];
    if (f.module < 0) {
      key += ";?";
      continue;
    }
    std::snprintf(buf, sizeof(buf), "+0x%llx", static_cast<unsigned long long>(f.offset));
    key += ";" + Basename(record.modules[static_cast<size_t>(f.module)].path) + buf;
  }
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char out[17];
  std::snprintf(out, sizeof(out), "%016llx", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace atrium
