#include "resolver.h"

#include <algorithm>
#include <functional>
#include <map>
#include <string_view>
#include <unordered_map>

namespace atrium::internal {
namespace {

// A cycle of more bundles than kSmallCycle is named in full on one member
// only; a cycle's path shows at most kCyclePathNames names.
constexpr size_t kSmallCycle = 8;
constexpr size_t kCyclePathNames = 16;

// Tarjan's strongly connected components over `edges` (index -> deps).
std::vector<std::vector<uint32_t>> StronglyConnected(
    const std::vector<std::vector<uint32_t>>& edges) {
  const uint32_t n = static_cast<uint32_t>(edges.size());
  std::vector<int> index(n, -1), low(n, 0);
  std::vector<bool> on_stack(n, false);
  std::vector<uint32_t> stack;
  std::vector<std::vector<uint32_t>> out;
  int counter = 0;
  // Iterative to survive deep chains in large synthetic apps.
  struct Frame {
    uint32_t v;
    size_t next;
  };
  for (uint32_t root = 0; root < n; ++root) {
    if (index[root] != -1) continue;
    std::vector<Frame> frames{{root, 0}};
    index[root] = low[root] = counter++;
    stack.push_back(root);
    on_stack[root] = true;
    while (!frames.empty()) {
      Frame& f = frames.back();
      if (f.next < edges[f.v].size()) {
        uint32_t w = edges[f.v][f.next++];
        if (index[w] == -1) {
          index[w] = low[w] = counter++;
          stack.push_back(w);
          on_stack[w] = true;
          frames.push_back({w, 0});
        } else if (on_stack[w]) {
          low[f.v] = std::min(low[f.v], index[w]);
        }
        continue;
      }
      uint32_t v = f.v;
      frames.pop_back();
      if (!frames.empty()) low[frames.back().v] = std::min(low[frames.back().v], low[v]);
      if (low[v] == index[v]) {
        std::vector<uint32_t> comp;
        uint32_t w;
        do {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = false;
          comp.push_back(w);
        } while (w != v);
        out.push_back(std::move(comp));
      }
    }
  }
  return out;
}

}  // namespace

ResolveResult Resolve(const std::vector<const Manifest*>& bundles) {
  const uint32_t n = static_cast<uint32_t>(bundles.size());
  ResolveResult result;
  result.bundles.resize(n);
  auto& out = result.bundles;

  // 1. Choose one version per name.
  std::unordered_map<std::string_view, uint32_t> chosen;
  for (uint32_t i = 0; i < n; ++i) {
    auto [it, inserted] = chosen.emplace(bundles[i]->name, i);
    if (!inserted && bundles[it->second]->version < bundles[i]->version) it->second = i;
  }
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t c = chosen.at(bundles[i]->name);
    if (c != i) {
      out[i].resolution = Resolution::kSuperseded;
      out[i].reason = "superseded by " + bundles[c]->name + " " + bundles[c]->version.ToString();
    }
  }

  // 2. Dependencies exist and match.
  std::vector<std::vector<uint32_t>> required(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (out[i].resolution != Resolution::kResolved) continue;
    for (const Requirement& req : bundles[i]->requires_) {
      auto it = chosen.find(req.name);
      if (it == chosen.end()) {
        if (req.optional) continue;
        out[i].resolution = Resolution::kUnresolved;
        out[i].reason =
            "requires " + req.name + " " + req.range.text() + ", which is not installed";
        break;
      }
      const Manifest& dep = *bundles[it->second];
      if (!req.range.Matches(dep.version)) {
        if (req.optional) continue;
        out[i].resolution = Resolution::kUnresolved;
        out[i].reason = "requires " + req.name + " " + req.range.text() + ", but installed " +
                        req.name + " is " + dep.version.ToString();
        // Name the other requirers whose ranges the installed version satisfies.
        std::string others;
        for (uint32_t j = 0; j < n; ++j) {
          if (j == i || out[j].resolution == Resolution::kSuperseded) continue;
          for (const Requirement& r2 : bundles[j]->requires_) {
            if (r2.name == req.name && r2.range.Matches(dep.version)) {
              others +=
                  (others.empty() ? "" : ", ") + bundles[j]->name + " needs " + r2.range.text();
            }
          }
        }
        if (!others.empty()) out[i].reason += " (version conflict: " + others + ")";
        break;
      }
      out[i].deps.push_back(it->second);
      if (!req.optional) required[i].push_back(it->second);
    }
    if (out[i].resolution != Resolution::kResolved) {
      out[i].deps.clear();
      required[i].clear();
    }
  }

