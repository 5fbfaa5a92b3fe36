# -*- coding: utf-8 -*-
"""playbooks/images.yml through ansible-runner, as a CI job runs it: real Ansible and
the real Podman of this machine, no managed host touched (the inventory's hosts are
never contacted: the build runs on the controller)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest
import yaml

ZMQ_BASE = "localhost/ai-system/python-zmq-base:trixie"
ENV = dict(os.environ, PODMAN_IGNORE_CGROUPSV1_WARNING="1")
BUILD_TASK = "Build every image whose sources changed, check its contract, push or archive it"


def podman(*args):
    return subprocess.run(["podman"] + list(args), capture_output=True, text=True, env=ENV, check=False)


pytestmark = [
    pytest.mark.skipif(shutil.which("podman") is None, reason="needs Podman"),
    pytest.mark.skipif(shutil.which("podman") is not None and
                       podman("image", "exists", ZMQ_BASE).returncode != 0,
                       reason="needs %s (scripts/build-lab-images.sh python-zmq-base)" % ZMQ_BASE),
]


@pytest.fixture()
def app(tmp_path):
    """An application: sources, an inventory naming them relatively, a unique image name."""
    name = "ci-%s" % uuid.uuid4().hex[:10]
    src = tmp_path / "src" / "app"
    src.mkdir(parents=True)
    (src / "Containerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nCOPY requirements.txt /app/\nCOPY agent.py /app/\n")
    (src / "requirements.txt").write_text("pyzmq\n")
    (src / "agent.py").write_text("print('v1')\n")
    (src / "notes.log").write_text("not part of the image\n")
    (src / ".containerignore").write_text("*.log\n")
    inv = tmp_path / "deploy" / "inventory"
    inv.mkdir(parents=True)
    (inv / "hosts.yml").write_text(yaml.safe_dump({"ai_hosts": {
        # Never contacted: a host that does not exist.
        "hosts": {"nohost": {"ansible_host": "192.0.2.1"}},
        "vars": {"ai_images": {name: {"context": "../../src/app",
                                      "build_args": {"BASE": ZMQ_BASE}}},
                 "ai_images_archive_dir": str(tmp_path / "archives")}}}))
    yield name, src, str(inv)
    for line in podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.splitlines():
        if "/ai-system/%s:" % name in line:
            podman("rmi", "-f", line)


def test_ci_command_builds_once_prints_digests_and_rebuilds_on_a_source_change(
        app, playbook, tmp_path):
    name, src, inv = app
    digest_file = tmp_path / "digests.json"
    first = playbook("playbooks/images.yml", inv, {"ai_images_digest_file": str(digest_file)})
    assert first.rc == 0, [f["res"].get("msg") for f in first.failures()]
    built = first.task_results(BUILD_TASK)["nohost"]
    entry = built["images"][name]
    assert entry["built"] and entry["ref"].startswith("localhost/ai-system/%s:src-" % name)
    assert entry["files"] == 4  # notes.log is ignored
    assert "%s %s %s" % (name, entry["ref"], entry["id"]) in first.stdout
    assert json.loads(digest_file.read_text())[name]["id"] == entry["id"]

    (src / "notes.log").write_text("ignored change\n")
    second = playbook("playbooks/images.yml", inv, {"ai_images_digest_file": str(digest_file)})
    assert second.rc == 0
    assert second.count("changed", "nohost") == 0
    assert second.task_results(BUILD_TASK)["nohost"]["images"][name]["ref"] == entry["ref"]

    (src / "agent.py").write_text("print('v2')\n")
    third = playbook("playbooks/images.yml", inv)
    assert third.rc == 0
    changed = third.task_results(BUILD_TASK)["nohost"]["images"][name]
    assert changed["built"] and changed["ref"] != entry["ref"] and changed["id"] != entry["id"]


def test_ci_command_fails_on_a_broken_containerfile(app, playbook):
    name, src, inv = app
    with open(src / "Containerfile", "a") as handle:
        handle.write("RUN exit 7\n")
    run = playbook("playbooks/images.yml", inv)
    assert run.rc != 0
    (failure,) = run.failures()
    assert failure["res"]["msg"].startswith(
        "image %s: the build failed at STEP 4/" % name), failure["res"]["msg"]
    assert "RUN exit 7" in failure["res"]["msg"]
