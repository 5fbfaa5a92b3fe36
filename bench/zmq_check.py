# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the zmq_check core (plugins/module_utils/verify/zmq_health.py).

One run measures, on 127.0.0.1 only:

(a) a batch of endpoints that all time out (REP peers that never read):
    wall time and its ratio to the timeout -- about 1 means the endpoints
    really are checked concurrently, each with its own timeout;
(b) request/reply round-trip time: zmq_check's median RTT against N local
    REP peers, next to a bare pyzmq REQ/REP loop (one long-lived REQ socket
    per peer) against the same peers, and their ratio.  zmq_check is measured
    twice: endpoints one at a time, and all at once as the module runs them.

The healthy peers are served by a separate process so that their Python
loop does not share a GIL with the clients being measured.  Every loop is
bounded; the peers stop on their own after --peer-lifetime seconds.

    python3 bench/zmq_check.py [--timeout 0.5] [--endpoints 100] [--peers 8] [--json]

Exit status 0 when every figure was measured and the checks gave the
expected results (silent endpoints timed out, healthy ones were ok).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from typing import Any, Dict, List, Sequence

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "collections"))

from ansible_collections.ai_system.containers.plugins.module_utils.verify.zmq_health import (  # noqa: E402
    check_endpoints,
)

LOOPBACK = "127.0.0.1"
HEALTHY_REPLY = json.dumps(
    {
        "status": "ok",
        "ready": True,
        "initialized": True,
        "message": "Agent is healthy",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "uptime": 1.0,
        "active_threads": 2,
    }
).encode()


def _port_of(sock: zmq.Socket) -> int:
    return int(sock.last_endpoint.rsplit(b":", 1)[1])


def serve_healthy_peers(count: int, ports: Any, stop: Any, lifetime: float) -> None:
    """Child process: ``count`` REP sockets answering every request at once."""
    ctx = zmq.Context()
    poller = zmq.Poller()
    sockets = []
    for dummy in range(count):
        sock = ctx.socket(zmq.REP)
        sock.linger = 0
        sock.bind("tcp://%s:*" % LOOPBACK)
        poller.register(sock, zmq.POLLIN)
        sockets.append(sock)
    ports.put([_port_of(sock) for sock in sockets])
    deadline = time.monotonic() + lifetime
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            for sock, _event in poller.poll(50):
                sock.recv()
                sock.send(HEALTHY_REPLY)
    finally:
        for sock in sockets:
            sock.close(linger=0)
        ctx.term()


def bench_timeouts(ctx: zmq.Context, endpoints: int, timeout: float, rounds: int) -> Dict[str, Any]:
    """(a) ``endpoints`` endpoints on REP sockets that never read."""
    silent = []
    for dummy in range(min(endpoints, 10)):
        sock = ctx.socket(zmq.REP)
        sock.linger = 0
        sock.bind("tcp://%s:*" % LOOPBACK)
        silent.append(sock)
    specs = [
        {"name": "silent-%03d" % i, "address": LOOPBACK, "port": _port_of(silent[i % len(silent)])}
        for i in range(endpoints)
    ]
    walls: List[float] = []
    expected = True
    try:
        for dummy in range(rounds):
            started = time.perf_counter()
            results = check_endpoints(specs, timeout=timeout, attempts=3)
            walls.append(time.perf_counter() - started)
            expected = expected and all(r["failed_stage"] == "reply" and r["reason"] == "timed out" for r in results)
    finally:
        for sock in silent:
            sock.close(linger=0)
    wall = statistics.median(walls)
    return {
        "endpoints": endpoints,
        "timeout_s": timeout,
        "rounds": rounds,
        "wall_s": round(wall, 3),
        "wall_s_each": [round(w, 3) for w in walls],
        "ratio_to_timeout": round(wall / timeout, 2),
        "serial_would_take_s": round(endpoints * timeout, 1),
        "all_timed_out": expected,
    }


def bare_rtts(ctx: zmq.Context, ports: Sequence[int], requests: int, warmup: int = 20) -> List[float]:
    """A bare pyzmq loop: one long-lived REQ socket per peer, RTT per request."""
    samples: List[float] = []
    request = json.dumps({"action": "health_check"}).encode()
    for port in ports:
        sock = ctx.socket(zmq.REQ)
        sock.linger = 0
        sock.rcvtimeo = sock.sndtimeo = 2000
        sock.connect("tcp://%s:%d" % (LOOPBACK, port))
        try:
            for index in range(warmup + requests):
                started = time.perf_counter()
                sock.send(request)
                reply = sock.recv()
                elapsed = time.perf_counter() - started
                json.loads(reply)
                if index >= warmup:
                    samples.append(elapsed)
        finally:
            sock.close(linger=0)
    return samples


def check_rtts(ports: Sequence[int], attempts: int, concurrent: bool) -> Dict[str, Any]:
    """zmq_check against the same peers; per-endpoint RTT medians and wall time."""
    specs = [{"name": "peer-%d" % i, "address": LOOPBACK, "port": port} for i, port in enumerate(ports)]
    started = time.perf_counter()
    results = check_endpoints(specs, timeout=2.0, attempts=attempts, max_workers=None if concurrent else 1)
    wall = time.perf_counter() - started
    ok = all(r["ok"] for r in results)
    medians = [r["rtt_ms"]["median"] for r in results if r["rtt_ms"]]
    elapsed = [r["elapsed_ms"] for r in results]
    return {
        "ok": ok,
        "median_rtt_ms": round(statistics.median(medians), 4) if medians else None,
        "median_endpoint_check_ms": round(statistics.median(elapsed), 3),
        "wall_s": round(wall, 3),
    }


