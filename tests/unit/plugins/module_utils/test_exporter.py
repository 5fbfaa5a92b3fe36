# -*- coding: utf-8 -*-
"""The exporter's collectors against fakes of systemd, Podman and NVML, and
real loopback ZMQ peers (a healthy, a degraded and a hanging agent), scraped
through prometheus_client's own HTTP server."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import time
import urllib.request
from typing import Any, Dict, List, Optional

import pytest
import zmq
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.ai_system.containers.plugins.module_utils.monitoring import exporter as exp
from ansible_collections.ai_system.containers.plugins.module_utils.verify import zmq_health
from support.net import closed_port
from test_nvml_facts import MIB, FakePynvml, Proc, rtx4090

CID = "ab" * 32  # the models container's id


class Peer:
    """A REP socket on a loopback port answering ``status`` (or, with None, never)."""

    def __init__(self, ctx: zmq.Context, status: Optional[str]) -> None:
        self.sock = ctx.socket(zmq.REP)
        self.sock.linger = 0
        self.sock.bind("tcp://127.0.0.1:*")
        self.port = int(self.sock.last_endpoint.rsplit(b":", 1)[1])
        self.status = status
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        try:
            while not self.stop.is_set():
                if self.sock.poll(20):
                    self.sock.recv_multipart()
                    if self.status is None:
                        while not self.stop.is_set():  # hang: never answer
                            time.sleep(0.02)
                        return
                    self.sock.send_json({"status": self.status, "message": "stand-in"})
        finally:
            self.sock.close(linger=0)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


@pytest.fixture
def peers(ctx):
    made: List[Peer] = []

    def make(status):
        made.append(Peer(ctx, status))
        return made[-1]

    yield make
    for peer in made:
        peer.close()


def show_block(service, active="active", sub="running", restarts=0):
    return "\n".join([
        "Id=%s" % service, "LoadState=loaded", "ActiveState=%s" % active, "SubState=%s" % sub,
        "Result=success", "UnitFileState=generated", "NRestarts=%d" % restarts, "MainPID=42",
        "ExecMainStatus=0", "ActiveEnterTimestamp=Mon 2026-11-30 20:00:00 UTC",
        "ActiveEnterTimestampMonotonic=%d" % int((time.monotonic() - 120) * 1e6),
    ])


class FakeHost:
    """systemctl show and podman container inspect of a host's units."""

    def __init__(self):
        self.units: Dict[str, Dict[str, Any]] = {}
        self.containers: Dict[str, Dict[str, Any]] = {}
        self.calls: List[List[str]] = []
        self.fail_systemctl = False

    def runner(self, argv):
        self.calls.append(argv)
        names = argv[argv.index("--") + 1:]
        if argv[0] == "systemctl":
            if self.fail_systemctl:
                return 1, "", "Failed to connect to bus: No such file or directory"
            return 0, "\n\n".join(show_block(n, **self.units[n]) for n in names) + "\n", ""
        found = [self.containers[n] for n in names if n in self.containers]
        missing = [n for n in names if n not in self.containers]
        return (125 if missing else 0), json.dumps(found), \
            "".join("Error: no such container %s\n" % n for n in missing)


def container(name, status="running", health="healthy", cid=None):
    return {"Id": cid or (name.encode().hex() * 64)[:64], "Name": name,
            "State": {"Status": status, "ExitCode": 0,
                      "Health": {"Status": health, "FailingStreak": 0, "Log": []}}}


def unit(group, healthcheck=True):
    return {"group": group, "service": "ai-%s.service" % group, "container": group,
            "healthcheck": healthcheck}


def config(**extra):
    doc = {
        "host": "mainpc", "listen_address": "127.0.0.1", "port": 0,
        "collection_version": "0.1.0", "plan_hash": "f" * 64,
        "cache_seconds": 5.0, "probe_interval_seconds": 30.0, "probe_timeout_seconds": 0.5,
        "units": [unit("core"), unit("models")], "zmq": [], "links": [],
        "vram_budgets_mib": {}, "gpus_expected": 0,
    }
    doc.update(extra)
    return doc


