# -*- coding: utf-8 -*-
"""The group of AI hosts is a variable (ai_hosts_group): a mistyped one fails
the run, naming the group looked for and the groups the inventory has."""

from __future__ import annotations

import shutil

import pytest

from support.ansible_run import REPO

LOCAL = {"ansible_connection": "local"}
PLAYBOOKS = ["playbooks/render.yml", "playbooks/kube.yml", "playbooks/verify.yml",
             "playbooks/site.yml"]


@pytest.fixture
def renamed_inventory(tmp_path):
    """The production inventory with its group named gpu_pcs instead of ai_hosts."""
    inv = tmp_path / "inventory"
    shutil.copytree(REPO + "/inventory/production", str(inv))
    hosts = inv / "hosts.yml"
    text = hosts.read_text()
    assert "\nai_hosts:\n" in text
    hosts.write_text(text.replace("\nai_hosts:\n", "\ngpu_pcs:\n"))
    return str(inv)


def _no_hosts_failure(run):
    failures = run.failures()
    assert len(failures) == 1, failures
    assert failures[0]["host"] == "localhost"
    return failures[0]["res"]["msg"]


@pytest.mark.parametrize("playbook_name", PLAYBOOKS)
def test_mistyped_group_fails_naming_it_and_the_groups_there_are(playbook, playbook_name,
                                                                 renamed_inventory, tmp_path):
    run = playbook(playbook_name, renamed_inventory,
                   dict(LOCAL, ai_hosts_group="ai_host", ai_render_dir=str(tmp_path / "r"),
                        ai_kube_dir=str(tmp_path / "k"), ai_verify_report_dir=str(tmp_path / "v")))
    assert run.rc != 0
    msg = _no_hosts_failure(run)
    assert "No hosts in inventory group 'ai_host' (ai_hosts_group)" in msg
    assert "groups with hosts are gpu_pcs." in msg
    assert "-e ai_hosts_group=<group>" in msg
    # Nothing ran on any host.
    assert not [e for e in run.events if e.get("event_data", {}).get("host") in ("mainpc", "pc2")]


def test_default_group_absent_fails_too(playbook, renamed_inventory, tmp_path):
    run = playbook("playbooks/render.yml", renamed_inventory,
                   dict(LOCAL, ai_render_dir=str(tmp_path / "r")))
    assert run.rc != 0
    assert "No hosts in inventory group 'ai_hosts'" in _no_hosts_failure(run)


def test_named_group_is_the_one_planned_and_rendered(playbook, renamed_inventory, tmp_path):
    out = tmp_path / "rendered"
    run = playbook("playbooks/render.yml", renamed_inventory,
                   dict(LOCAL, ai_hosts_group="gpu_pcs", ai_render_dir=str(out)))
    assert run.rc == 0, run.failures()
    assert sorted(p.name for p in out.iterdir()) == ["mainpc", "pc2"]
    assert run.count("changed", "mainpc") == 2 and run.count("changed", "pc2") == 2
