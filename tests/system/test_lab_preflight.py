# -*- coding: utf-8 -*-
"""The preflight on the two-host lab: all ready on the lab as it is, and each
of three hosts that are not ready stops site.yml before anything changes.

The lab hosts are fresh (no Podman yet): the preflight runs right after the
plan, so no deploy is needed. "Changes nothing" is judged on the hosts: the
installed packages and every file under the paths the roles write, before and
after the refused run.

  (a) mainpc given an ai_lan_address it does not have;
  (b) a port the plan publishes on mainpc already taken by a listener there;
  (c) a third, throw-away lab host that boots without systemd (``sleep`` as
      PID 1), added to a copy of the inventory.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest
import yaml

from support.lab import LAB_INVENTORY, sh

ITEMS = {"distribution", "podman", "systemd", "cgroup", "lan_address", "ports", "disk", "clock", "gpu"}
STOP_TASK = "Stop on the items that are not ready"
SPARE = "ai-system-lab-spare"
SPARE_IP = "10.89.100.30"
LAB_NETWORK = "ai-system-lab"
LAB_IMAGE = "localhost/ai-system/lab-host:trixie"

# What the roles would change: packages, and the files under these paths.
SNAPSHOT = (
    "dpkg-query -W -f '${Package} ${Version} ${db:Status-Status}\\n' | sort; "
    "find /etc/containers /etc/ai-system /var/lib/ai-system /srv/ai-system /etc/systemd/system "
    "-xdev 2>/dev/null | sort; true"
)


def snapshot(host):
    return sh(["podman", "exec", host, "sh", "-c", SNAPSHOT]).stdout


def copy_inventory(tmp_path, name):
    dest = tmp_path / name
    shutil.copytree(LAB_INVENTORY, dest, symlinks=False)
    return dest


def edit_yaml(path, edit):
    data = yaml.safe_load(path.read_text()) or {}
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def preflight_report(lab):
    with open(lab.tmp_root / "reports" / "preflight.json") as handle:
        return json.load(handle)


def assert_stopped(run, host, item, *fix_words):
    """site.yml failed at the preflight, naming host, item and fix; no later play ran."""
    assert run.rc != 0
    stops = [f for f in run.failures() if f["task"] == STOP_TASK]
    assert stops, [f["task"] for f in run.failures()]
    message = "\n".join(f["res"]["msg"] for f in stops)
    assert message.startswith("Not ready, nothing was changed:")
    line = [ln for ln in message.splitlines() if ln.startswith("%s: %s NOT READY" % (host, item))]
    assert line, message
    for word in fix_words:
        assert word in line[0], line[0]
    played = [ev["event_data"].get("play") for ev in run.events if ev.get("event") == "playbook_on_play_start"]
    assert "Install Podman with Quadlet" not in played
    assert "Deploy the container groups" not in played
    return line[0]


def test_lab_hosts_are_ready(lab):
    run = lab.playbook("playbooks/preflight.yml")
    assert run.rc == 0, run.failures()
    report = preflight_report(lab)
    assert report["ready"] is True
    for host in lab.hosts:
        items = dict((it["name"], it) for it in report["hosts"][host]["items"])
        assert set(items) == ITEMS
        for name, it in items.items():
            if name == "gpu":
                # The lab's GPU is a CDI stand-in: skipped with its reason, never ready.
                assert it["status"] == "skipped", it
                assert it["reason"] == "no NVIDIA driver (lab)"
            else:
                assert it["status"] == "ready", it
        assert "Debian GNU/Linux 13" in items["distribution"]["evidence"]
        assert items["systemd"]["evidence"] == "PID 1 is systemd"
    markdown = (lab.tmp_root / "reports" / "preflight.md").read_text()
    assert markdown.count("skipped: no NVIDIA driver (lab)") == 2
    assert "## mainpc: READY (8 ready, 0 not ready, 0 warnings, 1 skipped)" in markdown


def test_lan_address_the_host_lacks_stops_site_before_any_change(lab, tmp_path):
    inventory = copy_inventory(tmp_path, "inventory-address")
    edit_yaml(inventory / "host_vars" / "mainpc" / "host.yml",
              lambda data: data.update(ai_lan_address="10.89.100.66"))
    before = dict((h, snapshot(h)) for h in lab.hosts)
    run = lab.playbook("site.yml", inventory=str(inventory))
    line = assert_stopped(run, "mainpc", "lan_address", "10.89.100.66 is not an address of this host",
                          "10.89.100.16/24 (eth0)", "Set ai_lan_address")
    assert "pc2: lan_address" not in line
    assert dict((h, snapshot(h)) for h in lab.hosts) == before


@pytest.fixture
def taken_port(lab, lab_plan):
    """A listener of another program on pc2, on the first port the plan
    publishes there. On a deployed lab the group that publishes it is
    stopped first (pc2 runs one namespace per group) and started again after."""
    host = "pc2"
    published = lab_plan["hosts"][host]["published"][0]
    services = [u["service"] for u in lab_plan["hosts"][host]["units"]]
    owners = [u["service"] for u in lab_plan["hosts"][host]["units"]
              if u["group"] == published["group"]]
    assert owners, published
    owner = owners[0]
    lab.exec(host, "systemctl", "stop", owner, check=False)
    sh(["podman", "exec", "-d", host, "python3", "-c",
        "import os, socket, time\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('0.0.0.0', %d)); s.listen()\n"
        "open('/run/preflight-listener.pid', 'w').write(str(os.getpid()))\n"
        "time.sleep(3600)" % published["port"]])
    for dummy in range(50):
        if lab.exec(host, "test", "-s", "/run/preflight-listener.pid", check=False).returncode == 0:
            break
        time.sleep(0.1)
    pid = lab.exec(host, "cat", "/run/preflight-listener.pid").stdout.strip()
    yield published["port"]
    lab.exec(host, "kill", pid, check=False)
    lab.exec(host, "rm", "-f", "/run/preflight-listener.pid", check=False)
    lab.exec(host, "systemctl", "start", "--no-block", *services, check=False)


@pytest.fixture
def spare_host(lab):
    """A third lab host booting without systemd: PID 1 is sleep."""
    sh(["podman", "rm", "-f", "--ignore", SPARE])
    sh(["podman", "run", "-d", "--name", SPARE, "--hostname", "spare", "--network", LAB_NETWORK,
        "--ip", SPARE_IP, LAB_IMAGE, "sleep", "infinity"])
    try:
        yield SPARE
    finally:
        sh(["podman", "rm", "-f", "-t", "0", SPARE])


def test_host_without_systemd_stops_site_before_any_change(lab, spare_host, tmp_path):
    inventory = copy_inventory(tmp_path, "inventory-spare")
    edit_yaml(inventory / "hosts.yml", lambda data: data["ai_hosts"]["hosts"].update(
        {"spare": {"ansible_host": spare_host}}))
    os.makedirs(inventory / "host_vars" / "spare")
    (inventory / "host_vars" / "spare" / "host.yml").write_text(yaml.safe_dump(
        {"ai_lan_address": SPARE_IP, "ai_network_subnet": "172.22.0.0/16"}))
    hosts = lab.hosts + (spare_host,)
    before = dict((h, snapshot(h)) for h in hosts)
    run = lab.playbook("site.yml", inventory=str(inventory))
    line = assert_stopped(run, "spare", "systemd", "PID 1 is sleep", "podman container",
                          "--systemd=always")
    assert "Quadlet units need systemd" in line
    # The other hosts were ready, and stopped too: nothing changed anywhere.
    report = preflight_report(lab)
    assert report["hosts"]["mainpc"]["ready"] is True and report["hosts"]["spare"]["ready"] is False
    assert dict((h, snapshot(h)) for h in hosts) == before
    assert sh(["podman", "exec", spare_host, "cat", "/proc/1/comm"]).stdout.strip() == "sleep"
