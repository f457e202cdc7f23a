#include "atrium/thread_activity.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>

#include "atrium/trace.h"

namespace atrium {
namespace {

thread_local ThreadActivity tls_activity;

void CopyTruncated(char* dst, size_t size, std::string_view value) {
  size_t n = std::min(value.size(), size - 1);
  std::memcpy(dst, value.data(), n);
  dst[n] = '\0';
}

}  // namespace

ThreadActivity* CurrentThreadActivity() { return &tls_activity; }

ActivityScope::ActivityScope(ActivityField field, std::string_view value) {
  ThreadActivity* a = &tls_activity;
  switch (field) {
    case ActivityField::kBundle:
      slot_ = a->bundle;
      break;
    case ActivityField::kTask:
      slot_ = a->task;
      break;
    case ActivityField::kArtifact:
      slot_ = a->artifact;
      break;
    case ActivityField::kMicroApp:
      slot_ = a->micro_app;
      break;
    case ActivityField::kWaitingFor:
      slot_ = a->waiting_for;
      break;
  }
  // Every field but micro_app is as large as saved_. Copies of a constant
  // size compile to a few moves: this runs on every patched call.
  static_assert(sizeof(a->bundle) == sizeof(saved_) && sizeof(a->task) == sizeof(saved_) &&
                sizeof(a->artifact) == sizeof(saved_) && sizeof(a->waiting_for) == sizeof(saved_));
  if (field == ActivityField::kMicroApp) {
    size_ = sizeof(a->micro_app);
    std::memcpy(saved_, slot_, sizeof(a->micro_app));
  } else {
    size_ = sizeof(saved_);
    std::memcpy(saved_, slot_, sizeof(saved_));
  }
  CopyTruncated(slot_, size_, value);
}

ActivityScope::~ActivityScope() {
  if (size_ == sizeof(saved_)) {
    std::memcpy(slot_, saved_, sizeof(saved_));
  } else {
    std::memcpy(slot_, saved_, sizeof(ThreadActivity::micro_app));
  }
}

void SetCurrentThreadName(std::string_view name) {
  CopyTruncated(tls_activity.thread, sizeof(tls_activity.thread), name);
  pthread_setname_np(pthread_self(), tls_activity.thread);
  if (Trace* t = Trace::Active()) t->NameThread(Trace::CurrentTid(), name);
}

}  // namespace atrium
