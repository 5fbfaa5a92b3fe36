# -*- coding: utf-8 -*-
"""Cost of verify on the 16-group lab: total time against its slowest check.

Runs on the two-host lab (root, Podman, `make images` first), holding the
machine's lab lock throughout. It starts a fresh lab, deploys the shipped lab
inventory (16 groups) with site.yml, then runs, alternately and --runs times
each:

* ``parallel``: playbooks/verify.yml as shipped, a host's GPU, CUDA, unit, ZMQ
  and firewall checks in one host_checks call, each check in its own thread;
* ``sequential``: the same playbook with that call replaced by the former
  tasks, one call of each check's own module after the other (gpu_facts,
  cuda_check, unit_health, zmq_check with ``containers``, nft_table in check
  mode), with the same options.

For each it prints the playbook's wall time (ansible-playbook start-up, the
plan on the controller, every host's checks, the report) and the checks part
alone (per host, from the start of its first check task to the end of its
last). Per check and host it prints, for the sequential variant, the time of
its task (ansible-runner's task duration: the module's round trip over the
podman connection included) and, for the parallel one, the check's own
``elapsed_s`` inside host_checks and the time of the host_checks task. The
slowest single check is the slowest check task of the sequential variant: what
one check costs as one call. The goal is the parallel checks part <= 1.5 x
that; the whole playbook's ratio is printed too. It checks that every run of
both variants judges every check the same (status and failed stage of every
item of the reports) and exits non-zero if a verify run fails or they differ.
The runs start --settle seconds after the deploy: the lab's stand-in agents
turn "degraded" 20 s after they start, and a run before that judges them passed.

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

from ansible_collections.ai_system.containers.plugins.module_utils.verify.verify_checks import (  # noqa: E402
    REPORT_CHECKS, VERIFY_CHECKS,
)
from support.ansible_run import run_playbook  # noqa: E402
from support.lab import LAB_IMAGES, LAB_INVENTORY, lab_lock, molecule  # noqa: E402

VERIFY = os.path.join(REPO, "playbooks", "verify.yml")
HOST_TASK = "Run the host's checks, all at the same time, in one call"
COLLECT_TASK = "Collect the host's results for the report"
CHECK_TASKS = {"Check %s alone with %s" % (check.name, check.module): check.name for check in VERIFY_CHECKS}
WSL_TASK = "Read the kernel's release (WSL2 or not)"
GOAL = 1.5


def sequential_playbook(dest):
    """verify.yml with host_checks replaced by the former tasks: one module call per check,
    with the options the host_checks action makes (the verify_checks lookup)."""
    with open(VERIFY, encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    play = next((p for p in plays if HOST_TASK in [task.get("name") for task in p.get("tasks") or []]), {})
    tasks = play.get("tasks") or []
    names = [task.get("name") for task in tasks]
    if HOST_TASK not in names or COLLECT_TASK not in names or WSL_TASK not in names:
        raise SystemExit("playbooks/verify.yml has no task %r, %r or %r" % (HOST_TASK, COLLECT_TASK, WSL_TASK))
    singles = [{
        "name": "Make each check's options from the host's plan",
        "ansible.builtin.set_fact": {"__verify_options": "{{ lookup('ai_system.containers.verify_checks', "
                                                         "'options', plan=verify_plan, phases=verify_phases, "
                                                         "settings=verify_settings) }}"},
        "tags": ["always"],
    }]
    for check in VERIFY_CHECKS:
        task = {
            "name": "Check %s alone with %s" % (check.name, check.module),
            "ai_system.containers.%s" % check.module: dict(
                (option, "{{ __verify_options.%s.%s | default(omit) }}" % (check.name, option))
                for option in check.argument_spec),
            "register": "__verify_%s" % check.name,
            "failed_when": False,
            "when": "__verify_options.%s is not none" % check.name,
            "tags": ["always"],
        }
        if check.check_mode:
            task.update(check_mode=True, changed_when=False)
        singles.append(task)
    at = names.index(HOST_TASK)
    tasks[at:at + 1] = singles
    wsl = tasks[[task.get("name") for task in tasks].index(WSL_TASK)]
    wsl["when"][-1] = " or ".join("__verify_options.%s is not none" % check.name
                                  for check in VERIFY_CHECKS if check.reads_wsl)
    collect = tasks[[task.get("name") for task in tasks].index(COLLECT_TASK)]
    collect["ansible.builtin.set_fact"]["__verify_result"] = dict(
        [("lab", "{{ verify_lab }}"), ("wsl", "{{ __verify_wsl }}")]
        + [(check.name, "{{ __verify_%s | default(none) }}" % check.name) for check in VERIFY_CHECKS])
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
    checks = {}  # host -> {check: seconds of its task (sequential) or its own elapsed_s (parallel)}
    spans = {}  # host -> [first start, last end]
    calls = {}  # host -> seconds of the host_checks task
    for ev in run.events:
        data = ev.get("event_data", {})
        task = data.get("task")
        if ev.get("event") not in ("runner_on_ok", "runner_on_failed") or "duration" not in data \
                or (task not in CHECK_TASKS and task != HOST_TASK):
            continue
        host = data["host"]
        if task == HOST_TASK:
            calls[host] = data["duration"]
            res = data.get("res", {})
            for check in VERIFY_CHECKS:
                if isinstance(res.get(check.name), dict):
                    checks.setdefault(host, {})[check.name] = res[check.name]["elapsed_s"]
        else:
            checks.setdefault(host, {})[CHECK_TASKS[task]] = data["duration"]
        span = spans.setdefault(host, [float("inf"), 0.0])
        span[0] = min(span[0], _when(data["start"]))
        span[1] = max(span[1], _when(data["end"]))
    with open(os.path.join(reports, "latest.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    return {"wall": wall, "checks": checks, "checks_part": max(end - begin for begin, end in spans.values()),
            "calls": calls, "report": report}


def judgement(report):
    """Every check's status and failed stage, host by host: what the report judged."""
    out = {"ok": report["ok"], "counts": report["counts"], "checks": report["checks"]}
    for host, data in sorted(report["hosts"].items()):
        for kind in (check.name for check in REPORT_CHECKS):
            items = data.get(kind)
            items = items if isinstance(items, list) else [items]
            out["%s/%s" % (host, kind)] = [
                (i.get("group") or i.get("from_group"), i.get("name") or i.get("container") or i.get("service"),
                 i.get("status"), i.get("failed_stage"))
                for i in items if isinstance(i, dict)]
    return out


