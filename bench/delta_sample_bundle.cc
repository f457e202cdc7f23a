// A sample bundle library for delta_bench, built twice (bench/CMakeLists.txt):
// once as is and once with ATRIUM_DELTA_SAMPLE_CHANGED, which changes the
// body of one function in the middle of the file (BillFee), the way a bug
// fix does; everything after it moves. Not loaded by anything: only its bytes
// matter. Enough ordinary C++ (containers, strings, streams, a regex) that
// the library has the shape of a real one.
#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <regex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace sample {

struct Bill {
  std::string payee;
  std::string memo;
  int64_t cents = 0;
  int32_t day = 0;
};

template <typename T>
std::string Describe(const std::vector<T>& values) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < values.size(); ++i) os << (i ? ", " : "") << values[i];
  os << "]";
  return os.str();
}

template <typename K, typename V>
std::vector<std::pair<K, V>> Sorted(const std::map<K, V>& m) {
  std::vector<std::pair<K, V>> out(m.begin(), m.end());
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  return out;
}

template <typename T>
T Median(std::vector<T> v) {
  if (v.empty()) return T{};
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

std::vector<Bill> ParseBills(const std::string& text) {
  static const std::regex line(R"(([A-Za-z ]+);(-?\d+);(\d+);(.*))");
  std::vector<Bill> bills;
  std::istringstream in(text);
  std::string s;
  while (std::getline(in, s)) {
    std::smatch m;
    if (!std::regex_match(s, m, line)) continue;
    bills.push_back({m[1], m[4], std::stoll(m[2]), std::stoi(m[3])});
  }
  return bills;
}

std::map<std::string, int64_t> TotalsByPayee(const std::vector<Bill>& bills) {
  std::map<std::string, int64_t> totals;
  for (const Bill& b : bills) totals[b.payee] += b.cents;
  return totals;
}

std::unordered_map<int32_t, std::vector<std::string>> PayeesByDay(const std::vector<Bill>& bills) {
  std::unordered_map<int32_t, std::vector<std::string>> days;
  for (const Bill& b : bills) days[b.day].push_back(b.payee);
  for (auto& [day, payees] : days) {
    std::sort(payees.begin(), payees.end());
    payees.erase(std::unique(payees.begin(), payees.end()), payees.end());
  }
  return days;
}

// The function the second build changes.
int64_t BillFee(const Bill& bill) {
#ifdef ATRIUM_DELTA_SAMPLE_CHANGED
  int64_t fee = bill.cents * 3 / 1000;
  if (bill.memo.find("urgent") != std::string::npos) fee += 150;
  return std::max<int64_t>(fee, 25);
#else
  return bill.cents * 3 / 1000;
#endif
}

std::string Report(const std::vector<Bill>& bills) {
  std::ostringstream os;
  std::vector<int64_t> amounts, fees;
  std::vector<double> ratios;
  for (const Bill& b : bills) {
    amounts.push_back(b.cents);
    fees.push_back(BillFee(b));
    ratios.push_back(b.cents ? static_cast<double>(BillFee(b)) / b.cents : 0.0);
  }
  os << "amounts " << Describe(amounts) << "\nfees " << Describe(fees) << "\nratios "
     << Describe(ratios) << "\nmedian " << Median(amounts) << " / " << Median(ratios) << "\n";
  for (const auto& [payee, total] : Sorted(TotalsByPayee(bills))) {
    os << payee << ": " << total << "\n";
  }
  for (const auto& [day, payees] : PayeesByDay(bills)) {
    std::vector<std::string> copy = payees;
    os << "day " << day << ": " << Describe(copy) << "\n";
  }
  const int64_t sum = std::accumulate(fees.begin(), fees.end(), int64_t{0});
  os << "fees total " << sum << "\n";
  return os.str();
}

}  // namespace sample

extern "C" __attribute__((visibility("default"))) size_t atrium_delta_sample_report(
    const char* text, char* out, size_t capacity) {
  const std::string report = sample::Report(sample::ParseBills(text));
  const size_t n = std::min(capacity, report.size());
  std::copy_n(report.data(), n, out);
  return report.size();
}
