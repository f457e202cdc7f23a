// The budget's allocator and count hook (see budget.h).
//
// Concurrency: one thread at a time per Budget; no global mutable state.
#include "budget.h"

#include <cstdlib>

namespace atrium::lua::detail {

void RaiseTripped(lua_State* L, Fault fault) {
  lua_pushstring(L, TripMessage(fault));
  lua_error(L);
  std::abort();  // lua_error does not return
}

namespace {

// Reads the clock (starting it at the first read of a call) and trips the
// time budget when it is over.
void CheckClock(Budget* budget) {
  if (!budget->clock_started) {
    budget->clock_started = true;
    budget->started_ns = budget->clock->SteadyNs();
    return;
  }
  const int64_t elapsed_us = (budget->clock->SteadyNs() - budget->started_ns) / 1000;
  if (elapsed_us > budget->limits.time_us_per_call) budget->tripped = Fault::kTime;
}

}  // namespace

bool ChargeWork(Budget* budget, uint64_t units) {
  if (budget == nullptr || !budget->running) return true;
  if (budget->tripped != Fault::kNone) return false;
  if (units > budget->limits.instructions_per_call - budget->instructions) {  // no overflow
    budget->tripped = Fault::kInstructions;
    return false;
  }
  budget->instructions += units;
  budget->unclocked_work += units;
  if (budget->unclocked_work >= static_cast<uint64_t>(budget->hook_interval)) {
    budget->unclocked_work = 0;
    CheckClock(budget);
  }
  return budget->tripped == Fault::kNone;
}

void ChargeOrRaise(lua_State* L, uint64_t units) {
  Budget* budget = BudgetOf(L);
  if (!ChargeWork(budget, units)) RaiseTripped(L, budget->tripped);
}

void* CappedAlloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* budget = static_cast<Budget*>(ud);
  const size_t old_size = ptr != nullptr ? osize : 0;  // else osize is a type tag
  if (nsize == 0) {
    std::free(ptr);
    budget->used -= old_size;
    return nullptr;
  }
  if (nsize > old_size) {
    if (nsize - old_size > budget->cap - budget->used) return nullptr;
    // Growth is work (the bytes are about to be written), charged before it
    // is done. A call over budget gets no more memory, so Lua raises a
    // memory error there and then, which the call reports as the budget it
    // tripped (Lua handles a refused allocation everywhere, as at the cap;
    // shrinking is never refused).
    if (budget->running && !ChargeWork(budget, 1 + (nsize - old_size) / kBytesPerUnit)) {
      return nullptr;
    }
  }
  void* block = std::realloc(ptr, nsize);
  if (block == nullptr) return nullptr;
  budget->used = budget->used - old_size + nsize;
  return block;
}

Budget* BudgetOf(lua_State* L) {
  void* ud = nullptr;
  if (lua_getallocf(L, &ud) != &CappedAlloc) return nullptr;
  return static_cast<Budget*>(ud);
}

const char* TripMessage(Fault fault) {
  switch (fault) {
    case Fault::kInstructions:
      return "instruction budget exceeded";
    case Fault::kTime:
      return "time budget exceeded";
    case Fault::kMemory:
      return "not enough memory";
    default:
      return "budget exceeded";
  }
}

void CountHook(lua_State* L, lua_Debug* /*ar*/) {
  Budget* budget = BudgetOf(L);
  if (budget == nullptr || !budget->running) return;
  if (budget->tripped == Fault::kNone) {
    budget->instructions += static_cast<uint64_t>(budget->hook_interval);
    if (budget->instructions > budget->limits.instructions_per_call) {
      budget->tripped = Fault::kInstructions;
    } else {
      budget->unclocked_work = 0;
      CheckClock(budget);
    }
  }
  if (budget->tripped != Fault::kNone) RaiseTripped(L, budget->tripped);
}

bool NoteStatus(lua_State* L, int status) {
  Budget* budget = BudgetOf(L);
  if (budget == nullptr) return false;
  if (status == LUA_ERRMEM && budget->running && budget->tripped == Fault::kNone) {
    budget->tripped = Fault::kMemory;
  }
  return budget->tripped != Fault::kNone;
}

}  // namespace atrium::lua::detail
