# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight module: main() on the host trees of tests/fixtures/hosts (the
user's two PCs before and after, in the formats WSL and Ubuntu write; not
captures of WSL hardware), and on this machine itself, with a real listener.

On a host tree, what the commands print comes from its ``commands/`` files,
NVML from its ``nvml.json`` (through a pynvml-shaped fake handed to
nvml_facts, the reading gpu_facts uses) and the free space from ``disk.json``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.host import host_platform as hp
from ansible_collections.ai_system.containers.plugins.module_utils.host import preflight_run
from ansible_collections.ai_system.containers.plugins.module_utils.verify import nvml_facts
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from ansible_collections.ai_system.containers.plugins.modules import preflight
from support.gpu import driver_present
from support.inventory import load_inventory_dir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
HOSTS = os.path.join(REPO, "tests", "fixtures", "hosts")
HOSTS_DOC = os.path.join(REPO, "docs", "hosts.md")
NOW = 1796400000.0
MIB = 1024 * 1024


class NvmlError(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value

    def __str__(self):
        return {12: "NVML Shared Library Not Found"}[self.value]


class Memory(object):
    def __init__(self, total_mib):
        self.total, self.used, self.free = total_mib * MIB, 412 * MIB, (total_mib - 412) * MIB


class TreeNvml(object):
    """pynvml's names, answering from a host tree's nvml.json (or no driver at all)."""

    NVMLError = NvmlError
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_DRIVER_NOT_LOADED = 9
    NVML_ERROR_LIBRARY_NOT_FOUND = 12

    def __init__(self, data):
        self.data = data

    def nvmlInit(self):
        if self.data is None:
            raise NvmlError(12)

    def nvmlShutdown(self):
        pass

    def nvmlSystemGetDriverVersion(self):
        return self.data["driver_version"]

    def nvmlSystemGetCudaDriverVersion_v2(self):
        return self.data["cuda_driver_version"]

    def nvmlDeviceGetCount(self):
        return len(self.data["gpus"])

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetName(self, handle):
        return self.data["gpus"][handle]["name"]

    def nvmlDeviceGetUUID(self, handle):
        return self.data["gpus"][handle]["uuid"]

    def nvmlDeviceGetMemoryInfo(self, handle):
        return Memory(self.data["gpus"][handle]["memory_total_mib"])

    def nvmlDeviceGetCudaComputeCapability(self, handle):
        return tuple(self.data["gpus"][handle]["compute_capability"])

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return []


@pytest.fixture(scope="module")
def production_plan():
    result = build_plan(load_inventory_dir(os.path.join(REPO, "inventory", "production")))
    assert result["errors"] == []
    return result["hosts"]


def plan_args(plan, host):
    return {"host": host, "lan_address": plan["lan_address"], "published": plan["published"],
            "monitoring": plan.get("monitoring"), "services": [u["service"] for u in plan["units"]],
            "gpu": plan["gpu"], "controller_time": NOW - 0.4}


@pytest.fixture
def tree(monkeypatch):
    """tree(name) -> the root of a host tree, with its commands, NVML, disk and clock."""

    def install(root):
        def command(self, argv):
            path = os.path.join(root, "commands", argv[0])
            if not os.path.exists(path):
                return None
            with open(path) as handle:
                return handle.read()

        nvml_path = os.path.join(root, "nvml.json")
        data = json.load(open(nvml_path)) if os.path.exists(nvml_path) else None
        with open(os.path.join(root, "disk.json")) as handle:
            free = int(json.load(handle)["free_gib"] * hp.GIB)
        real_free_space = preflight_run.free_space
        monkeypatch.setattr(preflight_run.Host, "command", command)
        monkeypatch.setattr(nvml_facts, "load_nvml", lambda: (TreeNvml(data), "pynvml"))
        monkeypatch.setattr(nvml_facts, "read_kernel_driver", lambda: None)
        monkeypatch.setattr(preflight_run, "free_space", lambda path: (real_free_space(path)[0], free))
        monkeypatch.setattr(preflight_run.time, "time", lambda: NOW)
        return root

    return install


def run_tree(run_module, tree, production_plan, name, host, root=None, **extra):
    root = tree(root or os.path.join(HOSTS, name))
    args = dict(plan_args(production_plan[host], host), root=root, **extra)
    result, failed = run_module(preflight.main, args)
    assert failed is False
    assert result["changed"] is False
    return result, dict((it["name"], it) for it in result["items"])


def statuses(items):
    return dict((name, it["status"]) for name, it in items.items())


def test_mainpc_today_ubuntu_22_04_under_wsl(run_module, tree, production_plan):
    result, items = run_tree(run_module, tree, production_plan, "mainpc-wsl-jammy", "mainpc")
    assert statuses(items) == {
        "distribution": "ready", "podman": "not ready", "systemd": "not ready", "cgroup": "ready",
        "lan_address": "not ready", "ports": "ready", "disk": "ready", "clock": "ready", "gpu": "ready"}
    assert result["ready"] is False
    assert result["platform"]["wsl"] == 2 and result["platform"]["pid1"] == "init"
    assert "wsl --install -d Ubuntu-24.04" in items["podman"]["fix"]
    assert "[boot]\nsystemd=true" in items["systemd"]["fix"]
    assert "networkingMode=mirrored" in items["lan_address"]["fix"]
    assert items["gpu"]["evidence"].startswith("driver 566.36 (CUDA 12.7) from Windows")
    assert items["disk"]["evidence"].startswith("212.6 GiB free at /var/lib (Podman's graphroot")
    assert [line.split(" NOT READY")[0] for line in result["failing"]] == [
        "mainpc: podman", "mainpc: systemd", "mainpc: lan_address"]


def test_mainpc_ready_ubuntu_24_04_under_wsl(run_module, tree, production_plan):
    result, items = run_tree(run_module, tree, production_plan, "mainpc-wsl-noble", "mainpc")
    assert set(statuses(items).values()) == {"ready"}, statuses(items)
    assert result["ready"] is True and result["failing"] == []
    assert items["lan_address"]["evidence"] == "192.168.100.16 is on eth0"
    assert "Quadlet at /usr/libexec/podman/quadlet" in items["podman"]["evidence"]


def test_pc2_today_and_ready(run_module, tree, production_plan):
    result, items = run_tree(run_module, tree, production_plan, "pc2-jammy", "pc2")
    assert [name for name, status in statuses(items).items() if status != "ready"] == ["podman"]
    assert "sudo do-release-upgrade" in items["podman"]["fix"]
    assert "Podman 3.4.4 installed" in items["podman"]["evidence"]
    # A native host's own kernel module is the driver, not an error.
    assert items["gpu"]["status"] == "ready" and "from Windows" not in items["gpu"]["evidence"]
    result, items = run_tree(run_module, tree, production_plan, "pc2-noble", "pc2")
    assert result["ready"] is True, result["failing"]


def test_podman_repository_opt_in_makes_a_warning(run_module, tree, production_plan):
    result, items = run_tree(run_module, tree, production_plan, "pc2-jammy", "pc2",
                             podman_repository="https://example.org/podman/jammy")
    assert items["podman"]["status"] == "warning"
    assert result["ready"] is True and len(result["warning_lines"]) == 1


def test_linux_driver_inside_wsl_is_not_ready(run_module, tree, production_plan, tmp_path):
    root = tmp_path / "wsl-with-linux-driver"
    shutil.copytree(os.path.join(HOSTS, "mainpc-wsl-noble"), str(root))
    (root / "proc" / "driver" / "nvidia").mkdir(parents=True)
    shutil.copy(os.path.join(HOSTS, "pc2-noble", "proc", "modules"), str(root / "proc" / "modules"))
    result, items = run_tree(run_module, tree, production_plan, None, "mainpc", root=str(root))
    assert items["gpu"]["status"] == "not ready"
    assert items["gpu"]["evidence"] == ("WSL 2 with a Linux NVIDIA driver inside: the nvidia kernel module is "
                                        "loaded (/proc/modules); /proc/driver/nvidia exists")


def test_this_machine_with_a_real_listener_in_check_mode(run_module, production_plan):
    plan = production_plan["mainpc"]
    port = plan["published"][0]["port"]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port))
    except OSError:
        pytest.skip("port %d is in use on this machine" % port)
    listener.listen()
    try:
        args = dict(plan_args(plan, "mainpc"), lan_address="127.0.0.1", lab=True,
                    gpu={"model": "Lab CDI device (no GPU)", "memory_mib": 24564, "required": False})
        args["controller_time"] = None
        result, failed = run_module(preflight.main, args, check=True)
    finally:
        listener.close()
    assert failed is False and result["changed"] is False
    items = dict((it["name"], it) for it in result["items"])
    assert items["lan_address"]["status"] == "ready" and items["lan_address"]["evidence"] == "127.0.0.1 is on lo"
    assert items["ports"]["status"] == "not ready"
    assert re.search(r"%d \(core-services/\w+\) is in use by \S+ \(pid %d\) on 127\.0\.0\.1" % (port, os.getpid()),
                     items["ports"]["evidence"]), items["ports"]["evidence"]
    assert items["clock"]["status"] == "skipped"
    if not driver_present():
        assert items["gpu"]["status"] == "skipped" and items["gpu"]["reason"] == "no NVIDIA driver (lab)"
    assert result["text"][0].startswith("mainpc: NOT READY")


