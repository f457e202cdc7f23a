// Resolver rules on hand-built manifests: version choice, missing and
// mismatched dependencies, conflicts, cycles, duplicate micro-apps,
// propagation, optional dependencies and load order.
#include "resolver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace atrium::internal {
namespace {

struct Builder {
  std::vector<Manifest> manifests;
  Builder& Add(std::string name, std::string version,
               std::vector<std::pair<std::string, std::string>> reqs = {},
               std::vector<std::string> apps = {}, std::vector<std::string> optional = {}) {
    Manifest m;
    m.name = std::move(name);
    m.version = Version::Parse(version).value();
    for (auto& [n, r] : reqs) {
      m.requires_.push_back({n, VersionRange::Parse(r).value(), false});
    }
    for (auto& n : optional) m.requires_.push_back({n, VersionRange::Any(), true});
    for (auto& a : apps) m.micro_apps.push_back({a, "native", "E", ""});
    manifests.push_back(std::move(m));
    return *this;
  }
  ResolveResult Run() {
    std::vector<const Manifest*> ptrs;
    for (const auto& m : manifests) ptrs.push_back(&m);
    return Resolve(ptrs);
  }
};

TEST(ResolverTest, ResolvesAndOrdersDependenciesFirst) {
  Builder b;
  b.Add("com.a.home", "1.0.0", {{"com.a.account", "^1.0.0"}, {"com.a.ui", "*"}})
      .Add("com.a.account", "1.3.0", {{"com.a.ui", ">=0.1.0"}})
      .Add("com.a.ui", "0.2.0");
  auto r = b.Run();
  for (const auto& p : r.bundles) EXPECT_EQ(p.resolution, Resolution::kResolved) << p.reason;
  ASSERT_EQ(r.load_order.size(), 3u);
  std::map<uint32_t, size_t> pos;
  for (size_t i = 0; i < r.load_order.size(); ++i) pos[r.load_order[i]] = i;
  EXPECT_LT(pos[2], pos[1]);
  EXPECT_LT(pos[1], pos[0]);
}

TEST(ResolverTest, HighestVersionIsChosenOthersSuperseded) {
  Builder b;
  b.Add("com.a.x", "1.0.0").Add("com.a.x", "1.10.0").Add("com.a.x", "1.9.9");
  auto r = b.Run();
  EXPECT_EQ(r.bundles[1].resolution, Resolution::kResolved);
  EXPECT_EQ(r.bundles[0].resolution, Resolution::kSuperseded);
  EXPECT_EQ(r.bundles[0].reason, "superseded by com.a.x 1.10.0");
  EXPECT_EQ(r.bundles[2].resolution, Resolution::kSuperseded);
}

TEST(ResolverTest, MissingDependency) {
  Builder b;
  b.Add("com.a.x", "1.0.0", {{"com.a.gone", "^2.1.0"}});
  auto r = b.Run();
  EXPECT_EQ(r.bundles[0].resolution, Resolution::kUnresolved);
  EXPECT_EQ(r.bundles[0].reason, "requires com.a.gone ^2.1.0, which is not installed");
  EXPECT_TRUE(r.load_order.empty());
}

TEST(ResolverTest, VersionConflictNamesTheOtherRequirers) {
  Builder b;
  b.Add("com.a.lib", "1.5.0")
      .Add("com.a.old", "1.0.0", {{"com.a.lib", "^1.2.0"}})
      .Add("com.a.new", "1.0.0", {{"com.a.lib", "^2.0.0"}});
  auto r = b.Run();
  EXPECT_EQ(r.bundles[1].resolution, Resolution::kResolved);
  EXPECT_EQ(r.bundles[2].resolution, Resolution::kUnresolved);
  EXPECT_EQ(r.bundles[2].reason,
            "requires com.a.lib ^2.0.0, but installed com.a.lib is 1.5.0 (version conflict: "
            "com.a.old needs ^1.2.0)");
}

TEST(ResolverTest, CycleIsNamedAndDependentsPropagate) {
  Builder b;
  b.Add("com.a.c", "1.0.0", {{"com.a.a", "*"}})
      .Add("com.a.a", "1.0.0", {{"com.a.b", "*"}})
      .Add("com.a.b", "1.0.0", {{"com.a.c", "*"}})
      .Add("com.a.user", "1.0.0", {{"com.a.b", "*"}})
      .Add("com.a.free", "1.0.0");
  auto r = b.Run();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r.bundles[i].resolution, Resolution::kUnresolved);
    EXPECT_EQ(r.bundles[i].reason, "dependency cycle: com.a.a -> com.a.b -> com.a.c -> com.a.a");
  }
  EXPECT_EQ(r.bundles[3].resolution, Resolution::kUnresolved);
  EXPECT_EQ(r.bundles[3].reason,
            "requires com.a.b, which is unresolved: dependency cycle: com.a.a -> com.a.b -> "
            "com.a.c -> com.a.a");
  EXPECT_EQ(r.bundles[4].resolution, Resolution::kResolved);
  EXPECT_EQ(r.load_order, std::vector<uint32_t>{4});
}

