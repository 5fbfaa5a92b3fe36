# -*- coding: utf-8 -*-
"""Cost of a converged re-run of the deploy at 16 and at 160 groups per host.

Runs on the two-host lab (root, Podman, `make images` first), holding the
machine's lab lock for the whole run. In one run it starts a fresh lab,
deploys the shipped lab inventory (16 groups in all), times a re-run that
changes nothing, then deploys a generated inventory of 160 groups per host
and times its re-run the same way. Playbooks go through ansible-runner;
times are its whole-run wall clock. The hosts are reached over the lab's
connection (lab_podman: containers.podman's podman connection, pipelined as
SSH is on the real hosts); each re-run is timed once more over
containers.podman.podman, which cannot pipeline, and printed beside it. From the re-run's events it counts, per
host, the tasks that ran and those skipped, and splits what ran into module
executions on the host (one per loop item) and controller-only actions
(set_fact, assert, debug, include_vars, the plan's action plugins, tasks
delegated to localhost, phase checks answered from the one reading of the
phase records at the start of the run); it lists the slowest tasks.

The re-run is site.yml without the verify phase (tags validate, podman,
nvidia_toolkit, stack): verify is a check, not part of deploying. The
generated groups run the stand-in agent with one agent each and no container
health check, so that 320 containers fit on a 2-core machine; the shipped
groups keep theirs.

Beside it, the same lab runs containers.podman's podman_container module
(the version requirements.yml pins, from .deps/collections) with
state=quadlet in a loop of 160 on mainpc, over the same connection, and
times it twice: the first write and a converged second run. That loop only
writes unit files, into a scratch directory outside Quadlet's search path
(removed afterwards); our re-run checks the whole deploy of both hosts.

Goals: each re-run <= 10 s; re-run time at
320 groups / at 16 groups <= 1.3; our 320-group re-run >= 15x faster than
the converged containers.podman loop. Every figure is printed with its goal,
met or not. Exit status 1 when a deploy fails or a re-run (ours or the
loop's second run) changes something, else 0, goals met or not.

    python3 bench/deploy_scale.py [--groups 160] [--skip-large]
                                  [--only small|large|containers-podman ...] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "collections"))
sys.path.insert(0, os.path.join(REPO, "tests"))

from support.ansible_run import run_playbook  # noqa: E402
from support.lab import LAB_IMAGES, LAB_INVENTORY, lab_lock, molecule, sh  # noqa: E402

DEPLOY_TAGS = ["validate", "podman", "nvidia_toolkit", "stack"]
HOSTS = ("mainpc", "pc2")
PARTS = ("small", "large", "containers-podman")

GOAL_RERUN_S = 10.0
GOAL_RATIO = 1.3
GOAL_SPEEDUP = 15.0

# Actions that run on the controller only: no module goes to the host.
CONTROLLER_ACTIONS = frozenset((
    "add_host", "assert", "debug", "fail", "group_by", "import_role", "import_tasks",
    "include_role", "include_tasks", "include_vars", "meta", "pause", "set_fact", "set_stats",
    "validate_argument_spec", "stack_plan", "stack_report", "preflight_report",
))
ACTION_PREFIXES = ("ansible.builtin.", "ansible.legacy.", "ai_system.containers.")

# The containers.podman side: one host, a loop of N Quadlet container files.
CP_HOST = "mainpc"
CP_IMAGE = "localhost/ai-system/stand-in-agent:latest"  # the lab's stand-in agent
# Not under /etc/containers/systemd: Quadlet reads its subdirectories too, and
# a daemon-reload there (ours does one) would turn these files into services.
CP_DIR = "/var/tmp/ai-system-bench-containers-podman"
CP_TASK = "Write the Quadlet container units with containers.podman"
# The lab's hosts are reached with the lab_podman connection, containers.podman's
# podman connection pipelined as SSH is on the real hosts; each re-run is timed
# over the unpipelined one too.
UNPIPELINED = "containers.podman.podman"


def scaled_inventory(root, groups_per_host):
    """The lab inventory with groups_per_host generated groups on each host."""
    dest = os.path.join(root, "inventory-%d" % groups_per_host)
    shutil.copytree(LAB_INVENTORY, dest, symlinks=False)
    for h, host in enumerate(HOSTS):
        groups = {}
        for g in range(groups_per_host):
            port = 20000 + g * 2
            groups["scale-%d-%03d" % (h, g)] = {
                "agents": {"Scale%d_%03d" % (h, g): {"port": port, "health_port": port + 1}},
                "memory": "64m",
                "cpus": 0.1,
                "volumes": [],
                "health": False,
                # The lab's stand-in plays the original starter, which runs only
                # the groups its agent_groups name (host.yml): this one too.
                "env": {"AI_SYSTEM_STANDIN_AGENT_GROUPS": "scale_%d_%03d" % (h, g)},
            }
        with open(os.path.join(dest, "host_vars", host, "groups.yml"), "w") as handle:
            yaml.safe_dump({"ai_groups": groups}, handle, sort_keys=False)
        # The lab's per-group overrides name shipped groups, which are gone here.
        host_file = os.path.join(dest, "host_vars", host, "host.yml")
        with open(host_file) as handle:
            host_vars = yaml.safe_load(handle)
        host_vars.pop("ai_group_overrides", None)
        with open(host_file, "w") as handle:
            yaml.safe_dump(host_vars, handle, sort_keys=False)
    return dest


def changed_count(run, hosts=HOSTS):
    return sum(run.count("changed", h) for h in hosts)


def failure_text(run):
    msgs = []
    for failure in run.failures():
        res = failure.get("res") or {}
        # A loop's failure says "One or more items failed": give the first item's reason.
        items = [r for r in res.get("results") or [] if isinstance(r, dict) and r.get("failed")]
        why = items[0] if items else res
        msgs.append("%s: %s: %s" % (failure.get("host"), failure.get("task"),
                                    why.get("msg") or why.get("stderr") or res.get("msg")))
    return "; ".join(msgs) or "rc %s, no failed task (see the run's stdout)" % run.rc


def deploy(private, inventory, tags=None, connection=None):
    """(wall seconds, run) of one site.yml run without verify, over the lab's
    connection or ``connection``."""
    extravars = {"stack_health_timeout": 1800}
    if connection:
        extravars["ansible_connection"] = connection
    start = time.perf_counter()
    run = run_playbook(private, "site.yml", inventory, tags=tags or DEPLOY_TAGS,
                       envvars={"AI_SYSTEM_LAB_IMAGES": LAB_IMAGES}, extravars=extravars)
    return time.perf_counter() - start, run


def slowest(run, n=5):
    per_task = {}
    for task, dummy, seconds in run.durations():
        per_task[task] = max(per_task.get(task, 0.0), seconds)
    return sorted(per_task.items(), key=lambda kv: -kv[1])[:n]


def _short_action(data):
    action = data.get("resolved_action") or data.get("task_action") or ""
    for prefix in ACTION_PREFIXES:
        if action.startswith(prefix):
            return action[len(prefix):]
    return action


def _on_controller(data, result):
    if _short_action(data) in CONTROLLER_ACTIONS:
        return True
    # A phase check answered from the reading taken at the start of the run.
    if result.get("read_once") is True:
        return True
    delegated = result.get("_ansible_delegated_vars") or {}
    return (delegated.get("ansible_delegated_host") in ("localhost", "127.0.0.1") or
            delegated.get("ansible_connection") == "local")


def task_counts(run):
    """{host: counts} of a run's task events.

    ran / skipped: tasks (a loop counts once); on_host: module executions on the
    host, one per loop item that ran (an action plugin such as template may make
    more than one connection call for one); on_controller: executions that never
    reach the host (controller-only actions, tasks delegated to localhost).
    """
    counts = {}
    for ev in run.events:
        data = ev.get("event_data", {})
        kind = ev.get("event")
        if kind not in ("runner_on_ok", "runner_on_failed", "runner_on_skipped",
                        "runner_on_unreachable"):
            continue
        entry = counts.setdefault(data.get("host"), dict(
            ran=0, skipped=0, on_host=0, on_controller=0, actions={}))
        if kind == "runner_on_skipped":
            entry["skipped"] += 1
            continue
        entry["ran"] += 1
        res = data.get("res") or {}
        items = res.get("results") if isinstance(res.get("results"), list) else None
        if items is None:
            executions = [res]
        else:
            executions = [r for r in items if isinstance(r, dict) and not r.get("skipped")]
        for result in executions:
            where = "on_controller" if _on_controller(data, result) else "on_host"
            entry[where] += 1
            if where == "on_host":
                action = _short_action(data)
                entry["actions"][action] = entry["actions"].get(action, 0) + 1
    return counts


def verdict(met):
    return "met" if met else "NOT MET"


# -- containers.podman ---------------------------------------------------------
def cp_version():
    path = os.path.join(REPO, ".deps", "collections", "ansible_collections", "containers",
                        "podman", "MANIFEST.json")
    try:
        with open(path) as handle:
            return json.load(handle)["collection_info"]["version"]
    except (OSError, ValueError, KeyError):
        return "unknown version (not in .deps/collections: run `make deps`)"


def cp_playbook(root, count):
    """A play writing count Quadlet container files with podman_container."""
    path = os.path.join(root, "containers-podman-loop.yml")
    play = [{
        "name": "Write %d Quadlet container units with containers.podman" % count,
        "hosts": CP_HOST,
        "gather_facts": False,
        "tasks": [{
            "name": CP_TASK,
            "containers.podman.podman_container": {
                "name": "scale-{{ '%03d' | format(item) }}",
                "image": CP_IMAGE,
                "state": "quadlet",
                "quadlet_dir": CP_DIR,
                "quadlet_file_mode": "0644",
                # What a generated group of ours sets: limits and its two ports.
                "memory": "64m",
                "cpus": "0.1",
                "ports": ["{{ 20000 + item * 2 }}:{{ 20000 + item * 2 }}",
                          "{{ 20001 + item * 2 }}:{{ 20001 + item * 2 }}"],
            },
            "loop": "{{ range(%d) | list }}" % count,
        }],
    }]
    with open(path, "w") as handle:
        yaml.safe_dump(play, handle, sort_keys=False)
    return path


def cp_clean():
    sh(["podman", "exec", CP_HOST, "rm", "-rf", CP_DIR], timeout=120)


def containers_podman_loop(work, count):
    """{'first': (s, run), 'again': (s, run), 'files': n} of the loop's two runs."""
    playbook = cp_playbook(work, count)
    out = {}
    cp_clean()  # the first run writes every file
    try:
        for label in ("first", "again"):
            start = time.perf_counter()
            run = run_playbook(os.path.join(work, "containers-podman-" + label), playbook,
                               LAB_INVENTORY)
            out[label] = (time.perf_counter() - start, run)
            if run.rc != 0:
                break
        listing = sh(["podman", "exec", CP_HOST, "find", CP_DIR, "-name", "*.container"],
                     check=False).stdout.split()
        out["files"] = len(listing)
    finally:
        cp_clean()
    return out