def doc_sections():
    with open(HOSTS_DOC) as handle:
        text = handle.read()
    return dict(re.findall(r"<!-- preflight report of tests/fixtures/hosts/([\w-]+) -->\n(.*?)<!-- end -->",
                           text, re.S))


@pytest.mark.parametrize("name, host", [
    ("mainpc-wsl-jammy", "mainpc"), ("pc2-jammy", "pc2"), ("mainpc-wsl-noble", "mainpc"), ("pc2-noble", "pc2")])
def test_docs_show_the_reports_the_code_makes(run_module, tree, production_plan, name, host):
    result, dummy = run_tree(run_module, tree, production_plan, name, host)
    sections = doc_sections()
    assert name in sections, "docs/hosts.md has no report of %s" % name
    assert sections[name] == "```text\n%s\n```\n" % "\n".join(result["text"])


def test_a_listener_in_a_unit_the_collection_wrote_is_the_stacks_own(tmp_path):
    from ansible_collections.ai_system.containers.plugins.module_utils.host import preflight_run
    quadlet = tmp_path / "systemd"
    quadlet.mkdir()
    (quadlet / "ai-pod.container").write_text(
        "[Container]\nLabel=io.ai-system.managed-by=ai_system.containers\n")
    (quadlet / "mine.container").write_text("[Container]\nImage=x\n")
    cgroup = "0::/system.slice/%s\n"
    assert preflight_run.managed_services(cgroup % "ai-pod.service", str(quadlet)) == ["ai-pod.service"]
    # A Quadlet unit of the user's own, or a plain service, is not.
    assert preflight_run.managed_services(cgroup % "mine.service", str(quadlet)) == []
    assert preflight_run.managed_services(cgroup % "nginx.service", str(quadlet)) == []
