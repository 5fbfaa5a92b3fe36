# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of ai-system-exporter (plugins/module_utils/monitoring/exporter.py): the
time of one Prometheus scrape at 16 and at 160 groups per host, in one run.

Each size gets its own exporter, served over HTTP by prometheus_client on
127.0.0.1, with the cache off (every scrape reads the host anew):

* ``systemctl`` and ``podman`` are stand-in executables that print what the
  real ones print for that many units and containers (``systemctl show``
  blocks, ``podman container inspect`` JSON), so a scrape pays the two
  process starts and the parsing it pays on a host;
* every group has two agents and one link; their probes run against real
  REP peers on loopback (served by a separate process), once before the
  scrapes, so the scrape exports every agent and link verdict.

Goal: a scrape of 160 groups under 1 s, and at most 3 times the 16-group
scrape. Prints both medians, their ratio and the probe rounds' times; exit
status 1 when a goal is missed or a verdict is wrong.

    python3 bench/exporter_scrape.py [--scrapes 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from typing import Any, Dict, List

import zmq
from prometheus_client.parser import text_string_to_metric_families

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "collections"))

from ansible_collections.ai_system.containers.plugins.module_utils.monitoring import exporter as exp  # noqa: E402
from ansible_collections.ai_system.containers.plugins.module_utils.verify import zmq_health  # noqa: E402

SIZES = (16, 160)
AGENTS_PER_GROUP = 2
SYSTEMCTL = r'''#!%(python)s
import sys, time
names = sys.argv[sys.argv.index("--") + 1:]
mono = int(time.monotonic() * 1e6) - 60000000
print("\n\n".join("\n".join([
    "Id=" + n, "LoadState=loaded", "ActiveState=active", "SubState=running", "Result=success",
    "UnitFileState=generated", "NRestarts=0", "MainPID=4242", "ExecMainStatus=0",
    "ActiveEnterTimestamp=Mon 2026-11-30 20:00:00 UTC",
    "ActiveEnterTimestampMonotonic=%%d" %% mono]) for n in names))
'''
PODMAN = r'''#!%(python)s
import json, sys
names = sys.argv[sys.argv.index("--") + 1:]
print(json.dumps([{"Id": ("%%064x" %% i), "Name": n, "Config": {"Labels": {"io.ai-system.group": n}},
                   "State": {"Status": "running", "ExitCode": 0, "OOMKilled": False,
                             "StartedAt": "2026-11-30T20:00:00Z",
                             "Health": {"Status": "healthy", "FailingStreak": 0,
                                        "Log": [{"ExitCode": 0, "Output": "ok " * 20}]}}}
                  for i, n in enumerate(names)], indent=4))
'''


def serve_peers(count: int, ports: Any, lifetime: float) -> None:
    """``count`` REP peers answering ok, in this process, for ``lifetime`` seconds."""
    ctx = zmq.Context()
    socks = []
    poller = zmq.Poller()
    for dummy in range(count):
        sock = ctx.socket(zmq.REP)
        sock.linger = 0
        sock.bind("tcp://127.0.0.1:*")
        ports.put(int(sock.last_endpoint.rsplit(b":", 1)[1]))
        poller.register(sock, zmq.POLLIN)
        socks.append(sock)
    reply = json.dumps({"status": "ok", "message": "Agent is healthy"}).encode()
    end = time.monotonic() + lifetime
    while time.monotonic() < end:
        for sock, _event in poller.poll(50):
            sock.recv_multipart()
            sock.send(reply)
    for sock in socks:
        sock.close(linger=0)
    ctx.term()


def config(groups: int, ports: List[int]) -> Dict[str, Any]:
    units, zmq_targets, links = [], [], []
    for g in range(groups):
        name = "group-%03d" % g
        units.append({"group": name, "service": "ai-%s.service" % name, "container": name,
                      "healthcheck": True})
        endpoints = []
        for a in range(AGENTS_PER_GROUP):
            endpoints.append({"name": "Agent%03d%d" % (g, a), "group": name, "address": "127.0.0.1",
                              "port": ports[(g * AGENTS_PER_GROUP + a) % len(ports)], "kind": "health"})
        peer_port = ports[(g * AGENTS_PER_GROUP + 1) % len(ports)]
        endpoints.append({"name": "Peer%03d" % g, "group": "pc2/peer", "address": "127.0.0.1",
                          "port": peer_port, "kind": "main", "strict": False})
        links.append({"name": "Peer%03d" % g, "from_group": name, "to_host": "pc2", "to_group": "peer",
                      "address": "127.0.0.1", "port": peer_port, "kind": "main", "cross_host": True})
        zmq_targets.append({"container": name, "endpoints": endpoints})
    return {"host": "bench", "listen_address": "127.0.0.1", "port": 0, "collection_version": "bench",
            "plan_hash": "0" * 64, "cache_seconds": 0.0, "probe_interval_seconds": 3600.0,
            "probe_timeout_seconds": 2.0, "units": units, "zmq": zmq_targets, "links": links,
            "vram_budgets_mib": {}, "gpus_expected": 0}