def loop_seconds(run):
    return sum(s for task, dummy, s in run.durations() if task == CP_TASK)


def loop_items_changed(run):
    res = run.task_results(CP_TASK).get(CP_HOST, {})
    return sum(1 for r in res.get("results") or [] if isinstance(r, dict) and r.get("changed"))


# -- report ------------------------------------------------------------------------
def print_rerun(label, n_groups, first, again, run, unpiped):
    print("  %-9s %4d groups: first deploy %7.1f s, re-run %6.1f s (goal <= %.0f s: %s),"
          " %6.3f s/group" % (label, n_groups, first, again, GOAL_RERUN_S,
                              verdict(again <= GOAL_RERUN_S), again / n_groups))
    print("      the same re-run over %s (no pipelining): %.1f s (%.2fx)"
          % (UNPIPELINED, unpiped, unpiped / again))
    counts = task_counts(run)
    for host in sorted(counts):
        c = counts[host]
        top = sorted(c["actions"].items(), key=lambda kv: -kv[1])[:4]
        print("      %-6s tasks: %3d ran, %3d skipped; executions: %4d module runs on the host%s,"
              " %3d controller-only" % (host, c["ran"], c["skipped"], c["on_host"],
                                        " (%s)" % ", ".join("%s %d" % kv for kv in top)
                                        if top else "", c["on_controller"]))
    for task, seconds in slowest(run):
        print("      slowest: %-60s %6.1f s" % ((task or "?")[:60], seconds))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--groups", type=int, default=160,
                        help="groups per host in the large case, and units in the "
                             "containers.podman loop (default 160)")
    parser.add_argument("--only", action="append", choices=PARTS, metavar="PART",
                        help="run only this part (repeatable): %s" % ", ".join(PARTS))
    parser.add_argument("--skip-large", action="store_true", help="leave out the large case")
    parser.add_argument("--keep", action="store_true", help="leave the lab running")
    args = parser.parse_args()
    parts = [p for p in PARTS if p in (args.only or PARTS)]
    if args.skip_large and "large" in parts:
        parts.remove("large")
    if not parts:
        parser.error("nothing to run")

    os.chdir(REPO)  # molecule finds the lab's scenario from the repository root
    problems = []
    reruns = {}
    work = tempfile.mkdtemp(prefix="ai-system-bench-")
    with lab_lock():
        # Whatever a previous holder left: start from a fresh lab.
        molecule("destroy")
        try:
            molecule("create")
            cases = [(p, inv, n) for p, inv, n in (
                ("small", lambda: LAB_INVENTORY, 16),
                ("large", lambda: scaled_inventory(work, args.groups), 2 * args.groups))
                if p in parts]
            for part, inventory, n_groups in cases:
                inventory = inventory()
                label = "shipped" if part == "small" else "generated"
                first, run = deploy(os.path.join(work, label + "-1"), inventory)
                if run.rc != 0:
                    problems.append("%s deploy failed: %s" % (label, failure_text(run)))
                    break
                again, run = deploy(os.path.join(work, label + "-2"), inventory)
                if run.rc != 0:
                    problems.append("%s re-run failed: %s" % (label, failure_text(run)))
                    break
                if changed_count(run):
                    problems.append("%s: the re-run changed %d things"
                                    % (label, changed_count(run)))
                # The same re-run over containers.podman's own connection,
                # which cannot pipeline: what each module call costs there.
                unpiped, run_unpiped = deploy(os.path.join(work, label + "-3"), inventory,
                                              connection=UNPIPELINED)
                if run_unpiped.rc != 0 or changed_count(run_unpiped):
                    problems.append("%s re-run over %s failed or changed something: %s"
                                    % (label, UNPIPELINED, failure_text(run_unpiped)))
                reruns[part] = (label, n_groups, first, again, run, unpiped)
            cp = None
            if "containers-podman" in parts and not problems and not reruns:
                # The lab hosts start without Podman: the loop needs the podman
                # phase at least (no groups running then, unlike after a deploy).
                dummy, run = deploy(os.path.join(work, "podman-phase"), LAB_INVENTORY,
                                    tags=["validate", "podman"])
                if run.rc != 0:
                    problems.append("podman phase failed: %s" % failure_text(run))
            if "containers-podman" in parts and not problems:
                # After our deploys when they ran, on the same loaded host.
                cp = containers_podman_loop(work, args.groups)
                last = reruns.get("large") or reruns.get("small")
                cp["host"] = ("after the %s deploy (%d groups on 2 hosts)" % last[:2] if last
                              else "Podman installed by our podman phase, no groups running")
                for key in ("first", "again"):
                    if key in cp and cp[key][1].rc != 0:
                        problems.append("containers.podman loop, %s run failed: %s"
                                        % (key, failure_text(cp[key][1])))
                if "again" in cp and cp["again"][1].rc == 0 and changed_count(cp["again"][1]):
                    problems.append("containers.podman loop: the second run changed %d things"
                                    % changed_count(cp["again"][1], (CP_HOST,)))
        finally:
            if not args.keep:
                molecule("destroy")
            shutil.rmtree(work, ignore_errors=True)

    if reruns:
        print("converged re-run of the deploy (site.yml without verify: tags %s), lab of 2 hosts"
              % ",".join(DEPLOY_TAGS))
        for part in ("small", "large"):
            if part in reruns:
                print_rerun(*reruns[part])
        if "small" in reruns and "large" in reruns:
            small, large = reruns["small"], reruns["large"]
            ratio = large[3] / small[3]
            print("  re-run time ratio %d/%d groups: %.2f (goal <= %.1f: %s); per-group ratio %.3f"
                  % (large[1], small[1], ratio, GOAL_RATIO, verdict(ratio <= GOAL_RATIO),
                     (large[3] / large[1]) / (small[3] / small[1])))
        else:
            print("  re-run time ratio large/small: not measured (needs both cases)")
    if cp and "again" in cp and cp["again"][1].rc == 0:
        (first, first_run), (again, again_run) = cp["first"], cp["again"]
        print("containers.podman %s podman_container state=quadlet, loop of %d on %s "
              "(the lab's connection, lab_podman), host state: %s"
              % (cp_version(), args.groups, CP_HOST, cp["host"]))
        print("  writes one .container file per item (image, memory, cpus, 2 ports) into %s;"
              " no image, network, secret, firewall, daemon-reload or unit start" % CP_DIR)
        print("  first write  %6.1f s (loop task %6.1f s), %3d items changed, %d files written"
              % (first, loop_seconds(first_run), loop_items_changed(first_run), cp["files"]))
        print("  second run   %6.1f s (loop task %6.1f s), %3d items changed"
              % (again, loop_seconds(again_run), loop_items_changed(again_run)))
        ours = reruns.get("large")
        if ours:
            speedup = again / ours[3]
            print("  ours: converged re-run of the whole deploy, %d groups on 2 hosts (%d per host:"
                  " images, secrets, units, firewall, service checks, podman and toolkit phases)"
                  " %.1f s" % (ours[1], args.groups, ours[3]))
            print("  theirs/ours time: %.1f (ours %.1fx faster; goal >= %.0fx: %s);"
                  " against their first write %.1f"
                  % (speedup, speedup, GOAL_SPEEDUP, verdict(speedup >= GOAL_SPEEDUP),
                     first / ours[3]))
        elif "small" in reruns:
            small = reruns["small"]
            print("  ours at %d groups only (large case not run): re-run %.1f s, theirs/ours %.1f"
                  " -- not like with like, goal >= %.0fx not judged"
                  % (small[1], small[3], again / small[3], GOAL_SPEEDUP))
        else:
            print("  ours not run: goal >= %.0fx not judged" % GOAL_SPEEDUP)
    for problem in problems:
        print("FAILED: %s" % problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
