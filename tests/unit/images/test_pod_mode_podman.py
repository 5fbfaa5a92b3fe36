# -*- coding: utf-8 -*-
"""Pod mode with real Podman: the plan's units, as Podman's Quadlet generator
turns them into ``podman run`` command lines, started on this machine.

Two groups of one host, each its own container: ``models`` runs a stand-in
agent that calls ``core``'s agent at ``localhost:<port>`` at start (as the
real agents register with SystemDigitalTwin at localhost:7120). In pod mode
(``ai_network_mode: pod``) the call is answered; with one network namespace
per group it is not. The stand-in image is the lab's; the agent.py of this
tree is mounted over its own (``readonly_mounts``). systemd does not run
here: the command lines run without their systemd-only options
(``--cidfile``, ``--sdnotify``, ``--cgroups=split``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from support.quadlet import QUADLET, needs_quadlet

IMAGE = "localhost/ai-system/stand-in-agent:latest"
AGENT = Path(__file__).resolve().parents[3] / "images" / "stand-in-agent" / "agent.py"
ENV = dict(os.environ, PODMAN_IGNORE_CGROUPSV1_WARNING="1", LANG="C")
SYSTEMD_ONLY = ("--cidfile", "--sdnotify", "--cgroups")


def podman(*argv, check=True, timeout=120):
    # Files, not pipes: conmon, which `podman run -d` leaves behind, would
    # hold a pipe open and the read would never end.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code = subprocess.run(["podman"] + list(argv), stdin=subprocess.DEVNULL, stdout=out,
                              stderr=err, env=ENV, timeout=timeout, check=False).returncode
        out.seek(0)
        err.seek(0)
        proc = subprocess.CompletedProcess(argv, code, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))
    if check and proc.returncode != 0:
        raise AssertionError("podman %s -> %d: %s" % (" ".join(argv), proc.returncode,
                                                      proc.stderr))
    return proc


def have_image():
    if not shutil.which("podman") or not os.access(QUADLET, os.X_OK):
        return False
    return podman("image", "exists", IMAGE, check=False).returncode == 0


pytestmark = [
    pytest.mark.podman,
    needs_quadlet,
    pytest.mark.skipif(not have_image(), reason="Podman or the lab's stand-in image %s is "
                       "absent (make images)" % IMAGE),
]


def inventory(tag, config_dir, mode, core_port):
    group = {
        "health": False,
        "readonly_mounts": [{"source": str(AGENT),
                             "target": "/usr/local/lib/stand-in-agent/agent.py"}],
        "security": {"read_only": True},
    }
    return {"mainpc": {
        "ai_lan_address": "10.0.0.16",
        "ai_network_subnet": "10.231.%d.0/24" % (core_port % 200 + 20),
        "ai_network_name": "%s-net" % tag,
        "ai_unit_prefix": "%s-" % tag,
        "ai_config_dir": str(config_dir),
        "ai_network_mode": mode,
        "ai_notify_healthy": False,
        "ai_group_defaults": {"image": IMAGE},
        "ai_groups": {
            "%s-core" % tag: dict(group, agents={
                "Twin": {"port": core_port, "health_port": core_port + 1}}),
            "%s-models" % tag: dict(
                group,
                agents={"Caller": {"port": core_port + 2, "health_port": core_port + 3}},
                connects_to=[{"agent": "Twin", "localhost": True}],
                env={"AI_SYSTEM_STANDIN_CALLS": "Caller=localhost:%d" % core_port,
                     "AI_SYSTEM_STANDIN_CALL_TIMEOUT": "4"}),
        },
    }}


def run_lines(plan, directory):
    """service -> the podman argv of its ExecStart, from the real generator."""
    for name, text in plan["quadlet"].items():
        (directory / name).write_text(text)
    out = subprocess.run([QUADLET, "-dryrun"], env={"QUADLET_UNIT_DIRS": str(directory)},
                         capture_output=True, text=True, check=True, timeout=60).stdout
    lines = {}
    for block in out.split("\n---")[0:]:
        head, _sep, body = block.partition("---\n")
        service = head.strip("-\n ")
        start = [li for li in body.splitlines() if li.startswith("ExecStart=")]
        if start:
            argv = shlex.split(start[0].split("=", 1)[1].replace("%%", "%"))
            lines[service] = [a for a in argv[1:] if not a.startswith(SYSTEMD_ONLY)]
    return lines


@pytest.fixture
def stack(tmp_path):
    created = {"containers": [], "networks": []}

    def start(mode, core_port):
        tag = "ctrpod%s" % uuid.uuid4().hex[:6]
        config_dir = tmp_path / tag / "config"
        (config_dir / "lib").mkdir(parents=True)
        (config_dir / "lib" / "zmq_health.py").write_text("")
        result = build_plan(inventory(tag, config_dir, mode, core_port))
        assert result["ok"], result["errors"]
        plan = result["hosts"]["mainpc"]
        for rel, text in plan["config"].items():
            (config_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (config_dir / rel).write_text(text)
        units = tmp_path / tag / "units"
        units.mkdir()
        lines = run_lines(plan, units)
        network = lines.pop("%s-net-network.service" % tag)
        created["networks"].append("%s-net" % tag)
        podman(*network)
        for unit in plan["units"]:  # in start order: the pod unit first
            created["containers"].append(unit["container"])
            podman(*lines[unit["service"]])
        return tag, plan

    yield start
    for name in reversed(created["containers"]):
        podman("rm", "-f", "-t", "0", name, check=False)
    for name in created["networks"]:
        podman("network", "rm", "-f", name, check=False)


def log_with(container, text, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        proc = podman("logs", container, check=False)
        out = proc.stdout + proc.stderr
        if text in out or time.monotonic() > deadline:
            return out
        time.sleep(0.5)


def free_base_port():
    """A port whose next three are free on this machine too (the agents' ports)."""
    import random
    import socket
    while True:
        base = random.randrange(20000, 30000, 4)
        try:
            for port in range(base, base + 4):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base


def test_in_pod_mode_a_group_reaches_another_groups_agent_at_localhost(stack):
    port = free_base_port()
    tag, plan = stack("pod", port)
    assert [u["group"] for u in plan["units"]] == ["pod", "%s-core" % tag, "%s-models" % tag]
    pod_id = podman("inspect", "--format", "{{.Id}}", "%s-pod" % tag).stdout.strip()
    mode = podman("inspect", "--format", "{{.HostConfig.NetworkMode}}",
                  "%s-models" % tag).stdout.strip()
    assert mode == "container:%s" % pod_id
    out = log_with("%s-models" % tag, "Caller: reached")
    assert "Caller: reached localhost:%d (it answered status ok)" % port in out, out
    # The other groups' names resolve to the shared namespace.
    hosts = podman("exec", "%s-models" % tag, "getent", "hosts", "%s-core" % tag).stdout
    assert hosts.split()[0] == "127.0.0.1"
    env = podman("exec", "%s-models" % tag, "printenv", "CONTAINER_GROUP").stdout.strip()
    assert env == "%s_models" % tag


def test_with_one_namespace_per_group_localhost_is_the_groups_own_container(stack):
    port = free_base_port()
    tag, plan = stack("group", port)
    assert "pod" not in [u["group"] for u in plan["units"]]
    out = log_with("%s-models" % tag, "Caller: cannot reach")
    assert "Caller: cannot reach localhost:%d: no reply within 4 s" % port in out, out
    # The plan's link check is where the agent dials, with the reason for verify.
    link = next(lk for lk in plan["checks"]["links"] if lk["name"] == "Twin")
    assert (link["address"], link["port"]) == ("127.0.0.1", port)
    assert "set ai_network_mode: pod for mainpc" in link["note"]
