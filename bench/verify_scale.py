# -*- coding: utf-8 -*-
"""Cost of verify on the 16-group lab: total time against its slowest check.

Runs on the two-host lab (root, Podman, `make images` first), holding the
machine's lab lock throughout. It starts a fresh lab, deploys the shipped lab
inventory (16 groups) with site.yml, then runs, alternately and --runs times
each:

* ``parallel``: playbooks/verify.yml as shipped, the ZMQ checks of a host in one
  zmq_check call with ``containers``;
* ``sequential``: the same playbook with that task replaced by the former loop,
  one zmq_check call (one ``podman exec`` round trip) per container.

For each it prints the playbook's wall time (ansible-playbook start-up, the
plan on the controller, every host's checks, the report), the checks part alone
(per host, from the start of its first check task to the end of its last), the
time of each check task per host (ansible-runner's task durations: the module's
round trip over the podman connection included), and the ratios total/slowest
check, the goal being <= 1.5. It checks that both variants judge every check
the same (status and failed stage of every item of both reports) and exits
non-zero if a verify run fails or they differ. The runs start --settle seconds
after the deploy: the lab's stand-in agents turn "degraded" 20 s after they
start, and a run before that judges them passed.

    python3 bench/verify_scale.py [--runs 2] [--settle 30] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "collections"))
sys.path.insert(0, os.path.join(REPO, "tests"))

from support.ansible_run import run_playbook  # noqa: E402
from support.lab import LAB_IMAGES, LAB_INVENTORY, lab_lock, molecule  # noqa: E402

VERIFY = os.path.join(REPO, "playbooks", "verify.yml")
ZMQ_TASK = "Check the ZMQ links and health sockets from inside each container"
CHECK_TASKS = {
    "Read the GPUs and check the VRAM budgets": "gpu",
    "Run a CUDA kernel inside every GPU container": "cuda",
    "Read the units' systemd state and their containers' health": "units",
    ZMQ_TASK: "zmq",
    "Compare the loaded firewall table with the plan": "firewall",
}
GOAL = 1.5


def sequential_playbook(dest):
    """verify.yml with its ZMQ task as the former loop: one call per container."""
    with open(VERIFY, encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    for task in plays[0]["tasks"]:
        if task.get("name") == ZMQ_TASK:
            args = task["ai_system.containers.zmq_check"]
            del args["containers"], args["concurrency"], task["when"]
            args.update(container="{{ item.container }}", endpoints="{{ item.endpoints }}")
            task["loop"] = "{{ verify_plan.checks.zmq }}"
            break
    else:
        raise SystemExit("playbooks/verify.yml has no task %r" % ZMQ_TASK)
    path = os.path.join(dest, "verify-sequential.yml")
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(plays, handle, sort_keys=False)
    return path


def _when(text):
    return datetime.fromisoformat(text).timestamp()


def measure(work, label, playbook, number):
    reports = os.path.join(work, "reports-%s-%d" % (label, number))
    start = time.perf_counter()
    run = run_playbook(os.path.join(work, "%s-%d" % (label, number)), playbook, LAB_INVENTORY,
                       envvars={"AI_SYSTEM_LAB_IMAGES": LAB_IMAGES},
                       extravars={"ai_verify_report_dir": reports})
    wall = time.perf_counter() - start
    if run.rc != 0:
        raise SystemExit("verify (%s) failed: %s" % (label, [f["res"].get("msg") for f in run.failures()]))
    checks = {}  # host -> {check: seconds}
    spans = {}  # host -> [first start, last end]
    for ev in run.events:
        data = ev.get("event_data", {})
        check = CHECK_TASKS.get(data.get("task"))
        if ev.get("event") not in ("runner_on_ok", "runner_on_failed") or not check or "duration" not in data:
            continue
        host = data["host"]
        checks.setdefault(host, {})[check] = data["duration"]
        span = spans.setdefault(host, [float("inf"), 0.0])
        span[0] = min(span[0], _when(data["start"]))
        span[1] = max(span[1], _when(data["end"]))
    zmq_module = {host: res.get("elapsed_s") for host, res in run.task_results(ZMQ_TASK).items()}
    with open(os.path.join(reports, "latest.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    return {"wall": wall, "checks": checks, "checks_part": max(end - begin for begin, end in spans.values()),
            "zmq_module": zmq_module, "report": report}


def judgement(report):
    """Every check's status and failed stage, host by host: what the report judged."""
    out = {"ok": report["ok"], "counts": report["counts"], "checks": report["checks"]}
    for host, data in sorted(report["hosts"].items()):
        for kind in ("gpu", "cuda", "units", "links", "health", "firewall"):
            items = data.get(kind)
            items = items if isinstance(items, list) else [items]
            out["%s/%s" % (host, kind)] = [
                (i.get("group") or i.get("from_group"), i.get("name") or i.get("container") or i.get("service"),
                 i.get("status"), i.get("failed_stage"))
                for i in items if isinstance(i, dict)]
    return out


