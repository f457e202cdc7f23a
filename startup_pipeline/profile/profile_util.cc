// The helpers the profile report's rooms share (profile_util.h).
//
// Concurrency: free functions over values.
#include "profile_util.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "atrium/base/strict_json.h"

namespace atrium::profile {

std::string Format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string Ms(double ms) { return Format("%.1f", ms); }

// A JSON pointer reference token: '~' -> "~0", '/' -> "~1".
std::string PointerToken(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// Names from traces quoted in messages: printable ASCII kept, the rest
// escaped, long names cut, so a hostile trace cannot garble a terminal.
std::string Quote(std::string_view s) {
  std::string out = "'";
  size_t n = 0;
  for (unsigned char c : s) {
    if (++n > 80) {
      out += "...";
      break;
    }
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

const char* KindName(const json::value& v) { return internal::JsonKindName(v); }

bool AsNumber(const json::value& v, double* out) {
  switch (v.kind()) {
    case json::kind::int64:
      *out = static_cast<double>(v.get_int64());
      return true;
    case json::kind::uint64:
      *out = static_cast<double>(v.get_uint64());
      return true;
    case json::kind::double_:
      *out = v.get_double();
      return std::isfinite(*out);
    default:
      return false;
  }
}

Error FileError(ErrorCode code, const std::string& file, std::string pointer, std::string message) {
  Error e = MakeError(code, std::move(message));
  e.file = file;
  e.pointer = std::move(pointer);
  return e;
}

Result<json::value> ParseJson(std::string_view text, const std::string& file, size_t max_bytes) {
  internal::StrictJsonLimits limits;
  limits.max_bytes = max_bytes;
  limits.max_depth = 64;
  return internal::ParseStrictJson(text, file, limits);
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Error e = MakeError(ErrorCode::kIo, "cannot open");
    e.file = path;
    return e;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    Error e = MakeError(ErrorCode::kIo, "cannot read");
    e.file = path;
    return e;
  }
  return ss.str();
}

std::vector<std::string> SplitList(std::string_view s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string_view::npos) comma = s.size();
    std::string_view item = s.substr(pos, comma - pos);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front())))
      item.remove_prefix(1);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back())))
      item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    pos = comma + 1;
  }
  return out;
}

// "io-2" < "io-10": digit runs compare as numbers.
bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    bool da = std::isdigit(static_cast<unsigned char>(a[i]));
    bool db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      std::string_view na(a.data() + i, ie - i), nb(b.data() + j, je - j);
      while (na.size() > 1 && na.front() == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb.front() == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::string Printable(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

std::string Fit(std::string_view s, size_t width) {
  std::string p = Printable(s);
  if (p.size() <= width || width < 8) return p;
  size_t keep = width - 3;
  return p.substr(0, keep - keep / 2) + "..." + p.substr(p.size() - keep / 2);
}

TextTable::TextTable(std::vector<std::string> header, std::vector<bool> numeric)
    : numeric_(std::move(numeric)) {
  rows_.push_back(std::move(header));
}

std::string TextTable::Render(const std::string& indent) const {
  std::vector<size_t> width(numeric_.size(), 0);
  for (const auto& r : rows_)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  std::string out;
  for (const auto& r : rows_) {
    std::string line = indent;
    for (size_t c = 0; c < r.size(); ++c) {
      if (c > 0) line += "  ";
      std::string pad(width[c] - r[c].size(), ' ');
      line += numeric_[c] ? pad + r[c] : r[c] + (c + 1 < r.size() ? pad : "");
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace atrium::profile
