#!/usr/bin/env python3
"""Writes run-0.json .. run-4.json: synthetic `atrium run --trace` output of a
wallet-like app, following the trace contract in docs/profiling.md.

A small list scheduler plays the startup pipeline: five stages separated by
barriers, tasks posted to "main" or a pool when their `after` dependencies
and the previous stage are done, one slice per task on the thread that ran
it (queue_wait_us = start - ready), bundle-load slices before the first task
of a lazily loaded bundle. Durations jitter per run (fixed seed), so the five
runs have distinct launch times. Run again to regenerate; the tests only
depend on the structure (counts), not on exact numbers.
"""
import json
import random

STAGES = ["boot", "framework", "first_frame", "post_frame", "idle"]
THREADS = [  # tid, name, pool
    (4101, "main", "main"),
    (4102, "urgent-0", "urgent"),
    (4103, "urgent-1", "urgent"),
    (4104, "io-0", "io"),
    (4105, "io-1", "io"),
    (4106, "best-effort-0", "best-effort"),
]
# id, stage, pool, after, ms, budget_ms, optional, status
TASKS = [
    ("com.wallet.core:init_logging", "boot", "main", [], 2.0, 0, False, "ok"),
    ("com.wallet.core:load_config", "boot", "urgent", [], 6.0, 0, False, "ok"),
    ("com.wallet.core:open_db", "boot", "io", ["com.wallet.core:init_logging"], 18.0, 25, False, "ok"),
    ("com.wallet.security:check_root", "boot", "urgent", [], 4.0, 0, False, "ok"),
    ("com.wallet.net:init_http", "framework", "urgent", [], 12.0, 0, False, "ok"),
    ("com.wallet.account:restore_session", "framework", "io", ["com.wallet.core:open_db"], 25.0, 40, False, "ok"),
    ("com.wallet.ui:load_theme", "framework", "main", [], 8.0, 0, False, "ok"),
    ("com.wallet.ui:warm_fonts", "framework", "urgent", [], 10.0, 0, False, "ok"),
    ("com.wallet.ui:decode_icons", "framework", "urgent", [], 9.0, 0, False, "ok"),
    ("com.wallet.home:fetch_balance", "first_frame", "io",
     ["com.wallet.account:restore_session", "com.wallet.net:init_http"], 40.0, 0, False, "ok"),
    ("com.wallet.home:layout", "first_frame", "main", ["com.wallet.ui:load_theme"], 15.0, 0, False, "ok"),
    ("com.wallet.home:render_home", "first_frame", "main",
     ["com.wallet.home:layout", "com.wallet.home:fetch_balance"], 30.0, 50, False, "ok"),
    ("com.wallet.bill:prefetch", "post_frame", "io", [], 20.0, 0, False, "ok"),
    ("com.partner.ads:load_banner", "post_frame", "io", [], 35.0, 30, True, "ok"),
    ("com.wallet.coupons:sync", "post_frame", "best-effort", [], 15.0, 0, False, "ok"),
    ("com.wallet.analytics:flush", "idle", "best-effort", [], 10.0, 0, False, "ok"),
    ("com.wallet.cache:trim", "idle", "best-effort", [], 5.0, 0, False, "ok"),
    ("com.wallet.bill:warm_templates", "idle", "best-effort", [], 0.0, 0, True, "skipped"),
]
LAZY = {"com.wallet.home": "micro-app home", "com.partner.ads": "com.partner.ads:load_banner"}


def simulate(run, rng):
    free_at = {tid: 0.0 for tid, _, _ in THREADS}
    pid = 77000 + run
    events = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": "atrium"}}]
    for tid, name, _ in THREADS:
        events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}})
    slices = []
    end_of = {}
    loaded = set()
    t = 1500.0 + 100 * run  # us since Trace::Start: container open comes first
    scale = 1.0 + 0.06 * [2, 0, 4, 1, 3][run]  # distinct launch times per run
    for stage in STAGES:
        stage_begin = t
        slices.append((t, {"ph": "i", "name": f"stage {stage} begin", "cat": "stage", "s": "g",
                           "pid": pid, "tid": 4101, "ts": round(t), "args": {"stage": stage}}))
        for tid in free_at:
            free_at[tid] = max(free_at[tid], t)
        pending = [task for task in TASKS if task[1] == stage]
        while pending:
            # Next task: the ready one that can start first.
            best = None
            for task in pending:
                if any(d not in end_of for d in task[3]):
                    continue
                tid_list = [tid for tid, _, pool in THREADS if pool == task[2]]
                ready = max([stage_begin] + [end_of[d] for d in task[3]]) + 40
                tid = min(tid_list, key=lambda x: (max(free_at[x], ready), x))
                start = max(free_at[tid], ready)
                if best is None or start < best[0]:
                    best = (start, ready, tid, task)
            start, ready, tid, task = best
            pending.remove(task)
            tid_name = {x: n for x, n, _ in THREADS}[tid]
            bundle = task[0].split(":")[0]
            if bundle in LAZY and bundle not in loaded:
                loaded.add(bundle)
                load_us = 4000 * scale
                slices.append((start, {"ph": "X", "name": f"load {bundle}", "cat": "bundle", "pid": pid,
                                       "tid": tid, "ts": round(start), "dur": round(load_us),
                                       "args": {"bundle": bundle, "trigger": LAZY[bundle]}}))
                start += load_us
            dur = 0.0 if task[7] == "skipped" else task[4] * 1000 * scale * rng.uniform(0.9, 1.1)
            over = task[5] > 0 and dur / 1000 > task[5]
            args = {"bundle": bundle, "stage": stage, "thread": task[2], "status": task[7],
                    "over_budget": "true" if over else "false",
                    "optional": "true" if task[6] else "false", "after": ",".join(task[3]),
                    "queue_wait_us": float(round(start - ready)), "budget_ms": float(task[5]),
                    "weight": 1.0}
            slices.append((start, {"ph": "X", "name": task[0], "cat": "task", "pid": pid, "tid": tid,
                                   "ts": round(start), "dur": round(dur), "args": args}))
            end_of[task[0]] = start + dur
            free_at[tid] = start + dur
        t = max([stage_begin] + [end_of[x[0]] for x in TASKS if x[1] == stage]) + 150
        slices.append((stage_begin, {"ph": "X", "name": stage, "cat": "stage", "pid": pid, "tid": 4101,
                                     "ts": round(stage_begin), "dur": round(t - stage_begin)}))
        slices.append((t, {"ph": "i", "name": f"stage {stage} end", "cat": "stage", "s": "g",
                           "pid": pid, "tid": 4101, "ts": round(t), "args": {"stage": stage}}))
        if stage == "first_frame":
            launch_ms = (t - 1500.0 - 100 * run) / 1000 + 3.0
    slices.sort(key=lambda s: s[0])
    events += [s for _, s in slices]
    # Things a reader must tolerate: other phases and categories, extra fields.
    events.append({"ph": "C", "name": "heap", "pid": pid, "tid": 4101, "ts": 9000, "args": {"mb": 41}})
    events.append({"ph": "X", "name": "sqlite", "cat": "io", "pid": pid, "tid": 4104, "ts": 2000,
                   "dur": 300, "extra": [1, 2, 3]})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"app": "com.example.wallet", "app_version": "1.4.0",
                          "launch_ms": f"{launch_ms:.1f}", "result": "ok",
                          "stages": ",".join(STAGES), "host": "synthetic"}}


for run in range(5):
    rng = random.Random(1000 + run)
    with open(f"run-{run}.json", "w") as f:
        json.dump(simulate(run, rng), f, indent=1)
        f.write("\n")