def show(label, runs):
    best = min(runs, key=lambda r: r["wall"])
    slowest_host, slowest_check, slowest = max(
        ((host, check, seconds) for host, checks in best["checks"].items() for check, seconds in checks.items()),
        key=lambda t: t[2])
    print("  %s (fastest of %d runs; walls %s s)" % (label, len(runs), ", ".join("%.1f" % r["wall"] for r in runs)))
    for host in sorted(best["checks"]):
        print("    %-7s " % host + "  ".join("%s %.2f s" % kv for kv in best["checks"][host].items())
              + ("  (zmq_check's own time %s s)" % best["zmq_module"].get(host)
                 if best["zmq_module"].get(host) is not None else ""))
    print("    slowest single check: %s on %s, %.2f s" % (slowest_check, slowest_host, slowest))
    print("    whole playbook %.1f s = %.2f x the slowest check" % (best["wall"], best["wall"] / slowest))
    part = best["checks_part"]
    print("    checks part    %.1f s = %.2f x the slowest check" % (part, part / slowest))
    return best, slowest


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=2, help="verify runs of each variant")
    parser.add_argument("--settle", type=float, default=30.0,
                        help="seconds to wait after the deploy, for the stand-in agents to turn degraded")
    parser.add_argument("--keep", action="store_true", help="leave the lab running")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="ai-system-bench-")
    with lab_lock():
        molecule("destroy")
        molecule("create")
        try:
            deploy = run_playbook(os.path.join(work, "deploy"), "site.yml", LAB_INVENTORY,
                                  envvars={"AI_SYSTEM_LAB_IMAGES": LAB_IMAGES},
                                  extravars={"ai_verify_report_dir": os.path.join(work, "reports-deploy")})
            if deploy.rc != 0:
                raise SystemExit("deploy failed: %s" % [f["res"].get("msg") for f in deploy.failures()])
            # The lab's stand-in agents turn "degraded" 20 s after they start
            # (AI_SYSTEM_STANDIN_DEGRADE_AFTER): wait until every one has, so that
            # every run judges the same state.
            time.sleep(args.settle)
            variants = {"parallel": VERIFY, "sequential": sequential_playbook(work)}
            runs = {label: [] for label in variants}
            for number in range(args.runs):
                for label, playbook in variants.items():
                    runs[label].append(measure(work, label, playbook, number))
        finally:
            if not args.keep:
                molecule("destroy")
    shutil.rmtree(work, ignore_errors=True)

    print("verify of the 16-group lab (2 hosts), ansible-runner, lab of 2 cores")
    print("  whole playbook: ansible-playbook start-up, the plan on the controller, the checks, the report;")
    print("  checks part: per host, first check task's start to last check task's end (the host's round trips)")
    par, par_slowest = show("parallel: one zmq_check call per host (playbooks/verify.yml)", runs["parallel"])
    seq, dummy = show("sequential: one zmq_check call per container (the former loop)", runs["sequential"])
    print("  gain: whole playbook %.2fx, checks part %.2fx"
          % (seq["wall"] / par["wall"], seq["checks_part"] / par["checks_part"]))
    ratio = par["wall"] / par_slowest
    print("  goal: whole verify <= %.1f x the slowest single check: %.2f (%s); checks part alone %.2f"
          % (GOAL, ratio, "met" if ratio <= GOAL else "not met", par["checks_part"] / par_slowest))
    labelled = [("%s run %d" % (label, n + 1), judgement(r["report"]))
                for label in runs for n, r in enumerate(runs[label])]
    first_label, first = labelled[0]
    differ = False
    for label, judged in labelled[1:]:
        for key in sorted(set(first) | set(judged)):
            if first.get(key) != judged.get(key):
                differ = True
                mine = judged.get(key)
                theirs = first.get(key)
                if isinstance(mine, list) and isinstance(theirs, list):
                    mine, theirs = ([i for i in a if i not in b] for a, b in ((mine, theirs), (theirs, mine)))
                print("  DIFFER %s: %s %s, %s %s" % (key, first_label, theirs, label, mine))
    if differ:
        return 1
    print("  every run of both variants judged every check the same (%d checks, ok=%s)"
          % (sum(first["counts"].values()), first["ok"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
