#!/usr/bin/env python3
"""One summary of every benchmark's JSON (`./dev bench`).

usage: summarize.py RESULTS_DIR SUMMARY_JSON

Reads RESULTS_DIR/<bench>.json as written by the benches' --json, prints one
table of every row (ratio, its 95 % spread, target, verdict) and writes
SUMMARY_JSON: {"format": "atrium-bench-summary-v1", "rows": [...],
"verdicts": {"pass": n, ...}, "benches": {<bench>: <its whole JSON>}}.

Rows of atrium_bench, scheduler_bench and hotpatch_bench carry their own
verdicts (bench/bench_row.h). delta_bench's sizes are deterministic: its size
target is pass or miss exactly; its apply speedup is a ratio of two medians
without a spread, so it is reported as "info".
"""
import json
import os
import sys


def delta_rows(doc, size_target=1.0, speedup_target=3.0):  # delta_bench.cc's targets
    rows = []
    for p in doc.get("pairs", []):
        if "size_ratio" not in p:
            continue
        r = p["size_ratio"]
        rows.append({
            "name": "delta_size_" + p["pair"],
            "metric": "delta size, " + p["pair"],
            "ratio": r,
            "judged": r,
            "target": "ratio <= %.2f" % size_target,
            "baseline_name": "bsdiff",
            "verdict": "pass" if r <= size_target else "miss",
        })
        rows.append({
            "name": "delta_apply_" + p["pair"],
            "metric": "delta apply speedup, " + p["pair"],
            "ratio": p.get("speedup", 0),
            "judged": p.get("speedup", 0),
            "target": "speedup >= %.1f" % speedup_target,
            "baseline_name": "bspatch",
            "verdict": "info",
            "note": "a ratio of two medians without a spread: not judged",
        })
    return rows


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    results, out_path = argv[1], argv[2]
    benches, rows = {}, []
    for name in sorted(os.listdir(results)):
        path = os.path.join(results, name)
        if not name.endswith(".json") or os.path.abspath(path) == os.path.abspath(out_path):
            continue
        bench = name[:-5]
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            sys.stderr.write("summarize: %s: %s\n" % (path, e))
            return 1
        try:
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            found = delta_rows(doc) if bench == "delta_bench" else doc.get("metrics", [])
            for i, r in enumerate(found):
                missing = [k for k in ("name", "metric", "target", "verdict") if k not in r]
                if missing:
                    raise ValueError("row %d has no %s" % (i, ", ".join(missing)))
                rows.append(dict(r, bench=bench))
        except (AttributeError, TypeError, ValueError) as e:
            sys.stderr.write("summarize: %s: %s\n" % (path, e))
            return 1
        benches[bench] = doc
    counts = {}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    print("\n%-16s %-60s %-24s %-15s %s" % ("bench", "metric", "judged [95% spread]", "target",
                                            "verdict"))
    print("-" * 128)
    for r in rows:
        spread = r.get("judged_spread")
        text = "%.2f" % r.get("judged", r.get("ratio", 0))
        text += " [%.2f, %.2f]" % tuple(spread) if spread else ""
        metric = r["metric"] + (" vs " + r["baseline_name"] if r.get("baseline_name") else "")
        print("%-16s %-60s %-24s %-15s %s" % (r["bench"], metric[:60], text, r["target"],
                                            r["verdict"]))
        if "untrusted" in r:
            print("%-16s   untrusted: %s" % ("", r["untrusted"]))
    print("verdicts: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    summary = {"format": "atrium-bench-summary-v1", "rows": rows, "verdicts": counts,
               "benches": benches}
    try:
        with open(out_path, "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")
    except OSError as e:
        sys.stderr.write("summarize: cannot write %s: %s\n" % (out_path, e))
        return 1
    print("wrote " + out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