TEST(ResolverTest, PropagatesThroughLongChains) {
  Builder b;
  b.Add("com.a.b0", "1.0.0", {{"com.a.missing", "*"}});
  for (int i = 1; i < 2000; ++i) {
    b.Add("com.a.b" + std::to_string(i), "1.0.0", {{"com.a.b" + std::to_string(i - 1), "*"}});
  }
  auto r = b.Run();
  EXPECT_EQ(r.bundles[1999].resolution, Resolution::kUnresolved);
  EXPECT_TRUE(r.load_order.empty());
}

TEST(ResolverTest, DuplicateMicroAppIdUnresolvesTheLaterBundle) {
  Builder b;
  b.Add("com.a.zz", "1.0.0", {}, {"home"}).Add("com.a.aa", "1.0.0", {}, {"home", "other"});
  auto r = b.Run();
  EXPECT_EQ(r.bundles[1].resolution, Resolution::kResolved);
  EXPECT_EQ(r.bundles[0].resolution, Resolution::kUnresolved);
  EXPECT_EQ(r.bundles[0].reason, "micro-app 'home' is already declared by com.a.aa");
}

TEST(ResolverTest, OptionalDependenciesAreDroppedWhenMissingOrUnresolved) {
  Builder b;
  b.Add("com.a.x", "1.0.0", {}, {}, {"com.a.absent", "com.a.broken", "com.a.ok"})
      .Add("com.a.broken", "1.0.0", {{"com.a.absent", "*"}})
      .Add("com.a.ok", "1.0.0");
  auto r = b.Run();
  EXPECT_EQ(r.bundles[0].resolution, Resolution::kResolved) << r.bundles[0].reason;
  EXPECT_EQ(r.bundles[0].deps, std::vector<uint32_t>{2});
}

// Reasons stay small: a cycle of 10,000 bundles is named once (its path cut
// to 16 names) and a chain of 10,000 names the next bundle and the root
// cause, so the reasons of 20,000 bundles stay linear in their number
// (before: every cycle member carried the whole 100 KB path, and each link
// of a 5,000-deep chain a copy of every reason below it: a 600 MB index).
TEST(ResolverTest, ReasonsStaySmallForHugeCyclesAndChains) {
  constexpr int kN = 10000;
  Builder b;
  for (int i = 0; i < kN; ++i) {
    b.Add("com.c.n" + std::to_string(i), "1.0.0",
          {{"com.c.n" + std::to_string((i + 1) % kN), "*"}});
  }
  b.Add("com.d.d0", "1.0.0", {{"com.d.missing", "*"}});
  for (int i = 1; i < kN; ++i) {
    b.Add("com.d.d" + std::to_string(i), "1.0.0", {{"com.d.d" + std::to_string(i - 1), "*"}});
  }
  b.Add("com.c.user", "1.0.0", {{"com.c.n5", "*"}});
  auto r = b.Run();
  size_t total = 0;
  size_t longest = 0;
  for (const auto& pb : r.bundles) {
    EXPECT_EQ(pb.resolution, Resolution::kUnresolved);
    total += pb.reason.size();
    longest = std::max(longest, pb.reason.size());
  }
  EXPECT_LT(longest, 600u);
  EXPECT_LT(total, 2u * kN * 120u);
  // The cycle is named on its smallest name, the others point to it.
  EXPECT_EQ(r.bundles[0].reason,
            "dependency cycle of 10000 bundles: com.c.n0 -> com.c.n1 -> com.c.n2 -> com.c.n3 -> "
            "com.c.n4 -> com.c.n5 -> com.c.n6 -> com.c.n7 -> com.c.n8 -> com.c.n9 -> com.c.n10 -> "
            "com.c.n11 -> com.c.n12 -> com.c.n13 -> ... (9986 more) -> com.c.n0");
  EXPECT_EQ(r.bundles[7].reason,
            "on the dependency cycle of 10000 bundles through com.c.n0 (its reason names the "
            "cycle)");
  EXPECT_EQ(r.bundles[2 * kN].reason,
            "requires com.c.n5, which is unresolved: on the dependency cycle of 10000 bundles "
            "through com.c.n0 (its reason names the cycle)");
  // A chain names the next link and the root cause.
  EXPECT_EQ(r.bundles[kN + 1].reason,
            "requires com.d.d0, which is unresolved: requires com.d.missing *, which is not "
            "installed");
  EXPECT_EQ(r.bundles[2 * kN - 1].reason,
            "requires com.d.d9998, which is unresolved (root cause: com.d.d0: requires "
            "com.d.missing *, which is not installed)");
}

}  // namespace
}  // namespace atrium::internal
