// TaskQueue: lanes, the gate, quotas and the pick policy (task_queue.h).
#include "task_queue.h"

#include <algorithm>
#include <utility>

namespace atrium::internal::sched {

bool LaterDue(const TaskPtr& a, const TaskPtr& b) {
  return a->due != b->due ? a->due > b->due : a->seq > b->seq;
}

TaskQueue::TaskQueue(std::string name, bool is_main, PoolConfig config)
    : name_(std::move(name)), is_main_(is_main), config_(std::move(config)) {}

bool TaskQueue::ClassEligible(int cls, const Gate& gate) const {
  if (gate.shutting_down) return true;  // what is left blocks shutdown
  if (paused) return false;
  if (!gate.startup_idle && (config_.held_until_idle || cls >= kBestEffortClass)) return false;
  if (cls == kIdleClass) return queued_[0] == 0 && queued_[1] == 0 && fg_running == 0;
  return true;
}

size_t TaskQueue::Held(const Gate& gate) const {
  if (gate.startup_idle || gate.shutting_down) return 0;
  size_t held = queued_[kBestEffortClass] + queued_[kIdleClass];
  if (config_.held_until_idle) held += queued_[0] + queued_[1];
  return held;
}

TaskQueue::Lane* TaskQueue::LaneOf(const BundleState* b) {
  std::unique_ptr<Lane>& lane = lanes_[b];
  if (!lane) {
    lane = std::make_unique<Lane>();
    lane->bundle = b;
  }
  return lane.get();
}

void TaskQueue::DeactivateIfEmpty(Lane* lane) {
  if (lane->size != 0 || lane->active_index == kNotActive) return;
  Lane* last = active_.back();
  active_[lane->active_index] = last;
  last->active_index = lane->active_index;
  active_.pop_back();
  lane->active_index = kNotActive;
}

bool TaskQueue::Push(TaskPtr rec, const Gate& gate) {
  BundleState* b = rec->bundle;
  Lane* lane = LaneOf(b);
  const int cls = rec->cls;
  const bool under_quota = is_main_ || b->UnderQuota();
  if (!under_quota && !rec->deferred) {
    rec->deferred = true;
    ++b->quota_deferrals;
  }
  lane->tasks[cls].push_back(std::move(rec));
  enqueued.fetch_add(1, std::memory_order_relaxed);
  ++lane->size;
  ++queued_[cls];
  if (lane->active_index == kNotActive) {
    lane->active_index = active_.size();
    active_.push_back(lane);
  }
  return under_quota && ClassEligible(cls, gate);
}

bool TaskQueue::PushDelayed(TaskPtr rec) {
  const bool earliest = delayed_.empty() || LaterDue(delayed_.front(), rec);
  delayed_.push_back(std::move(rec));
  std::push_heap(delayed_.begin(), delayed_.end(), &LaterDue);
  return earliest;
}

int TaskQueue::PromoteDue(SteadyClock::time_point now, const Gate& gate) {
  int startable = 0;
  while (!delayed_.empty() && delayed_.front()->due <= now) {
    std::pop_heap(delayed_.begin(), delayed_.end(), &LaterDue);
    TaskPtr rec = std::move(delayed_.back());
    delayed_.pop_back();
    if (Push(std::move(rec), gate)) ++startable;
  }
  return startable;
}

TaskPtr TaskQueue::Pick(const Gate& gate) {
  bool eligible[kClassCount];
  bool any = false;
  for (int c = 0; c < kClassCount; ++c) any |= eligible[c] = ClassEligible(c, gate);
  if (!any) return nullptr;
  Lane* best = nullptr;
  int best_cls = kClassCount;
  uint64_t best_seq = 0;
  for (Lane* lane : active_) {
    int cls = 0;
    while (cls < kClassCount && (!eligible[cls] || lane->tasks[cls].empty())) ++cls;
    if (cls == kClassCount) continue;
    TaskRecord* head = lane->tasks[cls].front().get();
    if (!is_main_ && !lane->bundle->UnderQuota()) {
      if (!head->deferred) {
        head->deferred = true;
        ++head->bundle->quota_deferrals;
      }
      continue;
    }
    if (cls > best_cls) continue;
    if (cls < best_cls || head->seq < best_seq) {
      best = lane;
      best_cls = cls;
      best_seq = head->seq;
    }
  }
  if (best == nullptr) return nullptr;
  TaskPtr rec = std::move(best->tasks[best_cls].front());
  best->tasks[best_cls].pop_front();
  --best->size;
  --queued_[best_cls];
  DeactivateIfEmpty(best);
  return rec;
}

bool TaskQueue::HasQueuedOf(const BundleState* bundle) const {
  auto it = lanes_.find(bundle);
  return it != lanes_.end() && it->second->size > 0;
}

}  // namespace atrium::internal::sched
