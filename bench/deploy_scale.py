# -*- coding: utf-8 -*-
"""Cost of an idempotent re-run of the deploy at 16 and at 160 groups per host.

Runs on the two-host lab (root, Podman, `make images` first). In one run it
starts a fresh lab, deploys the shipped lab inventory (16 groups in all),
times a re-run that changes nothing, then deploys a generated inventory of
160 groups per host and times its re-run the same way, and prints both with
the ratio per group. Playbooks go through ansible-runner; times are its
whole-run wall clock and the slowest tasks from its events.

The re-run is site.yml without the verify phase (tags validate, podman,
nvidia_toolkit, stack): verify is a check, not part of deploying. The
generated groups run the stand-in agent with one agent each and no container
health check, so that 320 containers fit on a 2-core machine; the shipped
groups keep theirs.

    python3 bench/deploy_scale.py [--groups 160] [--keep]
"""

from __future__ import annotations

import argparse
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
from support.lab import LAB_IMAGES, LAB_INVENTORY, molecule  # noqa: E402

DEPLOY_TAGS = ["validate", "podman", "nvidia_toolkit", "stack"]


def scaled_inventory(root, groups_per_host):
    """The lab inventory with groups_per_host generated groups on each host."""
    dest = os.path.join(root, "inventory-%d" % groups_per_host)
    shutil.copytree(LAB_INVENTORY, dest, symlinks=False)
    for h, host in enumerate(("mainpc", "pc2")):
        groups = {}
        for g in range(groups_per_host):
            port = 20000 + g * 2
            groups["scale-%d-%03d" % (h, g)] = {
                "agents": {"Scale%d_%03d" % (h, g): {"port": port, "health_port": port + 1}},
                "memory": "64m",
                "cpus": 0.1,
                "volumes": [],
                "health": False,
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


def deploy(private, inventory, label):
    start = time.perf_counter()
    run = run_playbook(private, "site.yml", inventory, tags=DEPLOY_TAGS,
                       envvars={"AI_SYSTEM_LAB_IMAGES": LAB_IMAGES},
                       extravars={"stack_health_timeout": 1800})
    wall = time.perf_counter() - start
    if run.rc != 0:
        raise SystemExit("%s failed: %s" % (label, [f["res"].get("msg") for f in run.failures()]))
    changed = sum(run.count("changed", h) for h in ("mainpc", "pc2"))
    return wall, changed, run


def slowest(run, n=3):
    per_task = {}
    for task, dummy, seconds in run.durations():
        per_task[task] = max(per_task.get(task, 0.0), seconds)
    return sorted(per_task.items(), key=lambda kv: -kv[1])[:n]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--groups", type=int, default=160, help="groups per host, large case")
    parser.add_argument("--keep", action="store_true", help="leave the lab running")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="ai-system-bench-")
    molecule("destroy")
    molecule("create")
    try:
        results = []
        for label, inventory, n_groups in (
                ("shipped", LAB_INVENTORY, 16),
                ("generated", scaled_inventory(work, args.groups), 2 * args.groups)):
            first, dummy, dummy_run = deploy(os.path.join(work, label + "-1"), inventory, label)
            again, changed, run = deploy(os.path.join(work, label + "-2"), inventory, label)
            if changed:
                raise SystemExit("%s: the re-run changed %d things" % (label, changed))
            results.append((label, n_groups, first, again, slowest(run)))
        print("idempotent re-run of the deploy (site.yml without verify), lab of 2 hosts")
        for label, n_groups, first, again, top in results:
            print("  %-9s %4d groups: first deploy %7.1f s, re-run %6.1f s, %6.3f s/group"
                  % (label, n_groups, first, again, again / n_groups))
            for task, seconds in top:
                print("      slowest: %-60s %6.1f s" % (task[:60], seconds))
        small, large = results[0], results[1]
        print("  re-run time ratio large/small: %.2f for %.0fx the groups; per-group ratio %.2f"
              % (large[3] / small[3], large[1] / small[1],
                 (large[3] / large[1]) / (small[3] / small[1])))
    finally:
        if not args.keep:
            molecule("destroy")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