def slowest_of(run):
    """(host, check, seconds) of the slowest check of a run."""
    return max(((host, check, seconds) for host, checks in run["checks"].items() for check, seconds in checks.items()),
               key=lambda t: t[2])


def show(label, runs, unit):
    best = min(runs, key=lambda r: r["wall"])
    print("  %s (fastest of %d runs; walls %s s)" % (label, len(runs), ", ".join("%.1f" % r["wall"] for r in runs)))
    for host in sorted(best["checks"]):
        print("    %-7s " % host + "  ".join("%s %.2f s" % kv for kv in best["checks"][host].items())
              + ("  (%s)" % unit)
              + ("  host_checks task %.2f s" % best["calls"][host] if host in best["calls"] else ""))
    host, check, seconds = slowest_of(best)
    print("    slowest check: %s on %s, %.2f s (%s)" % (check, host, seconds, unit))
    print("    whole playbook %.1f s, checks part %.1f s" % (best["wall"], best["checks_part"]))
    return best


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
    par = show("parallel: one host_checks call per host (playbooks/verify.yml)", runs["parallel"],
               "each check's own elapsed_s inside the call")
    seq = show("sequential: one call per check, one after the other (the former tasks)", runs["sequential"],
               "each check's task, round trip included")
    host, check, slowest = slowest_of(seq)
    print("  slowest single check (one call): %s on %s, %.2f s" % (check, host, slowest))
    print("  sequential: whole playbook %.2f x, checks part %.2f x the slowest single check"
          % (seq["wall"] / slowest, seq["checks_part"] / slowest))
    print("  parallel:   whole playbook %.2f x, checks part %.2f x the slowest single check"
          % (par["wall"] / slowest, par["checks_part"] / slowest))
    print("  gain: whole playbook %.2fx, checks part %.2fx"
          % (seq["wall"] / par["wall"], seq["checks_part"] / par["checks_part"]))
    ratio = par["checks_part"] / slowest
    print("  goal: the host's checks <= %.1f x the slowest single check: %.2f (%s)"
          % (GOAL, ratio, "met" if ratio <= GOAL else "not met"))
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