def bench_rtt(ctx: zmq.Context, peers: int, requests: int, attempts: int, lifetime: float) -> Dict[str, Any]:
    """(b) zmq_check RTT vs a bare REQ/REP loop against the same peers."""
    spawn = multiprocessing.get_context("spawn")
    port_queue = spawn.Queue()
    stop = spawn.Event()
    server = spawn.Process(target=serve_healthy_peers, args=(peers, port_queue, stop, lifetime), daemon=True)
    server.start()
    try:
        ports = port_queue.get(timeout=15)
        bare_before = bare_rtts(ctx, ports, requests)
        sequential = check_rtts(ports, attempts, concurrent=False)
        concurrent = check_rtts(ports, attempts, concurrent=True)
        bare_after = bare_rtts(ctx, ports, requests)
    finally:
        stop.set()
        server.join(5)
        if server.is_alive():
            server.terminate()
            server.join(5)
    bare = bare_before + bare_after
    bare_median_ms = statistics.median(bare) * 1000.0
    result: Dict[str, Any] = {
        "peers": peers,
        "bare_requests": len(bare),
        "zmq_check_attempts_per_peer": attempts,
        "bare_median_rtt_ms": round(bare_median_ms, 4),
        "bare_p90_rtt_ms": round(statistics.quantiles(bare, n=10)[-1] * 1000.0, 4),
        "zmq_check_sequential": sequential,
        "zmq_check_concurrent": concurrent,
    }
    for key in ("zmq_check_sequential", "zmq_check_concurrent"):
        median = result[key]["median_rtt_ms"]
        result[key]["ratio_to_bare"] = round(median / bare_median_ms, 2) if median else None
    return result


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--timeout", type=float, default=0.5, help="timeout for (a), seconds (default 0.5)")
    parser.add_argument("--endpoints", type=int, default=100, help="silent endpoints for (a) (default 100)")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of (a) (default 3)")
    parser.add_argument("--peers", type=int, default=8, help="healthy REP peers for (b) (default 8)")
    parser.add_argument("--requests", type=int, default=250, help="bare requests per peer and pass (default 250)")
    parser.add_argument("--attempts", type=int, default=50, help="zmq_check attempts per peer (default 50)")
    parser.add_argument("--peer-lifetime", type=float, default=20.0, help="peers stop after this (default 20)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(list(argv))
    started = time.perf_counter()

    ctx = zmq.Context()
    try:
        timeouts = bench_timeouts(ctx, args.endpoints, args.timeout, args.rounds)
        rtt = bench_rtt(ctx, args.peers, args.requests, args.attempts, args.peer_lifetime)
    finally:
        ctx.destroy(linger=0)
    total = time.perf_counter() - started

    figures = {
        "python": sys.version.split()[0],
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "cpus": os.cpu_count(),
        "timeouts": timeouts,
        "rtt": rtt,
        "total_s": round(total, 2),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        seq, conc = rtt["zmq_check_sequential"], rtt["zmq_check_concurrent"]
        print(
            "zmq_check benchmark (python %s, pyzmq %s, libzmq %s, loopback)"
            % (figures["python"], figures["pyzmq"], figures["libzmq"])
        )
        print(
            "(a) %d endpoints that all time out, timeout %.2fs, %d rounds:"
            % (timeouts["endpoints"], timeouts["timeout_s"], timeouts["rounds"])
        )
        print(
            "    wall %.3fs median (%s), %.2fx the timeout; one at a time would take %.1fs; all timed out: %s"
            % (
                timeouts["wall_s"],
                ", ".join("%.3f" % w for w in timeouts["wall_s_each"]),
                timeouts["ratio_to_timeout"],
                timeouts["serial_would_take_s"],
                timeouts["all_timed_out"],
            )
        )
        print("(b) request/reply RTT against %d local REP peers (peers served by another process):" % rtt["peers"])
        print(
            "    bare pyzmq REQ/REP loop:     median %.4f ms, p90 %.4f ms over %d requests"
            % (rtt["bare_median_rtt_ms"], rtt["bare_p90_rtt_ms"], rtt["bare_requests"])
        )
        print(
            "    zmq_check, one at a time:    median %.4f ms  (%.2fx bare); full check %.3f ms per endpoint"
            % (seq["median_rtt_ms"], seq["ratio_to_bare"], seq["median_endpoint_check_ms"])
        )
        print(
            "    zmq_check, all at once:      median %.4f ms  (%.2fx bare); %d endpoints x %d attempts in %.3fs"
            % (
                conc["median_rtt_ms"],
                conc["ratio_to_bare"],
                rtt["peers"],
                rtt["zmq_check_attempts_per_peer"],
                conc["wall_s"],
            )
        )
        print(
            "    (all at once: %d client threads share %d CPUs and one server loop, so requests queue;"
            " compare the one-at-a-time figure with the bare loop)" % (rtt["peers"], figures["cpus"])
        )
        print("total %.2fs" % total)
    healthy = rtt["zmq_check_sequential"]["ok"] and rtt["zmq_check_concurrent"]["ok"]
    return 0 if timeouts["all_timed_out"] and healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
