# -*- coding: utf-8 -*-
"""The nvidia_toolkit role's WSL2 branch and verify, on the lab's mainpc made
to look like WSL2 by the explicit lab variable nvidia_toolkit_lab_wsl: a
library directory, a driver store and a /dev/dxg stand-in under
/srv/ai-system-lab-wsl. No WSL machine and no GPU: every GPU check there
reports skipped, never passed.
"""

from __future__ import annotations

import pytest

HOST = "mainpc"
ROOT = "/srv/ai-system-lab-wsl"
# The lab variable selects the GPU stand-in; ai_wsl makes the stack role
# write the Windows side of the firewall as for a WSL2 host.
WSL = {"nvidia_toolkit_lab_wsl": True, "ai_wsl": True}
SCRIPT = "/etc/ai-system/hyperv-firewall.ps1"
STATE = "/etc/cdi/.ai-system-driver-version"


def debug_lines(run):
    return [str(ev["event_data"]["res"].get("msg")) for ev in run.events
            if ev.get("event") == "runner_on_ok" and ev["event_data"].get("task_action") == "ansible.builtin.debug"]


@pytest.fixture(scope="module")
def wsl_deploy(lab):
    run = lab.playbook(limit=HOST, tags=["podman", "nvidia_toolkit", "stack"], extravars=WSL)
    yield run
    lab.exec(HOST, "rm", "-rf", ROOT, STATE, SCRIPT)


def test_the_toolkit_takes_the_wsl_branch_and_says_what_it_skips(lab, wsl_deploy):
    assert wsl_deploy.rc == 0, [f["res"].get("msg") for f in wsl_deploy.failures()]
    said = "\n".join(debug_lines(wsl_deploy))
    assert "WSL2 (set explicitly" in said and "LAB STAND-IN under %s, NOT a GPU" % ROOT in said
    for skipped in ("skipped on WSL2: the /dev/char links", "skipped on WSL2: the udev rule",
                    "skipped on WSL2: the nvidia-cdi-refresh units", "skipped on WSL2: /proc/driver/nvidia"):
        assert skipped in said, skipped
    assert lab.exec(HOST, "test", "-e", "/etc/udev/rules.d/71-nvidia-dev-char.rules", check=False).returncode == 1
    assert lab.exec(HOST, "cat", STATE).stdout.startswith("wsl-driver-store:")
    assert lab.exec(HOST, "cat", ROOT + "/dev/dxg").stdout.startswith("LAB ONLY - NOT A GPU")


def test_the_stack_writes_the_hyperv_script_and_says_to_run_it_on_windows(lab, lab_plan, wsl_deploy):
    said = "\n".join(debug_lines(wsl_deploy))
    assert "%s is a WSL2 host" % HOST in said and "PowerShell as administrator" in said and SCRIPT in said
    script = lab.exec(HOST, "cat", SCRIPT).stdout
    rules = [line for line in script.splitlines() if line.startswith("New-NetFirewallHyperVRule")]
    planned = lab_plan["hosts"][HOST]["firewall"]
    assert len(rules) == len({o["port"] for o in planned}) > 0
    for opening in planned:
        assert any("-LocalPorts %d -RemoteAddresses '%s'" % (opening["port"], opening["source"]) in r
                   for r in rules), opening


def test_the_wsl_branch_is_idempotent_and_follows_a_driver_store_change(lab, wsl_deploy):
    again = lab.playbook(limit=HOST, tags=["nvidia_toolkit"], extravars=WSL)
    assert again.rc == 0 and again.count("changed", HOST) == 0
    checked = lab.playbook(limit=HOST, tags=["nvidia_toolkit", "stack"], extravars=WSL, check=True, diff=True)
    assert checked.rc == 0 and checked.count("changed", HOST) == 0
    before = lab.exec(HOST, "cat", STATE).stdout
    update = ROOT + "/usr/lib/wsl/drivers/nv_lab_update.inf_amd64_1111111111111111"
    lab.exec(HOST, "mkdir", "-p", update)
    lab.exec(HOST, "sh", "-c", "echo driver update > %s/README-NOT-A-DRIVER" % update)
    try:
        run = lab.playbook(limit=HOST, tags=["nvidia_toolkit"], extravars=WSL)
        assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
        assert "new: the CDI spec is generated for it" in "\n".join(debug_lines(run))
        assert lab.exec(HOST, "cat", STATE).stdout != before
    finally:
        lab.exec(HOST, "rm", "-rf", update)


def test_verify_reports_every_gpu_check_skipped_with_its_reason(lab, wsl_deploy):
    run = lab.playbook("playbooks/verify.yml", limit=HOST, extravars=WSL,
                       tags=["verify_gpu", "verify_cuda", "verify_report"])
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    host = lab.latest_report()["hosts"][HOST]
    assert host["gpu"]["status"] == "skipped" and host["gpu"]["reason"].startswith("lab host: no NVIDIA driver")
    assert host["cuda"], "mainpc has GPU groups"
    for item in host["cuda"]:
        assert item["status"] == "skipped" and item["reason"], item
    assert "passed" not in [host["gpu"]["status"]] + [c["status"] for c in host["cuda"]]
