#!/usr/bin/env python3
"""bench/summarize.py (`./dev bench`): one summary of the benches' JSON.

usage: summarize_test.py SOURCE_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

ROW = {"name": "load_100_bundles", "metric": "Load of 100 lazy bundles", "unit": "us/bundle",
       "ours": 1.3, "baseline_name": "dlopen+dlsym", "baseline": 1.1, "ratio": 1.18,
       "judged": 1.18, "judged_spread": [1.12, 1.25], "target": "ratio <= 1.15",
       "verdict": "noisy"}
UNTRUSTED = dict(ROW, name="x", verdict="untrusted", untrusted="other processes took 0.41 CPUs")
DELTA = {"pairs": [{"pair": "libfoo", "size_ratio": 0.9, "speedup": 12.5},
                   {"pair": "no-bsdiff"}]}


def run(tool, results, out):
    return subprocess.run([sys.executable, tool, results, out], capture_output=True, text=True)


def main(argv):
    tool = os.path.join(argv[1], "bench", "summarize.py")
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "atrium_bench.json"), "w") as f:
            json.dump({"metrics": [ROW, UNTRUSTED]}, f)
        with open(os.path.join(d, "delta_bench.json"), "w") as f:
            json.dump(DELTA, f)
        with open(os.path.join(d, "atrium_bench.txt"), "w") as f:
            f.write("not json, not read")
        out = os.path.join(d, "summary.json")
        r = run(tool, d, out)
        check(r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr))
        summary = json.load(open(out))
        check(summary["format"] == "atrium-bench-summary-v1", "format")
        names = [row["name"] for row in summary["rows"]]
        check(names == ["load_100_bundles", "x", "delta_size_libfoo", "delta_apply_libfoo"],
              "rows %s" % names)
        check(summary["verdicts"] == {"noisy": 1, "untrusted": 1, "pass": 1, "info": 1},
              "verdicts %s" % summary["verdicts"])
        check(set(summary["benches"]) == {"atrium_bench", "delta_bench"}, "benches")
        check("1.18 [1.12, 1.25]" in r.stdout, "spread printed:\n" + r.stdout)
        check("untrusted: other processes took 0.41 CPUs" in r.stdout, "reason printed")
        # Running again over a folder holding the summary itself reads it not.
        r = run(tool, d, out)
        check(r.returncode == 0 and len(json.load(open(out))["rows"]) == 4, "rerun")
        # A truncated bench JSON: named, nothing written.
        with open(os.path.join(d, "scheduler_bench.json"), "w") as f:
            f.write('{"metrics": [')
        os.remove(out)
        r = run(tool, d, out)
        check(r.returncode == 1, "truncated: exit %d" % r.returncode)
        check("scheduler_bench.json" in r.stderr, "truncated: names the file: " + r.stderr)
        check(not os.path.exists(out), "truncated: no summary written")
        # A row without its verdict, and a bench JSON that is not an object.
        os.remove(os.path.join(d, "scheduler_bench.json"))
        with open(os.path.join(d, "hotpatch_bench.json"), "w") as f:
            json.dump({"metrics": [{"name": "n", "metric": "m", "target": "-"}]}, f)
        r = run(tool, d, out)
        check(r.returncode == 1 and "hotpatch_bench.json: row 0 has no verdict" in r.stderr,
              "row without verdict: " + r.stderr)
        with open(os.path.join(d, "hotpatch_bench.json"), "w") as f:
            json.dump([1, 2], f)
        r = run(tool, d, out)
        check(r.returncode == 1 and "hotpatch_bench.json: not a JSON object" in r.stderr,
              "not an object: " + r.stderr)
        os.remove(os.path.join(d, "hotpatch_bench.json"))
        r = run(tool, d, os.path.join(d, "no-such-dir", "summary.json"))
        check(r.returncode == 1 and "cannot write" in r.stderr, "unwritable: " + r.stderr)
        # Wrong usage.
        r = subprocess.run([sys.executable, tool], capture_output=True, text=True)
        check(r.returncode == 2, "usage: exit %d" % r.returncode)
    for f in failures:
        print("FAILED: " + f)
    print("%d check(s) failed" % len(failures) if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