  // 3. Cycles (among bundles still resolved, over required and optional edges).
  std::vector<std::vector<uint32_t>> edges(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (out[i].resolution == Resolution::kResolved) edges[i] = out[i].deps;
  }
  for (auto& comp : StronglyConnected(edges)) {
    if (comp.size() < 2) continue;
    // Walk the cycle from its smallest name for a stable message.
    std::vector<uint32_t> members = comp;
    std::sort(members.begin(), members.end(),
              [&](uint32_t a, uint32_t b) { return bundles[a]->name < bundles[b]->name; });
    std::vector<bool> in_comp(n, false);
    for (uint32_t m : comp) in_comp[m] = true;
    // The path shows at most kCyclePathNames names, so no reason grows
    // with the cycle.
    std::vector<uint32_t> walk{members[0]};
    std::vector<bool> seen(n, false);
    seen[members[0]] = true;
    while (true) {
      uint32_t next = UINT32_MAX;
      for (uint32_t d : edges[walk.back()]) {
        if (in_comp[d]) {
          next = d;
          break;
        }
      }
      if (next == UINT32_MAX) break;
      walk.push_back(next);
      if (seen[next]) break;
      seen[next] = true;
    }
    std::string path;
    for (size_t k = 0; k < walk.size(); ++k) {
      if (k > 0) path += " -> ";
      if (walk.size() > kCyclePathNames && k == kCyclePathNames - 2) {
        path += "... (" + std::to_string(walk.size() - (kCyclePathNames - 1)) + " more)";
        k = walk.size() - 2;
        continue;
      }
      path += bundles[walk[k]]->name;
    }
    const std::string& first = bundles[members[0]]->name;
    const bool large = comp.size() > kSmallCycle;
    for (uint32_t m : comp) {
      out[m].resolution = Resolution::kUnresolved;
      if (!large) {
        out[m].reason = "dependency cycle: " + path;
      } else if (m == members[0]) {
        out[m].reason = "dependency cycle of " + std::to_string(comp.size()) + " bundles: " + path;
      } else {
        // Reported once, on the member the cycle is named from.
        out[m].reason = "on the dependency cycle of " + std::to_string(comp.size()) +
                        " bundles through " + first + " (its reason names the cycle)";
      }
      out[m].deps.clear();
      edges[m].clear();
    }
  }

  // 4. Micro-app ids unique across resolved bundles.
  std::vector<uint32_t> by_name;
  for (uint32_t i = 0; i < n; ++i) {
    if (out[i].resolution == Resolution::kResolved) by_name.push_back(i);
  }
  std::sort(by_name.begin(), by_name.end(),
            [&](uint32_t a, uint32_t b) { return bundles[a]->name < bundles[b]->name; });
  std::unordered_map<std::string_view, uint32_t> app_owner;
  for (uint32_t i : by_name) {
    for (const auto& app : bundles[i]->micro_apps) {
      auto [it, inserted] = app_owner.emplace(app.id, i);
      if (!inserted) {
        out[i].resolution = Resolution::kUnresolved;
        out[i].reason =
            "micro-app '" + app.id + "' is already declared by " + bundles[it->second]->name;
        break;
      }
    }
  }

  // 5. Propagate: topological order over the (now acyclic) resolved graph,
  // dependencies first; a bundle whose required dependency is unresolved
  // becomes unresolved; an optional one is dropped.
  std::vector<int> state(n, 0);  // 0 new, 1 visiting, 2 done
  std::vector<uint32_t> order;
  for (uint32_t root : by_name) {
    if (state[root] != 0) continue;
    std::vector<std::pair<uint32_t, size_t>> stack{{root, 0}};
    state[root] = 1;
    while (!stack.empty()) {
      auto& [v, next] = stack.back();
      if (next < out[v].deps.size()) {
        uint32_t d = out[v].deps[next++];
        if (state[d] == 0) {
          state[d] = 1;
          stack.push_back({d, 0});
        }
        continue;
      }
      uint32_t vv = v;
      stack.pop_back();
      state[vv] = 2;
      order.push_back(vv);
    }
  }
  // root[v]: the bundle whose own reason made v unresolved through a chain
  // of requirements (UINT32_MAX: v's reason is its own).
  std::vector<uint32_t> root(n, UINT32_MAX);
  for (uint32_t v : order) {
    if (out[v].resolution != Resolution::kResolved) continue;
    std::vector<uint32_t> kept;
    for (uint32_t d : out[v].deps) {
      if (out[d].resolution == Resolution::kResolved) {
        kept.push_back(d);
        continue;
      }
      bool optional = false;
      for (const Requirement& r : bundles[v]->requires_) {
        if (r.name == bundles[d]->name) optional = r.optional;
      }
      if (optional) continue;
      out[v].resolution = Resolution::kUnresolved;
      // The next unresolved bundle and the root cause, never a nested copy
      // of every reason below (a 5,000-deep chain made a 600 MB index).
      const uint32_t cause = root[d] == UINT32_MAX ? d : root[d];
      root[v] = cause;
      out[v].reason = "requires " + bundles[d]->name + ", which is unresolved";
      if (cause == d) {
        out[v].reason += ": " + out[d].reason;
      } else {
        out[v].reason += " (root cause: " + bundles[cause]->name + ": " + out[cause].reason + ")";
      }
      break;
    }
    if (out[v].resolution == Resolution::kResolved) {
      out[v].deps = std::move(kept);
    } else {
      out[v].deps.clear();
    }
  }
  for (uint32_t v : order) {
    if (out[v].resolution == Resolution::kResolved) result.load_order.push_back(v);
  }
  return result;
}

}  // namespace atrium::internal