def direct_prober(container_name, endpoints, timeout):
    """The probe's own run_checks, on this machine's loopback (no container)."""
    return zmq_health.run_checks(endpoints, timeout=timeout, attempts=1)


def samples(exporter_or_text):
    text = exporter_or_text
    if not isinstance(text, str):
        from prometheus_client import generate_latest
        text = generate_latest(exp.registry_for(exporter_or_text)).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found, metric, **labels):
    return found[(metric, tuple(sorted(labels.items())))]


@pytest.fixture
def host():
    fake = FakeHost()
    fake.units = {"ai-core.service": {}, "ai-models.service": {}}
    fake.containers = {"core": container("core"), "models": container("models", cid=CID)}
    return fake


# -- units -----------------------------------------------------------------------

def test_groups_up_healthy_restarts_and_start_time(host):
    host.units["ai-models.service"] = {"restarts": 2}
    host.containers["models"]["State"]["Health"]["Status"] = "unhealthy"
    found = samples(exp.Exporter(config(), runner=host.runner))
    assert value(found, "ai_system_group_up", group="core") == 1
    assert value(found, "ai_system_group_healthy", group="core") == 1
    assert value(found, "ai_system_group_up", group="models") == 1
    assert value(found, "ai_system_group_healthy", group="models") == 0  # unit_state.judge
    assert value(found, "ai_system_group_restarts_total", group="models") == 2
    started = value(found, "ai_system_group_start_time_seconds", group="core")
    assert abs(started - (time.time() - 120)) < 5
    assert value(found, "ai_system_group_unit_state", group="core", active_state="active",
                 sub_state="running") == 1
    assert value(found, "ai_system_build_info", version="0.1.0", plan_hash="f" * 64) == 1
    assert value(found, "ai_system_exporter_read_error", source="units") == 0


def test_a_stopped_group_is_down_and_not_healthy(host):
    host.units["ai-core.service"] = {"active": "inactive", "sub": "dead"}
    del host.containers["core"]
    found = samples(exp.Exporter(config(), runner=host.runner))
    assert value(found, "ai_system_group_up", group="core") == 0
    assert value(found, "ai_system_group_healthy", group="core") == 0
    assert value(found, "ai_system_group_up", group="models") == 1


def test_one_systemctl_and_one_podman_per_read_and_reads_are_cached(host):
    now = [100.0]
    exporter = exp.Exporter(config(cache_seconds=5.0), runner=host.runner, clock=lambda: now[0])
    samples(exporter)
    samples(exporter)
    assert [c[0] for c in host.calls] == ["systemctl", "podman"]
    assert exporter.reads == 1
    now[0] += 5.0
    samples(exporter)
    assert exporter.reads == 2 and len(host.calls) == 4


