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
  size_t capacity = 0;
  switch (field) {
    case ActivityField::kBundle:
      slot_ = a->bundle;
      capacity = sizeof(a->bundle);
      break;
    case ActivityField::kTask:
      slot_ = a->task;
      capacity = sizeof(a->task);
      break;
    case ActivityField::kArtifact:
      slot_ = a->artifact;
      capacity = sizeof(a->artifact);
      break;
    case ActivityField::kMicroApp:
      slot_ = a->micro_app;
      capacity = sizeof(a->micro_app);
      break;
    case ActivityField::kWaitingFor:
      slot_ = a->waiting_for;
      capacity = sizeof(a->waiting_for);
      break;
  }
  // Saves the old string and its terminator only (size_: the bytes to put
  // back): a readable field is its bytes up to the first NUL, so what lies
  // after it need not be restored. This runs on every patched call.
  size_ = strnlen(slot_, capacity - 1) + 1;
  std::memcpy(saved_, slot_, size_);
  CopyTruncated(slot_, capacity, value);
}

ActivityScope::~ActivityScope() { std::memcpy(slot_, saved_, size_); }

void SetCurrentThreadName(std::string_view name) {
  CopyTruncated(tls_activity.thread, sizeof(tls_activity.thread), name);
  pthread_setname_np(pthread_self(), tls_activity.thread);
  if (Trace* t = Trace::Active()) t->NameThread(Trace::CurrentTid(), name);
}

}  // namespace atrium
