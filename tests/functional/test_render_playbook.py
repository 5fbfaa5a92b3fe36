# -*- coding: utf-8 -*-
"""playbooks/render.yml through ansible-runner: real Ansible, no host touched."""

from __future__ import annotations

import json
import os

# Everything runs on the controller: make sure no task could reach a real host.
LOCAL = {"ansible_connection": "local"}


def test_production_renders_and_second_run_changes_nothing(playbook, tmp_path):
    out = tmp_path / "rendered"
    extra = dict(LOCAL, ai_render_dir=str(out))
    first = playbook("playbooks/render.yml", "inventory/production", extra)
    assert first.rc == 0, first.failures()
    assert first.count("changed", "mainpc") == 2 and first.count("changed", "pc2") == 2
    # groups, network, redis volume and the pod unit (ai_network_mode: pod)
    assert len(os.listdir(out / "mainpc" / "quadlet")) == 14  # 11 groups
    assert len(os.listdir(out / "pc2" / "quadlet")) == 9  # 6 groups
    doc = json.loads((out / "pc2" / "config" / "groups" / "pc2-memory-system" /
                      "endpoints.json").read_text())
    assert doc["endpoints"]["SystemDigitalTwin"]["url"] == "tcp://192.168.100.16:7120"
    summary = first.task_results("Summarise the host's plan")
    assert "published (LAN 192.168.100.17 only" in "\n".join(summary["pc2"]["msg"])

    second = playbook("playbooks/render.yml", "inventory/production", extra)
    assert second.rc == 0
    assert second.count("changed", "mainpc") == 0 and second.count("changed", "pc2") == 0


def test_check_mode_writes_nothing(playbook, tmp_path):
    out = tmp_path / "rendered"
    run = playbook("playbooks/render.yml", "inventory/production",
                   dict(LOCAL, ai_render_dir=str(out)), check=True, diff=True)
    assert run.rc == 0
    assert run.count("changed", "mainpc") == 2
    assert not out.exists()


def test_reference_topology_is_refused_before_anything_is_written(playbook, tmp_path):
    out = tmp_path / "rendered"
    run = playbook("playbooks/render.yml", "tests/fixtures/reference",
                   dict(LOCAL, ai_render_dir=str(out)))
    assert run.rc != 0
    failures = run.failures()
    assert len(failures) == 1  # one controller-side task, run once
    res = failures[0]["res"]
    assert failures[0]["task"] == "Validate the whole topology and plan every host"
    assert len(res["errors"]) == 6
    assert res["msg"].startswith("The inventory has 6 problem(s); no host was changed:")
    assert "port 8131 is claimed by both" in res["msg"]
    assert not out.exists()
