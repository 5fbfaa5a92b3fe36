# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/preflight.yml, and site.yml's preflight, through ansible-runner,
both production hosts on this machine.

This machine is neither PC: it does not have their LAN addresses, runs no
systemd as PID 1 here and has no NVIDIA driver, so both hosts must come out
not ready, naming those items and their fixes, and the run must stop there.
"""

from __future__ import annotations

import json
import sys

STOP_TASK = "Stop on the items that are not ready"
ITEMS = ["distribution", "podman", "systemd", "cgroup", "lan_address", "ports", "disk", "clock", "gpu"]


def extra(tmp_path, **more):
    values = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
              "ai_verify_report_dir": str(tmp_path / "reports")}
    values.update(more)
    return values


def plays(run):
    return [ev["event_data"].get("play") for ev in run.events if ev.get("event") == "playbook_on_play_start"]


def test_production_hosts_here_are_not_ready_and_the_report_says_why(playbook, tmp_path):
    run = playbook("playbooks/preflight.yml", "inventory/production", extra(tmp_path))
    assert run.rc != 0
    failures = run.failures()
    assert sorted((f["task"], f["host"]) for f in failures) == [(STOP_TASK, "mainpc"), (STOP_TASK, "pc2")]
    for failure in failures:
        lines = failure["res"]["msg"].splitlines()
        assert lines[0] == "Not ready, nothing was changed:"
        host = failure["host"]
        assert any(line.startswith("%s: lan_address NOT READY: 192.168.100.%s is not an address of this host"
                                   % (host, "16" if host == "mainpc" else "17")) for line in lines), lines
        assert all(" -- fix: " in line for line in lines[1:])
    report = json.loads((tmp_path / "reports" / "preflight.json").read_text())
    assert report["format"] == 1 and report["ready"] is False
    for host in ("mainpc", "pc2"):
        entry = report["hosts"][host]
        assert [it["name"] for it in entry["items"]] == ITEMS
        assert entry["ready"] is False and entry["counts"]["not ready"] >= 1
    markdown = (tmp_path / "reports" / "preflight.md").read_text()
    assert markdown.startswith("# AI system preflight ")
    assert "## mainpc: NOT READY" in markdown and "## pc2: NOT READY" in markdown
    shown = run.task_results("Show the report")
    assert any(line.startswith("pc2: NOT READY") for line in shown["mainpc"]["msg"])


def test_site_runs_the_preflight_after_the_plan_and_stops_there(playbook, tmp_path):
    # Only the preflight's tag: were the hosts ready, nothing else would run here either.
    run = playbook("site.yml", "inventory/production", extra(tmp_path), tags="preflight")
    assert run.rc != 0
    assert plays(run) == ["Check that the inventory's group of AI hosts has hosts",
                          "Validate the whole topology on the controller before touching a host",
                          "Check that every host is ready before anything changes"]
    assert [f["task"] for f in run.failures()] == [STOP_TASK, STOP_TASK]
    # site.yml planned already: the preflight does not plan again.
    assert run.task_results("Plan every host at once", event="runner_on_skipped") != {}
    assert (tmp_path / "reports" / "preflight.json").exists()


def test_check_mode_reads_the_same_and_writes_no_report(playbook, tmp_path):
    run = playbook("playbooks/preflight.yml", "inventory/production", extra(tmp_path), check=True)
    assert run.rc != 0
    assert [f["task"] for f in run.failures()] == [STOP_TASK, STOP_TASK]
    assert run.task_results("Read the host")["pc2"]["ready"] is False
    assert not (tmp_path / "reports" / "preflight.json").exists()