def measure(groups: int, ports: List[int], bindir: str, scrapes: int) -> Dict[str, Any]:
    cfg = config(groups, ports)
    exporter = exp.Exporter(
        cfg, systemctl=os.path.join(bindir, "systemctl"), podman=os.path.join(bindir, "podman"),
        prober=lambda c, endpoints, timeout: zmq_health.run_checks(endpoints, timeout=timeout, attempts=1))
    rnd = exporter.probe_round()
    failed = sum(1 for results in rnd.results.values() for r in results if not r["ok"])
    server = exp.serve(exporter, "127.0.0.1", 0)
    url = "http://127.0.0.1:%d/metrics" % server.server_address[1]
    times, size, text = [], 0, ""
    try:
        for dummy in range(scrapes):
            started = time.perf_counter()
            with urllib.request.urlopen(url, timeout=30) as reply:
                text = reply.read().decode()
            times.append(time.perf_counter() - started)
            size = len(text)
    finally:
        server.shutdown()
        exporter.stop()
    healthy = links_up = 0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ai_system_agent_status" and sample.labels["status"] == "healthy":
                healthy += int(sample.value)
            elif sample.name == "ai_system_link_up":
                links_up += int(sample.value)
    return {"groups": groups, "scrape_median_s": statistics.median(times), "scrape_max_s": max(times),
            "reads": exporter.reads, "bytes": size, "probe_round_s": rnd.seconds,
            "probe_failures": failed + len(rnd.errors), "agents_healthy": healthy,
            "agents_expected": groups * AGENTS_PER_GROUP, "links_up": links_up}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--scrapes", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    peers = max(SIZES) * AGENTS_PER_GROUP
    queue: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve_peers, args=(peers, queue, 600.0), daemon=True)
    server.start()
    try:
        ports = [queue.get(timeout=60) for dummy in range(peers)]
        with tempfile.TemporaryDirectory(prefix="exporter-bench-") as bindir:
            for name, text in (("systemctl", SYSTEMCTL), ("podman", PODMAN)):
                path = os.path.join(bindir, name)
                with open(path, "w") as handle:
                    handle.write(text % {"python": sys.executable})
                os.chmod(path, 0o755)
            results = [measure(n, ports, bindir, args.scrapes) for n in SIZES]
    finally:
        server.terminate()
        server.join(5)
    small, large = results
    ratio = large["scrape_median_s"] / small["scrape_median_s"]
    goals = {
        "160 groups under 1 s": large["scrape_median_s"] < 1.0,
        "160 groups at most 3x 16 groups": ratio <= 3.0,
        "every agent healthy and every link up": all(
            r["probe_failures"] == 0 and r["agents_healthy"] == r["agents_expected"]
            and r["links_up"] == r["groups"] for r in results),
    }
    if args.json:
        print(json.dumps({"results": results, "ratio": ratio, "goals": goals}, indent=2))
    else:
        for r in results:
            print("%4d groups: scrape median %.1f ms (max %.1f ms, %d scrapes, %d reads, %d bytes); "
                  "probe round %.0f ms, %d/%d agents healthy, %d links up, %d failures"
                  % (r["groups"], r["scrape_median_s"] * 1000, r["scrape_max_s"] * 1000, args.scrapes,
                     r["reads"], r["bytes"], r["probe_round_s"] * 1000, r["agents_healthy"],
                     r["agents_expected"], r["links_up"], r["probe_failures"]))
        print("ratio 160/16: %.2f" % ratio)
        for goal, met in goals.items():
            print("goal %s: %s" % (goal, "met" if met else "MISSED"))
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
