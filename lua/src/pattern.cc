// The sandbox's metered Lua pattern matcher (see pattern.h).
//
// A backtracking matcher over Lua's pattern language: single-character
// classes (".", "%a"..."%x" and their complements, "[...]" sets with ranges
// and classes, "^" negation), the quantifiers "*", "+", "-", "?", captures
// (including position captures "()"), back references "%1".."%9", "%bxy",
// the frontier "%f[set]", and the anchors "^" and "$". ("%z", deprecated in
// Lua 5.4 but still there, matches "\0".)
//
// Every step of the matcher (one pattern item tried at one position) counts
// as one work unit; units are charged to the budget every kChargeEvery
// steps, so a match stops within that many steps of its budget running out.
//
// Concurrency: as pattern.h says. Invariant 1 of sandbox.cc holds: the
// matcher's state (Matcher) is trivially destructible and errors are raised
// only from the entry points, after the recursion has unwound.
#include "pattern.h"

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "budget.h"

namespace atrium::lua::detail {

namespace {

constexpr int kMaxCaptures = 32;        // as Lua's LUA_MAXCAPTURES
constexpr int kMaxDepth = 200;          // nested matching calls, as Lua's
constexpr ptrdiff_t kUnfinished = -1;   // a capture still open
constexpr ptrdiff_t kPosition = -2;     // a "()" capture
constexpr uint32_t kChargeEvery = 128;  // steps between two charges
constexpr char kSpecials[] = "^$*+?.([%-";

int Byte(char c) { return static_cast<unsigned char>(c); }

// One subject and pattern being matched. Errors and a tripped budget are
// recorded here and end the match; the entry points raise them.
struct Matcher {
  lua_State* L;
  Budget* budget;
  const char* src_init;
  const char* src_end;
  const char* p_end;
  int depth;
  int level;
  uint32_t steps;
  bool tripped;
  const char* error;  // a luaL_error format with at most one %d
  int error_arg;
  struct {
    const char* init;
    ptrdiff_t len;
  } capture[kMaxCaptures];
};
static_assert(std::is_trivially_destructible_v<Matcher>);

void Prepare(Matcher* m, lua_State* L, const char* s, size_t ls, const char* p, size_t lp) {
  m->L = L;
  m->budget = BudgetOf(L);
  m->src_init = s;
  m->src_end = s + ls;
  m->p_end = p + lp;
  m->steps = 0;
  m->tripped = false;
  m->error = nullptr;
  m->error_arg = 0;
  m->level = 0;
  m->depth = kMaxDepth;
}

// Before each attempt at a new subject position.
void Restart(Matcher* m) {
  m->level = 0;
  m->depth = kMaxDepth;
}

bool Failed(const Matcher* m) { return m->tripped || m->error != nullptr; }

const char* Fail(Matcher* m, const char* error, int arg = 0) {
  if (m->error == nullptr) {
    m->error = error;
    m->error_arg = arg;
  }
  return nullptr;
}

// Counts `n` steps; false (and the match ends) when the budget ran out.
bool Step(Matcher* m, uint32_t n = 1) {
  m->steps += n;
  if (m->steps < kChargeEvery) return true;
  const uint32_t units = m->steps;
  m->steps = 0;
  if (ChargeWork(m->budget, units)) return true;
  m->tripped = true;
  return false;
}

// Charges the steps not charged yet; raises a tripped budget or an error.
void Settle(Matcher* m) {
  if (m->steps > 0 && !ChargeWork(m->budget, m->steps)) m->tripped = true;
  m->steps = 0;
  if (m->tripped) RaiseTripped(m->L, m->budget->tripped);
  if (m->error != nullptr) luaL_error(m->L, m->error, m->error_arg);
}

// The end of the single-character class starting at p.
const char* ClassEnd(Matcher* m, const char* p) {
  const char c = *p++;
  if (c == '%') {
    if (p >= m->p_end) return Fail(m, "malformed pattern (ends with '%%')");
    return p + 1;
  }
  if (c == '[') {
    if (p < m->p_end && *p == '^') ++p;
    do {  // the first character of a set is never its end, even "]"
      if (p >= m->p_end) return Fail(m, "malformed pattern (missing ']')");
      const char d = *p++;
      if (d == '%' && p < m->p_end) ++p;
    } while (p >= m->p_end || *p != ']');
    return p + 1;
  }
  return p;
}

// Whether c is in class %cl (a letter naming a class, else a literal).
bool ClassMatch(int c, int cl) {
  bool in = false;
  switch (std::tolower(cl)) {
    case 'a':
      in = std::isalpha(c) != 0;
      break;
    case 'c':
      in = std::iscntrl(c) != 0;
      break;
    case 'd':
      in = std::isdigit(c) != 0;
      break;
    case 'g':
      in = std::isgraph(c) != 0;
      break;
    case 'l':
      in = std::islower(c) != 0;
      break;
    case 'p':
      in = std::ispunct(c) != 0;
      break;
    case 's':
      in = std::isspace(c) != 0;
      break;
    case 'u':
      in = std::isupper(c) != 0;
      break;
    case 'w':
      in = std::isalnum(c) != 0;
      break;
    case 'x':
      in = std::isxdigit(c) != 0;
      break;
    case 'z':  // "\0", deprecated in Lua but still matched there
      in = c == 0;
      break;
    default:
      return cl == c;
  }
  return std::isupper(cl) != 0 ? !in : in;
}

// Whether c is in the set [...] from p (at '[') to close (at its ']').
bool SetMatch(int c, const char* p, const char* close) {
  bool member = true;
  if (p[1] == '^') {
    member = false;
    ++p;
  }
  while (++p < close) {
    if (*p == '%') {
      ++p;
      if (ClassMatch(c, Byte(*p))) return member;
    } else if (p[1] == '-' && p + 2 < close) {
      p += 2;
      if (Byte(p[-2]) <= c && c <= Byte(*p)) return member;
    } else if (Byte(*p) == c) {
      return member;
    }
  }
  return !member;
}

// Whether the subject byte at s matches the class from p to ep.
bool SingleMatch(const Matcher* m, const char* s, const char* p, const char* ep) {
  if (s >= m->src_end) return false;
  const int c = Byte(*s);
  switch (*p) {
    case '.':
      return true;
    case '%':
      return ClassMatch(c, Byte(p[1]));
    case '[':
      return SetMatch(c, p, ep - 1);
    default:
      return Byte(*p) == c;
  }
}

const char* DoMatch(Matcher* m, const char* s, const char* p);

const char* MaxExpand(Matcher* m, const char* s, const char* p, const char* ep) {
  ptrdiff_t i = 0;
  while (SingleMatch(m, s + i, p, ep)) {
    ++i;
    if (!Step(m)) return nullptr;
  }
  for (; i >= 0; --i) {  // the longest run first, then shorter ones
    const char* r = DoMatch(m, s + i, ep + 1);
    if (r != nullptr || Failed(m)) return r;
  }
  return nullptr;
}

const char* MinExpand(Matcher* m, const char* s, const char* p, const char* ep) {
  for (;;) {  // the shortest run first, then longer ones
    const char* r = DoMatch(m, s, ep + 1);
    if (r != nullptr || Failed(m)) return r;
    if (!SingleMatch(m, s, p, ep)) return nullptr;
    ++s;
  }
}

const char* StartCapture(Matcher* m, const char* s, const char* p, ptrdiff_t what) {
  if (m->level >= kMaxCaptures) return Fail(m, "too many captures");
  m->capture[m->level].init = s;
  m->capture[m->level].len = what;
  ++m->level;
  const char* r = DoMatch(m, s, p);
  if (r == nullptr) --m->level;
  return r;
}

const char* EndCapture(Matcher* m, const char* s, const char* p) {
  int open = -1;
  for (int i = m->level - 1; i >= 0; --i) {
    if (m->capture[i].len == kUnfinished) {
      open = i;
      break;
    }
  }
  if (open < 0) return Fail(m, "invalid pattern capture");
  m->capture[open].len = s - m->capture[open].init;
  const char* r = DoMatch(m, s, p);
  if (r == nullptr) m->capture[open].len = kUnfinished;
  return r;
}

// %bxy at p (pointing at x).
const char* MatchBalance(Matcher* m, const char* s, const char* p) {
  if (p + 1 >= m->p_end) return Fail(m, "malformed pattern (missing arguments to '%%b')");
  if (s >= m->src_end || *s != *p) return nullptr;
  const char open = p[0];
  const char close = p[1];
  int depth = 1;
  while (++s < m->src_end) {
    if (!Step(m)) return nullptr;
    if (*s == close) {
      if (--depth == 0) return s + 1;
    } else if (*s == open) {
      ++depth;
    }
  }
  return nullptr;
}

// %1..%9: the text of a closed capture again.
const char* MatchBackReference(Matcher* m, const char* s, int digit) {
  const int l = digit - '1';
  if (l < 0 || l >= m->level || m->capture[l].len == kUnfinished) {
    return Fail(m, "invalid capture index %%%d in pattern", l + 1);
  }
  const ptrdiff_t len = m->capture[l].len;
  if (len < 0) return nullptr;  // a position capture never matches text
  if (!Step(m, 1 + static_cast<uint32_t>(static_cast<uint64_t>(len) / kBytesPerUnit))) {
    return nullptr;
  }
  if (m->src_end - s >= len && std::memcmp(m->capture[l].init, s, static_cast<size_t>(len)) == 0) {
    return s + len;
  }
  return nullptr;
}

// Matches the pattern from p against the subject from s: the end of the
// match, or null (no match, an error, or the budget ran out: Failed()).
const char* MatchHere(Matcher* m, const char* s, const char* p) {
  for (;;) {
    if (!Step(m)) return nullptr;
    if (p == m->p_end) return s;
    switch (*p) {
      case '(':
        if (p + 1 < m->p_end && p[1] == ')') return StartCapture(m, s, p + 2, kPosition);
        return StartCapture(m, s, p + 1, kUnfinished);
      case ')':
        return EndCapture(m, s, p + 1);
      case '$':
        if (p + 1 == m->p_end) return s == m->src_end ? s : nullptr;
        break;  // a '$' elsewhere is a literal
      case '%':
        if (p + 1 >= m->p_end) break;  // ClassEnd reports it
        if (p[1] == 'b') {
          s = MatchBalance(m, s, p + 2);
          if (s == nullptr) return nullptr;
          p += 4;
          continue;
        }
        if (p[1] == 'f') {
          p += 2;
          if (p >= m->p_end || *p != '[') return Fail(m, "missing '[' after '%%f' in pattern");
          const char* ep = ClassEnd(m, p);
          if (ep == nullptr) return nullptr;
          const int before = s == m->src_init ? 0 : Byte(s[-1]);
          const int at = s < m->src_end ? Byte(*s) : 0;
          if (SetMatch(before, p, ep - 1) || !SetMatch(at, p, ep - 1)) return nullptr;
          p = ep;
          continue;
        }
        if (std::isdigit(Byte(p[1])) != 0) {
          s = MatchBackReference(m, s, Byte(p[1]));
          if (s == nullptr) return nullptr;
          p += 2;
          continue;
        }
        break;
      default:
        break;
    }
    const char* ep = ClassEnd(m, p);
    if (ep == nullptr) return nullptr;
    const char quantifier = ep < m->p_end ? *ep : '\0';
    if (!SingleMatch(m, s, p, ep)) {
      if (quantifier == '*' || quantifier == '?' || quantifier == '-') {
        p = ep + 1;  // zero repetitions are fine
        continue;
      }
      return nullptr;
    }
    switch (quantifier) {
      case '?': {
        const char* r = DoMatch(m, s + 1, ep + 1);
        if (r != nullptr || Failed(m)) return r;
        p = ep + 1;
        continue;
      }
      case '+':
        return MaxExpand(m, s + 1, p, ep);
      case '*':
        return MaxExpand(m, s, p, ep);
      case '-':
        return MinExpand(m, s, p, ep);
      default:
        ++s;
        p = ep;
        continue;
    }
  }
}

const char* DoMatch(Matcher* m, const char* s, const char* p) {
  if (m->depth == 0) return Fail(m, "pattern too complex");
  --m->depth;
  const char* r = MatchHere(m, s, p);
  ++m->depth;
  return r;
}

// Pushes capture i (the whole match s..e when the pattern has none).
void PushCapture(Matcher* m, int i, const char* s, const char* e) {
  if (i >= m->level) {
    if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
    lua_pushlstring(m->L, s, static_cast<size_t>(e - s));
    return;
  }
  const ptrdiff_t len = m->capture[i].len;
  if (len == kUnfinished) luaL_error(m->L, "unfinished capture");
  if (len == kPosition) {
    lua_pushinteger(m->L, (m->capture[i].init - m->src_init) + 1);
  } else {
    lua_pushlstring(m->L, m->capture[i].init, static_cast<size_t>(len));
  }
}

// Pushes every capture, or the whole match when there is none and s is not
// null. Returns how many values it pushed.
int PushCaptures(Matcher* m, const char* s, const char* e) {
  const int n = (m->level == 0 && s != nullptr) ? 1 : m->level;
  luaL_checkstack(m->L, n, "too many captures");
  for (int i = 0; i < n; ++i) PushCapture(m, i, s, e);
  return n;
}

// A 1-based start position from Lua's init argument (negative: from the end).
size_t StartPosition(lua_Integer pos, size_t len) {
  if (pos > 0) return static_cast<size_t>(pos);
  if (pos == 0) return 1;
  if (pos < -static_cast<lua_Integer>(len)) return 1;
  return len - static_cast<size_t>(-pos) + 1;
}

bool NoSpecials(const char* p, size_t lp) {
  for (size_t i = 0; i < lp; ++i) {
    if (std::memchr(kSpecials, p[i], sizeof kSpecials - 1) != nullptr) return false;
  }
  return true;
}

// Plain substring search, charged per candidate position.
const char* PlainFind(lua_State* L, const char* s, size_t ls, const char* p, size_t lp) {
  if (lp == 0) return s;
  if (lp > ls) return nullptr;
  const char* last = s + (ls - lp);
  const uint64_t compare_units = lp / kBytesPerUnit;
  for (const char* cur = s; cur <= last;) {
    const size_t window = static_cast<size_t>(last - cur) + 1;
    const char* hit = static_cast<const char*>(std::memchr(cur, *p, window));
    const size_t scanned = hit != nullptr ? static_cast<size_t>(hit - cur) : window;
    ChargeOrRaise(L, 1 + scanned / kBytesPerUnit + compare_units);
    if (hit == nullptr) return nullptr;
    if (std::memcmp(hit + 1, p + 1, lp - 1) == 0) return hit;
    cur = hit + 1;
  }
  return nullptr;
}

int FindOrMatch(lua_State* L, bool find) {
  size_t ls = 0, lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  const size_t init = StartPosition(luaL_optinteger(L, 3, 1), ls) - 1;
  if (init > ls) {
    luaL_pushfail(L);
    return 1;
  }
  if (find && (lua_toboolean(L, 4) || NoSpecials(p, lp))) {
    const char* hit = PlainFind(L, s + init, ls - init, p, lp);
    if (hit != nullptr) {
      lua_pushinteger(L, (hit - s) + 1);
      lua_pushinteger(L, static_cast<lua_Integer>((hit - s) + static_cast<ptrdiff_t>(lp)));
      return 2;
    }
    luaL_pushfail(L);
    return 1;
  }
  Matcher m;
  const bool anchor = lp > 0 && *p == '^';
  if (anchor) {
    ++p;
    --lp;
  }
  Prepare(&m, L, s, ls, p, lp);
  const char* s1 = s + init;
  do {
    Restart(&m);
    const char* e = DoMatch(&m, s1, p);
    if (e != nullptr || Failed(&m)) Settle(&m);
    if (e != nullptr) {
      if (!find) return PushCaptures(&m, s1, e);
      lua_pushinteger(L, (s1 - s) + 1);
      lua_pushinteger(L, e - s);
      return PushCaptures(&m, nullptr, nullptr) + 2;
    }
  } while (s1++ < m.src_end && !anchor);
  Settle(&m);
  luaL_pushfail(L);
  return 1;
}

// gmatch's iterator state (a full userdata without metatable).
struct GmatchState {
  size_t next;        // where the next attempt starts (offset)
  size_t last_end;    // where the last match ended
  bool matched_once;  // whether last_end is set
};

// The iterator (upvalues: subject, pattern, GmatchState).
int GmatchStep(lua_State* L) {
  size_t ls = 0, lp = 0;
  const char* s = lua_tolstring(L, lua_upvalueindex(1), &ls);
  const char* p = lua_tolstring(L, lua_upvalueindex(2), &lp);
  auto* state = static_cast<GmatchState*>(lua_touserdata(L, lua_upvalueindex(3)));
  Matcher m;
  Prepare(&m, L, s, ls, p, lp);
  for (size_t at = state->next; at <= ls; ++at) {
    Restart(&m);
    const char* e = DoMatch(&m, s + at, p);
    if (e != nullptr || Failed(&m)) Settle(&m);
    // No empty match right where the previous match ended.
    if (e != nullptr && !(state->matched_once && e == s + state->last_end)) {
      state->next = state->last_end = static_cast<size_t>(e - s);
      state->matched_once = true;
      return PushCaptures(&m, s + at, e);
    }
  }
  Settle(&m);
  state->next = ls + 1;
  return 0;
}

// Appends gsub's string replacement (argument 3) for the match s..e.
void AddReplacementString(Matcher* m, luaL_Buffer* b, const char* s, const char* e) {
  lua_State* L = m->L;
  size_t l = 0;
  const char* r = lua_tolstring(L, 3, &l);
  const char* end = r + l;
  ChargeOrRaise(L, 1 + l / kBytesPerUnit);
  while (r < end) {
    const char* escape =
        static_cast<const char*>(std::memchr(r, '%', static_cast<size_t>(end - r)));
    if (escape == nullptr) {
      luaL_addlstring(b, r, static_cast<size_t>(end - r));
      return;
    }
    luaL_addlstring(b, r, static_cast<size_t>(escape - r));
    r = escape + 1;
    if (r < end && *r == '%') {
      luaL_addchar(b, '%');
    } else if (r < end && *r == '0') {
      luaL_addlstring(b, s, static_cast<size_t>(e - s));
    } else if (r < end && std::isdigit(Byte(*r)) != 0) {
      PushCapture(m, *r - '1', s, e);
      luaL_tolstring(L, -1, nullptr);  // a position capture becomes its number
      lua_remove(L, -2);
      luaL_addvalue(b);
    } else {
      luaL_error(L, "invalid use of '%%' in replacement string");
    }
    ++r;
  }
}

// Appends the replacement of the match s..e; false when the match is kept
// as it was (a false or nil replacement value).
bool AddReplacement(Matcher* m, luaL_Buffer* b, const char* s, const char* e, int kind) {
  lua_State* L = m->L;
  if (kind == LUA_TFUNCTION) {
    lua_pushvalue(L, 3);
    const int n = PushCaptures(m, s, e);
    lua_call(L, n, 1);
  } else if (kind == LUA_TTABLE) {
    PushCapture(m, 0, s, e);
    lua_gettable(L, 3);
  } else {
    AddReplacementString(m, b, s, e);
    return true;
  }
  if (!lua_toboolean(L, -1)) {
    lua_pop(L, 1);
    luaL_addlstring(b, s, static_cast<size_t>(e - s));
    return false;
  }
  if (!lua_isstring(L, -1)) {
    luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  }
  luaL_addvalue(b);
  return true;
}

}  // namespace

int PatternFind(lua_State* L) { return FindOrMatch(L, true); }

int PatternMatch(lua_State* L) { return FindOrMatch(L, false); }

int PatternGmatch(lua_State* L) {
  size_t ls = 0, lp = 0;
  luaL_checklstring(L, 1, &ls);
  luaL_checklstring(L, 2, &lp);
  size_t init = StartPosition(luaL_optinteger(L, 3, 1), ls) - 1;
  if (init > ls) init = ls + 1;  // no match at all
  lua_settop(L, 2);
  auto* state = static_cast<GmatchState*>(lua_newuserdatauv(L, sizeof(GmatchState), 0));
  state->next = init;
  state->last_end = 0;
  state->matched_once = false;
  lua_pushcclosure(L, GmatchStep, 3);
  return 1;
}

int PatternGsub(lua_State* L) {
  size_t ls = 0, lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  const int kind = lua_type(L, 3);
  const lua_Integer max_replacements = luaL_optinteger(L, 4, static_cast<lua_Integer>(ls) + 1);
  luaL_argexpected(
      L, kind == LUA_TNUMBER || kind == LUA_TSTRING || kind == LUA_TFUNCTION || kind == LUA_TTABLE,
      3, "string/function/table");
  const bool anchor = lp > 0 && *p == '^';
  if (anchor) {
    ++p;
    --lp;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  Matcher m;
  Prepare(&m, L, s, ls, p, lp);
  const char* src = s;
  const char* last_end = nullptr;
  lua_Integer count = 0;
  bool changed = false;
  while (count < max_replacements) {
    Restart(&m);
    const char* e = DoMatch(&m, src, p);
    if (e != nullptr || Failed(&m)) Settle(&m);
    if (e != nullptr && e != last_end) {  // no empty match where one ended
      ++count;
      changed = AddReplacement(&m, &b, src, e, kind) || changed;
      src = last_end = e;
    } else if (src < m.src_end) {
      luaL_addchar(&b, *src++);
    } else {
      break;
    }
    if (anchor) break;
  }
  Settle(&m);
  if (!changed) {
    lua_pushvalue(L, 1);
  } else {
    luaL_addlstring(&b, src, static_cast<size_t>(m.src_end - src));
    luaL_pushresult(&b);
  }
  lua_pushinteger(L, count);
  return 2;
}

}  // namespace atrium::lua::detail
