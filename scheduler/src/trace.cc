#include "atrium/trace.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstdio>

#include "atrium/base/file_util.h"
#include "atrium/scheduler/test_hooks.h"

namespace atrium {
namespace {

std::atomic<Trace*> g_active{nullptr};
namespace json = boost::json;

}  // namespace

Trace::Trace() : start_(Clock::now()) {}

Trace* Trace::Start() {
  Trace* current = g_active.load(std::memory_order_acquire);
  if (current != nullptr) return current;
  auto* t = new Trace();  // process lifetime: threads may record until exit
  Trace* expected = nullptr;
  if (!g_active.compare_exchange_strong(expected, t, std::memory_order_acq_rel)) {
    delete t;
    return expected;
  }
  return t;
}

Trace* Trace::Active() { return g_active.load(std::memory_order_acquire); }

}  // namespace atrium

namespace atrium::internal {
void StopTraceForTesting() { delete g_active.exchange(nullptr, std::memory_order_acq_rel); }
}  // namespace atrium::internal

namespace atrium {

uint32_t Trace::CurrentTid() {
  thread_local uint32_t tid = static_cast<uint32_t>(syscall(SYS_gettid));
  return tid;
}

int64_t Trace::NowUs() const { return ToUs(Clock::now()); }

int64_t Trace::ToUs(Clock::time_point t) const {
  return std::chrono::duration_cast<std::chrono::microseconds>(t - start_).count();
}

void Trace::NameThread(uint32_t tid, std::string_view name) {
  std::lock_guard lock(mu_);
  for (auto& [t, n] : thread_names_) {
    if (t == tid) {
      n = std::string(name);
      return;
    }
  }
  thread_names_.emplace_back(tid, std::string(name));
}

void Trace::Add(TraceEvent event) {
  std::lock_guard lock(mu_);
  events_.push_back(std::move(event));
}

void Trace::Instant(std::string_view name, std::string_view category,
                    std::vector<std::pair<std::string, std::string>> args) {
  TraceEvent e;
  e.phase = 'i';
  e.name = std::string(name);
  e.category = std::string(category);
  e.tid = CurrentTid();
  e.ts_us = NowUs();
  e.args = std::move(args);
  Add(std::move(e));
}

void Trace::SetMetadata(std::string_view key, std::string_view value) {
  std::lock_guard lock(mu_);
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::string(value);
      return;
    }
  }
  metadata_.emplace_back(std::string(key), std::string(value));
}

std::vector<TraceEvent> Trace::Events() const {
  std::lock_guard lock(mu_);
  return events_;
}

std::string Trace::ToJson() const {
  std::lock_guard lock(mu_);
  const int64_t pid = getpid();
  json::array events;
  events.reserve(events_.size() + thread_names_.size() + 1);
  events.push_back(json::object{{"ph", "M"},
                                {"name", "process_name"},
                                {"pid", pid},
                                {"tid", 0},
                                {"args", json::object{{"name", "atrium"}}}});
  for (const auto& [tid, name] : thread_names_) {
    events.push_back(json::object{{"ph", "M"},
                                  {"name", "thread_name"},
                                  {"pid", pid},
                                  {"tid", tid},
                                  {"args", json::object{{"name", name}}}});
  }
  for (const TraceEvent& e : events_) {
    json::object o;
    o["ph"] = std::string(1, e.phase);
    o["name"] = e.name;
    o["cat"] = e.category;
    o["pid"] = pid;
    o["tid"] = e.tid;
    o["ts"] = e.ts_us;
    if (e.phase == 'X') o["dur"] = e.dur_us;
    if (e.phase == 'i') o["s"] = "g";
    if (!e.args.empty() || !e.num_args.empty()) {
      json::object args;
      for (const auto& [k, v] : e.args) args[k] = v;
      for (const auto& [k, v] : e.num_args) args[k] = v;
      o["args"] = std::move(args);
    }
    events.push_back(std::move(o));
  }
  json::object other;
  for (const auto& [k, v] : metadata_) other[k] = v;
  json::object root{{"traceEvents", std::move(events)},
                    {"displayTimeUnit", "ms"},
                    {"otherData", std::move(other)}};
  return json::serialize(root);
}

Status Trace::WriteJson(const std::string& path) const {
  return internal::AtomicWriteFile(path, ToJson());
}

TraceSlice::TraceSlice(std::string_view name, std::string_view category) : trace_(Trace::Active()) {
  if (trace_ == nullptr) return;
  event_.name = std::string(name);
  event_.category = std::string(category);
  begin_ = Trace::Clock::now();
}

TraceSlice::~TraceSlice() {
  if (trace_ == nullptr) return;
  event_.tid = Trace::CurrentTid();
  event_.ts_us = trace_->ToUs(begin_);
  event_.dur_us = trace_->ToUs(Trace::Clock::now()) - event_.ts_us;
  trace_->Add(std::move(event_));
}

void TraceSlice::Arg(std::string_view key, std::string_view value) {
  if (trace_ != nullptr) event_.args.emplace_back(std::string(key), std::string(value));
}

void TraceSlice::Arg(std::string_view key, double value) {
  if (trace_ != nullptr) event_.num_args.emplace_back(std::string(key), value);
}

}  // namespace atrium