def test_concurrent_scrapes_share_one_read(host):
    exporter = exp.Exporter(config(), runner=host.runner)
    threads = [threading.Thread(target=samples, args=(exporter,)) for dummy in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert exporter.reads == 1


def test_a_failed_systemd_read_is_reported_not_guessed(host):
    host.fail_systemctl = True
    found = samples(exp.Exporter(config(), runner=host.runner))
    assert value(found, "ai_system_exporter_read_error", source="units") == 1
    assert not [k for k in found if k[0] == "ai_system_group_up"]


# -- agents and links, with real ZMQ peers -------------------------------------------

def probe_config(healthy, degraded, hanging, link_port):
    def health(name, port):
        return {"name": name, "group": "core", "address": "127.0.0.1", "port": port,
                "kind": "health", "policy": {"healthy": ["ok"], "degraded": ["degraded"]}}
    link = {"name": "Memory", "group": "pc2/store", "address": "127.0.0.1", "port": link_port,
            "kind": "main", "strict": False}
    down = {"name": "Gone", "group": "pc2/store", "address": "127.0.0.1", "port": closed_port(),
            "kind": "main", "strict": False}
    return config(zmq=[
        {"container": "core", "endpoints": [health("Twin", healthy), health("Coordinator", degraded),
                                            health("Frozen", hanging)]},
        {"container": "models", "endpoints": [link, down]},
    ], links=[
        {"name": "Memory", "from_group": "models", "to_host": "pc2", "to_group": "store",
         "address": "127.0.0.1", "port": link_port, "kind": "main", "cross_host": True},
        {"name": "Gone", "from_group": "models", "to_host": "pc2", "to_group": "store",
         "address": "127.0.0.1", "port": down["port"], "kind": "main", "cross_host": True},
    ])


def test_agent_verdicts_and_links_from_real_peers(host, peers):
    cfg = probe_config(peers("ok").port, peers("degraded").port, peers(None).port, peers("ok").port)
    exporter = exp.Exporter(cfg, runner=host.runner, prober=direct_prober)
    exporter.probe_round()
    found = samples(exporter)
    for agent, verdict in (("Twin", "healthy"), ("Coordinator", "degraded"), ("Frozen", "failing")):
        for status in ("healthy", "degraded", "failing"):
            assert value(found, "ai_system_agent_status", group="core", agent=agent,
                         status=status) == (1 if status == verdict else 0), (agent, status)
    assert 0 < value(found, "ai_system_agent_rtt_seconds", group="core", agent="Twin") < 0.5
    assert ("ai_system_agent_rtt_seconds", (("agent", "Frozen"), ("group", "core"))) not in found
    link = dict(from_group="models", agent="Memory", to_host="pc2", to_group="store")
    assert value(found, "ai_system_link_up", **link) == 1
    assert 0 < value(found, "ai_system_link_rtt_seconds", **link) < 0.5
    gone = {**link, "agent": "Gone"}
    assert value(found, "ai_system_link_up", **gone) == 0
    assert value(found, "ai_system_probe_age_seconds") < 5


def test_a_scrape_while_an_agent_hangs_takes_no_longer_than_a_read(host, peers):
    """The probe round with the hanging agent runs in the background; scrapes
    during it answer at once, and the round itself ends within its timeout."""
    cfg = probe_config(peers("ok").port, peers("degraded").port, peers(None).port, peers("ok").port)
    cfg["probe_timeout_seconds"] = 1.5
    exporter = exp.Exporter(cfg, runner=host.runner, prober=direct_prober)
    exporter.start()
    try:
        time.sleep(0.2)  # the first round is waiting on the hanging agent
        started = time.monotonic()
        during = samples(exporter)
        assert time.monotonic() - started < 0.5
        assert not [k for k in during if k[0] == "ai_system_agent_status"]  # no round ended yet
        deadline = time.monotonic() + 1.5 * 4 + 2
        while exporter.last_round().finished is None and time.monotonic() < deadline:
            time.sleep(0.05)
        rnd = exporter.last_round()
        assert rnd.finished is not None and rnd.seconds < 1.5 * 2 + 0.5
        after = samples(exporter)
        assert value(after, "ai_system_agent_status", group="core", agent="Frozen", status="failing") == 1
        assert value(after, "ai_system_agent_status", group="core", agent="Twin", status="healthy") == 1
    finally:
        exporter.stop()


def test_a_probe_that_cannot_run_fails_its_containers_agents(host):
    def broken(container_name, endpoints, timeout):
        raise RuntimeError("Error: no container with name or ID core found")
    cfg = probe_config(closed_port(), closed_port(), closed_port(), closed_port())
    exporter = exp.Exporter(cfg, runner=host.runner, prober=broken)
    exporter.probe_round()
    found = samples(exporter)
    assert value(found, "ai_system_probe_error", container="core") == 1
    assert value(found, "ai_system_agent_status", group="core", agent="Twin", status="failing") == 1
    assert value(found, "ai_system_link_up", from_group="models", agent="Memory", to_host="pc2",
                 to_group="store") == 0


def test_the_podman_prober_runs_the_probe_inside_the_container(tmp_path, peers):
    """The real subprocess path, with a podman that checks its argv and runs
    the probe (the collection's zmq_health.py) in place of the container's."""
    fake = tmp_path / "podman"
    fake.write_text("#!%s\nimport os, sys\n"
                    "assert sys.argv[1:5] == ['exec', '-i', '--', 'core'], sys.argv\n"
                    "assert sys.argv[5:] == ['python3', %r, '--stdin-json'], sys.argv\n"
                    "os.execv(sys.executable, [sys.executable, %r, '--stdin-json'])\n"
                    % (sys.executable, exp.CONTAINER_PROBE, zmq_health.__file__))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    probe = exp.podman_prober(str(fake))
    port = peers("degraded").port
    result = probe("core", [{"name": "Twin", "address": "127.0.0.1", "port": port, "kind": "health",
                             "policy": {"healthy": ["ok"], "degraded": ["degraded"]}}], 1.0)
    assert [(e["name"], e["verdict"]) for e in result["endpoints"]] == [("Twin", "degraded")]
    fake.write_text("#!/bin/sh\necho 'Error: no such container core' >&2\nexit 125\n")
    with pytest.raises(RuntimeError, match="no such container core"):
        probe("core", [], 1.0)


# -- GPUs --------------------------------------------------------------------------

class TelemetryNvml(FakePynvml):
    NVML_TEMPERATURE_GPU = 0

    def nvmlDeviceGetUtilizationRates(self, handle):
        rates = type("Rates", (), {})()
        rates.gpu, rates.memory = handle.get("util", 37), 10
        return self._call("nvmlDeviceGetUtilizationRates", rates)

    def nvmlDeviceGetTemperature(self, handle, sensor):
        assert sensor == 0
        return self._call("nvmlDeviceGetTemperature", handle.get("temp", 61))


def cgroup(tmp_path, pid, text):
    (tmp_path / str(pid)).mkdir()
    (tmp_path / str(pid) / "cgroup").write_text(text)


def test_gpu_memory_utilisation_temperature_and_vram_per_group(host, tmp_path):
    cgroup(tmp_path, 4242, "0::/machine.slice/libpod-%s.scope/container\n" % CID)
    cgroup(tmp_path, 5151, "0::/user.slice/session-1.scope\n")  # not a container
    nvml = TelemetryNvml([rtx4090(procs=[Proc(4242, 9000 * MIB), Proc(5151, 500 * MIB)])])
    cfg = config(gpus_expected=1, vram_budgets_mib={"models": 8000})
    exporter = exp.Exporter(cfg, runner=host.runner, nvml_loader=lambda: (nvml, "pynvml"),
                            proc_root=str(tmp_path))
    found = samples(exporter)
    gpu = dict(gpu="0", name="NVIDIA GeForce RTX 4090", uuid="GPU-4090")
    assert value(found, "ai_system_gpu_memory_total_bytes", **gpu) == 24564 * MIB
    assert value(found, "ai_system_gpu_memory_used_bytes", **gpu) == 1039 * MIB
    assert value(found, "ai_system_gpu_utilization_ratio", **gpu) == 0.37
    assert value(found, "ai_system_gpu_temperature_celsius", **gpu) == 61
    assert value(found, "ai_system_gpus") == 1 and value(found, "ai_system_gpus_expected") == 1
    assert value(found, "ai_system_group_vram_used_bytes", group="models") == 9000 * MIB
    assert value(found, "ai_system_group_vram_budget_bytes", group="models") == 8000 * MIB


def test_a_host_without_its_gpu_says_so(host):
    nvml = TelemetryNvml([], fail={"nvmlInit": 9})
    exporter = exp.Exporter(config(gpus_expected=1), runner=host.runner,
                            nvml_loader=lambda: (nvml, "pynvml"))
    found = samples(exporter)
    assert value(found, "ai_system_gpus") == 0 and value(found, "ai_system_gpus_expected") == 1
    assert value(found, "ai_system_exporter_read_error", source="gpu") == 1


def test_a_host_without_gpu_groups_never_loads_nvml(host):
    def loader():
        raise AssertionError("NVML loaded on a host without GPU")
    found = samples(exp.Exporter(config(), runner=host.runner, nvml_loader=loader))
    assert value(found, "ai_system_gpus_expected") == 0
    assert not [k for k in found if k[0] == "ai_system_gpus"]


# -- HTTP and the command line ----------------------------------------------------

def test_prometheus_scrapes_it_over_http(host, peers):
    cfg = probe_config(peers("ok").port, peers("degraded").port, peers(None).port, peers("ok").port)
    exporter = exp.Exporter(cfg, runner=host.runner, prober=direct_prober)
    server = exp.serve(exporter, "127.0.0.1", 0)
    try:
        port = server.server_address[1]
        started = time.monotonic()
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as reply:
            text = reply.read().decode()
        assert time.monotonic() - started < 1.0
        assert value(samples(text), "ai_system_group_up", group="core") == 1
    finally:
        server.shutdown()
        exporter.stop()


def test_main_refuses_a_missing_or_incomplete_configuration(tmp_path, capsys):
    assert exp.main(["--config", str(tmp_path / "none.json")]) == 2
    assert "cannot read the exporter configuration" in capsys.readouterr().err
    (tmp_path / "half.json").write_text(json.dumps({"host": "mainpc"}))
    assert exp.main(["--config", str(tmp_path / "half.json")]) == 2
    assert "lacks 'listen_address'" in capsys.readouterr().err


def test_container_of_pid_reads_cgroup_v1_and_v2(tmp_path):
    cgroup(tmp_path, 1, "0::/machine.slice/libpod-%s.scope/container\n" % CID)
    cgroup(tmp_path, 2, "12:memory:/machine.slice/libpod-%s.scope\n" % CID)
    cgroup(tmp_path, 3, "0::/init.scope\n")
    assert exp.container_of_pid(1, str(tmp_path)) == CID
    assert exp.container_of_pid(2, str(tmp_path)) == CID
    assert exp.container_of_pid(3, str(tmp_path)) is None
    assert exp.container_of_pid(4, str(tmp_path)) is None
    assert os.path.isdir(str(tmp_path))


def test_the_probe_path_is_where_the_plan_mounts_it():
    from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import CONTAINER_PROBE
    assert exp.CONTAINER_PROBE == CONTAINER_PROBE


def test_a_host_whose_gpu_is_a_stand_in_leaves_nvml_alone(host):
    def loader():
        raise AssertionError("NVML loaded with read_gpus false")
    cfg = config(read_gpus=False, gpus_expected=0, vram_budgets_mib={"models": 8000})
    found = samples(exp.Exporter(cfg, runner=host.runner, nvml_loader=loader))
    assert value(found, "ai_system_gpus_expected") == 0
    assert not [k for k in found if k[0] in ("ai_system_gpus", "ai_system_group_vram_used_bytes")]


def test_a_hanging_systemctl_or_podman_is_cut_off_and_reported(tmp_path):
    hang = tmp_path / "systemctl"
    hang.write_text("#!/bin/sh\nexec sleep 30\n")
    hang.chmod(0o755)
    started = time.monotonic()
    assert exp.run_command([str(hang), "show"], timeout=0.5)[0] == 124
    assert time.monotonic() - started < 5
    assert exp.run_command([str(tmp_path / "absent")])[0] == 127
