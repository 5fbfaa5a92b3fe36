# -*- coding: utf-8 -*-
"""GPU sharing with CUDA MPS (``ai_gpu.sharing: mps``) on the lab's mainpc.

The lab has no GPU and no MPS control daemon: the nvidia_toolkit role installs
the plan's stand-in unit instead, which creates the daemon's directories under
/run and says it is NOT MPS. These tests show that the GPU groups' units render
and start as MPS clients (ordering, mounts, budget), that the toolkit phase is
idempotent, that verify reports every budget skipped -- never enforced, never
passed -- and that going back to ``sharing: none`` removes the stand-in.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from support.inventory import load_inventory_dir
from support.lab import LAB_INVENTORY

HOST = "mainpc"
MPS_UNIT = "ai-system-mps-gpu0.service"
SHM = "/run/ai-system/mps/0/shm"


@pytest.fixture(scope="module")
def mps_inventory(lab):
    dest = lab.tmp_root / "inventory-mps"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(LAB_INVENTORY, dest, symlinks=False)
    path = dest / "host_vars" / HOST / "host.yml"
    data = yaml.safe_load(path.read_text())
    data["ai_gpu"]["sharing"] = "mps"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(dest)


@pytest.fixture(scope="module")
def mps_plan(mps_inventory):
    result = build_plan(load_inventory_dir(mps_inventory))
    assert result["errors"] == [], result["errors"]
    return result["hosts"][HOST]


def gpu_units(plan):
    return [u for u in plan["units"] if u["gpu"]]


def test_deploy_with_mps_starts_the_stand_in_and_its_clients(lab, mps_inventory, mps_plan):
    # mainpc alone: verify runs below, without the links to pc2's groups.
    run = lab.playbook(inventory=mps_inventory, limit=HOST, tags=["podman", "nvidia_toolkit", "stack"])
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    daemon = lab.unit_props(HOST, [MPS_UNIT], ("ActiveState", "Description", "FragmentPath"))[MPS_UNIT]
    assert daemon["ActiveState"] == "active"
    assert daemon["Description"].startswith("NOT MPS: lab stand-in")
    assert daemon["FragmentPath"] == "/etc/systemd/system/" + MPS_UNIT
    for kind in ("pipe", "log", "shm"):
        lab.exec(HOST, "test", "-d", "/run/ai-system/mps/0/" + kind)
    assert gpu_units(mps_plan), "the lab inventory has GPU groups on mainpc"
    for unit in gpu_units(mps_plan):
        props = lab.unit_props(HOST, [unit["service"]], ("ActiveState", "Requires", "After"))[unit["service"]]
        assert props["ActiveState"] == "active", unit["service"]
        assert MPS_UNIT in props["Requires"].split() and MPS_UNIT in props["After"].split()
        inspect = json.loads(lab.exec(HOST, "podman", "inspect", unit["container"]).stdout)[0]
        env = inspect["Config"]["Env"]
        assert "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=%dM" % unit["vram_mib"] in env
        assert "CUDA_MPS_PIPE_DIRECTORY=/run/nvidia-mps" in env
        mounts = {m["Destination"]: m["Source"] for m in inspect["Mounts"]}
        assert mounts["/dev/shm"] == SHM
        assert mounts["/run/nvidia-mps"] == "/run/ai-system/mps/0/pipe"
        # Its own IPC namespace: only /dev/shm is shared with the daemon.
        assert inspect["HostConfig"]["IpcMode"] != "host"
    # Clients see one another's /dev/shm, as MPS needs.
    first, second = [u["container"] for u in gpu_units(mps_plan)][:2]
    lab.exec(HOST, "podman", "exec", first, "python3", "-c",
             "open('/dev/shm/ai-system-mps-test', 'w').write('x')")
    lab.exec(HOST, "podman", "exec", second, "test", "-f", "/dev/shm/ai-system-mps-test")
    lab.exec(HOST, "rm", "-f", SHM + "/ai-system-mps-test")


def test_the_toolkit_phase_with_mps_is_idempotent(lab, mps_inventory):
    run = lab.playbook(inventory=mps_inventory, limit=HOST, tags=["nvidia_toolkit"])
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    assert run.count("changed", HOST) == 0


def test_check_mode_on_the_mps_host_changes_nothing(lab, mps_inventory):
    run = lab.playbook(inventory=mps_inventory, limit=HOST, tags=["nvidia_toolkit", "stack"], check=True,
                       diff=True)
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    assert run.count("changed", HOST) == 0


def test_verify_reports_the_budgets_skipped_in_the_lab_never_enforced(lab, mps_inventory, mps_plan):
    run = lab.playbook("playbooks/verify.yml", inventory=mps_inventory, limit=HOST,
                       tags=["verify_cuda", "verify_units", "verify_report"])
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    report = lab.latest_report()
    cuda = {c["container"]: c for c in report["hosts"][HOST]["cuda"]}
    assert sorted(cuda) == sorted(u["container"] for u in gpu_units(mps_plan))
    for unit in gpu_units(mps_plan):
        item = cuda[unit["container"]]
        assert (item["status"], item["budget"], item["budget_mib"]) == ("skipped", "skipped", unit["vram_mib"])
    assert not [w for w in report["warnings"] if "VRAM budget" in w and w.startswith(HOST)]


def test_back_to_no_sharing_removes_the_stand_in(lab, mps_plan):
    run = lab.playbook(limit=HOST, tags=["nvidia_toolkit", "stack"])
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    assert lab.exec(HOST, "test", "-e", "/etc/systemd/system/" + MPS_UNIT, check=False).returncode == 1
    assert lab.unit_props(HOST, [MPS_UNIT], ("LoadState",))[MPS_UNIT]["LoadState"] == "not-found"
    for unit in gpu_units(mps_plan):
        props = lab.unit_props(HOST, [unit["service"]], ("ActiveState", "Requires"))[unit["service"]]
        assert props["ActiveState"] == "active" and MPS_UNIT not in props["Requires"]


def test_check_mode_towards_mps_says_what_would_change_and_changes_nothing(lab, mps_inventory):
    run = lab.playbook(inventory=mps_inventory, limit=HOST, tags=["nvidia_toolkit"], check=True, diff=True)
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    assert run.count("changed", HOST) >= 1  # the unit it would write
    assert lab.exec(HOST, "test", "-e", "/etc/systemd/system/" + MPS_UNIT, check=False).returncode == 1
