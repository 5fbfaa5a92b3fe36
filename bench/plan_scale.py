# -*- coding: utf-8 -*-
"""How the plan's cost grows with the topology.

Measures, in one run, build_plan() (validate + render every host) for the
shipped production inventory (16 groups, 2 hosts) and for a synthetic
inventory of 1,000 groups over 20 hosts, and prints the time per group at
both sizes and their ratio (1.0 = perfectly linear).

    python3 bench/plan_scale.py [--repeat N]
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
import time

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "collections"))

from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import (  # noqa: E402
    build_plan,
)


def production():
    root = os.path.join(REPO, "inventory", "production")
    shared = {}
    for name in sorted(glob.glob(os.path.join(root, "group_vars", "all", "*.yml"))):
        with open(name) as handle:
            shared.update(yaml.safe_load(handle) or {})
    hosts = {}
    for host_dir in sorted(glob.glob(os.path.join(root, "host_vars", "*"))):
        data = dict(shared)
        for name in sorted(glob.glob(os.path.join(host_dir, "*.yml"))):
            with open(name) as handle:
                data.update(yaml.safe_load(handle) or {})
        hosts[os.path.basename(host_dir)] = data
    return hosts


def synthetic(n_hosts, groups_per_host, agents_per_group=5):
    """A sound inventory: chains of dependencies, links to the next host."""
    hosts = {}
    for h in range(n_hosts):
        groups = {}
        for g in range(groups_per_host):
            agents = {}
            for a in range(agents_per_group):
                port = 2000 + (g * agents_per_group + a) * 2
                agents["H%dG%dA%d" % (h, g, a)] = {"port": port, "health_port": port + 1}
            group = {"agents": agents, "cpus": 1, "memory": "512m"}
            if g:
                group["depends_on"] = ["h%d-g%d" % (h, g - 1)]
            group["connects_to"] = ["H%dG%dA0" % ((h + 1) % n_hosts, g)]
            groups["h%d-g%d" % (h, g)] = group
        hosts["host%02d" % h] = {
            "ai_lan_address": "10.20.%d.%d" % (h // 200, h % 200 + 10),
            "ai_network_subnet": "172.%d.0.0/16" % (16 + h % 16),
            "ai_gpu": False,
            "ai_group_defaults": {"image": "localhost/agents:latest"},
            "ai_groups": groups,
        }
    return hosts


def measure(inventory, repeat):
    times = []
    for _i in range(repeat):
        start = time.perf_counter()
        result = build_plan(inventory)
        times.append(time.perf_counter() - start)
        if not result["ok"]:
            raise SystemExit("inventory is not sound: %s" % result["errors"][:3])
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    small = production()
    n_small = sum(len(h["ai_groups"]) for h in small.values())
    large = synthetic(20, 50)
    n_large = sum(len(h["ai_groups"]) for h in large.values())

    t_small = measure(small, args.repeat)
    t_large = measure(large, max(1, args.repeat // 2))
    per_small = t_small / n_small * 1e3
    per_large = t_large / n_large * 1e3
    print("plan (validate + render), median of runs")
    row = "  %-34s %8.1f ms  %6.3f ms/group"
    print(row % ("production: %d groups, 2 hosts" % n_small, t_small * 1e3, per_small))
    print(row % ("synthetic: %d groups, 20 hosts" % n_large, t_large * 1e3, per_large))
    print("  per-group cost ratio large/small: %.2f (1.00 = linear)" % (per_large / per_small))


if __name__ == "__main__":
    main()
