# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ai-system-exporter: Prometheus metrics of one AI host.

Runs on the host as a systemd service with the host's own Python and the
``prometheus_client`` library (Debian's python3-prometheus-client); it reads
the exporter document the plan writes (``monitoring/exporter.json`` under
``ai_config_dir``) and judges with the collection's own code, nothing of its
own:

* units: one ``systemctl show`` and one ``podman container inspect`` for all
  groups (:mod:`unit_state`), judged by :func:`unit_state.judge`;
* agents and links: the plan's ``checks.zmq`` targets, each run inside its
  container with the health probe mounted there (:mod:`zmq_health`, the same
  judgement as the containers' health checks and verify), by a background
  thread every ``probe_interval_seconds``: a scrape reads the last round and
  never waits for an agent;
* GPUs: NVML through :mod:`nvml_facts`; each GPU process is mapped to its
  container by its cgroup, and so to its group's ``vram_mib`` budget.

The units and GPUs are read at most once every ``cache_seconds``, whatever
the number of scrapes; concurrent scrapes share one read.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.host import unit_state
from ansible_collections.ai_system.containers.plugins.module_utils.verify import nvml_facts
from ansible_collections.ai_system.containers.plugins.module_utils.verify.zmq_health import (
    DEGRADED, FAILING, HEALTHY, REACHABLE,
)

try:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
    from prometheus_client.registry import CollectorRegistry
    HAS_PROMETHEUS_CLIENT = True
except ImportError:  # pragma: no cover - the host's package is checked at start
    HAS_PROMETHEUS_CLIENT = False

# Where every container has the health probe (stack_model.CONTAINER_PROBE).
CONTAINER_PROBE = "/usr/local/lib/ai-system/zmq_health.py"
PODMAN_ENV = {"LANG": "C", "LC_ALL": "C", "PODMAN_IGNORE_CGROUPSV1_WARNING": "1"}
# How long one systemctl or podman command of a read may take: the two of a
# read stay within a scrape timeout of 15 s or more.
COMMAND_TIMEOUT = 8.0
MIB = 1024 * 1024
STATUSES = (HEALTHY, DEGRADED, FAILING)
_CONTAINER_ID_RE = re.compile(r"(?:libpod-|/libpod/|containers/)([0-9a-f]{64})")

Runner = Callable[[List[str]], Tuple[int, str, str]]
# (container, endpoints, timeout seconds) -> the probe's document (zmq_health.run_checks)
Prober = Callable[[str, List[Mapping[str, Any]], float], Mapping[str, Any]]


class ConfigError(ValueError):
    """The exporter document is missing or wrong."""


def load_config(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError("cannot read the exporter configuration %s: %s" % (path, exc))
    for key in ("host", "listen_address", "port", "units", "zmq", "cache_seconds",
                "probe_interval_seconds", "probe_timeout_seconds"):
        if key not in doc:
            raise ConfigError("%s lacks %r: write it with the collection's stack role" % (path, key))
    return doc


def run_command(argv: List[str], timeout: float = COMMAND_TIMEOUT) -> Tuple[int, str, str]:
    """A runner for :mod:`unit_state`: LANG=C, bounded in time."""
    env = dict(os.environ, **PODMAN_ENV)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              check=False)
    except subprocess.TimeoutExpired:
        return 124, "", "%s did not answer within %.0f s" % (argv[0], timeout)
    except OSError as exc:
        return 127, "", "%s: %s" % (argv[0], exc.strerror or exc)
    return done.returncode, done.stdout, done.stderr


def podman_prober(podman: str = "podman", python: str = "python3",
                  probe: str = CONTAINER_PROBE) -> Prober:
    """Run the health probe inside a container (its network namespace, like
    verify): ``podman exec -i -- CONTAINER python3 PROBE --stdin-json``."""

    def probe_in(container: str, endpoints: List[Mapping[str, Any]], timeout: float) -> Mapping[str, Any]:
        document = {"endpoints": list(endpoints), "timeout": timeout, "attempts": 1}
        # Each endpoint's steps (resolve, connect, greeting, one round trip)
        # are bounded by the timeout, and the endpoints run concurrently.
        limit = 4 * timeout + 10.0
        try:
            done = subprocess.run([podman, "exec", "-i", "--", container, python, probe, "--stdin-json"],
                                  input=json.dumps(document), capture_output=True, text=True,
                                  timeout=limit, env=dict(os.environ, **PODMAN_ENV), check=False)
        except subprocess.TimeoutExpired:
            raise RuntimeError("the probe in %s did not finish within %.0f s" % (container, limit))
        except OSError as exc:
            raise RuntimeError("cannot run podman: %s" % (exc.strerror or exc))
        try:
            result = json.loads(done.stdout)
        except ValueError:
            raise RuntimeError("the probe in %s printed no result (rc=%d): %s" % (
                container, done.returncode, unit_state.first_line(done.stderr or done.stdout)))
        if not isinstance(result, dict) or not isinstance(result.get("endpoints"), list):
            said = result.get("error") if isinstance(result, dict) else result
            raise RuntimeError("the probe in %s: %s" % (container, said))
        return result

    return probe_in


def container_of_pid(pid: int, proc_root: str = "/proc") -> Optional[str]:
    """The 64-hex id of the Podman container a process runs in, from its cgroup."""
    try:
        with open(os.path.join(proc_root, str(pid), "cgroup"), encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    match = _CONTAINER_ID_RE.search(text)
    return match.group(1) if match else None


# ---------------------------------------------------------------------------
# The reads
# ---------------------------------------------------------------------------

class HostRead:
    """One read of the host: units (and containers) and GPUs."""

    def __init__(self) -> None:
        self.units: List[Dict[str, Any]] = []  # per plan unit: config + state + judgement
        self.units_error: Optional[str] = None
        self.gpu_facts: Optional[Dict[str, Any]] = None
        self.gpu_error: Optional[str] = None
        self.vram_used_mib: Dict[str, int] = {}
        self.seconds = 0.0
        self.taken = 0.0


class ProbeRound:
    """The results of the last probe round, by container."""

    def __init__(self) -> None:
        self.results: Dict[str, List[Dict[str, Any]]] = {}
        self.errors: Dict[str, str] = {}
        self.finished: Optional[float] = None  # time.time()
        self.seconds = 0.0


class Exporter:
    """The collector: reads the host (cached), probes in the background."""

    def __init__(self, config: Mapping[str, Any], runner: Runner = run_command,
                 prober: Optional[Prober] = None,
                 nvml_loader: Callable[[], Tuple[Any, str]] = nvml_facts.load_nvml,
                 proc_root: str = "/proc", systemctl: str = "systemctl", podman: str = "podman",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.runner = runner
        self.prober = prober or podman_prober(podman)
        self.nvml_loader = nvml_loader
        self.proc_root = proc_root
        self.systemctl = systemctl
        self.podman = podman
        self.clock = clock
        self._read_lock = threading.Lock()
        self._read: Optional[HostRead] = None
        self._round = ProbeRound()
        self._round_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.reads = 0  # how many host reads were made (the cache's effect)

    # -- units and GPUs, at most once per cache_seconds ---------------------
    def host_read(self) -> HostRead:
        with self._read_lock:
            now = self.clock()
            cached = self._read
            if cached is not None and now - cached.taken < float(self.config["cache_seconds"]):
                return cached
            self._read = self._read_host(now)
            return self._read

    def _read_host(self, now: float) -> HostRead:
        read = HostRead()
        read.taken = now
        started = time.monotonic()
        self.reads += 1
        units = self.config["units"]
        inspected: List[Dict[str, Any]] = []
        if units:
            blocks, error = unit_state.read_systemd(self.runner, self.systemctl,
                                                    [u["service"] for u in units])
            if not error:
                inspected, error = unit_state.read_containers(
                    self.runner, self.podman, sorted({u["container"] for u in units if u["container"]}))
            if error:
                read.units_error = error
            else:
                states = unit_state.unit_states([(u["service"], u["container"]) for u in units],
                                                blocks, inspected, time.monotonic())
                for unit, state in zip(units, states):
                    judgement = unit_state.judge(state, expect_health=unit["healthcheck"])
                    read.units.append({"unit": unit, "state": state, "judgement": judgement})
        if self.config.get("read_gpus", True) and (
                self.config.get("gpus_expected") or self.config.get("vram_budgets_mib")):
            self._read_gpus(read, inspected)
        read.seconds = time.monotonic() - started
        return read

    def _read_gpus(self, read: HostRead, inspected: Sequence[Mapping[str, Any]]) -> None:
        try:
            nvml, binding = self.nvml_loader()
            read.gpu_facts = nvml_facts.collect_gpu_facts(nvml, binding, telemetry=True)
        except (nvml_facts.NvmlFactsError, OSError) as exc:
            read.gpu_error = str(exc)
            return
        if not read.gpu_facts.get("available"):
            read.gpu_error = read.gpu_facts.get("reason")
        group_of = {}
        for item in inspected:
            cid = str(item.get("Id") or "")
            name = str(item.get("Name") or "").lstrip("/")
            for unit in self.config["units"]:
                if unit["container"] == name and cid:
                    group_of[cid] = unit["group"]
        used: Dict[str, int] = {g: 0 for g in (self.config.get("vram_budgets_mib") or {})}
        for gpu in read.gpu_facts.get("gpus") or []:
            for proc in gpu.get("processes") or []:
                cid = container_of_pid(proc["pid"], self.proc_root)
                group = group_of.get(cid) if cid else None
                if group is not None and proc.get("used_memory_mib") is not None:
                    used[group] = used.get(group, 0) + int(proc["used_memory_mib"])
        read.vram_used_mib = used

    # -- agents and links, in the background ---------------------------------
    def probe_round(self) -> ProbeRound:
        """One round: every container's endpoints at once, each bounded by the timeout."""
        targets = self.config["zmq"]
        timeout = float(self.config["probe_timeout_seconds"])
        fresh = ProbeRound()
        started = time.monotonic()
        if targets:
            def one(target: Mapping[str, Any]) -> Tuple[str, Any]:
                try:
                    return target["container"], self.prober(target["container"], target["endpoints"], timeout)
                except Exception as exc:  # pylint: disable=broad-except
                    return target["container"], exc

            with ThreadPoolExecutor(max_workers=min(16, len(targets)),
                                    thread_name_prefix="ai-probe") as pool:
                for container, outcome in pool.map(one, targets):
                    if isinstance(outcome, Exception):
                        fresh.errors[container] = str(outcome) or type(outcome).__name__
                    else:
                        fresh.results[container] = list(outcome.get("endpoints") or [])
        fresh.seconds = time.monotonic() - started
        fresh.finished = time.time()
        with self._round_lock:
            self._round = fresh
        return fresh

    def last_round(self) -> ProbeRound:
        with self._round_lock:
            return self._round

    def start(self) -> None:
        """Probe now and then every probe_interval_seconds, in a daemon thread."""
        interval = float(self.config["probe_interval_seconds"])

        def loop() -> None:
            while not self._stop.is_set():
                began = time.monotonic()
                self.probe_round()
                self._stop.wait(max(0.0, interval - (time.monotonic() - began)))

        self._thread = threading.Thread(target=loop, name="ai-probe-loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=float(self.config["probe_timeout_seconds"]) * 4 + 15)

    # -- the metrics ---------------------------------------------------------
    def collect(self) -> Iterator[Any]:
        read = self.host_read()
        yield from self._build_info()
        yield from self._unit_metrics(read)
        yield from self._probe_metrics(self.last_round())
        yield from self._gpu_metrics(read)
        errors = GaugeMetricFamily("ai_system_exporter_read_error",
                                   "1 when the last read of a source failed (see the exporter's log)",
                                   labels=["source"])
        errors.add_metric(["units"], 1.0 if read.units_error else 0.0)
        errors.add_metric(["gpu"], 1.0 if read.gpu_error and self.config.get("gpus_expected") else 0.0)
        yield errors
        seconds = GaugeMetricFamily("ai_system_exporter_read_seconds",
                                    "How long the last read of units and GPUs took")
        seconds.add_metric([], read.seconds)
        yield seconds

    def _build_info(self) -> Iterator[Any]:
        info = InfoMetricFamily("ai_system_build", "The collection and plan this host runs")
        info.add_metric([], {"version": str(self.config.get("collection_version") or "unknown"),
                             "plan_hash": str(self.config.get("plan_hash") or "")})
        yield info

    def _unit_metrics(self, read: HostRead) -> Iterator[Any]:
        up = GaugeMetricFamily("ai_system_group_up",
                               "1 when the group's unit is active and its container running",
                               labels=["group"])
        healthy = GaugeMetricFamily("ai_system_group_healthy",
                                    "1 when the group's unit is judged ok (unit_state.judge)",
                                    labels=["group"])
        restarts = CounterMetricFamily("ai_system_group_restarts",
                                       "Restarts of the group's unit by systemd (NRestarts)",
                                       labels=["group"])
        started = GaugeMetricFamily("ai_system_group_start_time_seconds",
                                    "When the group's unit became active (Unix time)", labels=["group"])
        state = GaugeMetricFamily("ai_system_group_unit_state",
                                  "The group's unit state: 1 for the current one",
                                  labels=["group", "active_state", "sub_state"])
        now = time.time()
        for item in read.units:
            group, st = item["unit"]["group"], item["state"]
            running = st.get("active_state") == "active" and (
                not item["unit"]["container"] or st.get("container_state") == "running")
            up.add_metric([group], 1.0 if running else 0.0)
            healthy.add_metric([group], 1.0 if item["judgement"].ok else 0.0)
            restarts.add_metric([group], float(st.get("restarts") or 0))
            if st.get("uptime_s") is not None:
                started.add_metric([group], round(now - st["uptime_s"], 1))
            state.add_metric([group, st.get("active_state") or "unknown",
                              st.get("sub_state") or "unknown"], 1.0)
        yield from (up, healthy, restarts, started, state)

    def _probe_metrics(self, rnd: ProbeRound) -> Iterator[Any]:
        status = GaugeMetricFamily("ai_system_agent_status",
                                   "The agent's health verdict (zmq_health): 1 for the current one",
                                   labels=["group", "agent", "status"])
        rtt = GaugeMetricFamily("ai_system_agent_rtt_seconds",
                                "Round trip of the agent's health request", labels=["group", "agent"])
        link_up = GaugeMetricFamily("ai_system_link_up",
                                    "1 when the agent answers the consuming group, from inside it",
                                    labels=["from_group", "agent", "to_host", "to_group"])
        link_rtt = GaugeMetricFamily("ai_system_link_rtt_seconds",
                                     "Round trip of a link's request, from inside the consuming group",
                                     labels=["from_group", "agent", "to_host", "to_group"])
        links = {(lk["from_group"], lk["name"], lk["address"], lk["port"]): lk
                 for lk in self.config.get("links") or []}
        for target in self.config["zmq"]:
            container = target["container"]
            results = rnd.results.get(container)
            error = rnd.errors.get(container)
            if results is None and error is None:
                continue  # not probed yet
            by_key = {(r.get("name"), r.get("address"), r.get("port")): r for r in results or []}
            for endpoint in target["endpoints"]:
                result = by_key.get((endpoint["name"], endpoint["address"], endpoint["port"]))
                ok = bool(result and result.get("ok"))
                seconds = None
                if result and result.get("rtt_ms"):
                    seconds = result["rtt_ms"]["median"] / 1000.0
                if endpoint["kind"] == "health":
                    verdict = (result or {}).get("verdict") if ok else FAILING
                    verdict = HEALTHY if verdict == REACHABLE else verdict
                    for name in STATUSES:
                        status.add_metric([container, endpoint["name"], name],
                                          1.0 if verdict == name else 0.0)
                    if seconds is not None:
                        rtt.add_metric([container, endpoint["name"]], seconds)
                else:
                    link = links.get((container, endpoint["name"], endpoint["address"], endpoint["port"]))
                    labels = [container, endpoint["name"], link["to_host"] if link else "",
                              link["to_group"] if link else str(endpoint.get("group") or "")]
                    link_up.add_metric(labels, 1.0 if ok else 0.0)
                    if seconds is not None:
                        link_rtt.add_metric(labels, seconds)
        age = GaugeMetricFamily("ai_system_probe_age_seconds",
                                "Seconds since the last round of agent and link probes ended")
        duration = GaugeMetricFamily("ai_system_probe_duration_seconds",
                                     "How long the last round of agent and link probes took")
        if rnd.finished is not None:
            age.add_metric([], round(time.time() - rnd.finished, 3))
            duration.add_metric([], rnd.seconds)
        errors = GaugeMetricFamily("ai_system_probe_error",
                                   "1 when the probe could not run in the container",
                                   labels=["container"])
        for container in sorted(rnd.errors):
            errors.add_metric([container], 1.0)
        yield from (status, rtt, link_up, link_rtt, age, duration, errors)

    def _gpu_metrics(self, read: HostRead) -> Iterator[Any]:
        expected = GaugeMetricFamily("ai_system_gpus_expected", "GPUs the inventory gives the host (ai_gpu.count)")
        expected.add_metric([], float(self.config.get("gpus_expected") or 0))
        yield expected
        facts = read.gpu_facts
        if facts is None and not self.config.get("gpus_expected"):
            return
        gpus = (facts or {}).get("gpus") or []
        count = GaugeMetricFamily("ai_system_gpus", "GPUs NVML reports")
        count.add_metric([], float(len(gpus)))
        yield count
        labels = ["gpu", "name", "uuid"]
        total = GaugeMetricFamily("ai_system_gpu_memory_total_bytes", "GPU memory", labels=labels)
        used = GaugeMetricFamily("ai_system_gpu_memory_used_bytes", "GPU memory in use", labels=labels)
        util = GaugeMetricFamily("ai_system_gpu_utilization_ratio", "GPU utilisation (0-1)", labels=labels)
        temp = GaugeMetricFamily("ai_system_gpu_temperature_celsius", "GPU temperature", labels=labels)
        for gpu in gpus:
            values = [str(gpu["index"]), str(gpu.get("name") or ""), str(gpu.get("uuid") or "")]
            total.add_metric(values, float(gpu["memory_total_mib"]) * MIB)
            used.add_metric(values, float(gpu["memory_used_mib"]) * MIB)
            if gpu.get("utilization_gpu_pct") is not None:
                util.add_metric(values, gpu["utilization_gpu_pct"] / 100.0)
            if gpu.get("temperature_c") is not None:
                temp.add_metric(values, float(gpu["temperature_c"]))
        yield from (total, used, util, temp)
        budget = GaugeMetricFamily("ai_system_group_vram_budget_bytes", "The group's vram_mib",
                                   labels=["group"])
        in_use = GaugeMetricFamily("ai_system_group_vram_used_bytes",
                                   "GPU memory held by the group's processes", labels=["group"])
        for group, mib in sorted((self.config.get("vram_budgets_mib") or {}).items()):
            budget.add_metric([group], float(mib) * MIB)
        for group, mib in sorted(read.vram_used_mib.items()):
            in_use.add_metric([group], float(mib) * MIB)
        yield from (budget, in_use)


def registry_for(exporter: Exporter) -> "CollectorRegistry":
    registry = CollectorRegistry(auto_describe=False)
    registry.register(exporter)  # type: ignore[arg-type]
    return registry


def serve(exporter: Exporter, address: str, port: int) -> Any:
    """Start the probe loop and the HTTP server; returns the server."""
    from prometheus_client import start_http_server  # pylint: disable=import-outside-toplevel
    exporter.start()
    served = start_http_server(port, addr=address, registry=registry_for(exporter))
    return served[0] if isinstance(served, tuple) else served


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="ai-system-exporter", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--config", required=True, help="the plan's monitoring/exporter.json")
    args = parser.parse_args(argv)
    if not HAS_PROMETHEUS_CLIENT:
        sys.stderr.write("ai-system-exporter: prometheus_client is not installed for %s "
                         "(install python3-prometheus-client)\n" % sys.executable)
        return 2
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        sys.stderr.write("ai-system-exporter: %s\n" % exc)
        return 2
    exporter = Exporter(config)
    serve(exporter, config["listen_address"], int(config["port"]))
    sys.stderr.write("ai-system-exporter: serving %s:%d for host %s\n"
                     % (config["listen_address"], config["port"], config["host"]))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        exporter.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
