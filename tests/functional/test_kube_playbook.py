# -*- coding: utf-8 -*-
"""playbooks/kube.yml through ansible-runner: real Ansible, no host touched."""

from __future__ import annotations

import os
import shutil

import yaml

LOCAL = {"ansible_connection": "local"}
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(REPO, "tests", "fixtures", "kube", "production")


def test_production_writes_the_manifests_and_a_second_run_changes_nothing(playbook, tmp_path):
    out = tmp_path / "kube"
    first = playbook("playbooks/kube.yml", "inventory/production",
                     dict(LOCAL, ai_kube_dir=str(out)))
    assert first.rc == 0, first.failures()
    assert first.count("changed", "mainpc") == 1  # run once, for the whole stack
    kustom = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert len(kustom["resources"]) == 2 + 17
    for rel in kustom["resources"] + ["podman/ai-system.yaml"]:
        assert (out / rel).is_file()
    # The same objects as the golden files, apart from the probe's source.
    core = (out / "groups" / "core-services.yaml").read_text()
    with open(os.path.join(GOLDEN, "groups", "core-services.yaml.golden"), encoding="utf-8") as handle:
        assert core == handle.read()
    summary = first.task_results("Summarise what was written")
    assert "17 groups as 21 files" in summary["mainpc"]["msg"]

    (out / "groups" / "stale.yaml").write_text("# Managed by ai_system.containers\n")
    second = playbook("playbooks/kube.yml", "inventory/production",
                      dict(LOCAL, ai_kube_dir=str(out)))
    assert second.rc == 0
    assert second.count("changed", "mainpc") == 1  # the stale file is pruned
    assert not (out / "groups" / "stale.yaml").exists()
    third = playbook("playbooks/kube.yml", "inventory/production",
                     dict(LOCAL, ai_kube_dir=str(out)))
    assert third.count("changed", "mainpc") == 0


def test_options_reach_the_manifests(playbook, tmp_path):
    out = tmp_path / "kube"
    run = playbook("playbooks/kube.yml", "inventory/production",
                   dict(LOCAL, ai_kube_dir=str(out), ai_kube_namespace="agents",
                        ai_kube_request_percent=50, ai_kube_gpu_runtime_class=""))
    assert run.rc == 0, run.failures()
    assert yaml.safe_load((out / "kustomization.yaml").read_text())["namespace"] == "agents"
    docs = list(yaml.safe_load_all((out / "groups" / "pc2-ai-models.yaml").read_text()))
    pod = docs[-1]["spec"]["template"]["spec"]
    assert "runtimeClassName" not in pod
    assert pod["containers"][0]["resources"]["requests"]["memory"] == "2Gi"
    assert {d["metadata"]["namespace"] for d in docs} == {"agents"}


def test_check_mode_writes_nothing(playbook, tmp_path):
    out = tmp_path / "kube"
    run = playbook("playbooks/kube.yml", "inventory/production",
                   dict(LOCAL, ai_kube_dir=str(out)), check=True, diff=True)
    assert run.rc == 0
    assert run.count("changed", "mainpc") == 1
    assert not out.exists()


def test_a_raw_device_is_refused_while_render_still_works(playbook, tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree(os.path.join(REPO, "inventory", "production"), inventory)
    groups_file = inventory / "host_vars" / "mainpc" / "groups.yml"
    data = yaml.safe_load(groups_file.read_text())
    data["ai_groups"]["audio-processing"]["devices"] = ["/dev/snd", "/dev/video0"]
    groups_file.write_text(yaml.safe_dump(data))
    out = tmp_path / "kube"
    run = playbook("playbooks/kube.yml", str(inventory), dict(LOCAL, ai_kube_dir=str(out)))
    assert run.rc != 0
    failures = run.failures()
    assert len(failures) == 1
    res = failures[0]["res"]
    assert res["msg"].startswith("The inventory cannot be written as Kubernetes manifests "
                                 "(1 problem(s)); nothing was written:")
    assert res["errors"][0].startswith("host mainpc, group audio-processing, field devices: "
                                       "device /dev/video0 cannot be expressed")
    assert not out.exists()
    rendered = tmp_path / "rendered"
    render = playbook("playbooks/render.yml", str(inventory),
                      dict(LOCAL, ai_render_dir=str(rendered)))
    assert render.rc == 0, render.failures()
    unit = (rendered / "mainpc" / "quadlet" / "ai-audio-processing.container").read_text()
    assert "AddDevice=/dev/video0" in unit
